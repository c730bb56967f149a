"""ACM (AWS only): the intake domain's certificate, pending DNS validation."""

from __future__ import annotations

from offline.provision.base import Outputs, ResourceType, arn, short_id


def certificate_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    domain = str(inputs.get("domainName"))
    certificate_arn = arn("acm", region, f"certificate/{short_id(region, domain)}", account=account)
    return certificate_arn, {
        "arn": certificate_arn,
        "status": "PENDING_VALIDATION",
        "domainValidationOptions": [
            {
                "domainName": domain,
                "resourceRecordName": f"_{short_id('name', domain)}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{short_id('value', domain)}.acm-validations.aws.",
            }
        ],
    }


TYPES = (ResourceType("aws:acm/certificate:Certificate", outputs=certificate_outputs),)

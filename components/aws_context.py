"""Where a provider deploys: region, account and partition, plus deterministic ARN builders.

Account and partition come from invokes (`get_caller_identity`, `get_partition`), which the CLI runs
during preview too, so ARNs built here are known values in `pulumi preview` of a fresh stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from worker import topology


@dataclass(frozen=True)
class AwsContext:
    project: str
    stack: str
    region: str
    provider: aws.Provider
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]

    @staticmethod
    def create(project: str, stack: str, name: str, region: str) -> AwsContext:
        """Build an explicit provider for `region`; resources never use the ambient default provider.

        Default tags name the project and stack on every taggable resource, for cost allocation and for
        the policy pack's required-tags rule (Auto Scaling groups need their own propagated tags).
        """
        provider = aws.Provider(name, region=region, default_tags={"tags": {"project": project, "stack": stack}})
        invoke = pulumi.InvokeOutputOptions(provider=provider)
        return AwsContext(
            project=project,
            stack=stack,
            region=region,
            provider=provider,
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            partition=aws.get_partition_output(opts=invoke).partition,
        )

    def name(self, *parts: str, kind: naming.Kind, fifo: bool = False) -> str:
        """`<project>-<stack>-<parts...>[.fifo]`, valid for `kind` for any project, stack and region
        (`components/naming.py`: as is when already valid, else sanitized, shortened and hashed)."""
        return naming.physical_name(kind, self.project, self.stack, *parts, suffix=topology.FIFO_SUFFIX if fifo else "")

    def arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> pulumi.Output[str]:
        """`arn:<partition>:<service>:<region>:<account>:<resource>` without waiting for the resource."""
        region = self.region if regional else ""
        return pulumi.Output.all(self.partition, self.account_id).apply(
            lambda pa: f"arn:{pa[0]}:{service}:{region}:{pa[1] if account else ''}:{resource}"
        )

    def opts(self, parent: pulumi.Resource, **kwargs: object) -> pulumi.ResourceOptions:
        """Child options: parented to the component and bound to this context's provider."""
        return pulumi.ResourceOptions(parent=parent, provider=self.provider, **kwargs)  # type: ignore[arg-type]

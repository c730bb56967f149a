"""Orders through the front door: `POST /orders` to the intake API, as a client of each auth mode sends them.

- `iam` mode: the request is signed with SigV4 (service `execute-api`) with the client's own credentials,
  exactly what `awscurl` or an AWS SDK does;
- `apiKey` mode: the client's key in `x-api-key`.

The API answers 202 with the SQS MessageId (the integration sends the body to the FIFO queue with
MessageGroupId = CustomerID and deduplication id = OrderID), 400 for an order its model refuses, 415 for
another content type, 403 for a request without valid credentials or key. Each customer's orders go out
from one thread, one after the other, so per-customer order holds as it does on the SQS path.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from offline.graph import Graph
from simulation.producer import Outgoing, Produced, _lanes

RETRIED = {429, 500, 502, 503, 504}
"""Answers a client retries (throttled, or the integration failed): the same OrderID is deduplicated."""


@dataclass
class IntakeClient:
    url: str
    """The API's `.../orders` URL (on the emulator: `Provisioned.intake_orders_url`)."""
    region: str
    credentials: Credentials | None = None
    api_key: str | None = None
    http: requests.Session = field(default_factory=requests.Session, repr=False)

    @classmethod
    def signing_as(cls, url: str, session: boto3.session.Session, region: str | None = None) -> IntakeClient:
        """An `iam`-mode client: SigV4 with `session`'s credentials (botocore refreshes assumed-role ones)."""
        credentials = session.get_credentials()
        if credentials is None:
            raise RuntimeError(f"no AWS credentials for profile {session.profile_name!r}")
        return cls(url, region or session.region_name or "us-east-1", credentials=credentials)

    def post(self, body: str, content_type: str = "application/json") -> requests.Response:
        headers = {"Content-Type": content_type}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        if self.credentials is not None:
            request = AWSRequest(method="POST", url=self.url, data=body.encode(), headers=headers)
            SigV4Auth(self.credentials, "execute-api", self.region).add_auth(request)
            headers = dict(request.headers)
        return self.http.post(self.url, data=body.encode(), headers=headers, timeout=30)


def post_orders(
    messages: Sequence[Outgoing],
    client: IntakeClient,
    *,
    senders: int = 4,
    progress: Callable[[int], None] | None = None,
    before_message: Callable[[], None] | None = None,
) -> Produced:
    """POST every message, one thread per lane of customers (each with its own HTTP session)."""
    result, lock = Produced(), threading.Lock()

    def lane(messages: list[Outgoing]) -> None:
        api = replace(client, http=requests.Session())
        for i, m in enumerate(messages):
            if before_message:
                before_message()
            try:
                answer = _post_with_retries(api, m.body)
            except (requests.RequestException, RuntimeError) as exc:  # counted as not sent, never swallowed
                with lock:
                    result.failed += [f"{n.order_id}: {exc}" for n in messages[i:]]
                return
            with lock:
                if answer.status_code == 202:
                    result.sent += 1
                    result.sent_at.setdefault(m.order_id, time.time())
                else:
                    result.failed.append(f"{m.order_id}: HTTP {answer.status_code} {answer.text[:200]}")
            if progress and answer.status_code == 202:
                progress(1)

    started = time.monotonic()
    threads = [threading.Thread(target=lane, args=(part,), name="intake") for part in _lanes(messages, senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.monotonic() - started
    return result


def _post_with_retries(api: IntakeClient, body: str, attempts: int = 5) -> requests.Response:
    for attempt in range(attempts):
        answer = api.post(body)
        if answer.status_code not in RETRIED or attempt == attempts - 1:
            return answer
        time.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")


REST_API = "aws:apigateway/restApi:RestApi"
API_KEY = "aws:apigateway/apiKey:ApiKey"


def storefront_user(iam: Any, name: str, execution_arn: str) -> tuple[str, str]:
    """An IAM user standing for a storefront backend (a client of the stack, not part of it): allowed only
    `execute-api:Invoke` on `POST /orders` of the API. Returns its access key id and secret."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{execution_arn}/*/POST/orders"}
        ],
    }
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="post-orders", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


def first_api_key(apigateway: Any, graph: Graph) -> str:
    """The value of the first client's API key the program created (`apiKey` mode)."""
    keys = graph.of_type(API_KEY)
    if not keys:
        raise LookupError("intakeAuth is apiKey but the program created no API key")
    return str(apigateway.get_api_key(apiKey=keys[0].id, includeValue=True)["value"])


def main(argv: list[str]) -> int:
    """`python -m simulation post-order`: one signed (or keyed) POST /orders, the answer printed."""
    p = argparse.ArgumentParser(prog="python -m simulation post-order", description=main.__doc__)
    p.add_argument("--url", required=True, help="the intake's .../orders URL (local up --json: intakeOrdersUrl)")
    p.add_argument("--profile", help="iam mode: the AWS profile to sign as (local up: storefront)")
    p.add_argument("--api-key", help="apiKey mode: the client's key, sent as x-api-key")
    p.add_argument("--region", default=None, help="the API's region (default: the profile's)")
    p.add_argument("--content-type", default="application/json")
    p.add_argument("order", help="the order as JSON, or @FILE")
    args = p.parse_args(argv)
    body = Path(args.order[1:]).read_text() if args.order.startswith("@") else args.order
    if args.profile:
        client = IntakeClient.signing_as(args.url, boto3.session.Session(profile_name=args.profile), args.region)
        client = replace(client, api_key=args.api_key)
    else:
        client = IntakeClient(args.url, args.region or "us-east-1", api_key=args.api_key)
    answer = client.post(body, content_type=args.content_type)
    print(f"HTTP {answer.status_code} {answer.text}")
    return 0 if answer.status_code == 202 else 1

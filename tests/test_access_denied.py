"""worker/access.py: an AccessDenied answer becomes one log line naming the principal, action and resource."""

from __future__ import annotations

import logging

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from worker.access import Denial, denial_of, parse_denial, watched_session

PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/orders-dev-workers/i-0abc"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/orders-dev-orders"
AWS_TEXT = (
    f"User: {PRINCIPAL} is not authorized to perform: dynamodb:PutItem on resource: {TABLE} "
    "because no identity-based policy allows the dynamodb:PutItem action"
)


def test_the_aws_message_names_principal_action_and_resource() -> None:
    denial = denial_of({"Code": "AccessDeniedException", "Message": AWS_TEXT}, "dynamodb:PutItem")
    assert denial == Denial(PRINCIPAL, "dynamodb:PutItem", TABLE, "AccessDeniedException")
    assert parse_denial(f"2026-12-05 ERROR worker.access {denial.line()}") == denial


def test_other_errors_are_not_denials_and_a_bare_denial_keeps_the_operation() -> None:
    assert denial_of({"Code": "ThrottlingException", "Message": AWS_TEXT}, "dynamodb:PutItem") is None
    bare = denial_of({"Code": "AccessDenied", "Message": "Access Denied"}, "s3:PutObject")
    assert bare is not None and bare.action == "s3:PutObject" and parse_denial(bare.line()) is None


def test_every_client_of_a_watched_session_logs_the_denial(caplog: pytest.LogCaptureFixture) -> None:
    ddb = watched_session(region_name="us-east-1").client(
        "dynamodb", aws_access_key_id="x", aws_secret_access_key="x", endpoint_url="http://127.0.0.1:1"
    )
    with Stubber(ddb) as stub, caplog.at_level(logging.ERROR, logger="worker.access"):
        stub.add_client_error("put_item", "AccessDeniedException", AWS_TEXT, 400)
        with pytest.raises(ClientError):
            ddb.put_item(TableName="orders-dev-orders", Item={"OrderID": {"S": "o-1"}})
    [record] = caplog.records
    assert parse_denial(record.getMessage()) == Denial(PRINCIPAL, "dynamodb:PutItem", TABLE, "AccessDeniedException")


def test_a_message_without_the_resource_gets_the_one_the_request_named(caplog: pytest.LogCaptureFixture) -> None:
    """Some services (and some emulators) leave the resource out of the message: the request's own names it."""
    bare_text = f"User: {PRINCIPAL} is not authorized to perform: sqs:ReceiveMessage because no policy allows it"
    sqs = watched_session(region_name="us-east-1").client(
        "sqs", aws_access_key_id="x", aws_secret_access_key="x", endpoint_url="http://127.0.0.1:1"
    )
    queue = "http://127.0.0.1:1/123456789012/orders-dev-shipping"
    with Stubber(sqs) as stub, caplog.at_level(logging.ERROR, logger="worker.access"):
        stub.add_client_error("receive_message", "AccessDenied", bare_text, 403)
        with pytest.raises(ClientError):
            sqs.receive_message(QueueUrl=queue)
    [record] = caplog.records
    assert parse_denial(record.getMessage()) == Denial(PRINCIPAL, "sqs:ReceiveMessage", queue, "AccessDenied")

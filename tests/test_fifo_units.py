"""FIFO worker parts against the emulator over HTTP: settings, the exactly-once write, invoices, the
heartbeat, the IMDSv2 watch and metrics."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, cast

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from simulation.emulator import Emulator
from simulation.fifo_harness import Resources, order_body, provision
from simulation.imds_standin import running_imds
from worker.backoff import DELETE, DEPENDENCY, RECEIVE, Backoff, BackoffPolicy
from worker.fifo import cli
from worker.fifo.aws import make_clients
from worker.fifo.deleter import Deleter
from worker.fifo.groups import GroupRunner
from worker.fifo.inflight import InFlight
from worker.fifo.interruption import Imds, InterruptionWatch
from worker.fifo.invoice_writer import InvoiceWriter
from worker.fifo.messages import Received, split_by_group
from worker.fifo.order_writer import OrderWriter, Outcome
from worker.fifo.processor import Result
from worker.fifo.runner import FifoWorker
from worker.fifo.settings import SettingsError, load
from worker.fifo.state import State, WorkerState
from worker.fifo.telemetry import Counters
from worker.model import parse_invoice, parse_order

BASE_ENV = {
    "ORDERS_QUEUE_URL": "http://127.0.0.1:1/123456789012/orders-dev-orders.fifo",
    "ORDERS_TABLE": "t",
    "ORDERS_BUCKET": "b",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture()
def res(emulator: Emulator) -> Resources:
    return provision()


def msg(
    body: str, *, mid: str = "m-1", seq: str = "00000000000000000001", group: str = "g", handle: str = "h"
) -> Received:
    return Received(mid, handle, body, group, seq, 1, time.time())


# settings -----------------------------------------------------------------------------------------


def test_settings_flags_win_over_environment_and_defaults_apply() -> None:
    s = load(["--receivers", "2", "--table", "flagged"], {**BASE_ENV, "ORDERS_RECEIVERS": "7"})
    assert (s.receivers, s.table, s.bucket) == (2, "flagged", "b")
    assert (s.invoice_prefix, s.drain_seconds, s.imds_url, s.wait_seconds, s.batch_size) == (
        "invoices/",
        90.0,
        "http://169.254.169.254",
        20,
        10,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({k: v for k, v in BASE_ENV.items() if k != "ORDERS_QUEUE_URL"}, "ORDERS_QUEUE_URL is required"),
        ({**BASE_ENV, "ORDERS_QUEUE_URL": "http://x/1/std"}, "FIFO"),
        ({**BASE_ENV, "ORDERS_DRAIN_SECONDS": "soon"}, "ORDERS_DRAIN_SECONDS: not a number"),
        ({**BASE_ENV, "ORDERS_RECEIVERS": "0"}, "ORDERS_RECEIVERS: must be >= 1"),
        ({**BASE_ENV, "ORDERS_DRAIN_SECONDS": "20"}, r"ORDERS_DRAIN_SECONDS \(20\) must be longer than the long poll"),
        ({**BASE_ENV, "ORDERS_ASG_NAME": "asg"}, "set together"),
        ({**BASE_ENV, "ORDERS_RETRY_MODE": "legacy-ish"}, "standard or adaptive"),
    ],
)
def test_settings_errors_name_the_key(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load([], env)


def test_settings_region_fallback_empty_values_and_flag_only_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_RECEIVERS", "9")  # an explicit mapping is the whole environment
    env = {k: v for k, v in BASE_ENV.items() if k != "AWS_REGION"}
    s = load([], {**env, "AWS_DEFAULT_REGION": "eu-west-1", "ORDERS_RECEIVERS": "", "ORDERS_MAX_ATTEMPTS": "3"})
    assert (s.region, s.receivers, s.max_attempts, s.visibility_seconds) == ("eu-west-1", 4, 3, None)
    assert load(["--region", "eu-central-1"], {**BASE_ENV, "AWS_DEFAULT_REGION": "x"}).region == "eu-central-1"
    with pytest.raises(SettingsError, match=r"--wait-seconds must be between 0 and 20 \(the SQS long-poll maximum\)"):
        load(["--wait-seconds", "21"], BASE_ENV)
    with pytest.raises(SettingsError, match="--batch-size must be between 1 and 10"):
        load(["--batch-size", "0"], BASE_ENV)
    with pytest.raises(SettingsError, match="--table / ORDERS_TABLE is required"):
        load(["--table", ""], BASE_ENV)
    with pytest.raises(SettingsError, match=r"ORDERS_VISIBILITY_SECONDS: not a number: '1\.5'"):
        load([], {**BASE_ENV, "ORDERS_VISIBILITY_SECONDS": "1.5"})


def test_cli_reports_bad_settings_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [*BASE_ENV, "AWS_DEFAULT_REGION"]:
        monkeypatch.delenv(key, raising=False)
    assert cli.main([]) == 2
    assert "ORDERS_QUEUE_URL is required" in capsys.readouterr().err


def test_split_by_group_keeps_each_groups_order() -> None:
    ms = [msg("", mid=str(i), group=g) for i, g in enumerate("abacba")]
    assert [[m.message_id for m in run] for run in split_by_group(ms)] == [["0", "2", "5"], ["1", "4"], ["3"]]


# backoff and the worker's state -------------------------------------------------------------------


def test_backoff_doubles_to_its_cap_with_full_jitter_and_resets() -> None:
    policy = BackoffPolicy(base=0.5, cap=20.0)
    assert [policy.ceiling(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 20, 20]
    assert policy.ceiling(10_000) == 20.0  # no overflow however long the outage
    assert policy.delay(3, lambda: 0.0) == 0.0 and policy.delay(3, lambda: 1.0) == 2.0
    draws = iter([1.0, 1.0, 1.0, 0.25, 1.0])
    loop = Backoff(policy, draw=lambda: next(draws))
    assert [loop.failed(), loop.failed(), loop.failed()] == [0.5, 1.0, 2.0]
    assert loop.failed() == 4.0 * 0.25
    loop.succeeded()
    assert loop.failed() == 0.5  # the next outage starts small again
    # the three uses keep today's caps: receive 20 s, a group's dependency 10 s, the deleter 5 s
    assert [(p.base, p.cap) for p in (RECEIVE, DEPENDENCY, DELETE)] == [(0.5, 20.0), (0.2, 10.0), (0.1, 5.0)]
    real = Backoff(RECEIVE)
    assert all(0.0 <= real.failed() <= RECEIVE.cap for _ in range(50))


def test_worker_state_moves_forward_through_named_transitions_only() -> None:
    state = WorkerState()
    draining, abandon = state.signal(State.DRAINING), state.signal(State.ABANDONING)
    assert state.state is State.RUNNING and not draining.is_set() and state.reason == ""
    assert state.abandon() is False and state.flush() is False  # nothing to abandon or flush yet
    assert state.request_stop("signal SIGTERM") is True
    assert state.request_stop("spot-interruption") is False and state.reason == "signal SIGTERM"
    assert draining.is_set() and not abandon.is_set()
    assert state.abandon() is True and abandon.is_set() and state.abandon() is False
    assert state.flush() is True and state.state is State.FLUSHING
    assert state.request_stop("idle") is False and state.abandon() is False  # never back
    assert state.stop() is True and state.stop() is False and state.reached(State.STOPPED)
    # a drain that finished in time goes straight from DRAINING to FLUSHING, never ABANDONING
    quick = WorkerState()
    quick.request_stop("idle")
    assert quick.flush() is True and quick.reached(State.ABANDONING)  # later states imply earlier ones
    # a worker that cannot start stops its watchers from RUNNING
    failed = WorkerState()
    assert failed.stop() is True and failed.reason == ""


def test_worker_state_wakes_the_threads_that_wait_on_it() -> None:
    state = WorkerState()
    woke: list[tuple[str, float]] = []
    started = time.monotonic()

    def waiter(name: str, until: State) -> None:
        state.wait(until, 5.0)
        woke.append((name, time.monotonic() - started))

    threads = [threading.Thread(target=waiter, args=a) for a in (("drain", State.DRAINING), ("stop", State.STOPPED))]
    for t in threads:
        t.start()
    assert state.signal(State.DRAINING).wait(0.1) is False  # a timeout, not a transition
    time.sleep(0.2)
    state.request_stop("test")
    threads[0].join(2)
    assert [name for name, _ in woke] == ["drain"]
    state.stop()
    threads[1].join(2)
    assert [name for name, _ in woke] == ["drain", "stop"] and all(at < 2.0 for _, at in woke)


# the exactly-once write and the invoice ----------------------------------------------------------


def test_conditional_write_recognises_redelivery_and_never_overwrites(res: Resources) -> None:
    ddb = boto3.client("dynamodb")
    writer = OrderWriter(ddb, res.table)
    order = parse_order(order_body("ord-1", "cust-1"))
    first = msg(order.to_json(), mid="m-1", seq="00000000000000000005")
    written = writer.record(order, first)
    again = writer.record(order, first)
    other = writer.record(order, msg(order.to_json(), mid="m-2", seq="00000000000000000009"))
    older = writer.record(order, msg(order.to_json(), mid="m-0", seq="00000000000000000001"))
    assert [r.outcome for r in (written, again, other, older)] == [
        Outcome.WRITTEN,
        Outcome.REDELIVERY,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
    ]
    # every later answer reports the stored write: ProcessedAt and SequenceNumber of the first
    assert {(r.processed_at, r.sequence_number) for r in (written, again, other, older)} == {
        (written.processed_at, "00000000000000000005")
    }
    item = ddb.get_item(TableName=res.table, Key={"OrderID": {"S": "ord-1"}})["Item"]
    assert item["MessageId"]["S"] == "m-1" and item["SequenceNumber"]["S"] == "00000000000000000005"
    assert item["MessageGroupId"]["S"] == "g" and item["Total"]["N"] == str(order.Total)


def test_invoice_is_the_models_json_and_is_created_once(res: Resources) -> None:
    from worker.model import Invoice

    s3 = boto3.client("s3")
    writer = InvoiceWriter(s3, res.bucket, "invoices/")
    order = parse_order(order_body("ord-9", "cust-9", 4))
    invoice = Invoice(Order=order, ProcessedAt=order.CreatedAt, SequenceNumber="7", Region="us-east-1")
    assert writer.put(invoice) is True
    assert writer.put(invoice.model_copy(update={"SequenceNumber": "8"})) is False  # If-None-Match: *
    body = s3.get_object(Bucket=res.bucket, Key="invoices/ord-9.json")["Body"].read()
    assert body.decode() == invoice.to_json() and parse_invoice(body) == invoice


# heartbeat --------------------------------------------------------------------------------------


def test_heartbeat_keeps_a_slow_message_invisible(emulator: Emulator) -> None:
    res = provision(visibility=2)
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=res.queue_url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    raw = sqs.receive_message(QueueUrl=res.queue_url, MessageSystemAttributeNames=["All"])["Messages"][0]
    counters = Counters("q")
    inflight = InFlight(sqs, res.queue_url, visibility=2, capacity=10, counters=counters)
    inflight.admit(0, [Received.from_sqs(raw, received_at=time.time(), visibility=2)])
    deadline = time.time() + 4.5  # more than twice the visibility timeout
    while time.time() < deadline:
        inflight.heartbeat_once()
        assert not sqs.receive_message(QueueUrl=res.queue_url).get("Messages"), "message reappeared while held"
        time.sleep(0.5)
    assert counters.get("heartbeats") >= 2
    inflight.release(inflight.held(), why="test")  # visibility 0: back at once
    again = sqs.receive_message(QueueUrl=res.queue_url, MessageSystemAttributeNames=["All"])["Messages"]
    assert again[0]["MessageId"] == raw["MessageId"] and again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


class RecordingSqs:
    """Records visibility changes (a release is one) and accepts them all."""

    def __init__(self) -> None:
        self.visibility_calls: list[list[dict[str, Any]]] = []

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.visibility_calls.append(Entries)
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}


@pytest.mark.parametrize("when", ["in-hand", "deadline", "before-start"])
def test_a_run_on_drain_leaves_the_rest_held_for_the_drains_one_release(when: str) -> None:
    """A run that sees the drain finishes the message in hand (not even that once the deadline passed, and
    none if the drain began before the run started) and releases nothing itself: a release while the
    worker's own receivers still poll would hand the message straight back to them, spending one of its
    receives before the DLQ."""
    deadline = when == "deadline"
    sqs, counters = RecordingSqs(), Counters("q")
    draining, abandon = threading.Event(), threading.Event()
    inflight = InFlight(sqs, "q", visibility=30, capacity=10, counters=counters)
    deleter = Deleter(sqs, "q", inflight, counters)

    class DrainDuringTheFirst:
        def process(self, message: Received) -> Result:
            draining.set()  # the notice arrives while the first message is in hand
            if deadline:
                abandon.set()
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")  # waiting out an outage
            return Result(Outcome.WRITTEN)

    runner = GroupRunner(
        cast(Any, DrainDuringTheFirst()), inflight, deleter, counters, 2, draining=draining, abandon=abandon
    )
    run = [msg("{}", mid=f"m-{i}", handle=f"h-{i}", seq=f"{i:020d}") for i in range(4)]
    inflight.admit(0, run)
    if when == "before-start":
        draining.set()
    runner.submit(run)
    assert runner.wait_idle(5)
    runner.shutdown()
    assert sqs.visibility_calls == []
    assert deleter.pending() == (1 if when == "in-hand" else 0)  # m-0 stored and waiting for its delete, or not
    assert [m.message_id for m in inflight.held()] == ["m-0", "m-1", "m-2", "m-3"]  # held until deleted or released


# IMDSv2 -----------------------------------------------------------------------------------------


def test_imds_client_fetches_a_token_first_and_renews_it_on_401() -> None:
    with running_imds() as stub:
        imds = Imds(stub.url)
        assert imds.get("spot/instance-action") is None  # 404 until a notice
        assert stub.log[0] == ("PUT", "/latest/api/token", 200)
        stub.token = "rotated"
        assert imds.get("instance-id") == stub.instance_id
        assert [entry[2] for entry in stub.log[-3:]] == [401, 200, 200]


def test_interruption_watch_sees_spot_rebalance_and_lifecycle() -> None:
    with running_imds() as stub:
        reasons: list[str] = []
        rebalances: list[bool] = []
        watch = InterruptionWatch(Imds(stub.url), 0.1, reasons.append, lambda: rebalances.append(True), True)
        assert watch.check_once() is None
        stub.recommend_rebalance()
        assert watch.check_once() is None and watch.check_once() is None and rebalances == [True]
        stub.set_lifecycle_state("Terminated")
        assert watch.check_once() == "lifecycle-terminated"
        stub.set_lifecycle_state("InService")
        stub.interrupt()
        stop = threading.Event()
        watch.run(stop)  # returns after reporting
        assert reasons == ["spot-interruption"]


def test_lifecycle_action_is_completed_with_continue(emulator: Emulator) -> None:
    """moto does not implement CompleteLifecycleAction, so the request is checked against the service
    model with botocore's Stubber; everything else in this path is real (IMDS stand-in, settings)."""
    with running_imds() as stub:
        env = {
            **BASE_ENV,
            **emulator.env(),
            "ORDERS_IMDS_URL": stub.url,
            "ORDERS_ASG_NAME": "asg-1",
            "ORDERS_LIFECYCLE_HOOK": "drain",
        }
        settings = load([], env)
        worker = FifoWorker(settings, make_clients(settings))
        with Stubber(worker.clients.autoscaling) as stubber:
            stubber.add_response(
                "complete_lifecycle_action",
                {},
                {
                    "LifecycleHookName": "drain",
                    "AutoScalingGroupName": "asg-1",
                    "LifecycleActionResult": "CONTINUE",
                    "InstanceId": stub.instance_id,
                },
            )
            worker._complete_lifecycle_action(watch=object())  # type: ignore[arg-type]
            stubber.assert_no_pending_responses()


# metrics ----------------------------------------------------------------------------------------


def test_counters_flush_as_embedded_metric_format(capsys: pytest.CaptureFixture[str]) -> None:
    counters = Counters("orders.fifo")
    counters.add("processed", 3)
    counters.add("duplicates")
    counters.flush()
    line = json.loads([ln for ln in capsys.readouterr().out.splitlines() if ln.startswith('{"_aws"')][-1])
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Orders"
    assert line["Processed"] == [3.0] and line["Duplicates"] == [1.0] and line["Queue"] == "orders.fifo"
    counters.flush()  # deltas: the second flush reports zero
    line = json.loads([ln for ln in capsys.readouterr().out.splitlines() if ln.startswith('{"_aws"')][-1])
    assert line["Processed"] == [0.0] and counters.totals()["processed"] == 3

"""The worker: receivers, group runs, batched deletes, heartbeat, interruption watch, and the drain.

Drain (SIGTERM/SIGINT, Spot notice, ASG lifecycle `Terminated`, or idle exit): stop receiving; each
group run finishes the message in hand (at the deadline, ORDERS_DRAIN_SECONDS, not even that); a long
poll under way returns within --wait-seconds; pending deletes are flushed; then everything still held
is released in one pass; a lifecycle action is completed with CONTINUE; the summary is logged; exit 0.
A second signal skips to the end. Releasing only once the receivers have stopped matters: a message
made visible while one of this worker's long polls is open comes straight back to it, and every such
receive counts toward the DLQ's three. The phases are the states of `worker.fifo.state.WorkerState`,
the one thing the threads coordinate on.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from types import FrameType

from botocore.exceptions import BotoCoreError, ClientError

from worker.backoff import RECEIVE, Backoff
from worker.fifo.aws import Clients, make_clients
from worker.fifo.deleter import Deleter
from worker.fifo.groups import GroupRunner
from worker.fifo.inflight import InFlight
from worker.fifo.interruption import Imds, InterruptionWatch
from worker.fifo.invoice_writer import InvoiceWriter
from worker.fifo.messages import SYSTEM_ATTRIBUTES, Received, split_by_group
from worker.fifo.order_writer import OrderWriter
from worker.fifo.processor import OrderProcessor
from worker.fifo.settings import WorkerSettings
from worker.fifo.state import State, WorkerState
from worker.fifo.telemetry import Counters, log

FATAL_QUEUE_ERRORS = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied"}


class FatalError(RuntimeError):
    """Configuration that no amount of waiting fixes (the queue does not exist, access denied)."""


@dataclass(frozen=True)
class Parts:
    """What the worker builds once the queue answers: held messages, the deleter, the group runs."""

    inflight: InFlight
    deleter: Deleter
    runner: GroupRunner


class FifoWorker:
    def __init__(self, settings: WorkerSettings, clients: Clients | None = None) -> None:
        self.settings = settings
        self.counters = Counters(settings.queue_url.rsplit("/", 1)[-1])
        self.clients = clients or make_clients(settings, on_call=self.counters.count_call)
        self.state = WorkerState()
        self._active_receivers = settings.receivers
        self._last_activity = time.monotonic()

    # stop requests --------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        if self.state.request_stop(reason):
            log.info("stop requested; draining", extra={"reason": reason, "drain_seconds": self.settings.drain_seconds})
        elif reason.startswith("signal"):
            log.warning("second stop signal: releasing everything now", extra={"reason": reason})
            self.state.abandon()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(f"signal {signal.Signals(signum).name}")

    def _on_rebalance(self) -> None:
        self._active_receivers = max(1, self.settings.receivers // 2)

    # startup --------------------------------------------------------------
    def _queue_visibility(self) -> int:
        """The queue's VisibilityTimeout (unless overridden), waiting for the queue service to answer."""
        backoff = Backoff(RECEIVE)
        while not self.state.reached(State.DRAINING):
            try:
                attrs = self.clients.sqs.get_queue_attributes(
                    QueueUrl=self.settings.queue_url, AttributeNames=["VisibilityTimeout", "FifoQueue"]
                )["Attributes"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in FATAL_QUEUE_ERRORS:
                    raise FatalError(f"queue {self.settings.queue_url}: {exc}") from None
                log.warning("queue not reachable yet", extra={"error": str(exc)})
            except BotoCoreError as exc:
                log.warning("queue not reachable yet", extra={"error": str(exc)})
            else:
                if attrs.get("FifoQueue") != "true":
                    raise FatalError(f"queue {self.settings.queue_url} is not a FIFO queue")
                return self.settings.visibility_seconds or int(attrs["VisibilityTimeout"])
            self.state.wait(State.DRAINING, backoff.failed())
        return self.settings.visibility_seconds or 30

    def _start_interruption_watch(self) -> InterruptionWatch | None:
        s = self.settings
        if not s.imds_url:
            return None
        watch = InterruptionWatch(
            Imds(s.imds_url),
            s.imds_poll_seconds,
            on_interruption=self.request_stop,
            on_rebalance=self._on_rebalance,
            watch_lifecycle=bool(s.lifecycle_hook),
        )
        stopped = self.state.signal(State.STOPPED)
        threading.Thread(target=watch.run, args=(stopped,), name="imds", daemon=True).start()
        return watch

    def _build(self, visibility: int) -> Parts:
        s = self.settings
        inflight = InFlight(self.clients.sqs, s.queue_url, visibility, s.max_in_flight, self.counters)
        deleter = Deleter(self.clients.sqs, s.queue_url, inflight, self.counters)
        processor = OrderProcessor(
            OrderWriter(self.clients.dynamodb, s.table, lambda units: self.counters.add("write_units", round(units))),
            InvoiceWriter(self.clients.s3, s.bucket, s.invoice_prefix),
            s.region,
        )
        runner = GroupRunner(
            processor,
            inflight,
            deleter,
            self.counters,
            s.processors,
            draining=self.state.signal(State.DRAINING),
            abandon=self.state.signal(State.ABANDONING),
        )
        return Parts(inflight, deleter, runner)

    def _start_threads(self, parts: Parts) -> list[threading.Thread]:
        """Deleter, heartbeat, metrics and the receivers; returns [deleter, *receivers] (joined by the drain)."""
        deleter = threading.Thread(
            target=parts.deleter.run, args=(self.state.signal(State.FLUSHING),), name="deleter", daemon=True
        )
        heartbeat = threading.Thread(
            target=parts.inflight.run_heartbeat, args=(self.state.signal(State.STOPPED),), name="heartbeat", daemon=True
        )
        metrics = threading.Thread(target=self._flush_metrics, name="metrics", daemon=True)
        receivers = [
            threading.Thread(target=self._receiver, args=(i, parts), name=f"receiver-{i}", daemon=True)
            for i in range(self.settings.receivers)
        ]
        for t in (deleter, heartbeat, metrics, *receivers):
            t.start()
        return [deleter, *receivers]

    # receiving ------------------------------------------------------------
    def _receive(self, reserved: int, inflight: InFlight, backoff: Backoff) -> list[Received] | None:
        """One long poll for up to `reserved` messages; None (after backing off) when it failed."""
        s = self.settings
        try:
            resp = self.clients.sqs.receive_message(
                QueueUrl=s.queue_url,
                MaxNumberOfMessages=reserved,
                WaitTimeSeconds=s.wait_seconds,
                VisibilityTimeout=inflight.visibility,
                MessageSystemAttributeNames=SYSTEM_ATTRIBUTES,
                ReceiveRequestAttemptId=uuid.uuid4().hex,  # a retried receive gets the same messages back
            )
        except (BotoCoreError, ClientError) as exc:
            inflight.admit(reserved, [])
            self._last_activity = time.monotonic()  # failing is not idle: an outage never ends a batch run
            self.counters.add("receive_errors")
            delay = backoff.failed()
            log.warning("receive failed; backing off", extra={"error": str(exc), "sleep": round(delay, 2)})
            self.state.wait(State.DRAINING, delay)
            return None
        backoff.succeeded()
        now = time.time()
        messages = [
            Received.from_sqs(m, received_at=now, visibility=inflight.visibility) for m in resp.get("Messages", [])
        ]
        inflight.admit(reserved, messages)
        return messages

    def _receiver(self, index: int, parts: Parts) -> None:
        draining = self.state.signal(State.DRAINING)
        backoff = Backoff(RECEIVE)
        while not draining.is_set():
            if index >= self._active_receivers:
                draining.wait(1.0)
                continue
            reserved = parts.inflight.reserve(self.settings.batch_size, draining)
            if not reserved:
                break
            messages = self._receive(reserved, parts.inflight, backoff)
            if not messages:
                continue
            self._last_activity = time.monotonic()
            self.counters.add("received", len(messages))
            if log.log_level <= logging.DEBUG:  # the fields are built only when they are logged
                log.debug("received", extra={"messages": [m.log_fields() for m in messages]})
            if draining.is_set():  # held: the drain releases them once every receiver has stopped
                log.info("received after the drain began; held for the drain's release", extra={"count": len(messages)})
                break
            for run in split_by_group(messages):
                parts.runner.submit(run)

    # the whole life -------------------------------------------------------
    def run(self) -> int:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        watch = self._start_interruption_watch()
        try:
            visibility = self._queue_visibility()
        except FatalError as exc:
            log.error("cannot start", extra={"error": str(exc)})
            self.state.stop()
            return 2
        started = time.monotonic()
        parts = self._build(visibility)
        threads = self._start_threads(parts)
        self._log_started(visibility)
        self._run_until_stop_requested(parts)
        drained_in = self._drain(parts, threads)
        if self.state.reason == "lifecycle-terminated":
            self._complete_lifecycle_action(watch)
        self.counters.flush()
        log.info(
            "worker stopped",
            extra={
                "summary": self.counters.summary(
                    reason=self.state.reason,
                    drained_in_seconds=round(drained_in, 2),
                    within_deadline=drained_in <= self.settings.drain_seconds,
                    left_held=len(parts.inflight),
                    ran_seconds=round(time.monotonic() - started, 2),
                )
            },
        )
        return 0

    def _log_started(self, visibility: int) -> None:
        s = self.settings
        log.info(
            "worker started",
            extra={
                "queue_url": s.queue_url,
                "table": s.table,
                "bucket": s.bucket,
                "visibility": visibility,
                "receivers": s.receivers,
                "processors": s.processors,
                "max_in_flight": s.max_in_flight,
            },
        )

    def _run_until_stop_requested(self, parts: Parts) -> None:
        """Watch for idleness (batch runs exit after ORDERS_IDLE_EXIT_SECONDS with nothing to do)."""
        idle_exit = self.settings.idle_exit_seconds
        while not self.state.wait(State.DRAINING, 0.5):
            if parts.runner.active() or len(parts.inflight):
                self._last_activity = time.monotonic()
            elif idle_exit and time.monotonic() - self._last_activity > idle_exit:
                self.request_stop("idle")

    def _drain(self, parts: Parts, threads: list[threading.Thread]) -> float:
        """From DRAINING to STOPPED within the deadline; returns the seconds it took."""
        drain_started = time.monotonic()
        deadline = drain_started + self.settings.drain_seconds
        if not parts.runner.wait_idle(max(0.0, deadline - time.monotonic() - 1.0)):
            self.state.abandon()
            parts.runner.wait_idle(2.0)
        deleter, *receivers = threads
        for t in receivers:  # a long poll under way returns within wait_seconds; what it got is held
            t.join(max(0.0, deadline - time.monotonic()))
        abandoned = self.state.reached(State.ABANDONING)
        self.state.flush()
        deleter.join(max(1.0, deadline - time.monotonic()))
        parts.inflight.release(parts.inflight.held(), why="drain deadline" if abandoned else "drain")
        parts.runner.shutdown()
        self.state.stop()
        return time.monotonic() - drain_started

    def _flush_metrics(self) -> None:
        while not self.state.wait(State.STOPPED, self.settings.metrics_interval):
            self.counters.flush()

    def _complete_lifecycle_action(self, watch: InterruptionWatch | None) -> None:
        """Tell the ASG the instance may go now rather than at the hook's timeout."""
        s = self.settings
        try:
            instance_id = Imds(s.imds_url).get("instance-id") if watch else None
            self.clients.autoscaling.complete_lifecycle_action(
                LifecycleHookName=s.lifecycle_hook,
                AutoScalingGroupName=s.asg_name,
                LifecycleActionResult="CONTINUE",
                InstanceId=instance_id or "",
            )
            log.info("lifecycle action completed", extra={"instance_id": instance_id, "hook": s.lifecycle_hook})
        except (BotoCoreError, ClientError, OSError) as exc:
            log.error("could not complete the lifecycle action; the hook will time out", extra={"error": str(exc)})

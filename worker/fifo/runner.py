"""The worker: receivers, group runs, batched deletes, heartbeat, interruption watch, and the drain.

Drain (SIGTERM/SIGINT, Spot notice, ASG lifecycle `Terminated`, or idle exit): stop receiving; each
group run finishes the message in hand and releases the rest of its batch at once; at the deadline
(ORDERS_DRAIN_SECONDS) whatever is still held is released; pending deletes are flushed; a lifecycle
action is completed with CONTINUE; the summary is logged; exit 0. A second signal skips to the end.
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from types import FrameType

from botocore.exceptions import BotoCoreError, ClientError

from worker.fifo.aws import Clients, make_clients
from worker.fifo.deleter import Deleter
from worker.fifo.groups import GroupRunner
from worker.fifo.inflight import InFlight
from worker.fifo.interruption import Imds, InterruptionWatch
from worker.fifo.invoices import InvoiceWriter
from worker.fifo.messages import SYSTEM_ATTRIBUTES, Received, split_by_group
from worker.fifo.processor import OrderProcessor
from worker.fifo.settings import WorkerSettings
from worker.fifo.store import OrderStore
from worker.fifo.telemetry import Counters, log

FATAL_QUEUE_ERRORS = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "AccessDenied"}


class FatalError(RuntimeError):
    """Configuration that no amount of waiting fixes (the queue does not exist, access denied)."""


class FifoWorker:
    def __init__(self, settings: WorkerSettings, clients: Clients | None = None) -> None:
        self.settings = settings
        self.counters = Counters(settings.queue_url.rsplit("/", 1)[-1])
        self.clients = clients or make_clients(settings, on_call=self.counters.count_call)
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        self._receiving_stop = threading.Event()
        self._draining = threading.Event()
        self._abandon = threading.Event()
        self._background_stop = threading.Event()
        self._active_receivers = settings.receivers
        self._last_activity = time.monotonic()

    # stop requests --------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        if self.stop_requested.is_set():
            if reason.startswith("signal"):
                log.warning("second stop signal: releasing everything now", extra={"reason": reason})
                self._abandon.set()
            return
        self.stop_reason = reason
        log.info("stop requested; draining", extra={"reason": reason, "drain_seconds": self.settings.drain_seconds})
        self.stop_requested.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(f"signal {signal.Signals(signum).name}")

    def _on_rebalance(self) -> None:
        self._active_receivers = max(1, self.settings.receivers // 2)

    # startup --------------------------------------------------------------
    def _queue_visibility(self) -> int:
        """The queue's VisibilityTimeout (unless overridden), waiting for the queue service to answer."""
        delay = 0.5
        while not self.stop_requested.is_set():
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
            self.stop_requested.wait(delay)
            delay = min(20.0, delay * 2)
        return self.settings.visibility_seconds or 30

    # receiving ------------------------------------------------------------
    def _receiver(self, index: int, inflight: InFlight, runner: GroupRunner) -> None:
        s = self.settings
        delay = 0.5
        while not self._receiving_stop.is_set():
            if index >= self._active_receivers:
                self._receiving_stop.wait(1.0)
                continue
            reserved = inflight.reserve(s.batch_size, self._receiving_stop)
            if not reserved:
                break
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
                log.warning("receive failed; backing off", extra={"error": str(exc), "sleep": round(delay, 2)})
                self._receiving_stop.wait(delay * random.uniform(0.5, 1.0))
                delay = min(20.0, delay * 2)
                continue
            delay = 0.5
            now = time.time()
            messages = [
                Received.from_sqs(m, received_at=now, visibility=inflight.visibility) for m in resp.get("Messages", [])
            ]
            inflight.admit(reserved, messages)
            if not messages:
                continue
            self._last_activity = time.monotonic()
            self.counters.add("received", len(messages))
            log.debug("received", extra={"messages": [m.log_fields() for m in messages]})
            if self._receiving_stop.is_set():
                inflight.release(messages, why="received after the drain began")
                break
            for run in split_by_group(messages):
                runner.submit(run)

    # the whole life -------------------------------------------------------
    def run(self) -> int:
        s = self.settings
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        watch = None
        if s.imds_url:
            watch = InterruptionWatch(
                Imds(s.imds_url),
                s.imds_poll_seconds,
                on_interruption=self.request_stop,
                on_rebalance=self._on_rebalance,
                watch_lifecycle=bool(s.lifecycle_hook),
            )
            threading.Thread(target=watch.run, args=(self._background_stop,), name="imds", daemon=True).start()
        try:
            visibility = self._queue_visibility()
        except FatalError as exc:
            log.error("cannot start", extra={"error": str(exc)})
            self._background_stop.set()
            return 2
        started = time.monotonic()
        inflight = InFlight(self.clients.sqs, s.queue_url, visibility, s.max_in_flight, self.counters)
        deleter = Deleter(self.clients.sqs, s.queue_url, inflight, self.counters)
        processor = OrderProcessor(
            OrderStore(self.clients.dynamodb, s.table, lambda units: self.counters.add("write_units", round(units))),
            InvoiceWriter(self.clients.s3, s.bucket, s.invoice_prefix),
            s.region,
        )
        runner = GroupRunner(processor, inflight, deleter, self.counters, s.processors, self._draining, self._abandon)
        deleter_stop = threading.Event()
        deleter_thread = threading.Thread(target=deleter.run, args=(deleter_stop,), name="deleter", daemon=True)
        deleter_thread.start()
        threading.Thread(
            target=inflight.run_heartbeat, args=(self._background_stop,), name="heartbeat", daemon=True
        ).start()
        threading.Thread(target=self._flush_metrics, name="metrics", daemon=True).start()
        receivers = [
            threading.Thread(target=self._receiver, args=(i, inflight, runner), name=f"receiver-{i}", daemon=True)
            for i in range(s.receivers)
        ]
        for t in receivers:
            t.start()
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

        while not self.stop_requested.wait(0.5):
            if runner.active() or len(inflight):
                self._last_activity = time.monotonic()
            elif s.idle_exit_seconds and time.monotonic() - self._last_activity > s.idle_exit_seconds:
                self.request_stop("idle")

        drain_started = time.monotonic()
        deadline = drain_started + s.drain_seconds
        self._receiving_stop.set()
        self._draining.set()
        if not runner.wait_idle(max(0.0, deadline - time.monotonic() - 1.0)):
            self._abandon.set()
            runner.wait_idle(2.0)
        for t in receivers:  # a long poll under way returns within wait_seconds; its messages are released
            t.join(max(0.0, deadline - time.monotonic()))
        deleter_stop.set()
        deleter_thread.join(max(1.0, deadline - time.monotonic()))
        leftovers = inflight.held()
        inflight.release(leftovers, why="drain deadline" if leftovers else "drain")
        runner.shutdown()
        self._background_stop.set()
        if self.stop_reason == "lifecycle-terminated":
            self._complete_lifecycle_action(watch)
        self.counters.flush()
        drained_in = time.monotonic() - drain_started
        log.info(
            "worker stopped",
            extra={
                "summary": self.counters.summary(
                    reason=self.stop_reason,
                    drained_in_seconds=round(drained_in, 2),
                    within_deadline=drained_in <= s.drain_seconds,
                    left_held=len(inflight),
                    ran_seconds=round(time.monotonic() - started, 2),
                )
            },
        )
        return 0

    def _flush_metrics(self) -> None:
        while not self._background_stop.wait(self.settings.metrics_interval):
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

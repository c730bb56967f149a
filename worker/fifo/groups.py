"""Message groups run concurrently; the messages of one group run strictly one after another.

A received batch is split into per-group runs, and each run is one task on a thread pool. Within a
run, a message starts only after the one before it is stored (or proven stored). When a message fails
(an unexpected error, or the drain deadline while it waits out an outage), it and every later message
of its group in the batch are released together (visibility 0), so the group comes back in order.
An invalid order is different: it can never succeed, so it is released alone toward the DLQ (3rd
receive) and the run goes on; releasing its successors with it would add a receive to each of them
every time and send valid orders to the DLQ with it. Transient errors (an unreachable table or bucket)
are waited out with backoff while the heartbeat keeps the run invisible, so they never count as
receives toward the DLQ. On drain, runs finish the message in hand and stop, and at the deadline
stop even that; what they leave stays held for the drain's one release (worker/fifo/runner.py).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError

from worker.backoff import DEPENDENCY, Backoff
from worker.fifo.deleter import Deleter
from worker.fifo.inflight import InFlight
from worker.fifo.messages import Received
from worker.fifo.order_writer import Outcome
from worker.fifo.processor import OrderProcessor, Result
from worker.fifo.state import StopSignal
from worker.fifo.telemetry import Counters, log
from worker.topology import MAX_RECEIVE_COUNT


class GroupRunner:
    def __init__(
        self,
        processor: OrderProcessor,
        inflight: InFlight,
        deleter: Deleter,
        counters: Counters,
        threads: int,
        draining: StopSignal,
        abandon: StopSignal,
    ) -> None:
        self._processor = processor
        self._inflight = inflight
        self._deleter = deleter
        self._counters = counters
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="group")
        self._draining = draining
        """Set: finish the message in hand and leave the rest of each run held."""
        self._abandon = abandon
        """Set: the drain deadline passed; leave even the message in hand."""
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._locks_guard = threading.Lock()
        self._futures: set[Future[None]] = set()

    def submit(self, run: list[Received]) -> None:
        future = self._pool.submit(self._run, run)
        with self._locks_guard:
            self._futures.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._locks_guard:
            self._futures.discard(future)
        if future.exception() is not None:
            log.error("group run crashed", extra={"error": repr(future.exception())})

    def active(self) -> int:
        with self._locks_guard:
            return len(self._futures)

    def _lock(self, group: str) -> threading.Lock:
        with self._locks_guard:
            lock, users = self._locks.get(group, (threading.Lock(), 0))
            self._locks[group] = (lock, users + 1)
            return lock

    def _unlock(self, group: str) -> None:
        with self._locks_guard:
            lock, users = self._locks[group]
            if users == 1:
                del self._locks[group]
            else:
                self._locks[group] = (lock, users - 1)

    def _run(self, run: list[Received]) -> None:
        # SQS never hands one group to two receivers at once; this lock keeps that true inside the
        # process even if a redelivery after a visibility timeout overlaps a run still going.
        group = run[0].group_id
        lock = self._lock(group)
        try:
            with lock:
                self._run_locked(run)
        finally:
            self._unlock(group)

    def _run_locked(self, run: list[Received]) -> None:
        # On drain the rest of the run stays held: the drain releases it once this worker's receivers have
        # stopped, so none of it comes back to them and spends one of its receives before the DLQ.
        if self._draining.is_set():  # queued behind others when the drain began: nothing in hand yet
            return
        for index, message in enumerate(run):
            if (self._draining.is_set() and index > 0) or self._abandon.is_set():
                return
            try:
                result = self._attempt(message)
            except Exception:  # a bug, not the input: stop the group here, let SQS count it toward the DLQ
                log.exception("unexpected error; releasing the rest of the group", extra=message.log_fields())
                self._inflight.release(run[index:], why="unexpected error")
                return
            if result is None:  # abandoned at the deadline while waiting out an outage: left held
                return
            if result.outcome is None:
                # Deterministically invalid: it can never succeed, so it does not hold its group. It is
                # released alone and reaches the DLQ on its 3rd receive. Releasing the later messages with
                # it would add a receive to each of them every time and drag valid orders to the DLQ too.
                self._reject(message, result.reason)
                self._inflight.release([message], why="invalid order; left for the DLQ")
                continue
            if result.outcome is Outcome.WRITTEN:
                if log.log_level <= logging.DEBUG:
                    log.debug("stored", extra=message.log_fields())
                self._counters.add("processed")
            else:
                self._counters.add("duplicates")
                log.info(
                    "already stored; acknowledged", extra={**message.log_fields(), "outcome": result.outcome.value}
                )
            self._deleter.ack(message)

    def _attempt(self, message: Received) -> Result | None:
        """Process with backoff on transient errors (after botocore's own retries); None if abandoned."""
        backoff = Backoff(DEPENDENCY)
        while True:
            try:
                return self._processor.process(message)
            except (BotoCoreError, ClientError) as exc:
                self._counters.add("retries")
                delay = backoff.failed()
                log.warning(
                    "dependency unavailable; backing off",
                    extra={**message.log_fields(), "error": str(exc), "sleep": round(delay, 2)},
                )
                if self._abandon.wait(delay):
                    return None

    def _reject(self, message: Received, reason: str) -> None:
        self._counters.add("rejected")
        left = MAX_RECEIVE_COUNT - message.receive_count
        log.error(
            "invalid order; released toward the DLQ",
            extra={
                **message.log_fields(),
                "reason": reason,
                "receives_before_dlq": max(0, left),
            },
        )

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is active; False on timeout."""
        end = time.monotonic() + timeout
        while self.active():
            if time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

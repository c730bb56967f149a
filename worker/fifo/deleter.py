"""Batched deletes: acknowledgements are collected and sent ten at a time by one thread.

A message is acknowledged only after its order is stored and its invoice written. If the worker dies
before the delete, the message comes back and the conditional write recognises it as a redelivery.
"""

from __future__ import annotations

import queue
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.backoff import DELETE, Backoff
from worker.fifo.inflight import InFlight
from worker.fifo.messages import Received
from worker.fifo.state import StopSignal
from worker.fifo.telemetry import Counters, log

LINGER_SECONDS = 0.02
"""How long a lone acknowledgement waits for company before it is sent."""


class Deleter:
    def __init__(self, sqs: Any, queue_url: str, inflight: InFlight, counters: Counters) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._inflight = inflight
        self._counters = counters
        self._pending: queue.Queue[Received] = queue.Queue()

    def ack(self, message: Received) -> None:
        self._pending.put(message)

    def pending(self) -> int:
        return self._pending.qsize()

    def _take(self, first_wait: float) -> list[Received]:
        try:
            batch = [self._pending.get(timeout=first_wait)]
        except queue.Empty:
            return []
        until = time.monotonic() + LINGER_SECONDS
        while len(batch) < 10:
            try:
                batch.append(self._pending.get(timeout=max(0.0, until - time.monotonic())))
            except queue.Empty:
                break
        return batch

    def delete(self, batch: list[Received]) -> list[Received]:
        """Send one batch; returns the messages to try again (transient failure)."""
        entries = [{"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(batch)]
        try:
            resp = self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            self._counters.add("delete_errors")
            log.warning("delete failed; will retry", extra={"error": str(exc), "messages": len(batch)})
            return batch
        done = [batch[int(ok["Id"])] for ok in resp.get("Successful", [])]
        retry: list[Received] = []
        for f in resp.get("Failed", []):
            m = batch[int(f["Id"])]
            if f.get("SenderFault"):  # e.g. ReceiptHandleIsInvalid: it is someone else's now
                log.warning(
                    "delete refused; a redelivery will be recognised", extra={**m.log_fields(), "code": f.get("Code")}
                )
                done.append(m)
            else:
                retry.append(m)
        self._counters.add("deleted", len(resp.get("Successful", [])))
        self._inflight.forget(done)
        return retry

    def run(self, stop: StopSignal) -> None:
        """Until `stop` is set and nothing is pending; failed batches back off and go round again."""
        backoff = Backoff(DELETE)
        while not (stop.is_set() and self._pending.empty()):
            batch = self._take(0.2)
            if not batch:
                continue
            retry = self.delete(batch)
            for m in retry:
                self._pending.put(m)
            if not retry:
                backoff.succeeded()
            elif stop.wait(backoff.failed()):
                return  # stopping: the retries are still held, so the final release returns them

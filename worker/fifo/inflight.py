"""Messages the worker holds: a capacity bound, the visibility heartbeat, and release (visibility 0).

Every received message is registered until it is deleted or released. The heartbeat extends those
nearing their visibility deadline (long work, slow dependencies, an outage being waited out), so a
message is never redelivered to another worker while this one still works on it. Release makes a
message visible at once, which also unblocks its group for the next receiver.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from worker.fifo.messages import Received
from worker.fifo.state import StopSignal
from worker.fifo.telemetry import Counters, log


class InFlight:
    def __init__(self, sqs: Any, queue_url: str, visibility: int, capacity: int, counters: Counters) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self.visibility = visibility
        self._capacity = capacity
        self._reserved = 0
        self._held: dict[str, Received] = {}
        self._cond = threading.Condition()
        self._waiting = 0
        """Threads blocked in `reserve`: admit and forget wake them only when there are any."""
        self._counters = counters

    # capacity -------------------------------------------------------------
    def reserve(self, n: int, stop: StopSignal) -> int:
        """Block until there is room for up to n more messages; returns how many (0 if stopping)."""
        with self._cond:
            while not stop.is_set():
                room = self._capacity - len(self._held) - self._reserved
                if room > 0:
                    got = min(n, room)
                    self._reserved += got
                    return got
                self._waiting += 1
                try:
                    self._cond.wait(0.5)
                finally:
                    self._waiting -= 1
        return 0

    def admit(self, reserved: int, messages: list[Received]) -> None:
        with self._cond:
            self._reserved -= reserved
            for m in messages:
                self._held[m.receipt_handle] = m
            if self._waiting:
                self._cond.notify_all()

    def forget(self, messages: Iterable[Received]) -> None:
        with self._cond:
            for m in messages:
                self._held.pop(m.receipt_handle, None)
            if self._waiting:
                self._cond.notify_all()

    def held(self) -> list[Received]:
        with self._cond:
            return list(self._held.values())

    def __len__(self) -> int:
        with self._cond:
            return len(self._held)

    # release --------------------------------------------------------------
    def release(self, messages: list[Received], *, why: str) -> None:
        """Make messages visible now (in the order given) and stop holding them."""
        if not messages:
            return
        self.forget(messages)
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0} for i, m in enumerate(chunk)
            ]
            try:
                resp = self._sqs.change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)
                failed = resp.get("Failed", [])
            except (BotoCoreError, ClientError) as exc:
                failed = [{"Id": e["Id"], "Code": type(exc).__name__} for e in entries]
            self._counters.add("released", len(chunk) - len(failed))
            for f in failed:
                m = chunk[int(f["Id"])]
                log.warning(
                    "release failed; the message returns when its visibility times out",
                    extra={**m.log_fields(), "code": f.get("Code", ""), "why": why},
                )
        log.info(
            "released", extra={"count": len(messages), "why": why, "groups": sorted({m.group_id for m in messages})}
        )

    # heartbeat ------------------------------------------------------------
    def heartbeat_once(self, now: float | None = None) -> int:
        """Extend every held message that would become visible within half a visibility timeout."""
        now = time.time() if now is None else now
        due = [m for m in self.held() if m.visible_until - now < self.visibility / 2]
        extended = 0
        for start in range(0, len(due), 10):
            chunk = due[start : start + 10]
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": self.visibility}
                for i, m in enumerate(chunk)
            ]
            try:
                resp = self._sqs.change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                log.warning("heartbeat failed; retrying next beat", extra={"error": str(exc), "messages": len(chunk)})
                continue
            for ok in resp.get("Successful", []):
                chunk[int(ok["Id"])].visible_until = now + self.visibility
                extended += 1
            for f in resp.get("Failed", []):
                log.warning("heartbeat refused", extra={**chunk[int(f["Id"])].log_fields(), "code": f.get("Code", "")})
        self._counters.add("heartbeats", extended)
        return extended

    def run_heartbeat(self, stop: StopSignal) -> None:
        interval = max(1.0, self.visibility / 6)  # three beats before a message could expire
        while not stop.wait(interval):
            self.heartbeat_once()

"""SQS calls that cost O(batch) instead of O(queue depth) in the emulator (moto 5.2.5).

Measured under `python -m simulation demo` (see docs/demo-performance.md): with the fan-out queues
thousands deep, moto spends its time finding messages rather than serving them.

- `Queue.delete_message` scans every queued message twice per receipt handle (building a list of
  its handles for each one) and rebuilds the list: a `DeleteMessageBatch` of 10 at depth 5,000 held
  the interpreter for ~90 ms. `change_message_visibility` scans the same way.
- `receive_message` first materializes every visible message of the queue (two clock reads each),
  then walks that list until it has `count` messages: O(depth) for a batch of 10.

Here every receipt handle a receive hands out is indexed per queue (handle -> message), so delete and
visibility changes go straight to their message; an unknown handle (already deleted, invalid, from a
purged queue) takes moto's own path, so its answers and errors stay moto's. The receive walks the
queue in order and stops at `count`, with moto's rules unchanged: visible and not delayed, a FIFO
group with a message in flight is skipped (the in-flight set is read once per call, as moto does, so
one batch can carry several messages of a group, in order), messages at the redrive policy's
`maxReceiveCount` move to the dead-letter queue, retention is checked per message. It is the single
scan `simulation.emulator.patch_moto_sqs` calls under its per-queue lock (that patch adds long polling
and serialization around it); on its own it long-polls the way moto does.

Applied only by the emulator launcher's child process (`simulation.emulator_process.serve`);
idempotent; refuses any moto but the one it was written for.
"""

from __future__ import annotations

import time
from copy import deepcopy
from functools import partialmethod
from typing import Any

from simulation.emulator import PATCHED_MOTO_VERSION

PATCHED_METHODS = (
    ("SQSBackend", "receive_message"),
    ("SQSBackend", "change_message_visibility"),
    ("SQSBackend", "purge_queue"),
    ("SQSBackend", "is_message_valid_based_on_retention_period"),
    ("Queue", "delete_message"),
    ("Queue", "wait_for_messages"),
    ("Message", "mark_received"),
    ("Message", "change_visibility"),
)
"""The moto methods the replacements below stand in for or call."""
MOTO_NAMES = ("_filter_message_attributes", "ReceiptHandleIsInvalid", "InvalidParameterValue")
MAX_VISIBILITY_SECONDS = 43200
"""SQS's limit on a message's total visibility timeout (moto's check, kept)."""


def _index(queue: Any) -> dict[str, Any]:
    """The queue's receipt handle -> message index (every handle a received, undeleted message had)."""
    index = queue.__dict__.get("_orders_handles")
    if index is None:
        index = queue.__dict__.setdefault("_orders_handles", {})
    return index  # type: ignore[no-any-return]


def _forget(queue: Any, message: Any) -> None:
    index = _index(queue)
    for handle in message.all_receipt_handles:
        index.pop(handle, None)


def _receivable(message: Any, now_ms: float) -> bool:
    """Visible (not in flight) and not delayed."""
    return bool(now_ms > message.visible_at and now_ms >= message.delayed_until)


def _due_for_dlq(queue: Any, message: Any, max_receives: int | None) -> bool:
    """Received `maxReceiveCount` times already, with a dead-letter queue to move it to."""
    return (
        queue.dead_letter_queue is not None
        and max_receives is not None
        and message.approximate_receive_count >= max_receives
    )


def _move_to_dlq(queue: Any, messages: list[Any]) -> None:
    for message in messages:
        queue._messages.remove(message)
        _forget(queue, message)
        queue.dead_letter_queue.add_message(message)


def _scan(
    backend: Any, queue: Any, queue_name: str, count: int, visibility_timeout: int, names: list[str]
) -> list[Any]:
    """One pass of moto's receive loop, stopping once `count` messages are taken."""
    from moto.sqs.models import _filter_message_attributes

    result: list[Any] = []
    to_dlq: list[Any] = []
    pending = queue.pending_messages
    pending_groups = queue.pending_message_groups  # a new set: moto reads it once per call too
    fifo = queue.fifo_queue
    max_receives = queue.redrive_policy["maxReceiveCount"] if queue.redrive_policy else None
    index = _index(queue)
    now = time.time() * 1000
    for message in list(queue._messages):
        if not _receivable(message, now):
            continue
        if message in pending:  # visible again: its receiver timed out
            pending.remove(message)
            pending_groups = queue.pending_message_groups
        if fifo and message.group_id and message.group_id in pending_groups:
            continue
        if _due_for_dlq(queue, message, max_receives):
            to_dlq.append(message)
            continue
        pending.add(message)
        message.mark_received(visibility_timeout=visibility_timeout)
        index[message.receipt_handle] = message
        copy = deepcopy(message)  # as moto: filtering attributes must not touch the stored message
        _filter_message_attributes(copy, names)
        if not backend.is_message_valid_based_on_retention_period(queue_name, message):
            break
        result.append(copy)
        if len(result) >= count:
            break
    _move_to_dlq(queue, to_dlq)
    return result


def _receive_message(
    self: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Any]:
    """`SQSBackend.receive_message`: the bounded scan, long-polling the way moto does."""
    queue = self.get_queue(queue_name)
    names = message_attribute_names or []
    end = time.time() + (wait_seconds_timeout or 0)
    while True:
        result = _scan(self, queue, queue_name, count, visibility_timeout, names)
        if result or not wait_seconds_timeout or time.time() > end:
            return result
        queue.wait_for_messages(1)


def _delete_message(self: Any, moto_delete: Any, receipt_handle: str) -> None:
    """`Queue.delete_message` through the handle index; `moto_delete` for handles the index does not know."""
    if receipt_handle in self.deleted_messages:
        return  # moto: deleting twice is fine
    message = _index(self).get(receipt_handle)
    if message is None:
        moto_delete(self, receipt_handle)  # unknown to the index: moto's scan and its error
        return
    try:
        self._messages.remove(message)
    except ValueError:  # gone by a path that did not update the index: let moto decide
        _forget(self, message)
        moto_delete(self, receipt_handle)
        return
    self.pending_messages.discard(message)
    self.deleted_messages.update(message.all_receipt_handles)
    _forget(self, message)


def _change_message_visibility(
    self: Any, moto_change: Any, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    """`SQSBackend.change_message_visibility` through the handle index; `moto_change` for unknown handles."""
    from moto.sqs.models import InvalidParameterValue

    queue = self.get_queue(queue_name)
    message = _index(queue).get(receipt_handle)
    if message is None:
        moto_change(self, queue_name, receipt_handle, visibility_timeout)
        return
    # moto's checks and effects, on the one message that had this handle
    if time.time() * 1000 + int(visibility_timeout) * 1000 - message.sent_timestamp > MAX_VISIBILITY_SECONDS * 1000:
        raise InvalidParameterValue(
            f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
            f"VisibilityTimeout for the message is beyond the limit [{MAX_VISIBILITY_SECONDS} seconds]"
        )
    message.change_visibility(visibility_timeout)
    if message.visible and message in queue.pending_messages:
        queue.pending_messages.remove(message)


def _purge_queue(self: Any, moto_purge: Any, queue_name: str) -> None:
    """`SQSBackend.purge_queue`: moto's, then the queue's handle index emptied with it."""
    moto_purge(self, queue_name)
    _index(self.get_queue(queue_name)).clear()


def _require_known_moto(version: str, models: Any) -> None:
    """Refuse a moto these replacements were not written for, or one applied after `patch_moto_sqs`."""
    if version != PATCHED_MOTO_VERSION:
        raise RuntimeError(f"patch_sqs_lookups targets moto {PATCHED_MOTO_VERSION}, found {version}")
    if getattr(models, "_orders_patched", False):
        raise RuntimeError("apply patch_sqs_lookups before patch_moto_sqs (which wraps these methods)")
    for cls_name, name in PATCHED_METHODS:
        if not callable(getattr(getattr(models, cls_name), name, None)):
            raise RuntimeError(f"moto.sqs.models.{cls_name}.{name} is gone: rewrite patch_sqs_lookups")
    for name in MOTO_NAMES:
        if not hasattr(models, name):
            raise RuntimeError(f"moto.sqs.models.{name} is gone: rewrite patch_sqs_lookups")


def patch_sqs_lookups() -> None:
    """Index receipt handles and stop the receive scan at `count` (see the module docstring).

    Each replacement that falls back to moto gets moto's own method as its second argument (bound with
    `partialmethod`), so what it defers to is explicit, not captured.
    """
    import moto
    from moto.sqs import models

    if getattr(models, "_orders_lookups_patched", False):
        return
    _require_known_moto(moto.__version__, models)
    backend, queue_cls = models.SQSBackend, models.Queue
    moto_change, moto_purge = backend.change_message_visibility, backend.purge_queue
    setattr(backend, "receive_message", _receive_message)  # noqa: B010
    setattr(backend, "change_message_visibility", partialmethod(_change_message_visibility, moto_change))  # noqa: B010
    setattr(backend, "purge_queue", partialmethod(_purge_queue, moto_purge))  # noqa: B010
    setattr(queue_cls, "delete_message", partialmethod(_delete_message, queue_cls.delete_message))  # noqa: B010
    models._orders_lookups_patched = True  # type: ignore[attr-defined]

"""The embedded AWS emulator: moto in server mode on 127.0.0.1, reached through `AWS_ENDPOINT_URL`.

Application code never knows it runs locally: it is plain boto3 pointed at the endpoint the standard
way. Only this launcher (used by the tests, the demo and `local up`) imports moto, and only this
launcher patches it (see `patch_moto_sqs`).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partialmethod
from typing import Any

import requests

DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
PATCHED_MOTO_VERSION = "5.2.5"
"""The moto release the SQS patches (`patch_moto_sqs`, `emulator_sqs.patch_sqs_lookups`) were written against
(pinned in requirements-dev.txt)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PATCHED_METHODS = (
    ("SQSBackend", "receive_message"),
    ("Queue", "add_message"),
    ("Queue", "delete_message"),
    ("SQSBackend", "change_message_visibility"),
)
"""The moto methods `patch_moto_sqs` wraps."""
_MUTEX_GUARD = threading.Lock()
"""Taken only to give a queue its mutex the first time one is asked for."""


def _unix_time(dt: Any = None) -> float:
    """moto's `unix_time`, reading `time.time()` instead of `datetime` arithmetic (same value)."""
    return dt.timestamp() if dt is not None else time.time()


def _unix_time_millis(dt: Any = None) -> float:
    return _unix_time(dt) * 1000.0


def _retention_ok(self: Any, queue_name: str, msg: Any) -> bool:
    """`SQSBackend.is_message_valid_based_on_retention_period` from the retention period alone, not from
    the full attribute dict (which counts every message of the queue)."""
    retention = int(self.get_queue(queue_name).message_retention_period)
    return bool(retention + msg.sent_timestamp / 1000 > time.time())


class SequenceNumbers:
    """Growing 20-digit FIFO sequence numbers, as AWS gives (moto draws random ones, or none)."""

    def __init__(self) -> None:
        self._next = itertools.count(int(time.time() * 1000) * 10**6)
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            return f"{next(self._next):020d}"


def _mark_sent(self: Any, moto_mark_sent: Any, sequence: SequenceNumbers, delay_seconds: int | None = None) -> None:
    """`Message.mark_sent`: moto's, then a sequence number for FIFO messages."""
    moto_mark_sent(self, delay_seconds)
    if self.deduplication_id is not None:  # only FIFO messages carry one
        self.sequence_number = sequence.take()


def _mutex(queue: Any) -> Any:
    """The queue's own lock serializing its receives, sends, deletes and visibility changes."""
    lock = getattr(queue, "_orders_mutex", None)
    if lock is None:
        with _MUTEX_GUARD:
            lock = getattr(queue, "_orders_mutex", None) or threading.RLock()
            queue._orders_mutex = lock
    return lock


def _generation(queue: Any) -> int:
    """How many serialized changes the queue has seen: a waiting receiver sleeps until it moves."""
    return int(getattr(queue, "_orders_generation", 0))


def _changed(queue: Any) -> None:
    with queue._messages_lock:
        queue._orders_generation = _generation(queue) + 1
        queue._messages_lock.notify_all()


def _serialized(self: Any, original: Any, queue_of: Any, *args: Any, **kwargs: Any) -> Any:
    """`original` under its queue's mutex, then waking the receivers waiting for that queue to change."""
    queue = queue_of(self, *args, **kwargs)
    with _mutex(queue):
        result = original(self, *args, **kwargs)
    _changed(queue)
    return result


def _the_queue(queue: Any, *_: Any, **__: Any) -> Any:
    return queue


def _named_queue(backend: Any, queue_name: str, *_: Any, **__: Any) -> Any:
    return backend.get_queue(queue_name)


def _receive_message(
    self: Any,
    moto_receive: Any,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> Any:
    """`SQSBackend.receive_message`: one scan at a time per queue, sleeping between scans until it changes.

    moto's scans race (the same message to two receivers, or a deleted message left "pending" so its group
    blocks forever); between scans, sleep until something changes instead of re-scanning in a loop.
    """
    queue = self.get_queue(queue_name)
    end = time.monotonic() + int(wait_seconds_timeout or 0)
    while True:
        with _mutex(queue):
            seen = _generation(queue)
            # moto unblocks a group only when the *last* of its expired in-flight messages is scanned,
            # and then delivers that one first; AWS redelivers an expired batch in order.
            for expired in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.discard(expired)
            result = moto_receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
        left = end - time.monotonic()
        if result or left <= 0:
            return result
        with queue._messages_lock:
            queue._messages_lock.wait_for(lambda seen=seen: _generation(queue) != seen, timeout=min(1.0, left))


def _require_known_moto(version: str, models: Any) -> None:
    """Refuse a moto the replacements were not written for."""
    if version != PATCHED_MOTO_VERSION:
        raise RuntimeError(f"patch_moto_sqs targets moto {PATCHED_MOTO_VERSION}, found {version}")
    for name in ("unix_time", "unix_time_millis"):
        if not callable(getattr(models, name, None)):
            raise RuntimeError(f"moto.sqs.models.{name} is gone: re-measure and rewrite patch_moto_sqs")
    for cls_name, name in PATCHED_METHODS:
        if not callable(getattr(getattr(models, cls_name), name, None)):
            raise RuntimeError(f"moto.sqs.models.{cls_name}.{name} is gone: rewrite patch_moto_sqs")
    if not callable(getattr(models.SQSBackend, "is_message_valid_based_on_retention_period", None)):
        raise RuntimeError("SQSBackend.is_message_valid_based_on_retention_period is gone")


def patch_moto_sqs() -> None:
    """Make moto's SQS model fast and safe under concurrent consumers, and AWS-like where tests depend on it.

    moto 5.2.5 reads the wall clock through `datetime` arithmetic for every queued message on every
    send/receive, and rebuilds the whole attribute dict (which counts every message) to check retention
    for every message it returns, so a receive costs O(depth^2): the patch swaps in `time.time()` and
    reads the retention period directly (same semantics). Receives, sends, deletes and visibility
    changes of one queue are serialized: moto runs them unlocked, so two receivers can get the same
    message, a deleted message can stay "pending" and block its group forever, and a send racing a
    delete can be dropped. A long poll that finds only blocked groups sleeps until the queue changes
    (moto's wait returns at once whenever any message is visible, so idle receivers spin). In-flight
    messages whose visibility expired stop blocking their group before the scan, so an expired batch is
    redelivered in order (moto delivers its last message first). FIFO
    messages get a growing `SequenceNumber` as in AWS (moto draws 20 random digits, and none at all
    with content-based deduplication), so the order of processing can be checked from the table.
    Idempotent; refuses to run against a moto it was not written for. The replacements get what they
    wrap as arguments (bound with `partialmethod`).
    """
    import moto
    from moto.sqs import models

    if getattr(models, "_orders_patched", False):
        return
    _require_known_moto(moto.__version__, models)
    backend, message, queue_cls = models.SQSBackend, models.Message, models.Queue
    for name in ("add_message", "delete_message"):
        setattr(queue_cls, name, partialmethod(_serialized, getattr(queue_cls, name), _the_queue))
    change = partialmethod(_serialized, backend.change_message_visibility, _named_queue)
    setattr(backend, "change_message_visibility", change)  # noqa: B010
    setattr(backend, "receive_message", partialmethod(_receive_message, backend.receive_message))  # noqa: B010
    models.unix_time = _unix_time
    models.unix_time_millis = _unix_time_millis
    setattr(backend, "is_message_valid_based_on_retention_period", _retention_ok)  # noqa: B010
    setattr(message, "mark_sent", partialmethod(_mark_sent, message.mark_sent, SequenceNumbers()))  # noqa: B010
    models._orders_patched = True  # type: ignore[attr-defined]


class _Server:
    """moto's WSGI app on a werkzeug server that can be stopped and restarted with its state kept.

    moto keeps every resource in module-level backends, so a new HTTP server in the same process sees
    the same queues, tables and buckets. Stopping also cuts open keep-alive connections, so clients
    really see the emulator go away (werkzeug would otherwise keep serving them).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        outer = self

        class Handler(MotoRequestHandler):  # type: ignore[misc, valid-type]
            def setup(self) -> None:
                super().setup()
                with outer._lock:
                    outer._conns.add(self.connection)

            def finish(self) -> None:
                with outer._lock:
                    outer._conns.discard(self.connection)
                super().finish()

        app = DomainDispatcherApplication(create_backend_app)
        deadline = time.monotonic() + 10
        while True:  # the port may linger briefly after a restart
            try:
                self._server = make_server(self.host, self.port, app, threaded=True, request_handler=Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread:
            self._thread.join()
        self._server = None


@dataclass
class Emulator:
    endpoint: str
    region: str
    _server: _Server | None = field(default=None, repr=False, compare=False)

    def env(self) -> dict[str, str]:
        """Environment for a child process (worker, consumer, AWS CLI) that should talk to the emulator."""
        return {
            **DUMMY_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def reset(self) -> None:
        """Forget every resource (moto's own reset API)."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        """Take the endpoint away (connections refused, open ones cut); resources are kept."""
        if self._server:
            self._server.stop()

    def start(self) -> None:
        """Serve again on the same port, with every queue, message, table and object as before."""
        if self._server:
            self._server.start()


@contextmanager
def exported_env(env: dict[str, str], *, enabled: bool = True) -> Iterator[None]:
    """Put `env` into this process's environment for the block, then restore what was there."""
    saved = {k: os.environ.get(k) for k in env}
    if enabled:
        os.environ.update(env)
    try:
        yield
    finally:
        if enabled:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@contextmanager
def running_emulator(
    port: int | None = None, region: str = DEFAULT_REGION, *, export_env: bool = True
) -> Iterator[Emulator]:
    """Start moto (patched, see `patch_moto_sqs`) on a free loopback port; stop it on exit.

    With `export_env`, this process's boto3 clients also reach it (AWS_ENDPOINT_URL + dummy credentials).
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    patch_moto_sqs()
    server = _Server("127.0.0.1", port or free_port())
    server.start()
    emulator = Emulator(endpoint=f"http://127.0.0.1:{server.port}", region=region, _server=server)
    try:
        with exported_env(emulator.env(), enabled=export_env):
            yield emulator
    finally:
        server.stop()

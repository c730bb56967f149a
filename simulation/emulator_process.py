"""The embedded emulator in a child process of its own: `running_emulator` on a core of its own.

moto is pure Python: served from the process that also produces orders, draws the live progress and
verifies the results, it shares one interpreter lock with all of that. The demo, `local up` and the
producer benchmark therefore run the same launcher (`simulation.emulator.running_emulator`, with its
patch) in a child process and talk to it over HTTP like every other client.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partialmethod
from pathlib import Path
from typing import Any

import requests

from simulation.emulator import DEFAULT_REGION, Emulator, exported_env, free_port

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 30.0


@contextmanager
def emulator_process(
    region: str = DEFAULT_REGION, *, export_env: bool = True, log: Path | None = None
) -> Iterator[Emulator]:
    """Start the emulator as a child process on a free port; SIGTERM it on exit.

    `log` receives its output (moto prints a traceback for every request it fails with a 500).
    """
    port = free_port()
    out = log.open("ab") if log else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulation.emulator_process", str(port), region],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
        start_new_session=True,  # Ctrl-C goes to us; we stop it in order
    )
    emulator = Emulator(endpoint=f"http://127.0.0.1:{port}", region=region)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the emulator process exited with {proc.returncode} before serving")
            try:
                requests.get(f"{emulator.endpoint}/moto-api/data.json", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not answer on {emulator.endpoint}") from None
                time.sleep(0.05)
        with exported_env(emulator.env(), enabled=export_env):
            yield emulator
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if out:
            out.close()


COUNT_TTL_MS = 100.0
"""How long a queue's message counts may be reused while its length is unchanged (AWS calls them approximate)."""


def _recount(queue: Any, now: float, length: int) -> tuple[int, int, int]:
    """Visible, in-flight and delayed messages in one pass with one clock read, cached on the queue."""
    visible = in_flight = delayed = 0
    for message in list(queue._messages):
        is_delayed = now < message.delayed_until
        is_visible = now > message.visible_at
        delayed += is_delayed
        in_flight += not is_visible
        visible += is_visible and not is_delayed
    queue._orders_counts = (length, now, (visible, in_flight, delayed))
    return visible, in_flight, delayed


def _counts(queue: Any) -> tuple[int, int, int]:
    """The queue's (visible, in flight, delayed) counts: recounted at most every `COUNT_TTL_MS`, and in
    between corrected by the change in the queue's length since the last count."""
    now = time.time() * 1000
    length = len(queue._messages)
    cached = queue.__dict__.get("_orders_counts")
    if not (cached and now - cached[1] < COUNT_TTL_MS):
        return _recount(queue, now, length)
    visible, in_flight, delayed = cached[2]
    grown = length - cached[0]
    if grown >= 0:  # sends: new messages are visible (a delayed send is counted at the next pass)
        visible += grown
    else:  # deletes: of received (in-flight) messages first
        visible, in_flight = visible - max(0, -grown - in_flight), max(0, in_flight + grown)
    queue._orders_counts = (length, cached[1], (visible, in_flight, delayed))
    return visible, in_flight, delayed


def _is_duplicate(queue: Any, message: Any, window_ms: float) -> bool:
    """moto's deduplication rule: the same id within the window while the first copy is still queued."""
    return any(
        queued.deduplication_id == message.deduplication_id
        and message.sent_timestamp - queued.sent_timestamp < window_ms
        for queued in queue._messages
    )


def _add_message(self: Any, moto_add: Any, window_ms: float, message: Any) -> None:
    """`Queue.add_message` reading the content-based-deduplication flag from the queue, not its attributes."""
    if self.lambda_event_source_mappings:
        return moto_add(self, message)  # type: ignore[no-any-return]
    deduplicated = self.fifo_queue and (self.content_based_deduplication or message.deduplication_id)
    if deduplicated and _is_duplicate(self, message, window_ms):
        return None
    with self._messages_lock:
        self._messages.append(message)
        self._messages_lock.notify_all()
    return None


def patch_for_depth() -> None:
    """Keep moto's SQS calls cheap when queues hold thousands of messages (moto 5.2.5).

    Every send reads `Queue.attributes` five times (validation, FIFO checks, delay), and each read
    counts every queued message three times (visible, in flight, delayed) with a clock read per message:
    3,000 FIFO sends spent 92 of their 96 s there. Here the three counts come from one pass with one
    clock read, and are reused for `COUNT_TTL_MS`, corrected by the change in the queue's length since
    (sends add visible messages, deletes remove in-flight ones first): under the demo's load the
    fan-out queues grow by every S3 notification, and a recount per send took 17% of the emulator's
    time (py-spy, docs/demo-performance.md). Within that window a receive can move a message from
    visible to in flight unseen: the counts are approximate in AWS too.
    `add_message` reads the content-based-deduplication flag from the queue instead of from the full
    attribute dict, with moto's deduplication rule (same id within 5 minutes while the first copy is
    still queued) and its wake-up of waiting receivers; queues with a Lambda event source mapping keep
    moto's own code. Applied before `running_emulator`, whose patch then serializes `add_message`.
    """
    from moto.sqs import models

    queue_cls = models.Queue
    if getattr(queue_cls, "_orders_depth_patched", False):
        return
    for name in ("add_message", "approximate_number_of_messages", "approximate_number_of_messages_not_visible"):
        if not hasattr(queue_cls, name):
            raise RuntimeError(f"moto.sqs.models.Queue.{name} is gone: rewrite patch_for_depth")
    window_ms = models.DEDUPLICATION_TIME_IN_SECONDS * 1000
    setattr(queue_cls, "approximate_number_of_messages", property(lambda self: _counts(self)[0]))  # noqa: B010
    setattr(queue_cls, "approximate_number_of_messages_not_visible", property(lambda self: _counts(self)[1]))  # noqa: B010
    setattr(queue_cls, "approximate_number_of_messages_delayed", property(lambda self: _counts(self)[2]))  # noqa: B010
    setattr(queue_cls, "add_message", partialmethod(_add_message, queue_cls.add_message, window_ms))  # noqa: B010
    setattr(queue_cls, "_orders_depth_patched", True)  # noqa: B010


def cache_name_conversion() -> None:
    """Memoize moto's `camelcase_to_underscores` (a pure str -> str function, moto 5.2.5).

    moto converts attribute and parameter names with a regex on every call: `Queue.attributes` alone
    converts 14 names per SQS send, and the conversion took 4% of the emulator's time under the demo
    (py-spy). Modules that imported it by name get the cached one too, and so do those imported later.
    """
    import functools

    from moto.core import utils

    original = utils.camelcase_to_underscores
    if hasattr(original, "cache_info"):
        return
    cached = functools.lru_cache(maxsize=8192)(original)
    utils.camelcase_to_underscores = cached
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.") and getattr(module, "camelcase_to_underscores", None) is original:
            module.camelcase_to_underscores = cached  # type: ignore[attr-defined]


def serve(port: int, region: str) -> None:
    """Child side: serve until SIGTERM/SIGINT, or until the parent process is gone."""
    from simulation.emulator import running_emulator
    from simulation.emulator_sqs import patch_sqs_lookups

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    patch_for_depth()
    patch_sqs_lookups()
    cache_name_conversion()
    with running_emulator(port=port, region=region, export_env=False):
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the parent died without stopping us (SIGKILL): do not linger
                break


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])

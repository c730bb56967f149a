"""Watching IMDSv2 for the end of this instance: Spot interruption, rebalance, ASG lifecycle.

Polls (every 5 s by default, as AWS advises for the two-minute Spot notice) with a session token
fetched first by PUT /latest/api/token and refreshed on 401. `spot/instance-action` is 404 until an
interruption is scheduled; `events/recommendations/rebalance` appears earlier when capacity is at risk
(logged, and the worker lowers its concurrency); with an ASG lifecycle hook configured,
`autoscaling/target-lifecycle-state` turns `Terminated` when the group scales the instance in. The
metadata URL is configurable so tests point it at a local stand-in; an empty URL turns the watch off.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable

from worker.fifo.state import StopSignal
from worker.fifo.telemetry import log

TOKEN_TTL_SECONDS = 21600


class Imds:
    """A minimal IMDSv2 client (stdlib only: this runs on every instance, before anything else is up)."""

    def __init__(self, base_url: str, timeout: float = 1.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._token: str | None = None

    def _fetch_token(self) -> str:
        req = urllib.request.Request(
            f"{self._base}/latest/api/token",
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
        )
        with urllib.request.urlopen(req, timeout=self._timeout) as resp:
            return str(resp.read().decode())

    def get(self, path: str) -> str | None:
        """Text of `meta-data/<path>`, or None when it does not exist (404)."""
        for attempt in range(2):
            if self._token is None:
                self._token = self._fetch_token()
            req = urllib.request.Request(
                f"{self._base}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": self._token}
            )
            try:
                with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                    return str(resp.read().decode())
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                if exc.code == 401 and attempt == 0:  # token expired: fetch a new one once
                    self._token = None
                    continue
                raise
        return None


class InterruptionWatch:
    def __init__(
        self,
        imds: Imds,
        poll_seconds: float,
        on_interruption: Callable[[str], None],
        on_rebalance: Callable[[], None],
        watch_lifecycle: bool,
    ) -> None:
        self._imds = imds
        self._poll = poll_seconds
        self._on_interruption = on_interruption
        self._on_rebalance = on_rebalance
        self._watch_lifecycle = watch_lifecycle
        self._rebalance_seen = False
        self._reachable: bool | None = None

    def check_once(self) -> str | None:
        """One poll; returns the reason to drain ('spot-interruption' or 'lifecycle-terminated') or None."""
        action = self._imds.get("spot/instance-action")
        if action:
            try:
                notice = json.loads(action)
            except json.JSONDecodeError:
                notice = {"raw": action}
            log.warning("spot interruption notice", extra={"notice": notice})
            return "spot-interruption"
        if not self._rebalance_seen:
            rebalance = self._imds.get("events/recommendations/rebalance")
            if rebalance:
                self._rebalance_seen = True
                log.warning("rebalance recommendation; lowering concurrency", extra={"notice": rebalance})
                self._on_rebalance()
        if self._watch_lifecycle:
            state = self._imds.get("autoscaling/target-lifecycle-state")
            if state and state.strip() == "Terminated":
                log.warning("ASG lifecycle: target state Terminated")
                return "lifecycle-terminated"
        return None

    def run(self, stop: StopSignal) -> None:
        while not stop.is_set():
            try:
                reason = self.check_once()
                if self._reachable is not True:
                    log.info("watching IMDS for interruption notices")
                self._reachable = True
            except (OSError, urllib.error.URLError) as exc:
                if self._reachable is not False:
                    log.warning("IMDS unreachable; retrying", extra={"error": str(exc)})
                self._reachable = False
                reason = None
            if reason:
                self._on_interruption(reason)
                return
            stop.wait(self._poll)

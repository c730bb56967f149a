"""A local stand-in for the EC2 instance metadata service (IMDSv2 only) to rehearse interruptions.

Serves the paths the FIFO worker watches: `spot/instance-action` (404 until `interrupt()`),
`events/recommendations/rebalance`, `autoscaling/target-lifecycle-state` and `instance-id`. Like the
real service it rejects metadata requests without a token from PUT /latest/api/token (IMDSv2 enforced).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ImdsStub:
    def __init__(self, instance_id: str = "i-0123456789abcdef0") -> None:
        self.token = secrets.token_hex(16)
        self.instance_id = instance_id
        self.paths: dict[str, str] = {
            "instance-id": self.instance_id,
            "autoscaling/target-lifecycle-state": "InService",
        }
        self.log: list[tuple[str, str, int]] = []
        """(method, path, status) of every request, to check the client fetched a token first."""
        self.notice_served_at: float | None = None
        """time.time() when a client first read the interruption notice (the drill's detection time)."""
        self._lock = threading.Lock()
        self.url = ""

    def interrupt(self, action: str = "terminate", in_seconds: int = 120) -> None:
        when = (datetime.now(UTC) + timedelta(seconds=in_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            self.paths["spot/instance-action"] = json.dumps({"action": action, "time": when})

    def recommend_rebalance(self) -> None:
        with self._lock:
            self.paths["events/recommendations/rebalance"] = json.dumps(
                {"noticeTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
            )

    def set_lifecycle_state(self, state: str) -> None:
        with self._lock:
            self.paths["autoscaling/target-lifecycle-state"] = state

    def handle(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
        if method == "PUT" and path == "/latest/api/token":
            if "x-aws-ec2-metadata-token-ttl-seconds" not in headers:
                return 400, ""
            return 200, self.token
        if method != "GET" or not path.startswith("/latest/meta-data/"):
            return 404, ""
        if headers.get("x-aws-ec2-metadata-token") != self.token:
            return 401, ""
        with self._lock:
            body = self.paths.get(path.removeprefix("/latest/meta-data/"))
            if body is not None and path.endswith("/spot/instance-action") and self.notice_served_at is None:
                self.notice_served_at = time.time()
        return (200, body) if body is not None else (404, "")


@contextmanager
def running_imds(instance_id: str = "i-0123456789abcdef0") -> Iterator[ImdsStub]:
    stub = ImdsStub(instance_id)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = stub.handle(self.command, self.path, headers)
            with stub._lock:
                stub.log.append((self.command, self.path, status))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _reply  # noqa: N815  (http.server naming)
        do_PUT = _reply  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name=f"imds-{instance_id}", daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()

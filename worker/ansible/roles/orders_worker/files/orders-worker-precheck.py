"""ExecStartPre of the orders worker: refuse to start on an instance that is being taken away.

The worker exits 0 after a drain and `Restart=always` would start it again; on an instance whose Spot
interruption is scheduled or whose Auto Scaling lifecycle state is `Terminated`, a restarted worker
would receive messages it cannot finish and hold their FIFO groups until the visibility timeout. So
this check exits 1 when IMDSv2 says the instance is leaving (systemd retries after RestartSec, and the
instance goes away), and 0 otherwise, including when the metadata service cannot be reached, so a
metadata hiccup never keeps a healthy worker down. Standard library only; reads the worker's env file.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT = 2.0


def fetch(base: str, path: str, token: str) -> str | None:
    request = urllib.request.Request(f"{base}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def leaving(base: str, watch_lifecycle: bool) -> str | None:
    """Why this instance is leaving, or None."""
    token_request = urllib.request.Request(
        f"{base}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    )
    with urllib.request.urlopen(token_request, timeout=TIMEOUT) as response:
        token = response.read().decode()
    action = fetch(base, "spot/instance-action", token)
    if action:
        return f"Spot interruption scheduled: {action}"
    if watch_lifecycle and (fetch(base, "autoscaling/target-lifecycle-state", token) or "").strip() == "Terminated":
        return "Auto Scaling lifecycle state is Terminated"
    return None


def main() -> int:
    base = os.environ.get("ORDERS_IMDS_URL", "http://169.254.169.254").rstrip("/")
    if not base:
        return 0
    try:
        reason = leaving(base, bool(os.environ.get("ORDERS_LIFECYCLE_HOOK")))
    except (OSError, urllib.error.URLError) as exc:
        print(f"instance metadata unavailable ({exc}); starting the worker anyway", file=sys.stderr)
        return 0
    if reason:
        print(f"not starting the worker: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

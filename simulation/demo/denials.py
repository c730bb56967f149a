"""Access denied to a process, found in its log: the demo stops at the first one and fails a check naming it.

Every worker and consumer logs a denied AWS call as one line (worker/access.py); this reads the processes'
logs as they grow, so a role missing a permission stops the run within a second instead of leaving the
orders to wait out the timeout (they stay in their queue or its DLQ: nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from worker.access import Denial, parse_denial


@dataclass
class DenialLog:
    log_dir: Path
    seen: dict[Denial, str] = field(default_factory=dict)
    """Each distinct denial, and the first process whose log showed it."""
    _offsets: dict[Path, int] = field(default_factory=dict)

    def scan(self) -> list[Denial]:
        """The denials logged since the last scan that were not seen before."""
        new: list[Denial] = []
        for path in sorted(self.log_dir.glob("*.log")):
            with path.open("rb") as f:
                f.seek(self._offsets.get(path, 0))
                chunk = f.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written is read next time
            self._offsets[path] = self._offsets.get(path, 0) + len(complete)
            for line in complete.decode(errors="replace").splitlines():
                denial = parse_denial(line)
                if denial is not None and denial not in self.seen:
                    self.seen[denial] = path.stem
                    new.append(denial)
        return new


def role_of(principal: str) -> str:
    """`arn:aws:sts::<account>:assumed-role/<role>/<session>` -> `<role>` (other principals as they are)."""
    _, _, resource = principal.rpartition(":")
    parts = resource.split("/")
    return parts[1] if parts[0] == "assumed-role" and len(parts) >= 2 else principal


def describe(denial: Denial, process: str) -> str:
    return f"{process} as role {role_of(denial.principal)} may not {denial.action} on {denial.resource}"

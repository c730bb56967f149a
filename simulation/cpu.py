"""CPU seconds a process and its descendants have used, from /proc (Linux): what each part of the demo costs.

Each live process's user + system time, plus the time of the children it has already reaped (cutime,
cstime), so a process tree is counted once whether its workers are still running or have exited.
Elsewhere than Linux the figures are absent (None), never made up.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds incl. reaped children) of one process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return int(fields[1]), (utime + stime + cutime + cstime) / _TICKS


def tree_cpu_seconds(root: int) -> float | None:
    """CPU seconds of `root` and every live descendant (None where /proc is not available)."""
    if not Path("/proc/self/stat").exists():
        return None
    stats = {int(p.name): s for p in Path("/proc").iterdir() if p.name.isdigit() and (s := _stat(int(p.name)))}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo += children.get(pid, [])
    return round(total, 2)


def own_cpu_seconds() -> float:
    """This process's own CPU seconds (the demo: producer, probe, live view, checks)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)

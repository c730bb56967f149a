"""`python -m ops <command>`: operator tools (capacity and cost plan, DLQ triage); each command imported only when used."""

from __future__ import annotations

import sys

from worker.commands import dispatch

COMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("ops.plan", "capacity and cost plan of a stack for a peak profile"),
    "dlq-triage": ("ops.dlq_triage", "classify a DLQ's messages; optionally redrive and drop them"),
}


def main(argv: list[str]) -> int:
    return dispatch("ops", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

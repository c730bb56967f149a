"""`python -m worker <command>`: the runtime's entry point (what runs on Spot instances, ECS and Lambda).

Each command lives in its own module and is imported only when used. The local simulation (demo,
emulated stack, producer) is a separate package: `python -m simulation <command>`.
"""

from __future__ import annotations

import sys

from worker.commands import dispatch

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("worker.fifo.cli", "the FIFO worker: SQS FIFO -> DynamoDB + invoice in S3"),
    "consume": ("worker.consumers.cli", "a fan-out consumer poller: consume <consumer>"),
    "seed-inventory": ("worker.consumers.cli_seed", "create the shipping schema and seed inventory"),
    "report": ("worker.consumers.cli_report", "sales report queries against the warehouse"),
}


def main(argv: list[str]) -> int:
    return dispatch("worker", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

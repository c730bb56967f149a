"""`python -m worker <command>`: the runtime's entry point (what runs on Spot instances, ECS and Lambda).

Each command lives in its own module and is imported only when used. The local simulation (demo,
emulated stack, producer) is a separate package: `python -m simulation <command>`.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("worker.fifo.cli", "the FIFO worker: SQS FIFO -> DynamoDB + invoice in S3"),
    "consume": ("worker.consumers.cli", "a fan-out consumer poller: consume shipping|analytics"),
    "seed-inventory": ("worker.consumers.cli_seed", "create the shipping schema and seed inventory"),
    "report": ("worker.consumers.cli_report", "sales report queries against the warehouse"),
}


def usage() -> str:
    lines = ["usage: python -m worker <command> [args]", "", "commands:"]
    lines += [f"  {name:<15} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

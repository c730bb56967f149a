"""`python -m simulation <command>`: the local simulation (emulator, demo, load tools). Never shipped to AWS."""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("simulation.demo", "the Black Friday simulation on the embedded emulator"),
    "local": ("simulation.stack", "local up: keep the emulated stack running for manual use"),
    "produce": ("simulation.producer", "send orders to the FIFO queue or upload them to S3"),
}


def usage() -> str:
    lines = ["usage: python -m simulation <command> [args]", "", "commands:"]
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

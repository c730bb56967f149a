"""`python -m simulation <command>`: the local simulation (emulator, demo, load tools). Never shipped to AWS."""

from __future__ import annotations

import sys

from worker.commands import dispatch

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("simulation.demo", "the Black Friday simulation on the embedded emulator"),
    "local": ("simulation.stack", "local up: keep the emulated stack running; local down: tear it down and check"),
    "produce": ("simulation.producer", "send orders to the FIFO queue or upload them to S3"),
    "post-order": ("simulation.intake_client", "POST one order to the intake API, signed (iam) or with an API key"),
}


def main(argv: list[str]) -> int:
    return dispatch("simulation", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

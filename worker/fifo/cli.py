"""`python -m worker run`: the FIFO worker's entry point (flags, else the ORDERS_* environment)."""

from __future__ import annotations

import sys

from worker.fifo.settings import SettingsError, load


def main(argv: list[str]) -> int:
    try:
        settings = load(argv)
    except SettingsError as exc:
        print(f"python -m worker run: {exc}", file=sys.stderr)
        return 2
    from worker.fifo.runner import FifoWorker  # after validation: a typo fails fast, before boto3 loads

    return FifoWorker(settings).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

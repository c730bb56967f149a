"""`python -m simulation demo`: the Black Friday simulation of the whole system on one machine.

Starts the local stack (emulator provisioned from the Pulumi program, PostgreSQL, inventory), runs W
FIFO workers and both consumers, produces the spike (duplicates and malformed orders mixed in, and an
optional share through the S3 bulk-import path), shows live progress, and when the queues drain (or
the timeout passes) verifies the outcome from the stores themselves - DynamoDB, S3, PostgreSQL, the
DLQs - not from anyone's counters. Writes `report.json` and `report.png` to `--out` (default .demo/)
and exits non-zero if any check fails.

The parts, one module each: `plan` (the spike and the producer), `probe` (a sample a second),
`spot_drill` (`--spot-drill N`), `live` (the progress loop and view), `readback` (the stores after the
run), `checks` (each check from the stores), `report` (report.json, the chart, the final table) and
`cli` (the command that runs them in order).
"""

from simulation.demo.cli import main

__all__ = ["main"]

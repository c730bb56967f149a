"""`--spot-drill`: the Spot game day on one machine. Mid-spike a worker's IMDS stand-in serves the
interruption notice; the worker drains and exits well within the two minutes, a replacement starts, and
every order is still stored, invoiced and shipped exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_demo import CHECKS, demo


@pytest.mark.heavy
def test_spot_drill_drains_the_interrupted_worker_and_loses_nothing(tmp_path: Path) -> None:
    # --rate stretches the spike over several progress samples (one a second), so the notice, sent at the first
    # sample with half the orders stored, comes while the producer is still sending
    run, report = demo(
        tmp_path, "--orders", "300", "--workers", "2", "--customers", "30", "--rate", "50", "--spot-drill", "1"
    )
    failed = [c for c in report["checks"] if not c["ok"]]
    assert run.returncode == 0 and report["passed"], failed or run.stdout[-3000:]
    names = {c["name"] for c in report["checks"]}
    assert names >= CHECKS | {
        "spot drill: 1 notices sent, drained on the notice and replaced",
        "spot drill: every drain within the 120 s notice",
        "spot drill: nothing lost or duplicated",
    }
    drill = report["spot_drill"]
    assert drill["workers_interrupted"] == 1 and drill["replacements_started"] == 1
    (row,) = drill["per_worker"]
    assert row["worker"] == "worker-1" and row["replacement"] == "worker-3"
    assert row["stop_reason"] == "spot-interruption" and row["exit_code"] == 0 and row["within_worker_deadline"]
    assert row["notice_seen_after_seconds"] is not None and row["notice_seen_after_seconds"] <= 6  # 5 s polls
    assert 0 < row["worker_drained_in_seconds"] <= row["drain_seconds"] == drill["max_drain_seconds"] < 120
    # mid-spike: the notice came with orders still to store (the queue itself may be empty at that instant:
    # the workers keep up with a rate-limited producer), and the replacement started after it
    assert 300 / 2 <= row["orders_stored_at_notice"] < 300
    assert (tmp_path / "logs" / "worker-3.log").read_text().count('"worker started"') == 1
    assert "Spot drill: 1 notices" in run.stdout

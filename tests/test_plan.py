"""`python -m ops plan`: hand-worked arithmetic, each binding limit reachable by some config, clear errors."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from ops import plan
from ops.inputs import PRICES as PRICES_FILE
from ops.inputs import CallsPerOrder, Concurrency, InputError, Measured, MeasuredPoint, load_measured, load_prices
from ops.stack import StackError, load_stack

PRICES = load_prices()


def point(
    rate: float = 1000, receives: float = 0.1, deletes: float = 0.1, wru: float = 1.0, **more: Any
) -> MeasuredPoint:
    return MeasuredPoint(**{
        "rtt_ms": 0, "orders_per_second": rate, "cpu_seconds_per_1000_orders": 1, "peak_rss_mb": 1,
        "calls_per_order": CallsPerOrder(receives=receives, deletes=deletes, PutItem=wru, PutObject=1),
        "round_trips_per_order": 2, **more,
    })  # fmt: skip


CONCURRENCY = Concurrency(processors=16, receivers=4, batch_size=10, max_in_flight=80, deleters=1)


def measured(*points: MeasuredPoint) -> Measured:
    return Measured(what="t", date=date(2026, 12, 3), machine="t", command="python -m bench.worker", caveats=[],
                    concurrency=CONCURRENCY, points=list(points))  # fmt: skip


BASE: dict[str, Any] = dict(
    stack="t", region="us-east-1", instance_types=("c6i.large", "m6a.large", "m5.large"), fleet_min=1,
    fleet_max=100_000, backlog_per_instance=100, fifo_high_throughput=True, api_rate=1_000_000,
    api_burst=1_000_000, alarm_queue_age_seconds=300, alarm_queue_depth=10**9, fanout_queues=2,
    consumer_runtimes={"shipping": "lambda", "analytics": "lambda"}, consumer_batch_size=10,
    consumer_max_concurrency=1000, consumer_memory_mb=512, db_instance_class="db.r7g.xlarge", db_multi_az=False,
    db_storage_gb=20, db_connections_alarm=80, warehouse_rpu=8, az_count=3, enable_nat=False, interface_endpoints=8,
)  # fmt: skip
"""A stack generous everywhere: with the profile below the DynamoDB table quota (40,000 WRU/s) binds first."""


def view(**changes: Any) -> plan.StackView:
    return plan.StackView(**{**BASE, **changes})


def profile(**changes: Any) -> plan.Profile:
    base: dict[str, Any] = dict(stack="t", peak_orders_per_second=100, hours=1, rtt_ms=0, api_share=0,
                                consumer_batch_seconds=0.1, table_warm=True, quiet_orders_per_day=0)  # fmt: skip
    return plan.Profile(**{**base, **changes})


def test_fleet_hand_worked() -> None:
    # 1,000 orders/s at 50 per instance: 20 needed, 10 allowed -> 500/s; 500/s short for 1 h = 1.8 M left,
    # plus the standing backlog 10 x 100; drained at 500/s with no quiet traffic: 1,801,000 / 500 = 3,602 s.
    f = plan.fleet_plan(view(fleet_max=10), profile(peak_orders_per_second=1000), 50)
    assert (f.workers_needed, f.covers, f.standing_backlog) == (20, False, 1000)
    assert f.backlog_at_end_of_peak == pytest.approx(1_800_000)
    assert f.drain_seconds == pytest.approx(1_801_000 / 500)
    assert f.queue_delay_seconds == pytest.approx(100 / 50)
    quiet = plan.fleet_plan(view(fleet_max=10), profile(peak_orders_per_second=1000, quiet_orders_per_day=432_000),
                            50)  # fmt: skip
    assert quiet.drain_seconds == pytest.approx(1_801_000 / (500 - 5))  # 432,000/day = 5/s keep arriving
    never = plan.fleet_plan(view(fleet_max=1), profile(quiet_orders_per_day=86_400 * 60), 50)
    assert never.drain_seconds is None


def test_alarm_warnings_follow_the_config() -> None:
    f = plan.fleet_plan(view(backlog_per_instance=1000, alarm_queue_age_seconds=10, alarm_queue_depth=500),
                        profile(), 50)  # fmt: skip
    assert any("orders:alarmQueueAgeSeconds" in w for w in f.warnings)
    assert any("orders:alarmQueueDepth" in w for w in f.warnings)


def test_vcpus_from_the_instance_type_size() -> None:
    assert [plan.vcpus_of(t) for t in ("c6i.large", "m6a.xlarge", "m5.2xlarge", "c5.24xlarge")] == [2, 4, 8, 96]
    assert plan.vcpus_of("t3.large") is None  # burstable: a baseline fraction of each vCPU
    assert plan.vcpus_of("m5.metal") is None


def test_per_instance_throughput_derived_hand_worked() -> None:
    # 2.5 ms CPU per order, 2 round trips per order on a group thread, at 20 ms:
    #   CPU 1 core / 2.5 ms = 400; group threads 16 / (2 x 20 + 2.5 ms) = 376.5; in flight 80 / (4 x 20 + 2.5 ms)
    #   = 969.7; receivers 4 x 10 / 20 ms = 2,000; deleter 10 / 20 ms = 500 -> the group threads bind
    pt = point(
        rate=150, rtt_ms=20, cpu_seconds_per_1000_orders=2.5, ceiling_orders_per_second=155, ours_to_ceiling=0.97
    )
    t = plan.per_instance_throughput(view(), profile(rtt_ms=20), measured(pt), pt)
    bounds = {b.name: b.orders_per_second for b in t.bounds}
    assert bounds == pytest.approx({"CPU": 400, "group threads": 16 / 0.0425, "messages in flight": 80 / 0.0825,
                                    "receivers": 2000, "deleter": 500})  # fmt: skip
    assert (t.source, t.binds, t.vcpus) == ("derived", "group threads", 2)
    assert t.per_instance == round(16 / 0.0425, 1) == 376.5 and t.measured == 150
    assert "0.97x the no-logic ceiling" in t.why and "not used" in t.why
    lines = plan.derivation(t)
    assert lines[0].startswith("per-instance throughput: 376.5 orders/s, derived")
    assert any("group threads: 376.5 orders/s = 16 threads" in line for line in lines)


def test_per_instance_throughput_measured_only_where_the_emulator_did_not_set_the_pace() -> None:
    pt = point(rate=226, cpu_seconds_per_1000_orders=2.7, ceiling_orders_per_second=344, ours_to_ceiling=0.66)
    t = plan.per_instance_throughput(view(), profile(), measured(pt), pt)
    assert (t.source, t.per_instance) == ("measured", 226)
    assert t.binds == "CPU" and t.derived == round(1000 / 2.7, 1)  # at loopback only CPU bounds it
    assert {b.name for b in t.bounds if b.orders_per_second is None} == {"receivers", "deleter"}
    at_the_ceiling = pt.model_copy(update={"ours_to_ceiling": 0.9})  # within 10%: refused
    assert plan.per_instance_throughput(view(), profile(), measured(pt), at_the_ceiling).source == "derived"
    no_ceiling = pt.model_copy(update={"ours_to_ceiling": None, "ceiling_orders_per_second": None})
    t = plan.per_instance_throughput(view(), profile(), measured(pt), no_ceiling)
    assert t.source == "derived" and "no no-logic ceiling" in t.why
    # no known vCPUs (burstable types only): still one core per process, and the plan says it does not know
    t = plan.per_instance_throughput(view(instance_types=("t3.large", "t3a.large")), profile(), measured(pt), pt)
    assert t.vcpus is None and t.unknown_vcpus == ["t3.large", "t3a.large"] and t.derived == round(1000 / 2.7, 1)
    assert any("vCPUs not known" in line for line in plan.derivation(t))


def test_a_measured_figure_below_the_derivation_is_kept_and_explained() -> None:
    pt = point(rate=90, rtt_ms=20, cpu_seconds_per_1000_orders=2.5, ceiling_orders_per_second=190, ours_to_ceiling=0.47)
    t = plan.per_instance_throughput(view(), profile(rtt_ms=20), measured(pt), pt)
    assert (t.source, t.per_instance, t.derived) == ("measured", 90, 376.5)
    assert any("76% below the worker's own bounds" in line for line in plan.derivation(t))


def test_the_benchmark_writes_what_the_planner_reads(tmp_path: Any) -> None:
    from bench.worker import CALL_KINDS, write_measured

    def medians(rate: float, cpu: float, expect: float = 0.0) -> dict[str, Any]:
        calls = {kind: 1.0 for kind in CALL_KINDS} | {"receives": 0.1, "deletes": 0.1, "expect_100_continue": expect}
        return {"orders_per_s": rate, "cpu_s_per_1000": cpu, "emulator_cpu_s_per_1000": 4.0, "peak_rss_mb": 70,
                "calls_per_order": calls}  # fmt: skip

    ours = medians(150, 3.0) | {"to_ceiling": 0.96}
    by_rtt = {"0": {"ceiling": medians(160, 2.5), "naive": medians(50, 5.0, expect=1.0), "ours": ours}}
    meta = {
        "date": "2026-12-05",
        "machine": "m",
        "uptime_before": "",
        "uptime_after": "",
        "command": "python -m bench.worker",
    }
    write_measured(tmp_path / "measured.json", meta, by_rtt)
    m = load_measured(tmp_path / "measured.json")
    pt = m.at(0)
    assert (pt.orders_per_second, pt.ceiling_orders_per_second, pt.ours_to_ceiling) == (150, 160, 0.96)
    assert (pt.cpu_seconds_per_1000_orders, pt.ceiling_cpu_seconds_per_1000_orders, pt.round_trips_per_order) == (
        3.0,
        2.5,
        2.0,
    )
    assert m.concurrency.processors == 16 and m.concurrency.max_in_flight == 80  # the worker's defaults
    assert plan.per_instance_throughput(view(), profile(), m, pt).source == "derived"  # 0.96x: the emulator's pace


def test_the_plan_uses_the_derived_figure_for_the_fleet_and_warns() -> None:
    pt = point(
        rate=150, rtt_ms=20, cpu_seconds_per_1000_orders=2.5, ceiling_orders_per_second=155, ours_to_ceiling=0.97
    )
    p = plan.make_plan(view(fleet_max=10), profile(peak_orders_per_second=2000, rtt_ms=20), measured(pt), PRICES)
    assert p.fleet.per_instance == 376.5
    assert p.fleet.workers_needed == 6  # 2,000 / 376.5, not 2,000 / 150 = 14
    fleet = next(x for x in p.limits if x.name.startswith("worker fleet"))
    assert fleet.capacity == pytest.approx(10 * 376.5)
    assert any("the emulator set the pace" in w and "376.5 orders/s derived" in w for w in p.warnings)


def test_sqs_limits_without_high_throughput_hand_worked() -> None:
    found = {x.name: x for x in plan.limits(view(fifo_high_throughput=False), profile(api_share=0.5), point())}
    # sends: half the orders one SendMessage each, half in batches of 10 -> 0.55 per order; 300 / 0.55
    assert found["SQS FIFO SendMessage(Batch)"].capacity == pytest.approx(300 / 0.55)
    assert found["SQS FIFO ReceiveMessage"].capacity == pytest.approx(3000)
    ht = {x.name: x for x in plan.limits(view(), profile(), point())}
    assert ht["SQS FIFO SendMessage(Batch), high-throughput mode"].capacity is None  # regional, unverified


def test_cost_hand_worked() -> None:
    v, p, pt = view(), profile(), point(receives=0.1, deletes=0.1)
    lines = {c.item: c for c in plan.cost_lines(v, p, pt, PRICES, orders=1_000_000, hours=10, instance_hours=10,
                                                 idle_receiver_hours=0)}  # fmt: skip
    assert lines["DynamoDB writes"].usd == pytest.approx((0.625, 0.625))  # 1 M WRU x $0.625/M
    assert lines["S3 PUT (invoices)"].usd == pytest.approx((5.0, 5.0))  # 1 M x $0.005/1,000
    assert lines["SNS publishes"].usd == pytest.approx((0.5, 0.5))
    # FIFO: 0.1 sends (api_share 0: batches of 10) + 0.1 receives + 0.1 deletes = 0.3 M requests x $0.50/M
    assert lines["SQS FIFO requests, batched (ours)"].usd == pytest.approx((0.15, 0.15))
    assert lines["SQS FIFO requests, unbatched"].usd == pytest.approx((1.05, 1.05))  # 0.1 + 2 per order
    # fleet: 10 instance-h at the cheapest/dearest sourced configured type (m5.large has no price)
    assert lines["EC2 fleet, On-Demand"].usd == pytest.approx((0.85, 0.864))
    assert "m5.large" in lines["EC2 fleet, On-Demand"].basis
    assert lines["EC2 fleet, Spot"].usd == pytest.approx((0.085, 0.864))  # 10%..100% of On-Demand
    spot = {c.item: c for c in plan.cost_lines(v, profile(spot_fraction=0.3), pt, PRICES, 1_000_000, 10, 10, 0)}
    assert spot["EC2 fleet, Spot"].usd == pytest.approx((0.255, 0.2592))
    assert lines["Interface endpoints"].usd == pytest.approx((2.4, 2.4))  # 8 x 3 AZ x 10 h x $0.01
    assert lines["SNS deliveries to SQS"].usd is None  # not sourced: shown as such, left out of the totals
    summary = plan.summarize(list(lines.values()))
    assert "SNS deliveries to SQS" in summary.unpriced
    assert summary.total_spot[0] < summary.total_on_demand[0]


def test_an_unpriced_region_prices_nothing_it_does_not_know() -> None:
    lines = plan.cost_lines(view(region="eu-central-1"), profile(), point(), PRICES, 1000, 24, 24, 0)
    by = {c.item: c.usd for c in lines}
    assert by["EC2 fleet, On-Demand"] is None and by["DynamoDB writes"] is None
    assert by["SQS fan-out requests, batched"] is not None  # the one SQS price sourced for every region


BINDING_CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "DynamoDB table (on-demand)": ({}, {}, {}),
    "worker fleet (orders:fleetMaxSize)": ({"fleet_max": 10}, {}, {}),
    "SQS FIFO SendMessage(Batch)": ({"fifo_high_throughput": False}, {"api_share": 1, "peak_orders_per_second": 50}, {}),
    "SQS FIFO ReceiveMessage": ({"fifo_high_throughput": False}, {}, {"receives": 1.0}),
    "SQS FIFO DeleteMessage(Batch)": ({"fifo_high_throughput": False}, {}, {"deletes": 1.0}),
    "SQS FIFO in-flight messages": ({}, {}, {"rate": 1}),
    "message groups (one order at a time per group)": ({}, {"rtt_ms": 20, "groups": 10}, {}),
    "API stage throttle (orders:apiThrottleRateLimit)": ({"api_rate": 500}, {"api_share": 1}, {}),
    "API Gateway account quota": ({}, {"api_share": 1}, {}),
    "DynamoDB new table's first peak": ({}, {"table_warm": False}, {}),
    "shipping consumer (orders:consumerMaxConcurrency)": ({"consumer_max_concurrency": 20}, {}, {}),
    "Lambda account concurrency": ({}, {"consumer_batch_seconds": 2}, {}),
    "shipping database connections": ({"db_instance_class": "db.t4g.micro", "consumer_max_concurrency": 200}, {}, {}),
}  # fmt: skip


@pytest.mark.parametrize("expected", list(BINDING_CASES))
def test_each_limit_binds_first_for_some_config(expected: str) -> None:
    v, p, pt = BINDING_CASES[expected]
    found = plan.limits(view(**v), profile(**p), point(**pt))
    binds = plan.binding(found)
    assert binds.name == expected, [(x.name, x.capacity) for x in found if x.capacity is not None]
    assert binds.lift and binds.source


def test_the_plan_for_the_dev_stack_reads_its_config_and_the_measurement(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "dev", "--peak-orders-per-second", "2000", "--hours", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cfg = load_stack("dev")
    at20 = load_measured().at(20)
    assert doc["stack"]["fleet_max"] == cfg.fleet.max_size and doc["stack"]["region"] == cfg.primary_region
    t = doc["throughput"]
    capped = at20.ours_to_ceiling is None or at20.ours_to_ceiling >= 0.9
    assert t["source"] == ("derived" if capped else "measured") and t["measured"] == at20.orders_per_second
    assert t["per_instance"] == (t["derived"] if capped else at20.orders_per_second)
    assert t["vcpus"] == min(plan.vcpus_of(x) or 99 for x in cfg.fleet.instance_types)
    assert doc["fleet"]["per_instance"] == t["per_instance"]
    assert doc["fleet"]["workers_needed"] == math.ceil(2000 / t["per_instance"])
    assert doc["prices_retrieved"] == str(PRICES.retrieved)
    assert doc["binding"]["capacity"] == min(x["capacity"] for x in doc["limits"] if x["capacity"] is not None)
    assert plan.main(["--stack", "dev", "--peak-orders-per-second", "2000", "--hours", "4", "--markdown"]) == 0
    md = capsys.readouterr().out
    assert f"retrieved {PRICES.retrieved}" in md and "| limit | allows orders/s |" in md
    assert "**per-instance throughput**" in md and f"per-instance throughput: {t['per_instance']:,.1f} orders/s" in md
    assert f"RTT ({t['source']}, from the run of {load_measured().date}) |" in md  # the table row says which it is
    # a what-if through the same loader: a larger fleet and API throttle move the binding limit
    assert plan.main(["--stack", "dev", "--peak-orders-per-second", "2000", "--hours", "4", "--json",
                      "--set", "fleetMaxSize=200", "--set", "apiThrottleRateLimit=5000",
                      "--set", "consumerMaxConcurrency=1000"]) == 0  # fmt: skip
    what_if = json.loads(capsys.readouterr().out)
    assert what_if["fleet"]["covers"] and what_if["binding"]["name"] != doc["binding"]["name"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stack", "nope"], "no stack file Pulumi.nope.yaml"),
        (["--stack", "dev", "--set", "fleetMaxSize=0"], "orders:fleetMaxSize"),
        (["--stack", "dev", "--set", 'instanceTypes=["m6g.large"]'], "orders:instanceTypes"),
        (["--stack", "dev", "--set", "noSuchKey=1"], "unknown setting"),
        (["--stack", "dev", "--set", "fleetMaxSize"], "expected KEY=VALUE"),
        (["--stack", "dev", "--hours", "30"], "--hours"),
        (["--stack", "dev", "--orders", "10"], "fewer than the peak alone"),
        (["--stack", "dev", "--rtt-ms", "7"], "no measurement at that round trip"),
        (["--stack", "dev", "--api-share", "2"], "--api-share"),
    ],
)
def test_bad_config_or_profile_is_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--peak-orders-per-second": "2000", "--hours": "4"}
    for flag, value in base.items():
        if flag not in argv:
            argv = [*argv, flag, value]
    assert plan.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_profile_and_input_files_are_validated(tmp_path: Any) -> None:
    with pytest.raises(ValidationError):
        plan.Profile(stack="dev", peak_orders_per_second=0, hours=1)
    with pytest.raises(InputError, match="no measurement"):
        measured(point()).at(20)
    old_format = {"what": "t", "date": "2026-12-03", "machine": "t", "command": "c", "caveats": [],
                  "points": [point().model_dump()]}  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(old_format))
    with pytest.raises(InputError, match="concurrency"):  # a file from before the derivation's inputs
        load_measured(tmp_path / "m.json")
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({**json.loads(PRICES_FILE.read_text()), "currency": "EUR"}))
    with pytest.raises(InputError, match="currency"):
        load_prices(bad)
    with pytest.raises(StackError):
        load_stack("nope")


def test_price_file_is_dated_sourced_and_covers_the_stack_regions() -> None:
    assert set(PRICES.regions) >= {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}
    for name, region in PRICES.regions.items():
        prices = [*region.ec2_on_demand_hourly.values(), *region.rds_postgres_hourly.values()]
        prices += [v for k, v in region if k not in {"ec2_on_demand_hourly", "rds_postgres_hourly", "not_sourced"}]
        for price in prices:
            if price is None:
                continue
            assert (price.bounds is not None) == price.source.startswith("https://"), (name, price)
            assert price.bounds is not None or price.not_sourced, (name, price)


def test_the_table_output_names_the_binding_limit_and_the_price_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan.main(["--stack", "dev", "--peak-orders-per-second", "500", "--hours", "2"]) == 0
    out = capsys.readouterr().out
    assert "Binds first:" in out and f"retrieved {PRICES.retrieved}" in out and "TOTAL, fleet on Spot" in out
    assert "per-instance throughput:" in out and "the lowest of" in out

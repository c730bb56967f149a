"""`python -m simulation local up`: the whole system on this machine, kept running until Ctrl-C.

The same stack the demo drives: the emulator (embedded, or the user's `--endpoint`), a private PostgreSQL
with a shipping and a warehouse database, the emulator provisioned from the Pulumi program, inventory
seeded, N FIFO workers and the consumers as child processes, each under its own role (simulation/roles.py).
It prints the endpoint and the FIFO queue URL so a person can follow docs/local-simulation.md with the AWS
CLI; with `--json` the first line on stdout is one JSON object with the endpoint, the local intake URL and
every resource name/URL, for scripts.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from offline.provision.iam import SQS_BATCH_ACTIONS
from offline.provision.provisioner import Provisioned, provision
from simulation import teardown
from simulation.cpu import own_cpu_seconds, tree_cpu_seconds
from simulation.emulator import Emulator, emulator_at
from simulation.intake_client import REST_API, IntakeClient, first_api_key, storefront_user
from simulation.postgres import PostgresServer, running_postgres
from simulation.producer import catalog_sku
from simulation.roles import ROLE_OF_WORKER, STOREFRONT_PROFILE, RoleProfiles, consumer_role

ROOT = Path(__file__).resolve().parents[1]
STOP_TIMEOUT = 30.0
ENDPOINT_HELP = (
    "an AWS emulator you already run (MiniStack or LocalStack in Docker, a moto server), e.g. "
    "http://localhost:4566; default: start the embedded MiniStack"
)


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


@dataclass
class EmulatedStack:
    emulator: Emulator
    postgres: PostgresServer
    provisioned: Provisioned
    shipping_dsn: str
    warehouse_dsn: str
    log_dir: Path
    roles: RoleProfiles
    """Each child's profile: it assumes its own role (simulation/roles.py)."""
    stock: dict[str, int] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    _client_profile: str | None = None

    @property
    def exports(self) -> dict[str, Any]:
        return self.provisioned.exports

    def describe(self) -> dict[str, Any]:
        """Everything a script needs to use the stack: endpoint, region, every exported name and URL."""
        return {
            "endpoint": self.emulator.endpoint,
            "region": self.emulator.region,
            "orderQueueUrl": self.exports["orderQueueUrl"],
            "intakeOrdersUrl": self.provisioned.intake_orders_url,
            "intakeAuth": self.exports.get("intakeAuth"),
            "intakeClientProfile": self.intake_profile(),
            "resources": {**self.exports, "intakeOrdersUrl": self.provisioned.intake_orders_url},
            "shippingDsn": self.shipping_dsn,
            "warehouseDsn": self.warehouse_dsn,
            "emulated": sorted({t for t, _, _ in self.provisioned.created}),
            "awsOnly": self.provisioned.aws_only_types(),
            "logs": str(self.log_dir),
        }

    def child_env(self, process: str, role: str, **extra: str) -> dict[str, str]:
        """A child's environment: the emulator's endpoint and region, and the profile that assumes `role`
        as `process` (no key of its own: admin credentials stay with provisioning and the checks)."""
        inherit = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env = self.roles.child_env(process, role, inherit=inherit, endpoint=self.emulator.env())
        return {**env, "PYTHONUNBUFFERED": "1", **extra}

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> Child:
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker", *args],
            cwd=ROOT,
            env=dict(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
        )
        child = Child(name, proc, log_path, log_file)
        self.children.append(child)
        return child

    def start_workers(self, count: int, *, wait_seconds: int = 5) -> None:
        for i in range(count):
            name = f"worker-{i + 1}"
            self.spawn(name, ["run", "--wait-seconds", str(wait_seconds)], self.worker_env(name))

    def worker_env(self, process: str, imds_url: str = "") -> dict[str, str]:
        """FIFO worker `process`'s environment, as the instance role; `imds_url` points its Spot/lifecycle
        watch at an IMDS stand-in."""
        return self.child_env(
            process,
            ROLE_OF_WORKER,
            ORDERS_QUEUE_URL=self.exports["orderQueueUrl"],
            ORDERS_TABLE=self.exports["orderTableName"],
            ORDERS_BUCKET=self.exports["invoicesBucketName"],
            ORDERS_INVOICE_PREFIX=self.exports["invoicePrefix"],
            ORDERS_IMDS_URL=imds_url,  # "" (the default): no instance metadata on a laptop, no watch
            ORDERS_DRAIN_SECONDS="15",
            ORDERS_METRICS_INTERVAL="3600",
            # One long-polling receiver per process: a waiting receive rescans the emulator's whole queue
            # every 100 ms, and with several processes more receivers only add scans (one emulator core
            # serves them all).
            ORDERS_RECEIVERS="1",
        )

    def start_consumers(self, pollers: int = 2, *, wait_seconds: int = 5, retry_delay: int = 1) -> None:
        """`pollers` processes per fan-out queue, each with the DSN of the database its consumer writes
        (worker/topology.py's registry; every consumer is idempotent and safe concurrently); a failed event
        comes back after `retry_delay` s and reaches the DLQ after 3 receives."""
        from worker import topology

        dsn = {topology.SHIPPING_DATABASE.name: self.shipping_dsn, topology.WAREHOUSE.name: self.warehouse_dsn}
        for name, url in self.exports["fanoutQueueUrls"].items():
            args = ["consume", name, "--queue-url", url, "--dsn", dsn[topology.fanout_consumer(name).database.name]]
            args += ["--wait-seconds", str(wait_seconds), "--retry-delay", str(retry_delay)]
            for i in range(pollers):
                process = f"consumer-{name}-{i + 1}"
                self.spawn(process, args, self.child_env(process, consumer_role(name), LOG_LEVEL="WARNING"))

    def failed_children(self) -> list[Child]:
        return [c for c in self.children if c.proc.poll() is not None and c.proc.returncode != 0]

    def intake_profile(self) -> str:
        """The profile of a storefront backend allowed to POST /orders (`iam` mode), made on first use."""
        if self._client_profile is None:
            self._client_profile = make_intake_client(self)
        return self._client_profile

    def intake_client(self) -> IntakeClient:
        """A client of the intake API as the stack's auth mode wants it: SigV4 as the storefront's identity
        (`iam`), the first client's key (`apiKey`), or nothing (`none`)."""
        url, auth = self.provisioned.intake_orders_url, self.exports.get("intakeAuth")
        if auth == "apiKey":
            return IntakeClient(
                url,
                self.emulator.region,
                api_key=first_api_key(self.emulator.client("apigateway"), self.provisioned.graph),
            )
        if auth == "iam":
            return IntakeClient.signing_as(url, self.roles.session(self.intake_profile()))
        return IntakeClient(url, self.emulator.region)

    def revoke(self, role: str, action: str) -> int:
        """Take `action` away from the stack's role `role` (logical name) in the emulator: a drill for the
        denial path (`demo --revoke`). Returns how many statements lost it; 0 means the role never had it."""
        iam = self.emulator.client("iam")
        name = self.roles.role_arns[role].rsplit("/", 1)[-1]
        removed = 0
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            document = json.loads(document) if isinstance(document, str) else document
            kept_statements, changed = without_action(document.get("Statement", []), action)
            if changed:
                removed += changed
                document["Statement"] = kept_statements
                iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))
        return removed

    def cpu_seconds(self) -> dict[str, float | None]:
        """CPU seconds used so far by each part: the emulator, the FIFO workers, the consumers, PostgreSQL
        and this process (read before `stop_children`; the emulator's only when it is embedded)."""
        by_part: dict[str, float | None] = {
            "emulator": tree_cpu_seconds(self.emulator.pid) if self.emulator.pid else None,
            "postgres": tree_cpu_seconds(self.postgres.pid) if self.postgres.pid else None,
        }
        for part, prefix in (("workers", "worker-"), ("consumers", "consumer-")):
            each = [tree_cpu_seconds(c.proc.pid) for c in self.children if c.name.startswith(prefix)]
            by_part[part] = None if None in each else round(sum(x or 0.0 for x in each), 2)
        by_part["demo"] = own_cpu_seconds()
        return by_part

    def stop_children(self, timeout: float = STOP_TIMEOUT) -> dict[str, int]:
        """SIGTERM every child (workers drain, consumers finish their batch), wait, then kill stragglers."""
        for child in self.children:
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int] = {}
        for child in self.children:
            try:
                codes[child.name] = child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                codes[child.name] = child.proc.wait()
            child.log_file.close()
        self.children.clear()
        return codes


def default_stock(orders: int, skus: int) -> dict[str, int]:
    """Enough of most SKUs for `orders`, but every 10th is a scarce doorbuster that sells out."""
    base = max(20, orders // 8)
    return {catalog_sku(n): (base // 10 if n % 10 == 0 else base) for n in range(1, skus + 1)}


def seed_inventory(stack: EmulatedStack, stock: dict[str, int]) -> None:
    """Through the consumers' own command, as an operator would (migrations included)."""
    path = stack.log_dir / "inventory.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(sorted(stock.items()))
    run = subprocess.run(
        [sys.executable, "-m", "worker", "seed-inventory", "--dsn", stack.shipping_dsn, "--file", str(path)],
        cwd=ROOT,
        env=stack.child_env("seed-inventory", ROLE_OF_WORKER),  # PostgreSQL only: it makes no AWS call
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"seed-inventory failed: {run.stderr.strip() or run.stdout.strip()}")
    stack.stock = dict(stock)


def without_action(statements: Any, action: str) -> tuple[list[dict[str, Any]], int]:
    """`statements` with `action` taken out of every Allow (a statement left with no action goes); an SQS
    action takes its batch name with it (the emulator's copy of a policy carries both)."""
    gone = {action, SQS_BATCH_ACTIONS.get(action, action)}
    out, changed = [], 0
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else list(actions)
        if statement.get("Effect") == "Allow" and action in actions:
            changed += 1
            actions = [a for a in actions if a not in gone]
            if not actions:
                continue
            statement = {**statement, "Action": actions}
        out.append(statement)
    return out, changed


def make_intake_client(stack: EmulatedStack) -> str:
    """Create the storefront's identity in the emulator (as root) and its profile; returns the profile."""
    [api] = stack.provisioned.graph.of_type(REST_API)
    name = f"{stack.exports['orderTableName']}-storefront"[:64]
    key_id, secret = storefront_user(stack.emulator.client("iam"), name, str(api.outputs["executionArn"]))
    return stack.roles.add_user(STOREFRONT_PROFILE, key_id, secret)


def role_profiles(provisioned: Provisioned, directory: Path, region: str) -> RoleProfiles:
    """The processes' profiles, from the launcher the provisioner created and the stack's roles."""
    launcher = provisioned.launcher_credentials
    if launcher is None:
        raise RuntimeError("the provisioner created no local launcher: the processes could not assume their roles")
    return RoleProfiles.write(
        directory, launcher.access_key_id, launcher.secret_access_key, provisioned.role_arns, region
    )


def fresh_log_dir(out: Path) -> Path:
    """`<out>/logs` holding no log of an earlier run.

    Within a run a child's log is opened for appending (a restarted worker keeps its predecessor's lines);
    across runs a left-over `worker-*.log` would be counted again by the demo's worker summary.
    """
    log_dir = out / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("*.log"):
        old.unlink()
    return log_dir


@contextmanager
def emulated_stack(
    out: Path, *, stock: dict[str, int] | None = None, stack_name: str = "local", endpoint: str | None = None
) -> Iterator[EmulatedStack]:
    """Emulator + PostgreSQL + provisioning + inventory; children are stopped on exit.

    `endpoint`: an emulator the user runs (its own account id is used); default: the embedded MiniStack.
    """
    log_dir = fresh_log_dir(out)
    with ExitStack() as stack:
        emulator = stack.enter_context(emulator_at(endpoint, log=log_dir / "emulator.log"))
        postgres = stack.enter_context(running_postgres())
        shipping_dsn = postgres.create_database("shipping")
        warehouse_dsn = postgres.create_database("warehouse")
        provisioned = provision(emulator.region, endpoint=emulator.endpoint, stack=stack_name)
        roles = role_profiles(provisioned, out / "aws", emulator.region)
        local = EmulatedStack(emulator, postgres, provisioned, shipping_dsn, warehouse_dsn, log_dir, roles)
        try:
            seed_inventory(local, stock if stock is not None else default_stock(1000, 50))
            yield local
        finally:
            local.stop_children()


def up(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m simulation local up", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2, help="FIFO worker processes (default 2)")
    p.add_argument("--json", action="store_true", help="first stdout line: one JSON object describing the stack")
    p.add_argument("--out", default=str(ROOT / ".demo" / "local"), help="logs and inventory file (default .demo/local)")
    p.add_argument("--endpoint", help=ENDPOINT_HELP)
    args = p.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with emulated_stack(Path(args.out), endpoint=args.endpoint) as stack:
        stack.start_workers(args.workers)
        stack.start_consumers()
        info = stack.describe()
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            print(f"emulator endpoint  {info['endpoint']}  (region {info['region']})")
            print(f"FIFO queue URL     {info['orderQueueUrl']}")
            print(f"order table        {stack.exports['orderTableName']}")
            print(f"invoices bucket    {stack.exports['invoicesBucketName']}")
            print(f"shipping database  {info['shippingDsn']}")
            print(f"logs               {info['logs']}")
            print(f"{args.workers} FIFO workers and the consumers running; Ctrl-C stops everything", flush=True)
        while not stop.wait(1.0):
            if failed := stack.failed_children():
                names = ", ".join(f"{c.name} (exit {c.proc.returncode}, see {c.log_path})" for c in failed)
                print(f"stopping: {names} failed", file=sys.stderr, flush=True)
                stack.stop_children()
                return 1
        codes = stack.stop_children()
    bad = {name: code for name, code in codes.items() if code != 0}
    print(f"stopped: {len(codes)} processes" + (f", non-zero exits {bad}" if bad else ", all clean"), file=sys.stderr)
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    """`local up` (this module) or `local down` (simulation/teardown.py)."""
    if argv[:1] == ["up"]:
        return up(argv[1:])
    if argv[:1] == ["down"]:
        return teardown.main(argv[1:])
    print(
        "usage: python -m simulation local up [--workers N] [--json] [--endpoint URL]\n"
        "       python -m simulation local down [--endpoint URL] [--exclude-protected] [--json]",
        file=sys.stderr,
    )
    return 2

"""The worker's Ansible playbook: linted (production profile), syntax-checked, and applied for real.

The apply runs `ansible-playbook -c local` with the variables the Pulumi program renders into the user
data, redirected into a sandbox root (`orders_worker_sandbox`: no packages, users or systemd calls), and
installs from a wheelhouse built here, so it needs no network. The second run must change nothing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.worker_fleet import PLAYBOOK, artifact_files
from offline.graph import ROOT, run_program
from simulation.imds_standin import running_imds

BIN = Path(sys.executable).parent
CONFIG = {"orders:primaryRegion": "eu-west-1", "orders:failoverRegion": "eu-central-1"}
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
PROBE = "orders_probe"


def ansible_env(home: Path) -> dict[str, str]:
    """Ansible state in the test's own directory: other engineers run Ansible on this machine too."""
    return {
        **os.environ,
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
    }


def probe_wheel(wheelhouse: Path) -> None:
    """A minimal pure-Python wheel, so the offline `--no-index --find-links` install path is exercised for real."""
    info = f"{PROBE}-1.0.dist-info"
    with zipfile.ZipFile(wheelhouse / f"{PROBE}-1.0-py3-none-any.whl", "w") as whl:
        whl.writestr(f"{PROBE}/__init__.py", "VALUE = 42\n")
        whl.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: orders-probe\nVersion: 1.0\n")
        whl.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        whl.writestr(f"{info}/RECORD", f"{PROBE}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")


def rendered_vars() -> dict[str, Any]:
    """The playbook variables exactly as the program renders them into the launch template's user data."""
    graph = run_program(CONFIG, stack="test", preview=True)
    script = base64.b64decode(graph.one("aws:ec2/launchTemplate:LaunchTemplate", "workers").inputs["userData"]).decode()
    match = re.search(r"<<'ORDERS_VARS'\n(.*?)\nORDERS_VARS\n", script, re.S)
    assert match
    return dict(json.loads(match.group(1)))


@dataclass
class Run:
    rc: int
    output: str

    @property
    def recap(self) -> tuple[int, int, int, int]:
        found = RECAP.findall(self.output)
        assert len(found) == 1, self.output[-3000:]
        ok, changed, unreachable, failed = (int(x) for x in found[0])
        return ok, changed, unreachable, failed


def play(variables: dict[str, Any], workdir: Path) -> Run:
    extra = workdir / f"vars-{len(list(workdir.glob('vars-*.json')))}.json"
    extra.write_text(json.dumps(variables))
    proc = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-c",
            "local",
            "-i",
            "localhost,",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "-e",
            f"@{extra}",
            str(ROOT / PLAYBOOK),
        ],
        env=ansible_env(workdir / "ansible-home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Run(proc.returncode, proc.stdout + proc.stderr)


@dataclass
class Sandbox:
    root: Path
    artifact: Path
    variables: dict[str, Any]
    first: Run
    second: Run


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    work = tmp_path_factory.mktemp("playbook")
    artifact = work / "artifact"
    for name, path in artifact_files():  # the same file list the program uploads
        target = artifact / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    (artifact / "wheelhouse").mkdir()
    probe_wheel(artifact / "wheelhouse")
    requirements = work / "requirements.txt"
    requirements.write_text("orders-probe==1.0\n")
    variables = {
        **rendered_vars(),
        "orders_worker_sandbox": True,
        "orders_worker_root": str(work / "root"),
        "orders_worker_artifact_dir": str(artifact),
        "orders_worker_wheelhouse": str(artifact / "wheelhouse"),
        # The worker's real requirements need wheels from PyPI; the probe proves the same offline install path.
        "orders_worker_requirements": str(requirements),
        "orders_worker_python": sys.executable,
    }
    first = play(variables, work)
    second = play(variables, work)
    return Sandbox(work / "root", artifact, variables, first, second)


def test_syntax_check(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(ROOT / PLAYBOOK)],
        env=ansible_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "ansible-lint"), "--offline", "--nocolor", "--profile", "production", "worker/ansible"],
        cwd=ROOT,
        env={**ansible_env(tmp_path), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


def test_first_run_applies_without_failures(sandbox: Sandbox) -> None:
    assert sandbox.first.rc == 0, sandbox.first.output[-4000:]
    _ok, changed, unreachable, failed = sandbox.first.recap
    assert (unreachable, failed) == (0, 0) and changed > 0


def test_second_run_changes_nothing(sandbox: Sandbox) -> None:
    assert sandbox.second.rc == 0, sandbox.second.output[-4000:]
    assert sandbox.second.recap[1] == 0, sandbox.second.output[-4000:]


def test_worker_package_and_dependencies_are_installed(sandbox: Sandbox) -> None:
    app = sandbox.root / "opt/orders-worker/app"
    shipped = [p.relative_to(sandbox.artifact) for p in (sandbox.artifact / "worker").rglob("*") if p.is_file()]
    assert len(shipped) > 10
    for name in shipped:
        assert (app / name).read_bytes() == (sandbox.artifact / name).read_bytes(), name
    python = sandbox.root / "opt/orders-worker/venv/bin/python"
    probe = subprocess.run([str(python), "-c", f"import {PROBE}; print({PROBE}.VALUE)"], capture_output=True, text=True)
    assert probe.stdout.strip() == "42", probe.stderr
    # ExecStart's command resolves the package from the installed copy (the dispatcher needs no third-party import).
    usage = subprocess.run(
        [str(python), "-m", "worker", "--help"],
        cwd=app,
        env={"PYTHONPATH": str(app), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 0 and "run" in usage.stdout, usage.stderr


def test_environment_file_carries_the_stacks_values(sandbox: Sandbox) -> None:
    env_file = sandbox.root / "etc/orders-worker/worker.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o640"
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if line and not line.startswith("#"))
    values = {k: v.strip('"') for k, v in values.items()}
    v = sandbox.variables
    assert values == {
        "ORDERS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-test-orders.fifo",
        "ORDERS_TABLE": "orders-test-orders",
        "ORDERS_BUCKET": "orders-test-invoices-123456789012-eu-west-1",
        "AWS_REGION": "eu-west-1",
        "ORDERS_INVOICE_PREFIX": "invoices/",
        "ORDERS_DRAIN_SECONDS": str(v["orders_worker_drain_seconds"]),
        "ORDERS_IMDS_URL": "http://169.254.169.254",
        "ORDERS_ASG_NAME": "orders-test-workers",
        "ORDERS_LIFECYCLE_HOOK": "orders-test-workers-drain",
    }
    from worker.fifo.settings import ENV_VARS  # the worker's own list of the names it reads

    assert set(values) <= set(ENV_VARS.values())


def test_systemd_unit_restarts_drains_and_is_hardened(sandbox: Sandbox) -> None:
    unit = (sandbox.root / "etc/systemd/system/orders-worker.service").read_text()
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in unit.splitlines()
        if "=" in line and not line.startswith("#")
    }
    home = sandbox.root / "opt/orders-worker"
    assert lines["ExecStart"] == f"{home}/venv/bin/python -m worker run"
    assert lines["EnvironmentFile"] == str(sandbox.root / "etc/orders-worker/worker.env")
    assert lines["Restart"] == "always"
    assert int(lines["TimeoutStopSec"]) > int(sandbox.variables["orders_worker_drain_seconds"])
    assert lines["KillSignal"] == "SIGTERM"
    assert lines["User"] == "orders-worker" != "root"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert lines[key] == value, key
    assert lines["ReadWritePaths"] == str(sandbox.root / "var/log/orders-worker")
    assert lines["WantedBy"] == "multi-user.target"


def test_log_shipping_and_rotation_config(sandbox: Sandbox) -> None:
    agent = json.loads((sandbox.root / "opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json").read_text())
    [entry] = agent["logs"]["logs_collected"]["files"]["collect_list"]
    assert entry["log_group_name"] == "/orders/test/workers"
    assert entry["file_path"] == str(sandbox.root / "var/log/orders-worker/worker.log")
    rotate = (sandbox.root / "etc/logrotate.d/orders-worker").read_text()
    assert "copytruncate" in rotate and str(sandbox.root / "var/log/orders-worker/worker.log") in rotate


def test_sandbox_skips_host_changes(sandbox: Sandbox) -> None:
    for task in ("Install Python and the CloudWatch agent", "Create the unprivileged worker user", "Enable and start"):
        block = sandbox.first.output.split(task, 1)[1].split("TASK [", 1)[0]
        assert "skipping: [localhost]" in block, task


def test_missing_stack_values_fail_with_a_clear_message(sandbox: Sandbox, tmp_path: Path) -> None:
    run = play({**sandbox.variables, "orders_worker_root": str(tmp_path / "root"), "orders_worker_table": ""}, tmp_path)
    assert run.rc != 0
    assert "orders_worker_table" in run.output
    assert not (tmp_path / "root").exists(), "nothing is written before the variables are checked"


def precheck(
    sandbox: Sandbox, imds_url: str, *, hook: str = "orders-test-workers-drain"
) -> subprocess.CompletedProcess[str]:
    """Run the installed ExecStartPre exactly as the unit does, with the unit's environment file values."""
    unit = (sandbox.root / "etc/systemd/system/orders-worker.service").read_text()
    [command] = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ExecStartPre=")]
    env = {"PATH": "/usr/bin:/bin", "ORDERS_IMDS_URL": imds_url, "ORDERS_LIFECYCLE_HOOK": hook}
    return subprocess.run(command.split(), env=env, capture_output=True, text=True, timeout=30)


def test_start_check_keeps_a_leaving_instance_from_restarting_the_worker(sandbox: Sandbox) -> None:
    with running_imds() as imds:
        assert precheck(sandbox, imds.url).returncode == 0  # InService, no Spot notice
        imds.set_lifecycle_state("Terminated")
        refused = precheck(sandbox, imds.url)
        assert refused.returncode == 1 and "lifecycle state is Terminated" in refused.stderr
        assert precheck(sandbox, imds.url, hook="").returncode == 0  # no hook configured: state not watched
        imds.set_lifecycle_state("InService")
        imds.interrupt()
        refused = precheck(sandbox, imds.url)
        assert refused.returncode == 1 and "Spot interruption scheduled" in refused.stderr
        assert all(method == "PUT" for method, path, _ in imds.log if path == "/latest/api/token")
        assert not [entry for entry in imds.log if entry[2] == 401], "metadata read without an IMDSv2 token"


def test_start_check_fails_open_when_metadata_is_unreachable(sandbox: Sandbox) -> None:
    with socket.socket() as s:  # a free port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = precheck(sandbox, f"http://127.0.0.1:{port}")
    assert result.returncode == 0 and "starting the worker anyway" in result.stderr


def test_instances_and_the_lambda_layer_install_the_one_runtime_requirements_file() -> None:
    """worker/requirements.txt is the runtime: the playbook installs the shipped copy of it (from the
    wheelhouse `make wheelhouse` downloads for it), and the layer script installs the same file."""
    defaults = (ROOT / "worker/ansible/roles/orders_worker/defaults/main.yml").read_text()
    assert 'orders_worker_requirements: "{{ orders_worker_app_dir }}/worker/requirements.txt"' in defaults
    assert "worker/requirements.txt" in dict(artifact_files())
    makefile = (ROOT / "Makefile").read_text()
    assert "-r worker/requirements.txt" in makefile.split("\nwheelhouse:", 1)[1].split("\n\n", 1)[0]
    layer = (ROOT / "scripts/build_lambda_layer.sh").read_text()
    assert re.findall(r"-r (\S+)", layer) == ["worker/requirements.txt"]
    pins = [line for line in (ROOT / "worker/requirements.txt").read_text().splitlines() if "==" in line]
    names = [pin.split("==")[0].split("[")[0] for pin in pins]
    assert "pydantic-settings" in names and len(names) == len(set(names)), "each runtime package pinned once"

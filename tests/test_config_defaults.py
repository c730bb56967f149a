"""Every default is written once and agrees wherever it is repeated.

`Pulumi.yaml` holds the defaults of the `orders:*` keys (the CLI applies them); the config model
(components/config.py) repeats none, so it reads exactly those; docs/configuration.md shows each one. Some
keys travel further: `orders:workerDrainSeconds` -> `FleetConfig.drain_seconds` -> the playbook variable
`orders_worker_drain_seconds` (components/worker_fleet.py `playbook_vars`; the role's own default in
worker/ansible/.../defaults/main.yml) -> `ORDERS_DRAIN_SECONDS` (the role's worker.env) -> the worker's
`drain_seconds` (worker/fifo/settings.py, its flag table in docs/fifo-worker.md). Every hop is checked, so
a default changed in one place and not the others fails here, naming both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import StackConfig, cli_string, config_keys
from components.worker_fleet import playbook_vars
from offline.graph import project_defaults
from worker import topology
from worker.fifo.settings import ENV_VARS, WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
ROLE = ROOT / "worker" / "ansible" / "roles" / "orders_worker"
CONFIG_DOC = ROOT / "docs" / "configuration.md"
WORKER_DOC = ROOT / "docs" / "fifo-worker.md"


def declared() -> dict[str, Any]:
    """Pulumi.yaml: key -> its default, as YAML reads it."""
    spec = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    return {key: s["default"] for key, s in spec.items() if "default" in s}


def documented() -> dict[str, str]:
    """docs/configuration.md's table: key -> its default column."""
    rows = re.findall(r"^\| `orders:([A-Za-z0-9]+)` \| [a-z]+ \| (.*?) \|", CONFIG_DOC.read_text(), re.MULTILINE)
    return dict(rows)


def role_defaults() -> dict[str, Any]:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def worker_flag_table() -> dict[str, str]:
    """docs/fifo-worker.md's flag table: environment variable -> its default column."""
    text = WORKER_DOC.read_text()
    return dict(re.findall(r"^\| `--[a-z-]+` / `([A-Z_]+)` \| (.*?) \|", text, re.MULTILINE))


def _doc_value(cell: str) -> str:
    """A default cell as the CLI text of the value: "`90`" -> "90", '`""`' -> "", "`[]`" -> "[]"."""
    m = re.fullmatch(r"`([^`]*)`", cell.strip())
    assert m, f"not one code span: {cell!r}"
    return cli_string(yaml.safe_load(m.group(1)) if m.group(1) else "")


def test_the_model_repeats_no_default() -> None:
    """Pulumi.yaml is the only place a default is written: every field of the model is required."""
    own = sorted(key for key, spec in config_keys().items() if not spec.field.is_required())
    assert own == [], f"components/config.py gives {own} a default of its own; Pulumi.yaml holds the defaults"


def test_every_key_has_a_default_in_pulumi_yaml_and_the_defaults_pass_the_model() -> None:
    assert set(declared()) == set(config_keys()), "a key without a default in Pulumi.yaml"
    cfg = StackConfig.from_settings(project_defaults(), stack="defaults")
    for key, default in declared().items():
        value: Any = cfg
        for attr in config_keys()[key].path:
            value = getattr(value, attr)
        held = list(value) if isinstance(value, tuple) else value
        assert held == default, f"orders:{key}: Pulumi.yaml says {default!r}, the model reads {held!r}"


@pytest.mark.parametrize("key", sorted(config_keys()))
def test_the_docs_table_shows_the_pulumi_yaml_default(key: str) -> None:
    default, cell = declared()[key], documented()[key]
    if key == "instanceTypes":  # shown as "10 `*.large` types (m5, m5a, ...)"
        m = re.fullmatch(r"(\d+) `\*\.large` types \(([a-z0-9, ]+)\)", cell)
        assert m, f"docs/configuration.md: orders:{key}: {cell!r}"
        families = [f.strip() for f in m.group(2).split(",")]
        assert (int(m.group(1)), [f"{f}.large" for f in families]) == (len(default), default), (
            f"docs/configuration.md shows {cell!r} for orders:{key}; Pulumi.yaml says {default}"
        )
        return
    assert _doc_value(cell) == cli_string(default), (
        f"docs/configuration.md shows {cell} for orders:{key}; Pulumi.yaml says {json.dumps(default)}"
    )


# --- the keys that travel to the worker ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """One value's way from the stack (or worker/topology.py) through the role to the worker's settings."""

    key: str
    """The `orders:` key, or "" when the value comes from worker/topology.py (`source`)."""
    playbook_var: str
    env: str
    setting: str
    playbook_arg: str
    """`playbook_vars`' parameter that carries it."""
    source: Any = None


TRAVELS = [
    Hop("workerDrainSeconds", "orders_worker_drain_seconds", "ORDERS_DRAIN_SECONDS", "drain_seconds", "drain_seconds"),
    Hop("", "orders_worker_invoice_prefix", "ORDERS_INVOICE_PREFIX", "invoice_prefix", "invoice_prefix", topology.INVOICE_PREFIX),
]  # fmt: skip


def _stack_value(hop: Hop) -> Any:
    if not hop.key:
        return hop.source
    value: Any = StackConfig.from_settings(project_defaults(), stack="defaults")
    for attr in config_keys()[hop.key].path:
        value = getattr(value, attr)
    return value


@pytest.mark.parametrize("hop", TRAVELS, ids=lambda h: h.key or h.setting)
def test_a_value_that_travels_to_the_worker_keeps_its_default_at_every_hop(hop: Hop) -> None:
    value = _stack_value(hop)
    where = f"orders:{hop.key} (default {value!r})" if hop.key else f"worker/topology.py ({value!r})"
    base = dict(queue_url="q", table="t", bucket="b", region="r", invoice_prefix="p", drain_seconds=0,
                asg_name="a", lifecycle_hook="h", log_group="l", wheelhouse=False)  # fmt: skip
    rendered = playbook_vars(**{**base, hop.playbook_arg: value})
    assert rendered[hop.playbook_var] == value, f"playbook_vars does not pass {where} as {hop.playbook_var}"
    assert role_defaults()[hop.playbook_var] == value, (
        f"worker/ansible/roles/orders_worker/defaults/main.yml: {hop.playbook_var} = "
        f"{role_defaults()[hop.playbook_var]!r}, but {where}"
    )
    env_template = (ROLE / "templates" / "worker.env.j2").read_text()
    assert f'{hop.env}="{{{{ {hop.playbook_var} }}}}"' in env_template, f"worker.env does not set {hop.env}"
    assert ENV_VARS[hop.setting] == hop.env, f"worker/fifo/settings.py reads {hop.setting} from {ENV_VARS[hop.setting]}"
    own = WorkerSettings.model_fields[hop.setting].default
    assert own == value, f"worker/fifo/settings.py: {hop.setting} defaults to {own!r}, but {where}"
    shown = worker_flag_table()[hop.env]
    assert _doc_value(shown) == cli_string(value), f"docs/fifo-worker.md shows {shown} for {hop.env}, but {where}"
    if hop.key:
        row = re.search(rf"^\| `orders:{hop.key}` .*$", CONFIG_DOC.read_text(), re.MULTILINE)
        assert row and hop.env in row[0], f"docs/configuration.md's row for orders:{hop.key} does not name {hop.env}"


@pytest.mark.parametrize(("var", "setting"), [("orders_worker_imds_url", "imds_url")])
def test_a_worker_setting_the_role_passes_with_its_own_default_agrees(var: str, setting: str) -> None:
    own = WorkerSettings.model_fields[setting].default
    assert role_defaults()[var] == own, f"defaults/main.yml: {var} = {role_defaults()[var]!r}, worker: {own!r}"
    assert _doc_value(worker_flag_table()[ENV_VARS[setting]]) == own, f"docs/fifo-worker.md: {ENV_VARS[setting]}"


def test_the_role_leaves_the_receiver_count_to_the_worker() -> None:
    """`orders_worker_receivers: ""` means "the worker's default", which the flag table shows."""
    assert role_defaults()["orders_worker_receivers"] == ""
    own = WorkerSettings.model_fields["receivers"].default
    assert _doc_value(worker_flag_table()["ORDERS_RECEIVERS"]) == str(own), "docs/fifo-worker.md: ORDERS_RECEIVERS"


@pytest.mark.parametrize(
    ("key", "built_by"),
    [
        ("workerWheelhouse", r"^WHEELHOUSE \?= (\S+)$"),
        ("consumerLayerDir", r"^\tPYTHON=\$\(PY\) scripts/build_lambda_layer\.sh (\S+)$"),
    ],
)
def test_the_artifact_directories_are_where_make_builds_them(key: str, built_by: str) -> None:
    m = re.search(built_by, (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert m, f"the Makefile no longer builds orders:{key}'s directory as expected"
    assert m.group(1) == declared()[key], (
        f"the Makefile builds {m.group(1)}; orders:{key} defaults to {declared()[key]}"
    )
    if key == "consumerLayerDir":
        script = (ROOT / "scripts" / "build_lambda_layer.sh").read_text()
        assert f'out="${{1:-{declared()[key]}}}"' in script, "scripts/build_lambda_layer.sh's default directory"

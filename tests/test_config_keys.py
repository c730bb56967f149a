"""Config is declared once: Pulumi.yaml declares every `orders:*` key, the loader reads exactly those keys,
docs/configuration.md documents exactly those, and every stack file sets only declared keys."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from components.config import ConfigError
from offline.graph import run_program

ROOT = Path(__file__).resolve().parent.parent
READERS = {"get", "require", "get_int", "require_int", "get_bool", "require_bool", "get_object", "require_object"}


def declared() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def read_by_loader() -> set[str]:
    """Keys the loader reads: the string literal of every `cfg.<reader>("key")` call in components/config.py."""
    tree = ast.parse((ROOT / "components" / "config.py").read_text())
    keys: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in READERS):
            continue
        if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            keys.add(node.args[0].value)
    for node in ast.walk(tree):  # keys read in a loop: `for k in ("a", "b")` feeding cfg.require_int(k)
        if isinstance(node, ast.comprehension) and isinstance(node.iter, ast.Tuple):
            keys |= {e.value for e in node.iter.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return keys


def documented() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return set(re.findall(r"^\| `orders:([A-Za-z0-9]+)` \|", text, re.MULTILINE))


def test_pulumi_yaml_declares_every_key_with_a_type_and_a_description() -> None:
    for key, spec in declared().items():
        assert {"type", "description"} <= set(spec), f"orders:{key} in Pulumi.yaml lacks a type or a description"


def test_the_loader_reads_exactly_the_declared_keys() -> None:
    assert read_by_loader() == set(declared()), "components/config.py and Pulumi.yaml disagree on the keys"


def test_the_docs_table_lists_exactly_the_declared_keys() -> None:
    missing, extra = set(declared()) - documented(), documented() - set(declared())
    assert not missing and not extra, f"docs/configuration.md: missing {sorted(missing)}, not declared {sorted(extra)}"


@pytest.mark.parametrize("stack_file", sorted(ROOT.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_stack_files_set_only_declared_keys(stack_file: Path) -> None:
    keys = {k.split(":", 1)[1] for k in yaml.safe_load(stack_file.read_text())["config"] if k.startswith("orders:")}
    assert keys <= set(declared()), f"{stack_file.name} sets undeclared keys {sorted(keys - set(declared()))}"


def test_the_fanout_queue_list_is_no_longer_config() -> None:
    """topology.FANOUT_QUEUES owns it: a queue without a consumer in the runtime would fill its DLQ."""
    assert "fanoutQueues" not in declared()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"orders:azCount": "1"}, "orders:azCount"),
        ({"orders:vpcCidr": "10.0.0.0/8"}, "orders:vpcCidr"),
        ({"orders:workerDrainSeconds": "300"}, "orders:workerDrainSeconds"),
        ({"orders:consumerTimeoutSeconds": "901"}, "orders:consumerTimeoutSeconds"),
        ({"orders:warehouseBaseCapacity": "12"}, "orders:warehouseBaseCapacity"),
        ({"orders:apiAccessLogRetentionDays": "2"}, "orders:apiAccessLogRetentionDays"),
    ],
)
def test_a_bad_value_fails_before_any_resource_naming_its_key(override: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(key)):
        run_program(override, stack="test", preview=True)

"""Where the conformance suite runs, and how a known difference of an emulator is recorded.

`ORDERS_CONFORMANCE_ENDPOINT` picks the target:
- unset or empty: MiniStack, started here for this package (`running_emulator(export_env=False)`);
- a URL: the emulator someone runs there (`connected_emulator`), recognised by its own health path;
- `aws`: real AWS with the default credentials and region (opt in, never in CI); every resource a test
  creates is uniquely named and deleted after it.

`@pytest.mark.known_difference("ministack", reason="...")` records that the named target does not behave as
AWS does in that test. Against that target the test becomes `xfail(strict=True)`: it still runs, its
failure is reported with the reason, and if the target starts to pass the run fails until the mark goes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import boto3
import pytest

from simulation.emulator import DEFAULT_REGION, connected_emulator, running_emulator
from tests.conformance.harness import TARGETS, Resources, Target, detect

ENDPOINT_VARIABLE = "ORDERS_CONFORMANCE_ENDPOINT"
_TARGET_NAME = pytest.StashKey[str]()


def configured_endpoint() -> str:
    return os.environ.get(ENDPOINT_VARIABLE, "").strip()


def target_name(config: pytest.Config) -> str:
    """`ministack` (embedded), `aws`, or what answers at the URL; asked once per run."""
    if _TARGET_NAME not in config.stash:
        endpoint = configured_endpoint()
        if not endpoint:
            config.stash[_TARGET_NAME] = "ministack"
        elif endpoint == "aws":
            config.stash[_TARGET_NAME] = "aws"
        else:
            config.stash[_TARGET_NAME] = detect(endpoint)
    return config.stash[_TARGET_NAME]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "known_difference(target, reason): the target (ministack, moto, localstack, aws) differs from AWS here; "
        "the test is xfail(strict=True) against it",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("known_difference")]
    if not marked:
        return
    name = target_name(config)
    for item in marked:
        for mark in item.iter_markers("known_difference"):
            reason = mark.kwargs.get("reason", "")
            if len(mark.args) != 1 or mark.args[0] not in TARGETS or not reason:
                raise pytest.UsageError(
                    f"{item.nodeid}: known_difference takes one target of {TARGETS} and a reason=, got {mark}"
                )
            if mark.args[0] == name:
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"known difference in {name}: {reason}"))


@pytest.fixture(scope="package")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The endpoint under test, for the whole package (MiniStack stops when the package is done)."""
    endpoint = configured_endpoint()
    name = target_name(request.config)
    if endpoint == "aws":
        session = boto3.session.Session()
        if not session.region_name:
            raise pytest.UsageError(f"{ENDPOINT_VARIABLE}=aws needs a region (AWS_REGION or the profile's)")
        account = session.client("sts").get_caller_identity()["Account"]
        yield Target(name, session.region_name, str(account))
    elif endpoint:
        emulator = connected_emulator(endpoint)
        yield Target(name, emulator.region, emulator.account_id, emulator)
    else:
        with running_emulator(DEFAULT_REGION, export_env=False) as emulator:
            yield Target(name, emulator.region, emulator.account_id, emulator)


@pytest.fixture
def resources(target: Target) -> Iterator[Resources]:
    """Uniquely named resources for one test, deleted after it (a failed delete is a warning, not an error)."""
    res = Resources(target)
    yield res
    for failure in res.close():
        warnings.warn(f"conformance cleanup: could not delete {failure}", stacklevel=1)

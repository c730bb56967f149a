"""tools/preview_summary.py on fixtures built to the Pulumi CLI's `preview --json` shapes.

tests/fixtures/preview/cli-json-shape.json holds the JSON field names of the CLI's Go structs, extracted
from github.com/pulumi/pulumi at the commit it names (sdk/go/common/apitype/events.go for the streamed
engine events, pkg/display/json.go for the default PreviewDigest). The first tests hold every fixture to
that shape, so the tool is tested on the real format rather than on a format of its own.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tools import preview_summary
from tools.preview_summary import parse, render

FIXTURES = Path(__file__).parent / "fixtures" / "preview"
SHAPE = json.loads((FIXTURES / "cli-json-shape.json").read_text())
STRUCTS: dict[str, dict[str, bool]] = SHAPE["structs"]
STREAMS = ["empty.jsonl", "advisory.jsonl", "mandatory.jsonl", "drift.jsonl"]
# EngineEvent field -> the struct its value has (sdk/go/common/apitype/events.go).
EVENT_TYPES = {
    "policyEvent": "PolicyEvent",
    "diagnosticEvent": "DiagnosticEvent",
    "summaryEvent": "SummaryEvent",
    "preludeEvent": "PreludeEvent",
    "resourcePreEvent": "ResourcePreEvent",
    "resOutputsEvent": "ResOutputsEvent",
    "stdoutEvent": "StdoutEngineEvent",
}


def conforms(value: dict[str, Any], struct: str) -> None:
    fields = STRUCTS[struct]
    assert set(value) <= set(fields), f"{struct}: keys the CLI never writes: {set(value) - set(fields)}"
    missing = {name for name, always in fields.items() if always} - set(value)
    assert not missing, f"{struct}: keys the CLI always writes are missing: {missing}"


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def run(args: list[str], capsys: pytest.CaptureFixture[str], stdin: str = "") -> tuple[int, str, str]:
    code = preview_summary.main(args, stdin=io.StringIO(stdin))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_shape_file_was_read_from_the_cli_source() -> None:
    assert SHAPE["source"]["repository"] == "github.com/pulumi/pulumi"
    assert len(SHAPE["source"]["commit"]) == 40
    assert SHAPE["enforcementLevels"] == ["advisory", "mandatory", "remediate", "disabled"]
    assert {"policyName", "policyPackName", "enforcementLevel", "resourceUrn", "message"} <= set(STRUCTS["PolicyEvent"])
    assert {"steps", "diagnostics"} <= set(STRUCTS["PreviewDigest"])
    assert "policyEvent" in STRUCTS["EngineEvent"]


@pytest.mark.parametrize("name", STREAMS)
def test_each_stream_fixture_is_one_engine_event_per_line_in_the_cli_shape(name: str) -> None:
    events = lines(name)
    assert [e["sequence"] for e in events] == list(range(len(events)))
    for event in events:
        conforms(event, "EngineEvent")
        payloads = [key for key in event if key.endswith("Event")]
        assert len(payloads) == 1, "an EngineEvent carries exactly one payload"
        key = payloads[0]
        conforms(event[key], EVENT_TYPES[key])
        if key in {"resourcePreEvent", "resOutputsEvent"}:
            conforms(event[key]["metadata"], "StepEventMetadata")
            assert event[key]["metadata"]["op"] in SHAPE["opTypes"]
        if key == "policyEvent":
            assert event[key]["enforcementLevel"] in SHAPE["enforcementLevels"]
    assert "summaryEvent" in events[-1], "the engine ends every deployment with a summary event"


def test_the_digest_fixture_is_a_preview_digest() -> None:
    digest = json.loads((FIXTURES / "digest.json").read_text())
    conforms(digest, "PreviewDigest")
    for step in digest["steps"]:
        conforms(step, "PreviewStep")
        assert step["op"] in SHAPE["opTypes"]
    for diagnostic in digest["diagnostics"]:
        conforms(diagnostic, "PreviewDiagnostic")


def test_an_empty_run_reports_no_violation_and_passes_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(FIXTURES / "empty.jsonl"), "--stack", "dev", "--fail-on-mandatory"], capsys)
    assert code == 0
    assert out.startswith("<!-- preview-summary:dev -->\n### Policy results for stack `dev`")
    assert "**0 mandatory**, 0 advisory (packs: `orders-guardrails` 0.1.0)." in out
    assert "No policy violations." in out and "| Policy |" not in out
    assert "Resources: same 212. Result: succeeded." in out


def test_advisory_only_lists_each_violation_and_passes_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(FIXTURES / "advisory.jsonl"), "--fail-on-mandatory"], capsys)
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(rows) == 2
    assert rows[0].startswith(
        "| `dynamodb-pitr` (orders-guardrails) | advisory | `orders` (`aws:dynamodb/table:Table`) | "
        "DynamoDB tables have point-in-time recovery enabled.<br>Table 'orders'"
    )
    assert "<{%" not in out, "the engine's colour directives are stripped"
    assert "set them in tags \\| defaultTags" in rows[1], "a pipe in a message does not split the cell"
    assert "**0 mandatory**, 2 advisory" in out


def test_a_mandatory_violation_is_listed_first_and_fails_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(FIXTURES / "mandatory.jsonl"), "--stack", "dev", "--fail-on-mandatory"], capsys)
    assert code == 1
    assert "1 mandatory violation(s): sqs-queue-has-dlq" in err
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert rows[0].startswith(
        "| `sqs-queue-has-dlq` (orders-guardrails) | **mandatory** | `analytics` (`aws:sqs/queue:Queue`)"
    )
    assert rows[1].startswith("| `dynamodb-pitr`")
    assert "&lt;DLQ ARN&gt;" in rows[0], "angle brackets in a message are not taken for HTML"
    assert "- error: preview failed" in out and "Result: failed." in out
    # Without the flag the table is still written and the exit is 0 (the preview step itself gates).
    code, _, _ = run([str(FIXTURES / "mandatory.jsonl")], capsys)
    assert code == 0


def test_a_digest_is_refused_as_proof_because_it_drops_policy_events(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(FIXTURES / "digest.json"), "--fail-on-mandatory", "--changes"], capsys)
    assert code == 2
    assert "No policy results in this input" in out and "PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true" in out
    assert "cannot rule out violations" in err
    assert "| update | `analytics` (`aws:sqs/queue:Queue`) |" in out
    code, _, _ = run([str(FIXTURES / "digest.json")], capsys)
    assert code == 0


def test_drift_names_refreshed_and_planned_changes_but_not_unchanged_resources() -> None:
    preview = parse((FIXTURES / "drift.jsonl").read_text())
    assert [(c.op, c.urn.rsplit("::", 1)[-1]) for c in preview.changes] == [
        ("update", "analytics"),
        ("refresh-update", "orders"),
    ]
    out = render(preview, "prod", changes=True, title="Drift")
    assert "### Drift for stack `prod`" in out
    assert "| refresh-update | `orders` (`aws:dynamodb/table:Table`) |" in out
    assert "network" not in out, "a refreshed resource that came back unchanged is not drift"


def test_a_stream_cut_before_its_summary_cannot_pass_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(line + "\n" for line in (FIXTURES / "advisory.jsonl").read_text().splitlines()[:-1]))
    code, out, err = run([str(cut), "--fail-on-mandatory"], capsys)
    assert code == 2 and "Incomplete" in out and "summaryEvent" in err


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("pulumi: command not found\n", "line 1 is not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"sequence": 0, "timestamp": 1}\n{"other": 1}\n', "carries no *Event field"),
        ('{"steps": [], "resources": []}', "not a PreviewDigest"),
    ],
)
def test_input_that_is_not_the_cli_json_is_an_error(text: str, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["-", "--fail-on-mandatory"], capsys, stdin=text)
    assert code == 2 and out == "" and reason in err


def test_output_is_appended_as_the_step_summary_file_expects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    for _ in range(2):
        code, out, _ = run([str(FIXTURES / "advisory.jsonl"), "--output", str(summary)], capsys)
        assert code == 0 and out == ""
    text = summary.read_text()
    assert text.startswith("earlier step\n") and text.count("### Policy results") == 2


def test_stdin_reads_the_same_as_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    stream = (FIXTURES / "mandatory.jsonl").read_text()
    assert run(["-"], capsys, stdin=stream)[1] == run([str(FIXTURES / "mandatory.jsonl")], capsys)[1]

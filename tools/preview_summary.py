"""Turn `pulumi preview --json` output into a Markdown table of policy results (policy, level, resource, message).

pulumi/actions does not put policy violations in its PR comment, so the preview workflow runs this on the
CLI's JSON and appends the table to $GITHUB_STEP_SUMMARY and to a PR comment of its own.

The input format is the Pulumi CLI's, read from its source (github.com/pulumi/pulumi):

* `pulumi preview --json` by default prints one *PreviewDigest* document (`pkg/display/json.go`, type
  `PreviewDigest`: `config`, `steps` [{`op`, `urn`, `provider`, `oldState`, `newState`, `diffReasons`,
  `replaceReasons`, `detailedDiff`}], `diagnostics` [{`urn`, `prefix`, `message`, `severity`}],
  `duration`, `changeSummary`, `maybeCorrupt`), built by `ShowPreviewDigest` in
  `pkg/backend/display/json.go`. That function *drops every policy event* ("At this point in time, we
  don't handle policy events in JSON serialization"), so a digest cannot say whether the pack passed.
* With `PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true` (`sdk/go/common/env/env.go`), `pulumi preview --json`
  streams the engine events instead, one JSON object per line (`ShowJSONEvents` in
  `pkg/backend/display/json.go`, `encoder.Encode(apiEvent)`), each an `apitype.EngineEvent`
  (`sdk/go/common/apitype/events.go`): `sequence`, `timestamp` and exactly one of `policyEvent`
  {`resourceUrn`, `message`, `color`, `policyName`, `policyPackName`, `policyPackVersion`,
  `policyPackVersionTag`, `enforcementLevel`, `severity`}, `diagnosticEvent` {`urn`, `prefix`, `message`,
  `color`, `severity`, `ephemeral`}, `resourcePreEvent` / `resOutputsEvent` {`metadata`: {`op`, `urn`,
  `type`, ...}}, `summaryEvent` {`resourceChanges`, `PolicyPacks`, `isPreview`, `result`, ...}, and others.
  The enforcement levels are `apitype.EnforcementLevel` (`sdk/go/common/apitype/policy.go`: "advisory",
  "mandatory", "remediate", "disabled"). Messages may hold colour directives `<{%...%}>`
  (`sdk/go/common/diag/colors/colors.go`) unless the CLI ran with `--color never`; they are stripped here.

So the workflow sets PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true. Given a digest, this tool still renders its
diagnostics and changes but says that policy results are missing, and `--fail-on-mandatory` then exits 2
(it cannot prove the absence of a mandatory violation).

Usage: python -m tools.preview_summary EVENTS.json [--stack dev] [--title T] [--changes] [--fail-on-mandatory]
       [--output FILE]   (EVENTS.json may be `-` for stdin; Markdown goes to stdout, or appended to FILE)
Exit: 0; 1 with --fail-on-mandatory and a mandatory violation; 2 with --fail-on-mandatory and nothing
complete to judge by (a digest, or a stream cut before its `summaryEvent`, which the engine emits at the end
of every deployment, failed or not: `pkg/engine/deployment.go`), or on input that is not the CLI's JSON.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

COLOR_DIRECTIVE = re.compile(r"<\{%[^%]*%\}>")
LEVEL_ORDER = {"mandatory": 0, "remediate": 1, "advisory": 2, "disabled": 3}
# apitype.OpType values (sdk/go/common/apitype/history.go) that change nothing in the cloud.
NO_CHANGE_OPS = {"same", "read", "refresh", "discard"}
MARKER = "<!-- preview-summary:{stack} -->"


class InputError(ValueError):
    """The input is not the CLI's preview JSON (neither a digest nor a stream of engine events)."""


@dataclass(frozen=True)
class Violation:
    policy: str
    pack: str
    level: str
    urn: str
    message: str


@dataclass(frozen=True)
class Change:
    op: str
    urn: str


@dataclass
class Preview:
    streamed: bool
    violations: list[Violation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    resource_changes: dict[str, int] = field(default_factory=dict)
    packs: dict[str, str] = field(default_factory=dict)
    result: str = ""
    complete: bool = True  # a stream ends with a summaryEvent, emitted even when the preview fails

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]


def clean(text: str) -> str:
    return COLOR_DIRECTIVE.sub("", text).strip()


def _documents(text: str) -> list[dict[str, Any]]:
    """One digest object, or one engine event per line."""
    stripped = text.strip()
    if not stripped:
        raise InputError("empty: the preview printed no JSON (it failed before the engine started?)")
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [whole]
    if whole is not None:
        raise InputError("expected a JSON object or one JSON object per line")
    documents = []
    for number, line in enumerate(stripped.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {number} is not JSON: {exc.msg}") from exc
        if not isinstance(value, dict):
            raise InputError(f"line {number} is not a JSON object")
        documents.append(value)
    return documents


def _is_event(document: dict[str, Any]) -> bool:
    return "sequence" in document or any(key.endswith("Event") for key in document)


def parse(text: str) -> Preview:
    documents = _documents(text)
    if len(documents) == 1 and not _is_event(documents[0]):
        return _parse_digest(documents[0])
    if not all(_is_event(d) for d in documents):
        raise InputError("a stream of engine events was expected: a line carries no *Event field")
    return _parse_events(documents)


def _parse_digest(digest: dict[str, Any]) -> Preview:
    known = {"config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt"}
    if not set(digest) <= known:
        raise InputError(f"not a PreviewDigest: unexpected keys {sorted(set(digest) - known)}")
    preview = Preview(streamed=False)
    for diagnostic in digest.get("diagnostics") or []:
        if diagnostic.get("severity") == "error":
            preview.errors.append(clean(str(diagnostic.get("prefix", "")) + str(diagnostic.get("message", ""))))
    for step in digest.get("steps") or []:
        if step.get("op") not in NO_CHANGE_OPS:
            preview.changes.append(Change(str(step.get("op")), str(step.get("urn"))))
    preview.resource_changes = {str(k): int(v) for k, v in (digest.get("changeSummary") or {}).items()}
    return preview


def _parse_events(events: Iterable[dict[str, Any]]) -> Preview:
    preview = Preview(streamed=True, complete=False)
    pre_ops: dict[str, str] = {}
    drifted: dict[str, str] = {}
    for event in events:
        if (policy := event.get("policyEvent")) is not None:
            preview.violations.append(
                Violation(
                    policy=str(policy.get("policyName", "")),
                    pack=str(policy.get("policyPackName", "")),
                    level=str(policy.get("enforcementLevel", "")),
                    urn=str(policy.get("resourceUrn", "")),
                    message=clean(str(policy.get("message", ""))),
                )
            )
        elif (diagnostic := event.get("diagnosticEvent")) is not None:
            if diagnostic.get("severity") == "error" and not diagnostic.get("ephemeral"):
                preview.errors.append(clean(str(diagnostic.get("prefix", "")) + str(diagnostic.get("message", ""))))
        elif (pre := event.get("resourcePreEvent")) is not None:
            metadata = pre.get("metadata") or {}
            urn, op = str(metadata.get("urn", "")), str(metadata.get("op", ""))
            pre_ops[urn] = op
            if op not in NO_CHANGE_OPS:
                preview.changes.append(Change(op, urn))
        elif (outputs := event.get("resOutputsEvent")) is not None:
            # With --refresh, a refreshed resource that drifted comes back as an update or a delete
            # (the same rule ShowPreviewDigest applies).
            metadata = outputs.get("metadata") or {}
            urn, op = str(metadata.get("urn", "")), str(metadata.get("op", ""))
            if pre_ops.get(urn) == "refresh" and op in {"update", "delete"}:
                drifted[urn] = f"refresh-{op}"
        elif (summary := event.get("summaryEvent")) is not None:
            preview.resource_changes = {str(k): int(v) for k, v in (summary.get("resourceChanges") or {}).items()}
            preview.packs = {str(k): str(v) for k, v in (summary.get("PolicyPacks") or {}).items()}
            preview.result = str(summary.get("result", ""))
            preview.complete = True
    seen = {c.urn for c in preview.changes}
    preview.changes += [Change(op, urn) for urn, op in drifted.items() if urn not in seen]
    return preview


def resource_label(urn: str) -> str:
    """`name` (`type`) from urn:pulumi:<stack>::<project>::<parent types$>type::<name>."""
    if not urn:
        return "(stack)"
    parts = urn.split("::")
    if len(parts) < 4 or not urn.startswith("urn:pulumi:"):
        return code(urn)
    type_ = parts[2].rsplit("$", 1)[-1]
    name = "::".join(parts[3:])
    return f"{code(name)} ({code(type_)})"


def code(text: str) -> str:
    """A code span in a table cell (entities are not decoded inside code spans, so no HTML escaping)."""
    return "`" + " ".join(text.split()).replace("`", "'").replace("|", "\\|") + "`"


def cell(text: str) -> str:
    """Safe inside one Markdown table cell: HTML and pipes escaped, newlines as <br>."""
    escaped = html.escape(text, quote=False).replace("|", "\\|")
    lines = [line.strip() for line in escaped.replace("\r", "").split("\n")]
    return "<br>".join(line for line in lines if line)


def render(preview: Preview, stack: str = "", *, changes: bool = False, title: str = "Policy results") -> str:
    title = f"{title} for stack `{stack}`" if stack else title
    out = [MARKER.format(stack=stack or "default"), f"### {title}", ""]
    if not preview.streamed:
        out += [
            "> **No policy results in this input.** `pulumi preview --json` printed a PreviewDigest, which "
            "leaves out policy events; run it with `PULUMI_ENABLE_STREAMING_JSON_PREVIEW=true`.",
            "",
        ]
    else:
        counts = {level: sum(v.level == level for v in preview.violations) for level in LEVEL_ORDER}
        # A local pack is keyed "<name>|local|<path>" (LocalPolicyPack.NameForEvents, pkg/engine/update.go).
        packs = ", ".join(f"`{name.split('|')[0]}` {version}" for name, version in sorted(preview.packs.items()))
        summary = f"**{counts['mandatory']} mandatory**, {counts['advisory']} advisory"
        if counts["remediate"]:
            summary += f", {counts['remediate']} remediated"
        out += [summary + (f" (packs: {packs})" if packs else "") + ".", ""]
        if preview.violations:
            out += ["| Policy | Level | Resource | Message |", "| --- | --- | --- | --- |"]
            ordered = sorted(
                preview.violations, key=lambda v: (LEVEL_ORDER.get(v.level, 9), v.policy, v.urn, v.message)
            )
            for v in ordered:
                level = f"**{v.level}**" if v.level == "mandatory" else v.level
                policy = code(v.policy) + (f" ({cell(v.pack)})" if v.pack else "")
                out.append(f"| {policy} | {level} | {resource_label(v.urn)} | {cell(v.message)} |")
            out.append("")
        else:
            out += ["No policy violations.", ""]
    if not preview.complete:
        out += ["> **Incomplete:** the event stream has no summaryEvent, so the preview did not finish.", ""]
    if preview.errors:
        out += ["**Errors:**", ""] + [f"- {cell(e)}" for e in preview.errors] + [""]
    if changes:
        if preview.changes:
            out += ["| Change | Resource |", "| --- | --- |"]
            out += [f"| {cell(c.op)} | {resource_label(c.urn)} |" for c in preview.changes]
            out.append("")
        else:
            out += ["No resource changes.", ""]
    if preview.resource_changes:
        tally = ", ".join(f"{op} {n}" for op, n in sorted(preview.resource_changes.items()))
        out += [f"Resources: {tally}." + (f" Result: {preview.result}." if preview.result else ""), ""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preview_summary", description=__doc__.split("\n")[0])
    parser.add_argument("input", help="output of `pulumi preview --json` (streamed events or digest), or -")
    parser.add_argument("--stack", default="", help="stack name for the heading and the comment marker")
    parser.add_argument("--title", default="Policy results", help="heading (the stack name is appended)")
    parser.add_argument("--changes", action="store_true", help="also list the resources that would change")
    parser.add_argument("--output", type=Path, help="append the Markdown to this file instead of stdout")
    parser.add_argument("--fail-on-mandatory", action="store_true", help="exit 1 on a mandatory violation")
    args = parser.parse_args(argv)
    text = (stdin or sys.stdin).read() if args.input == "-" else Path(args.input).read_text()
    try:
        preview = parse(text)
    except InputError as exc:
        print(f"preview_summary: {args.input}: {exc}", file=sys.stderr)
        return 2
    markdown = render(preview, args.stack, changes=args.changes, title=args.title)
    if args.output is not None:
        with args.output.open("a") as handle:
            handle.write(markdown + "\n")
    else:
        sys.stdout.write(markdown + "\n")
    if args.fail_on_mandatory:
        if not preview.streamed:
            print("preview_summary: no policy events in a PreviewDigest; cannot rule out violations", file=sys.stderr)
            return 2
        if not preview.complete:
            print("preview_summary: the event stream ends before its summaryEvent", file=sys.stderr)
            return 2
        if preview.mandatory:
            names = ", ".join(sorted({v.policy for v in preview.mandatory}))
            print(f"preview_summary: {len(preview.mandatory)} mandatory violation(s): {names}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other viewers.

* URIs are relative to the repository root (`somaxlint.discover.repository_root`:
  the git top level above the first path argument, else the configuration
  file's directory, else the current directory) with `uriBaseId`
  `%SRCROOT%`, never `<stdin>`; a file outside the root is an absolute
  `file://` URI without a base.  Every other URI is a relative reference,
  whatever the path holds (`javascript:alert(1)` is `javascript%3Aalert(1)`:
  ``somaxlint.report.uri_reference``).
* Message text has control characters made visible and `[`/`]` escaped,
  so file content can neither forge a link nor reorder the text.
* Every rule is described in `tool.driver.rules` from its own docstring;
  its `helpUri` is its section of docs/rules.md in the repository named by
  `[project.urls] Repository`.
* The other facts of a finding are `relatedLocations`, linked from the
  message text as `[label](id)`, the way GitHub renders them.
* `partialFingerprints` carry somaxlint's fingerprint, which does not
  depend on line numbers.
* `invocations` and `artifacts` record every input and what became of it.
* `automationDetails` only with `--sarif-category NAME` (id `NAME/`):
  GitHub's upload-sarif action sets it from its `category` input only when
  the file has none.
* `originalUriBaseIds` describes `%SRCROOT%` (the repository root) without
  its absolute path, so the file is the same wherever the repository is
  checked out.  Regions give their start and end line; without an end
  column a region runs to the end of its line (SARIF 2.1.0, 3.30.1).
* `primaryLocationLineHash` is left to GitHub's upload-sarif, which fills
  it from the checked-out file (every location is a file of the checkout,
  rendered ones included); `somaxlint/v1` never depends on lines.
* GitHub code scanning's limits are kept (``LIMITS``, from
  https://docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit
  and https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning):
  a file code scanning would reject is never written.  What is cut, the
  least severe first, is said on standard error.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, TextIO

from somaxlint import __version__
from somaxlint.findings import Finding, Location
from somaxlint.report import escape_control, uri_reference, write_json
from somaxlint.rulebook import SECTIONS, all_rules, repository_url

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"

# GitHub code scanning's limits on an uploaded file.
#   results-exceed-limit: results per run 25,000 (hard), locations per
#   result 1,000 (hard), tags per rule 20, runs per file 20;
#   sarif-support-for-code-scanning: a rule's shortDescription and
#   fullDescription at most 1,024 characters;
#   uploading a SARIF file: at most 10 MB gzip-compressed.
MAX_RESULTS = 25_000
MAX_LOCATIONS = 1_000  # the primary one and its related ones
MAX_DESCRIPTION = 1_024
MAX_TAGS = 20
MAX_GZIPPED_BYTES = 10 * 1000 * 1000
SRCROOT = "%SRCROOT%"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


class _Uris:
    """Display paths (relative to the root the run used) as artifact
    locations."""

    def location(self, path: str, helm_source: Optional[str] = None) -> dict:
        if path == "<stdin>":  # standard input without a --stdin-filename
            return {"uri": _encode(helm_source or "stdin"), "uriBaseId": SRCROOT}
        if os.path.isabs(path):  # outside the repository root
            path = path.replace(os.sep, "/")
            drive = path[:2] if path[1:2] == ":" and path[:1].isalpha() else ""  # Windows: file:///C:/...
            return {"uri": "file:///" + drive + _encode(path[len(drive):])}
        return {"uri": _encode(path), "uriBaseId": SRCROOT}


_encode = uri_reference


def _escape_message(text: str) -> str:
    """SARIF message strings treat `[text](id)` as links: escape brackets in
    text taken from the input so it can never forge one; control characters
    are made visible first, as in every format."""
    return escape_control(text).replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _region(loc: Location) -> dict:
    # no endColumn: the region runs to the end of its line
    return {"startLine": loc.line, "startColumn": loc.column, "endLine": loc.line}


def _cut(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """At most ``limit`` characters, cut at a word, an ellipsis after."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head[limit // 2:]:
        head = head[: head.rindex(" ")]
    return head.rstrip() + "\u2026"


def _rule_descriptors() -> List[dict]:
    out = []
    for rule in all_rules():
        sections = {title: rule.section(title) for title in SECTIONS}
        first = rule.doc.split("\n## ", 1)[0].strip()
        markdown = "\n\n".join([first] + [f"## {t}\n\n{body}" for t, body in sections.items() if body])
        text = "\n\n".join([first] + [f"{t}: {body}" for t, body in sections.items() if body])
        out.append(
            {
                "id": rule.code,
                "name": _pascal(rule.name),
                "shortDescription": {"text": _cut(rule.summary)},
                # the whole text is in `help`
                "fullDescription": {"text": _cut(sections["What it does"] or rule.summary)},
                "help": {"text": text, "markdown": markdown},
                "helpUri": rule.help_uri,
                "defaultConfiguration": {"level": _LEVEL[rule.severity]},
                "properties": {"tags": ["kubernetes", "nginx", "reliability"][:MAX_TAGS], "kebabName": rule.name},
            }
        )
    return out


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _result(f: Finding, rule_index: Dict[str, int], uris: _Uris, artifact_index: Dict[str, int]) -> dict:
    message = _escape_message(f.message)
    related = []
    links = []
    shown = f.related[: MAX_LOCATIONS - 1]
    for number, r in enumerate(shown, start=1):
        location = {
            "id": number,
            "physicalLocation": {"artifactLocation": uris.location(r.location.path), "region": _region(r.location)},
            "message": {"text": _escape_message(r.label)},
        }
        related.append(location)
        links.append(f"[{_escape_message(r.label)}]({number})")
    if links:
        message += ("" if message.endswith(".") else ".") + " Related: " + "; ".join(links) + "."
    if len(f.related) > len(shown):
        message += f" ({len(f.related) - len(shown)} more related locations not listed: code scanning takes {MAX_LOCATIONS} locations a result.)"
    if f.location.approximate and "not literal in the source" not in f.message:
        message += " (The position is the start of the YAML value holding the config.)"
    if f.location.path == "<stdin>" and f.helm_source:
        message += f" (Line {f.location.line} is a line of the rendered output of this template.)"
    artifact = uris.location(f.location.path, f.helm_source)
    if artifact["uri"] in artifact_index:
        artifact["index"] = artifact_index[artifact["uri"]]
    result = {
        "ruleId": f.rule,
        "ruleIndex": rule_index[f.rule],
        "level": _LEVEL.get(f.severity, "warning"),
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": _region(f.location)}}],
        "partialFingerprints": {"somaxlint/v1": f.fingerprint},
    }
    if related:
        result["relatedLocations"] = related
    properties = {}
    if f.assumptions:
        properties["assumptions"] = [escape_control(a) for a in f.assumptions]
    if f.helm_source:
        properties["helmSource"] = f.helm_source
    if properties:
        result["properties"] = properties
    return result


_RANK = {"error": 0, "warning": 1, "info": 2}


def kept_findings(findings: List[Finding], limit: int) -> List[Finding]:
    """At most ``limit`` findings, the most severe first kept, in their
    order otherwise."""
    if len(findings) <= limit:
        return list(findings)
    order = sorted(range(len(findings)), key=lambda i: (_RANK.get(findings[i].severity, 1), i))
    keep = set(order[:limit])
    return [f for i, f in enumerate(findings) if i in keep]


def build(result, settings, category: Optional[str] = None, findings: Optional[List[Finding]] = None, every_artifact: bool = True) -> dict:
    """The SARIF document; ``findings``: those to include (default all);
    without ``every_artifact``, only the artifacts results name are
    listed (the first thing left out of a file too large to upload)."""
    uris = _Uris()
    findings = result.findings if findings is None else findings
    rules = _rule_descriptors()
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}

    artifacts = []
    artifact_index: Dict[str, int] = {}
    statuses = {s.display: f"skipped: {s.reason}" for s in result.summary.skipped}
    broken = {f.location.path for f in result.findings if f.rule == "SMX000"}
    named = None if every_artifact else {f.location.path for f in findings}
    for display in result.inputs:
        if named is not None and display not in named:
            continue
        location = uris.location(display)
        if location["uri"] in artifact_index:
            continue
        status = statuses.get(display) or ("unparsable" if display in broken else "linted")
        artifact_index[location["uri"]] = len(artifacts)
        artifacts.append({"location": location, "properties": {"somaxlintStatus": status}})
    for skipped in result.summary.skipped if named is None else ():
        location = uris.location(skipped.display)
        if location["uri"] not in artifact_index:
            artifact_index[location["uri"]] = len(artifacts)
            artifacts.append({"location": location, "properties": {"somaxlintStatus": f"skipped: {skipped.reason}"}})

    summary = result.summary
    run = {
        "tool": {
            "driver": {
                "name": "somaxlint",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": repository_url(),
                "rules": rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "artifacts": artifacts,
        "invocations": [
            {
                "executionSuccessful": True,
                "properties": {
                    "files": summary.files,
                    "skipped": summary.skipped_not_kubernetes + summary.skipped_other,
                    "skippedNotKubernetes": summary.skipped_not_kubernetes,
                    "unparsable": summary.unparsable,
                    "suppressed": result.suppressed,
                },
            }
        ],
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "The repository root (somaxlint's paths are relative to it)"}}},
        "results": [_result(f, rule_index, uris, artifact_index) for f in findings],
    }
    if category:
        # Only when asked: GitHub's upload-sarif fills automationDetails from
        # its `category` input only when the file has none.
        run["automationDetails"] = {"id": category if category.endswith("/") else category + "/"}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def write(result, settings, out: TextIO, category: Optional[str] = None) -> List[str]:
    """Write the report; returns what was cut to keep within code
    scanning's limits (lines for standard error), usually nothing."""
    import io

    notes = []
    findings = kept_findings(result.findings, MAX_RESULTS)
    if len(findings) < len(result.findings):
        notes.append(
            f"SARIF: {len(result.findings) - len(findings)} of {len(result.findings)} findings left out, the least severe: "
            f"code scanning rejects a run of more than {MAX_RESULTS} results"
        )
    every_artifact = True
    while True:
        text = io.StringIO()
        write_json(build(result, settings, category=category, findings=findings, every_artifact=every_artifact), text)
        data = text.getvalue()
        size = _gzipped_size(data)
        if size <= MAX_GZIPPED_BYTES or not findings:
            break
        if every_artifact:
            every_artifact = False  # first: the inputs no result names
            notes.append(f"SARIF: the artifacts list only the files results name: code scanning rejects a file of more than {MAX_GZIPPED_BYTES // 1000000} MB gzip-compressed")
            continue
        # fewer results, in proportion (and at least one fewer)
        keep = min(len(findings) - 1, int(len(findings) * MAX_GZIPPED_BYTES / size * 0.95))
        cut = len(findings) - keep
        findings = kept_findings(findings, keep)
        notes.append(f"SARIF: {cut} more findings left out, the least severe: code scanning rejects a file of more than {MAX_GZIPPED_BYTES // 1000000} MB gzip-compressed")
    out.write(data)
    for f in findings:
        if len(f.related) > MAX_LOCATIONS - 1:
            notes.append(f"SARIF: a finding at {f.location.path}:{f.location.line} lists {MAX_LOCATIONS - 1} of its {len(f.related)} related locations (code scanning takes {MAX_LOCATIONS} a result)")
            break
    return notes


def _gzipped_size(text: str) -> int:
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # the gzip format
    return len(compressor.compress(text.encode("utf-8")) + compressor.flush())

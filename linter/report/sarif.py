"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other viewers.

* URIs are relative to the repository root (the nearest directory above
  the current one holding `.git`, else the current directory) with
  `uriBaseId` `%SRCROOT%`; never absolute, never `<stdin>`.
* Every rule is described in `tool.driver.rules` from its own docstring.
* The other facts of a finding are `relatedLocations`, linked from the
  message text as `[label](id)`, the way GitHub renders them.
* `partialFingerprints` carry somaxlint's fingerprint, which does not
  depend on line numbers.
* `invocations` and `artifacts` record every input and what became of it.
* `automationDetails` only with `--sarif-category NAME` (id `NAME/`):
  GitHub's upload-sarif action sets it from its `category` input only when
  the file has none.
"""

from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Optional, TextIO

from linter import __version__
from linter.findings import Finding, Location
from linter.rulebook import SECTIONS, all_rules

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/somaxlint/"
SRCROOT = "%SRCROOT%"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def repository_root(cwd: str) -> str:
    directory = os.path.abspath(cwd)
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return os.path.abspath(cwd)
        directory = parent


class _Uris:
    def __init__(self, cwd: str, stdin_name: Optional[str]):
        self.root = repository_root(cwd)
        self.cwd = os.path.abspath(cwd)
        self.stdin_name = stdin_name

    def uri(self, path: str, helm_source: Optional[str] = None) -> str:
        if path == "<stdin>":
            if self.stdin_name:  # a path like any other (the CLI shows it so in every format)
                return self.uri(self.stdin_name)
            return _encode(helm_source or "stdin")
        absolute = path if os.path.isabs(path) else os.path.join(self.cwd, path)
        rel = os.path.relpath(absolute, self.root).replace(os.sep, "/")
        return _encode(rel)


def _encode(path: str) -> str:
    # A URI reference: escape what is not allowed unescaped.
    return re.sub(r"[^A-Za-z0-9._~/!$&'()*+,;=:@-]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), path)


def _escape_message(text: str) -> str:
    """SARIF message strings treat `[text](id)` as links: escape brackets in
    text taken from the input so it can never forge one."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _region(loc: Location) -> dict:
    return {"startLine": loc.line, "startColumn": loc.column}


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
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": sections["What it does"] or rule.summary},
                "help": {"text": text, "markdown": markdown},
                "helpUri": rule.help_uri,
                "defaultConfiguration": {"level": _LEVEL[rule.severity]},
                "properties": {"tags": ["kubernetes", "nginx", "reliability"], "kebabName": rule.name},
            }
        )
    return out


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _result(f: Finding, rule_index: Dict[str, int], uris: _Uris, artifact_index: Dict[str, int]) -> dict:
    message = _escape_message(f.message)
    related = []
    links = []
    for number, r in enumerate(f.related, start=1):
        uri = uris.uri(r.location.path)
        location = {
            "id": number,
            "physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}, "region": _region(r.location)},
            "message": {"text": _escape_message(r.label)},
        }
        related.append(location)
        links.append(f"[{_escape_message(r.label)}]({number})")
    if links:
        message += ("" if message.endswith(".") else ".") + " Related: " + "; ".join(links) + "."
    if f.location.approximate and "not literal in the source" not in f.message:
        message += " (The position is the start of the YAML value holding the config.)"
    if f.location.path == "<stdin>" and not uris.stdin_name and f.helm_source:
        message += f" (Line {f.location.line} is a line of the rendered output of this template.)"
    uri = uris.uri(f.location.path, f.helm_source)
    artifact = {"uri": uri, "uriBaseId": SRCROOT}
    if uri in artifact_index:
        artifact["index"] = artifact_index[uri]
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
        properties["assumptions"] = list(f.assumptions)
    if f.helm_source:
        properties["helmSource"] = f.helm_source
    if properties:
        result["properties"] = properties
    return result


def build(result, settings, cwd: Optional[str] = None, category: Optional[str] = None) -> dict:
    uris = _Uris(cwd or os.getcwd(), settings.stdin_filename)
    rules = _rule_descriptors()
    rule_index = {rule["id"]: i for i, rule in enumerate(rules)}

    artifacts = []
    artifact_index: Dict[str, int] = {}
    statuses = {s.display: f"skipped: {s.reason}" for s in result.summary.skipped}
    broken = {f.location.path for f in result.findings if f.rule == "SMX000"}
    for loaded in result.files:
        display = loaded.input.display
        uri = uris.uri(display)
        if uri in artifact_index:
            continue
        status = statuses.get(display) or ("unparsable" if display in broken else "linted")
        artifact_index[uri] = len(artifacts)
        artifacts.append({"location": {"uri": uri, "uriBaseId": SRCROOT}, "properties": {"somaxlintStatus": status}})
    for skipped in result.summary.skipped:
        uri = uris.uri(skipped.display)
        if uri not in artifact_index:
            artifact_index[uri] = len(artifacts)
            artifacts.append({"location": {"uri": uri, "uriBaseId": SRCROOT}, "properties": {"somaxlintStatus": f"skipped: {skipped.reason}"}})

    summary = result.summary
    run = {
        "tool": {
            "driver": {
                "name": "somaxlint",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
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
        "results": [_result(f, rule_index, uris, artifact_index) for f in result.findings],
    }
    if category:
        # Only when asked: GitHub's upload-sarif fills automationDetails from
        # its `category` input only when the file has none.
        run["automationDetails"] = {"id": category if category.endswith("/") else category + "/"}
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def write(result, settings, out: TextIO, category: Optional[str] = None) -> None:
    json.dump(build(result, settings, category=category), out, indent=2, ensure_ascii=True)
    out.write("\n")

"""Loading the rule catalogue and its self-documentation."""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Tuple

from somaxlint.records import record
from somaxlint.rules import RULE_MODULES

SECTIONS = ("What it does", "Why it matters", "Example", "How to fix")
# pyproject.toml's [project.urls] Repository, for when the distribution's
# metadata cannot be read (running from a checkout that is not installed);
# a test keeps the two equal.
REPOSITORY_URL = "https://github.com/somaxlint/somaxlint"
# docs/rules.md: generated from the rules' docstrings by
# `python tools/generate_docs.py` (a test fails when it drifts).
DOCS_PATH = "docs/rules.md"


@record(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    summary: str
    docstring: str  # the module's, as written
    check: Callable

    @property
    def doc(self) -> str:
        """The rule's documentation, dedented.  Cleaned when a report or
        the docs ask for it: ``inspect``'s import is not a run's cost."""
        import inspect

        return inspect.cleandoc(self.docstring)

    def section(self, title: str) -> str:
        return parse_sections(self.doc).get(title, "")

    @property
    def anchor(self) -> str:
        """The GitHub anchor of the rule's heading in docs/rules.md
        (`## SMX001 listen-backlog-truncated`): `smx001-listen-backlog-truncated`."""
        return f"{self.code.lower()}-{self.name}"

    @property
    def help_uri(self) -> str:
        return f"{repository_url()}/blob/main/{DOCS_PATH}#{self.anchor}"


@lru_cache(maxsize=1)
def repository_url() -> str:
    """`[project.urls] Repository` of the installed distribution, else
    ``REPOSITORY_URL``.  Read only when a report links to the documentation
    (SARIF), never on a plain run."""
    try:
        from importlib import metadata

        for entry in metadata.metadata("somaxlint").get_all("Project-URL") or ():
            label, _, url = entry.partition(",")
            if label.strip().lower() == "repository" and url.strip():
                return url.strip().rstrip("/")
    except Exception:  # not installed, or metadata without the field
        pass
    return REPOSITORY_URL


def parse_sections(doc: str) -> Dict[str, str]:
    """``## Title`` headed sections of a rule docstring."""
    out: Dict[str, str] = {}
    current = None
    lines: List[str] = []
    import inspect

    for line in inspect.cleandoc(doc or "").splitlines():
        match = re.match(r"^##\s+(.*\S)\s*$", line)
        if match:
            if current:
                out[current] = "\n".join(lines).strip()
            current, lines = match.group(1), []
        elif current:
            lines.append(line)
    if current:
        out[current] = "\n".join(lines).strip()
    return out


@lru_cache(maxsize=1)
def all_rules() -> Tuple[Rule, ...]:
    rules = []
    for module_name in RULE_MODULES:
        module = importlib.import_module(f"somaxlint.rules.{module_name}")
        rules.append(
            Rule(
                code=module.CODE,
                name=module.NAME,
                severity=module.SEVERITY,
                summary=module.SUMMARY,
                docstring=module.__doc__ or "",
                check=module.check,
            )
        )
    return tuple(rules)


def find_rule(ident: str) -> Rule:
    for rule in all_rules():
        if ident.upper() == rule.code or ident.lower() == rule.name:
            return rule
    raise KeyError(ident)


def is_known(ident: str) -> bool:
    """A rule code (any case) or name, as --select, --ignore, the
    configuration's `rules:` and suppressions accept them."""
    return any(ident.upper() == rule.code or ident.lower() == rule.name for rule in all_rules())


def closest_rule(ident: str) -> Optional[str]:
    """The known code or name nearest to ``ident`` (difflib), or None when
    nothing is near enough to be a plausible typo."""
    import difflib

    rules = all_rules()
    upper = ident.upper()
    if upper.startswith("SMX"):
        digits = upper[3:]
        if digits.isdigit() and len(digits.lstrip("0")) <= 3:  # SMX1 or SMX0001: the same number
            padded = f"SMX{int(digits):03d}"
            if any(rule.code == padded for rule in rules):
                return padded
        query, candidates = upper, [rule.code for rule in rules]  # a code suggests a code
    else:
        query, candidates = ident.lower(), [rule.name for rule in rules] + [rule.code for rule in rules]
    matches = difflib.get_close_matches(query, candidates, n=len(candidates))
    if not matches:
        return None
    # Equally near candidates: the first in catalogue order, not the
    # alphabetically last that get_close_matches would put first.
    best = difflib.SequenceMatcher(None, query, matches[0]).ratio()
    tied = {m for m in matches if difflib.SequenceMatcher(None, query, m).ratio() == best}
    return next(c for c in candidates if c in tied)


def unknown_rule(ident: str) -> str:
    """`unknown rule 'SMX999' (did you mean SMX009?)`: the one-line
    explanation every place that names rules gives for a typo."""
    near = closest_rule(ident)
    hint = f"did you mean {near}?" if near else "see `somaxlint rules` for the list"
    return f"unknown rule {ident!r} ({hint})"


def render_rule(rule: Rule, fmt: str = "text") -> str:
    if fmt == "json":
        import json

        return json.dumps(
            {
                "code": rule.code,
                "name": rule.name,
                "severity": rule.severity,
                "summary": rule.summary,
                "sections": {title: rule.section(title) for title in SECTIONS},
            },
            indent=2,
        ) + "\n"
    if fmt == "markdown":
        return rule_markdown(rule)
    lines = [f"{rule.code} {rule.name} (default severity: {rule.severity})", "", rule.doc.split("\n## ", 1)[0].strip(), ""]
    for title in SECTIONS:
        body = rule.section(title)
        if body:
            lines += [f"## {title}", body, ""]
    return "\n".join(lines)


def render_catalogue(fmt: str = "text") -> str:
    rules = all_rules()
    if fmt == "markdown":
        return markdown_table()
    if fmt == "json":
        import json

        return json.dumps([{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary} for r in rules], indent=2) + "\n"
    width = max(len(r.name) for r in rules)
    return "".join(f"{r.code}  {r.name.ljust(width)}  {r.severity.ljust(7)}  {r.summary}\n" for r in rules)


def markdown_table() -> str:
    """The README's rule table (a test keeps the README in step)."""
    rows = ["| Code | Name | Default severity | What it reports |", "|---|---|---|---|"]
    for r in all_rules():
        rows.append(f"| {r.code} | `{r.name}` | {r.severity} | {r.summary} |")
    return "\n".join(rows) + "\n"


def rule_markdown(rule: Rule) -> str:
    """One rule's section of docs/rules.md: a heading whose GitHub anchor
    is ``rule.anchor`` (the SARIF ``helpUri`` points at it), the
    docstring's introduction, and its sections one level down."""
    lines = [
        f"## {rule.code} {rule.name}",
        "",
        f"Default severity: **{rule.severity}**.",
        "",
        rule.doc.split("\n## ", 1)[0].strip(),
        "",
    ]
    for title in SECTIONS:
        body = rule.section(title)
        if body:
            lines += [f"### {title}", "", body, ""]
    return "\n".join(lines)


def rules_document() -> str:
    """docs/rules.md, whole: an index, then one section per rule."""
    rules = all_rules()
    lines = [
        "# somaxlint rules",
        "",
        "<!-- Generated from the rules' docstrings by `python tools/generate_docs.py`;",
        "     edit the docstrings in rules/, not this file (a test fails when it drifts). -->",
        "",
        "Every rule, with what it does, why it matters, an example and how to fix it",
        "(`somaxlint rules CODE` prints the same in a terminal). Suppress a rule",
        "with `# somaxlint: ignore CODE -- reason` on the line, disable it with",
        "`rules: {CODE: off}` in `.somaxlint.yaml`, or change its severity there.",
        "",
        "| Code | Name | Default severity | What it reports |",
        "|---|---|---|---|",
    ]
    for r in rules:
        lines.append(f"| [{r.code}](#{r.anchor}) | `{r.name}` | {r.severity} | {r.summary} |")
    lines.append("")
    return "\n".join(lines) + "\n" + "\n".join(rule_markdown(r) for r in rules)

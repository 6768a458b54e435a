"""Stage 5: which findings are reported -- inline suppressions, baseline.

Suppressions name the rule (code or name) and may give a reason:

* a comment on the offending line, or alone on the line above it, in the
  file the finding points at (YAML, nginx, or an nginx config inside a
  ConfigMap): ``# somaxlint: ignore SMX001 -- nodes run 5.15``;
* an annotation on the Kubernetes object the finding concerns or lies in:
  ``somaxlint.io/ignore: "SMX001: nodes run 5.15; SMX013"``.

A baseline is a file of fingerprints: findings that were there when the
baseline was written are not reported again, wherever their lines move.
"""

from __future__ import annotations

import bisect
import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Set, Tuple

from somaxlint.findings import Finding, Location
from somaxlint.load.positioned import YMap, as_map
from somaxlint.patterns import LazyPattern
from somaxlint.records import record, field
from somaxlint.rulebook import is_known

ANNOTATION = "somaxlint.io/ignore"
# The start of a suppression comment; the rest of the line is split with
# string operations, so the cost stays linear in the line (a single regex
# with lazy and greedy runs over the same spaces was cubic).
_COMMENT_START = LazyPattern(r"#\s*somaxlint:\s*ignore\b")
_RULE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_,- ")
_RULE_RE = LazyPattern(r"^(SMX\d{3}|[a-z]+(?:-[a-z]+)+)$", re.I)


def _suppression_comment(line: str):
    """(column index, rules text, reason or None) of the first suppression
    comment on ``line``: `# somaxlint: ignore RULES [-- reason]`, RULES
    made only of rule-code characters."""
    for match in _COMMENT_START.finditer(line):
        rest = line[match.end():]
        rules_text, dashes, reason = rest.partition("--")
        if all(c in _RULE_CHARS or c.isspace() for c in rules_text) and (dashes or not rules_text[-1:] == "-"):
            return match.start(), rules_text.strip(), reason if dashes else None
    return None


@record
class Suppression:
    location: Location
    rules: Tuple[str, ...]
    reason: Optional[str]
    kind: str  # "comment" or "annotation"
    # annotation scope: the object's file and line range, and its ref
    scope: Optional[Tuple[str, int, int]] = None
    object_ref: Optional[str] = None
    used: bool = False

    def covers(self, finding: Finding) -> bool:
        return any(r.upper() == finding.rule or r.lower() == finding.name for r in self.rules)


@record
class SuppressionIndex:
    by_line: Dict[Tuple[str, int], List[Suppression]] = field(default_factory=dict)
    annotations: List[Suppression] = field(default_factory=list)
    malformed: List[Tuple[Location, str]] = field(default_factory=list)
    # (where, what was written, "suppression comment" or "annotation ..."):
    # names that are no rule.  The command line refuses to run with any
    # (exit status 2): a typo in a suppression must never turn CI green.
    unknown: List[Tuple[Location, str, str]] = field(default_factory=list)

    def all(self) -> List[Suppression]:
        out = [s for group in self.by_line.values() for s in group]
        return out + self.annotations


def _parse_rules(text: str) -> Tuple[str, ...]:
    return tuple(part for part in re.split(r"[,\s]+", text.strip()) if part)


def collect_suppressions(files, inventory) -> SuppressionIndex:
    index = SuppressionIndex()
    for loaded in files:
        text = loaded.text
        if not text or "somaxlint:" not in text:
            continue
        display = loaded.input.display
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if "somaxlint:" not in line:
                continue
            found = _suppression_comment(line.rstrip("\r"))
            if found is None:
                continue
            start, rules_text, reason_text = found
            column = start + 1
            rules = _parse_rules(rules_text)
            location = Location(display, number, column)
            index.unknown.extend((location, r, "suppression comment") for r in rules if not is_known(r))
            if not rules or not all(_RULE_RE.match(r) for r in rules):
                index.malformed.append((location, "a suppression must name the rule(s) it silences, e.g. `# somaxlint: ignore SMX001 -- reason`"))
                continue
            suppression = Suppression(location, rules, (reason_text or "").strip() or None, "comment")
            own_line = line[:start].strip() in ("", "#")
            index.by_line.setdefault((display, number), []).append(suppression)
            if own_line:
                index.by_line.setdefault((display, number + 1), []).append(suppression)
    for obj in inventory.objects if inventory is not None else ():
        annotations = as_map((as_map(obj.root.get("metadata")) or YMap()).get("annotations"))
        if annotations is None or not isinstance(annotations.get(ANNOTATION), str):
            continue
        location = obj.value_loc(annotations, ANNOTATION)
        doc = obj.file.documents[obj.doc_index] if obj.doc_index < len(obj.file.documents) else None
        scope = (obj.display, doc.line, doc.end_line) if doc else None
        for part in annotations[ANNOTATION].split(";"):
            rules_text, _, reason = part.partition(":")
            rules = _parse_rules(rules_text)
            if not rules:
                continue
            index.unknown.extend((location, r, f"annotation {ANNOTATION}") for r in rules if not is_known(r))
            if not all(_RULE_RE.match(r) for r in rules):
                index.malformed.append((location, f"annotation {ANNOTATION}: {rules_text.strip()!r} is not a rule code or name"))
                continue
            index.annotations.append(
                Suppression(location, rules, reason.strip() or None, "annotation", scope=scope, object_ref=obj.ref)
            )
    return index


def unknown_suppressed_rules(files, inventory) -> List[Tuple[Location, str, str]]:
    """Every suppression (comment or annotation) naming a rule that does not
    exist, in file order: (location of the comment or annotation value, the
    name as written, which kind of suppression)."""
    return sorted(collect_suppressions(files, inventory).unknown, key=lambda u: (u[0].path, u[0].line, u[0].column, u[1]))


def apply_suppressions(findings: List[Finding], index: SuppressionIndex) -> List[Finding]:
    annotations = _AnnotationIndex(index.annotations)
    kept = []
    for finding in findings:
        loc = finding.location
        suppressed = False
        for suppression in index.by_line.get((loc.path, loc.line), ()):
            if suppression.covers(finding):
                suppression.used = suppressed = True
        if annotations.apply(finding):
            suppressed = True
        if not suppressed:
            kept.append(finding)
    return kept


class _AnnotationGroup:
    """Annotations of one scope (a document of a file, or an object): which
    rules they cover, and those not yet marked used, by code and by name."""

    __slots__ = ("codes", "names", "unused_codes", "unused_names")

    def __init__(self):
        self.codes: Set[str] = set()
        self.names: Set[str] = set()
        self.unused_codes: Dict[str, List[Suppression]] = {}
        self.unused_names: Dict[str, List[Suppression]] = {}

    def add(self, suppression: Suppression) -> None:
        for rule in suppression.rules:
            self.codes.add(rule.upper())
            self.names.add(rule.lower())
            self.unused_codes.setdefault(rule.upper(), []).append(suppression)
            self.unused_names.setdefault(rule.lower(), []).append(suppression)

    def apply(self, finding: Finding) -> bool:
        if finding.rule not in self.codes and finding.name not in self.names:
            return False
        for pending in (self.unused_codes.pop(finding.rule, ()), self.unused_names.pop(finding.name, ())):
            for suppression in pending:
                suppression.used = True
        return True


class _AnnotationIndex:
    """The annotation suppressions by where they apply: the lines of their
    object's document, and the object's reference.  A finding meets only
    the groups it lies in or names, and each suppression is marked used
    once: thousands of annotated objects in one stream cost each finding a
    lookup, not a scan of every annotation."""

    def __init__(self, suppressions: List[Suppression]):
        self._scopes: Dict[str, Dict[Tuple[int, int], _AnnotationGroup]] = {}
        self._starts: Dict[str, List[Tuple[int, int]]] = {}
        # the ranges of a path end in the order they start (one file's
        # documents, one after the other): a scan back may stop early
        self._ordered: Dict[str, bool] = {}
        self._refs: Dict[str, _AnnotationGroup] = {}
        for suppression in suppressions:
            if suppression.scope is not None:
                path, first, last = suppression.scope
                groups = self._scopes.setdefault(path, {})
                if (first, last) not in groups:
                    groups[(first, last)] = _AnnotationGroup()
                groups[(first, last)].add(suppression)
            if suppression.object_ref is not None:
                self._refs.setdefault(suppression.object_ref, _AnnotationGroup()).add(suppression)
        for path, groups in self._scopes.items():
            starts = self._starts[path] = sorted(groups)
            self._ordered[path] = all(a[1] <= b[1] for a, b in zip(starts, starts[1:]))

    def _in_scope(self, path: str, line: int) -> List[_AnnotationGroup]:
        starts = self._starts.get(path)
        if not starts:
            return []
        groups = self._scopes[path]
        ordered = self._ordered[path]
        out = []
        # the ranges that start at or before the line, nearest first
        at = bisect.bisect_right(starts, (line, float("inf")))
        while at > 0:
            at -= 1
            first, last = starts[at]
            if last >= line:
                out.append(groups[(first, last)])
            elif ordered:
                break
        return out

    def apply(self, finding: Finding) -> bool:
        loc = finding.location
        groups = self._in_scope(loc.path, loc.line)
        groups += [self._refs[ref] for ref in finding.objects if ref in self._refs]
        suppressed = False
        for group in groups:
            if group.apply(finding):
                suppressed = True
        return suppressed


# --------------------------------------------------------------------------
# Baseline
# --------------------------------------------------------------------------

BASELINE_VERSION = 1


class BaselineError(Exception):
    pass


def write_baseline(path: str, findings: List[Finding]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        dump_baseline(findings, handle)


def dump_baseline(findings: List[Finding], handle) -> None:
    import json  # (a baseline is written or read only when asked for)

    entries = sorted(
        ({"rule": f.rule, "path": f.location.path, "fingerprint": f.fingerprint, "message": f.message} for f in findings),
        key=lambda e: (e["path"], e["rule"], e["fingerprint"]),
    )
    json.dump({"version": BASELINE_VERSION, "tool": "somaxlint", "entries": entries}, handle, indent=2)
    handle.write("\n")


# A baseline larger than this is refused (exit 2), not read.
MAX_BASELINE_BYTES = 256 * 1024 * 1024


def read_baseline(path: str) -> List[dict]:
    import json

    from somaxlint.discover import read_regular_file

    try:
        raw = read_regular_file(path, MAX_BASELINE_BYTES)
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:  # a FIFO (which would block the run), too large
        raise BaselineError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # also UnicodeDecodeError
        raise BaselineError(f"{path}: not a somaxlint baseline (invalid JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION or not isinstance(data.get("entries"), list):
        raise BaselineError(f"{path}: not a somaxlint baseline (expected {{\"version\": 1, \"entries\": [...]}})")
    entries = [e for e in data["entries"] if isinstance(e, dict) and isinstance(e.get("fingerprint"), str)]
    return entries


def apply_baseline(findings: List[Finding], entries: List[dict]) -> Tuple[List[Finding], List[dict]]:
    """(findings not in the baseline, baseline entries no finding matched)."""
    known: Set[str] = {e["fingerprint"] for e in entries}
    matched: Set[str] = set()
    kept = []
    for finding in findings:
        if finding.fingerprint in known:
            matched.add(finding.fingerprint)
        else:
            kept.append(finding)
    stale = [e for e in entries if e["fingerprint"] not in matched]
    return kept, stale

"""Point findings in Helm-rendered input at the chart's templates.

`helm template` writes `# Source: <chart>/templates/<file>` above each
document.  With the chart directory known (`--helm-chart-dir`), a finding
moves to that template file.  Its line is given only when the rendered
line's text occurs exactly once in the template (a literal line, not one
produced by `{{ ... }}`); otherwise the finding points at the template's
first line and says which line of the rendered output it was.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional

from somaxlint.discover import display_path
from somaxlint.findings import Finding, Location
from somaxlint.records import replace


def template_path(chart_dir: str, helm_source: str) -> str:
    # "<chart>/templates/x.yaml" and "<chart>/charts/sub/templates/x.yaml":
    # the first component is the chart's own name.
    parts = helm_source.replace("\\", "/").split("/")
    return os.path.join(chart_dir, *parts[1:])


def map_findings(findings: List[Finding], rendered: Dict[str, str], chart_dir: str, cwd: str) -> List[Finding]:
    """Each finding (and its related facts) moved to the template its
    rendered document came from.  Every rendered text and template is
    split and indexed once, however many findings point into it: a
    finding costs lookups, not a scan of every line of both."""
    templates: Dict[str, Optional[_Template]] = {}
    texts = _Rendered(rendered)
    out = []
    for finding in findings:
        if not finding.helm_source:
            out.append(finding)
            continue
        path = template_path(chart_dir, finding.helm_source)
        template = _template(templates, path, chart_dir)
        if template is None:
            out.append(finding)  # no such template: keep the rendered location
            continue
        moved = _relocate(finding, texts.lines(finding.location.path), template, display_path(path, cwd))
        related = tuple(_relocate_related(r, texts, chart_dir, cwd, templates) for r in finding.related)
        out.append(replace(moved, related=related))
    return out


class _Rendered:
    """The rendered texts, each split into lines and its `# Source:` marks
    found when first needed."""

    def __init__(self, rendered: Dict[str, str]):
        self._texts = rendered
        self._lines: Dict[str, List[str]] = {}
        self._marks: Dict[str, tuple] = {}

    def lines(self, path: str) -> Optional[List[str]]:
        text = self._texts.get(path)
        if text is None:
            return None
        found = self._lines.get(path)
        if found is None:
            found = self._lines[path] = text.split("\n")
        return found

    def marks(self, path: str):
        """(lines, templates) of every `# Source:` line, in order."""
        found = self._marks.get(path)
        if found is None:
            marks = _source_marks(self._texts[path])
            found = self._marks[path] = ([m[0] for m in marks], [m[1] for m in marks])
        return found


class _Template:
    """A template's lines, and where each stripped text occurs (the first
    line and how many)."""

    __slots__ = ("lines", "where")

    def __init__(self, lines: List[str]):
        self.lines = lines
        self.where: Dict[str, list] = {}
        for i, text in enumerate(lines):
            found = self.where.get(text.rstrip("\r").strip())
            if found is None:
                self.where[text.rstrip("\r").strip()] = [i, 1]
            else:
                found[1] += 1


def _template(templates: Dict[str, Optional[_Template]], path: str, chart_dir: str) -> Optional[_Template]:
    if path not in templates:
        lines = _read_lines(path, chart_dir)
        templates[path] = _Template(lines) if lines is not None else None
    return templates[path]


def _source_marks(text: str) -> List[tuple]:
    """(line, template) of every `# Source:` line, in order."""
    marks = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("# Source: "):
            marks.append((number, line[len("# Source: "):].strip()))
    return marks


def _relocate_related(related, texts: _Rendered, chart_dir, cwd, templates):
    """A related fact moves to the template of the rendered document it is
    in (the last `# Source:` above its line), when its line is literal
    there; otherwise it stays where it is."""
    lines = texts.lines(related.location.path)
    if lines is None:
        return related
    import bisect

    numbers, sources = texts.marks(related.location.path)
    i = bisect.bisect_right(numbers, related.location.line) - 1
    if i < 0:
        return related
    path = template_path(chart_dir, sources[i])
    template = _template(templates, path, chart_dir)
    if template is None:
        return related
    probe = Finding("", "", "info", "", related.location)
    moved = _relocate(probe, lines, template, display_path(path, cwd))
    if moved.message:  # ambiguous line: keep the rendered location
        return related
    return type(related)(moved.location, related.label)


def _read_lines(path: str, chart_dir: str) -> Optional[List[str]]:
    root = os.path.realpath(chart_dir)
    real = os.path.realpath(path)
    if not real.startswith(root.rstrip(os.sep) + os.sep) or not os.path.isfile(real):
        return None
    try:
        with open(real, "rb") as handle:
            return handle.read(16 * 1024 * 1024).decode("utf-8", "replace").split("\n")
    except OSError:
        return None


def _relocate(finding: Finding, rendered_lines: Optional[List[str]], template: _Template, shown: str) -> Finding:
    loc = finding.location
    rendered_line = None
    if rendered_lines is not None:
        if 1 <= loc.line <= len(rendered_lines):
            rendered_line = rendered_lines[loc.line - 1].rstrip("\r")
    if rendered_line is not None and rendered_line.strip():
        found = template.where.get(rendered_line.strip())
        if found is not None and found[1] == 1:
            text = template.lines[found[0]]
            shift = (len(text) - len(text.lstrip())) - (len(rendered_line) - len(rendered_line.lstrip()))
            column = max(1, loc.column + shift)
            return replace(finding, location=Location(shown, found[0] + 1, column))
    note = f" (line {loc.line} of the rendered output; the template line is ambiguous)"
    return replace(finding, location=Location(shown, 1, 1), message=finding.message + note)

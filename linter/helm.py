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
    templates: Dict[str, Optional[List[str]]] = {}
    marks: Dict[str, List[tuple]] = {}
    out = []
    for finding in findings:
        if not finding.helm_source:
            out.append(finding)
            continue
        path = template_path(chart_dir, finding.helm_source)
        if path not in templates:
            templates[path] = _read_lines(path, chart_dir)
        lines = templates[path]
        if lines is None:
            out.append(finding)  # no such template: keep the rendered location
            continue
        moved = _relocate(finding, rendered.get(finding.location.path), lines, display_path(path, cwd))
        related = tuple(_relocate_related(r, rendered, chart_dir, cwd, templates, marks) for r in finding.related)
        out.append(replace(moved, related=related))
    return out


def _source_marks(text: str) -> List[tuple]:
    """(line, template) of every `# Source:` line, in order."""
    marks = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith("# Source: "):
            marks.append((number, line[len("# Source: "):].strip()))
    return marks


def _relocate_related(related, rendered, chart_dir, cwd, templates, marks):
    """A related fact moves to the template of the rendered document it is
    in (the last `# Source:` above its line), when its line is literal
    there; otherwise it stays where it is."""
    text = rendered.get(related.location.path)
    if text is None:
        return related
    if related.location.path not in marks:
        marks[related.location.path] = _source_marks(text)
    import bisect

    found = marks[related.location.path]
    i = bisect.bisect_right([m[0] for m in found], related.location.line) - 1
    if i < 0:
        return related
    path = template_path(chart_dir, found[i][1])
    if path not in templates:
        templates[path] = _read_lines(path, chart_dir)
    lines = templates[path]
    if lines is None:
        return related
    probe = Finding("", "", "info", "", related.location)
    moved = _relocate(probe, rendered.get(related.location.path), lines, display_path(path, cwd))
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


def _relocate(finding: Finding, rendered_text: Optional[str], template: List[str], shown: str) -> Finding:
    loc = finding.location
    rendered_line = None
    if rendered_text is not None:
        rendered_lines = rendered_text.split("\n")
        if 1 <= loc.line <= len(rendered_lines):
            rendered_line = rendered_lines[loc.line - 1].rstrip("\r")
    if rendered_line is not None and rendered_line.strip():
        wanted = rendered_line.strip()
        matches = [i for i, text in enumerate(template) if text.rstrip("\r").strip() == wanted]
        if len(matches) == 1:
            text = template[matches[0]]
            shift = (len(text) - len(text.lstrip())) - (len(rendered_line) - len(rendered_line.lstrip()))
            column = max(1, loc.column + shift)
            return replace(finding, location=Location(shown, matches[0] + 1, column))
    note = f" (line {loc.line} of the rendered output; the template line is ambiguous)"
    return replace(finding, location=Location(shown, 1, 1), message=finding.message + note)

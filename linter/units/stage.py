"""Stage 2b: find the units in the input and render them.

Between discovery and the model: charts are rendered by Helm and
kustomizations built by kustomize; the files they consume leave the list
of plain inputs (a template is not a manifest, a base is deployed only
through its overlays), and each rendered stream joins the loaded files as
a unit of its own.  After the rules ran, ``relocate`` moves every location
in a rendered stream back to the file a person edits.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Set, Tuple

from somaxlint.discover import InputFile, display_path
from somaxlint.findings import Finding, Location, Related
from somaxlint.load import LoadedFile, load_bytes
from somaxlint.records import record, field, replace
from somaxlint.settings import Settings
from somaxlint.units import Rendered, RenderProblem


MAX_MESSAGE = 300  # characters of a Helm or kustomize error kept in a finding


@record
class Units:
    loaded: List[LoadedFile] = field(default_factory=list)
    problems: List[RenderProblem] = field(default_factory=list)
    consumed: Set[str] = field(default_factory=set)
    # virtual display path of a rendered stream -> the stream
    streams: Dict[str, Rendered] = field(default_factory=dict)


def render_units(
    inputs: List[InputFile],
    walked: List[str],
    settings: Settings,
    cwd: str,
    focus: Optional[Set[str]] = None,
    markers: Optional[Dict[str, Set[str]]] = None,
) -> Units:
    """Render every chart and kustomization root under the walked
    directories, and the charts of explicitly named template files.

    With ``focus`` (real paths of the files named for a pre-commit run),
    only units that read one of those files are rendered: the findings of
    the others could not be reported anyway, and building costs a process
    per unit.  ``markers``: what discovery's walk of ``walked`` saw (see
    ``somaxlint.discover.MARKERS``), else the directories are walked."""
    from somaxlint.units import helm_chart, kustomization

    units = Units()

    def shown(path: str) -> str:
        return display_path(path, cwd)

    charts = set(helm_chart.find_charts(walked, None if markers is None else markers.get("Chart.yaml", set()))) if walked else set()
    for f in inputs:
        if f.explicit and f.path != "-":
            chart = helm_chart.chart_of(f.path)
            if chart is not None:
                charts.add(chart)
    for chart in sorted(charts):
        files = helm_chart.chart_files(chart)
        if focus is not None and not (files & focus):
            units.consumed |= files
            continue
        escape = _link_out_of(chart, walked or [chart])
        if escape is not None:
            # Helm follows symlinks; somaxlint never reads outside the root.
            units.consumed |= files
            units.problems.append(
                RenderProblem(escape, 1, 1, "chart not rendered: this symlink leads outside the lint root, which somaxlint never reads", "error")
            )
            continue
        release = settings.helm_release.get(chart, "release-name")
        result = helm_chart.render_chart(chart, settings.helm_values.get(chart), shown, release_name=release)
        _take(units, result, shown)

    marked = None if markers is None else set().union(*(markers.get(n, set()) for n in kustomization.KUSTOMIZATION_NAMES))
    found = kustomization.find_kustomizations(walked, marked) if walked else []
    explicit_roots = [
        os.path.dirname(f.path)
        for f in inputs
        if f.explicit and f.path != "-" and os.path.basename(f.path) in kustomization.KUSTOMIZATION_NAMES
    ]
    candidates = sorted(set(found) | set(explicit_roots))
    todo = []
    for root, consumed in _roots_reaching_all(kustomization, candidates, walked).items():
        # A chart's own kustomization (rare) is the chart's business.
        if any(root == c or root.startswith(c + os.sep) for c in charts):
            continue
        if focus is not None and not (consumed & focus):
            units.consumed |= consumed
            continue
        refusal = _kustomize_refusal(root, walked)
        if refusal is not None:
            units.consumed |= consumed
            units.problems.append(refusal)
            continue
        todo.append(root)
    # Each build is a kustomize process: run them side by side, and take
    # the results in root order so the output stays deterministic.
    if len(todo) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 2)) as pool:
            results = list(pool.map(lambda root: kustomization.build(root, shown), todo))
    else:
        results = [kustomization.build(root, shown) for root in todo]
    for result in results:
        _take(units, result, shown)
    return units


def _link_out_of(directory: str, roots: List[str]) -> Optional[str]:
    """The first symlink under ``directory`` whose target is outside the
    lint roots (a chart's `crds -> ../../config/crd` inside the repository
    is fine)."""
    from somaxlint.discover import within

    for dirpath, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not within(path, roots):
                return path
    return None


def _roots_reaching_all(kustomization, candidates: List[str], walked: List[str]) -> Dict[str, Set[str]]:
    """The roots, plus every kustomization that no root reaches (two that
    include each other): each is built, and kustomize says what is wrong,
    rather than both vanishing.  Each with the files it reads, computed
    once (it parses every kustomization it reaches)."""
    roots = {root: kustomization.consumed_files(root, walked or None) for root in kustomization.roots(candidates)}
    reached: Set[str] = set().union(*roots.values()) if roots else set()
    for candidate in candidates:
        kfile = kustomization.kustomization_file(candidate)
        if candidate not in roots and kfile is not None and os.path.realpath(kfile) not in reached:
            roots[candidate] = kustomization.consumed_files(candidate, walked or None)
            reached |= roots[candidate]
    return dict(sorted(roots.items()))


# Keys of a kustomization whose strings name files or directories it reads.
_PATH_KEYS = (
    "resources", "bases", "components", "crds", "patchesStrategicMerge", "configurations",
    "transformers", "generators", "validators",
)
_NESTED_PATH_KEYS = {
    "patches": ("path",), "patchesJson6902": ("path",), "replacements": ("path",),
    "configMapGenerator": ("files", "envs", "env"), "secretGenerator": ("files", "envs", "env"),
    "openapi": ("path",),
}
_REMOTE_MARKS = ("://", "?ref=", "git@", "github.com/", "gitlab.com/", "bitbucket.org/")


def _kustomize_refusal(root: str, walked: List[str]) -> Optional[RenderProblem]:
    """kustomize fetches remote resources and reads any path it is given;
    somaxlint runs on untrusted changes and reads only the lint root.  A
    kustomization that needs either is not built; the problem names the
    entry."""
    from somaxlint.discover import within
    from somaxlint.load.positioned import YMap, YSeq
    from somaxlint.load.yaml_stream import load_yaml
    from somaxlint.units.kustomization import kustomization_file

    roots = walked or [root]
    seen, stack = set(), [root]
    while stack:
        kdir = stack.pop()
        if kdir in seen:
            continue
        seen.add(kdir)
        kfile = kustomization_file(kdir)
        if kfile is None:
            continue
        try:
            with open(kfile, "rb") as handle:
                text = handle.read(1 << 20).decode("utf-8", "replace")
        except OSError:
            continue
        documents, _ = load_yaml(text)
        kmap = documents[0].root if documents and isinstance(documents[0].root, YMap) else None
        if kmap is None:
            continue
        entries = []  # (string, (line, column))
        for key in _PATH_KEYS:
            value = kmap.get(key)
            if isinstance(value, YSeq):
                entries += [(item, pos[:2]) for item, pos in zip(value, value.ipos) if isinstance(item, str)]
        for key, fields in _NESTED_PATH_KEYS.items():
            value = kmap.get(key)
            items = list(zip(value, value.ipos)) if isinstance(value, YSeq) else ([(value, kmap.vpos.get(key))] if isinstance(value, YMap) else [])
            for item, _ in items:
                if not isinstance(item, YMap):
                    continue
                for name in fields:
                    inner = item.get(name)
                    if isinstance(inner, str):
                        entries.append((inner, item.vpos[name][:2]))
                    elif isinstance(inner, YSeq):
                        entries += [(x, p[:2]) for x, p in zip(inner, inner.ipos) if isinstance(x, str)]
        if isinstance(kmap.get("helmCharts"), YSeq):
            return RenderProblem(kfile, *kmap.kpos["helmCharts"][:2], "kustomization not built: helmCharts fetches charts; render the chart itself instead", "error")
        for entry, (line, column) in entries:
            if "\n" in entry:
                continue  # an inline patch, not a path
            if any(mark in entry for mark in _REMOTE_MARKS):
                return RenderProblem(kfile, line, column, "kustomization not built: it names a remote resource, and somaxlint never fetches", "error")
            name = entry.split("=", 1)[1] if "=" in entry else entry  # generator `key=path`
            try:
                target = os.path.realpath(os.path.join(kdir, name))
            except (ValueError, OSError):
                continue
            if not within(target, roots):
                return RenderProblem(kfile, line, column, "kustomization not built: it reads a path outside the lint root, which somaxlint never reads", "error")
            if os.path.isdir(target):
                stack.append(target)
    return None


def _take(units: Units, result, shown) -> None:
    units.problems.extend(result.problems)
    units.consumed |= result.consumed
    for rendered in result.rendered:
        units.consumed |= rendered.consumed
        display = _unique(units, f"{shown(rendered.anchor)} [{rendered.unit}]")
        loaded = load_bytes(InputFile(rendered.anchor, display, "yaml", True), rendered.text.encode("utf-8"))
        loaded.unit = rendered.unit
        units.loaded.append(loaded)
        units.streams[display] = rendered


def _unique(units: Units, display: str) -> str:
    n, candidate = 1, display
    while candidate in units.streams:
        n += 1
        candidate = f"{display} #{n}"
    return candidate


# --------------------------------------------------------------------------
# After the rules: back to the files people edit
# --------------------------------------------------------------------------


class Relocator:
    def __init__(self, units: Units, cwd: str):
        self.units = units
        self.cwd = cwd

    def location(self, loc: Location) -> Tuple[Location, Optional[str]]:
        """The source location, and the rendered text when approximate."""
        rendered = self.units.streams.get(loc.path)
        if rendered is None:
            return loc, None
        pos = None
        try:
            pos = rendered.line_map(loc.line, loc.column)
        except Exception:  # a mapping bug must not lose the finding
            pos = None
        if pos is None:
            return Location(display_path(rendered.anchor, self.cwd), 1, 1, approximate=True), _line(rendered, loc.line)
        shown = display_path(pos.path, self.cwd)
        return Location(shown, pos.line, pos.column, approximate=pos.approximate), pos.rendered if pos.approximate else None

    def finding(self, finding: Finding) -> Finding:
        if not self.units.streams:
            return finding
        location, quoted = self.location(finding.location)
        related = []
        for r in finding.related:
            moved, _ = self.location(r.location)
            related.append(Related(moved, r.label))
        if location is finding.location and related == list(finding.related):
            return finding
        message = finding.message
        if quoted:
            message += f" (rendered line: {quoted.strip()[:200]!r}; not literal in the source)"
        rendered = self.units.streams.get(finding.location.path)
        assumptions = finding.assumptions
        if rendered is not None:
            assumptions = tuple(dict.fromkeys(assumptions + rendered.assumptions))
            for assumption in rendered.assumptions:
                if assumption not in message:
                    message += f" (assumption: {assumption})"
        return replace(finding, location=location, related=tuple(related), message=message, assumptions=assumptions)


def _line(rendered: Rendered, line: int) -> Optional[str]:
    lines = rendered.text.split("\n")
    return lines[line - 1] if 1 <= line <= len(lines) else None


def problem_locations(units: Units, cwd: str) -> List[Tuple[Location, str, str]]:
    """(location, message, severity) of each unit that did not render."""
    prefixes = sorted({os.path.realpath(cwd), cwd}, key=len, reverse=True)

    def portable(message: str) -> str:
        # Helm and kustomize quote absolute paths: the same input must give
        # the same message (and fingerprint) wherever it is checked out.
        for prefix in prefixes:
            message = message.replace(prefix.rstrip(os.sep) + os.sep, "")
        if len(message) > MAX_MESSAGE:
            # The tools nest their context first and the cause last.
            half = (MAX_MESSAGE - 5) // 2
            message = message[:half] + " ... " + message[-half:]
        return message

    return [(Location(display_path(p.path, cwd), p.line, p.column), portable(p.message), p.severity) for p in units.problems]

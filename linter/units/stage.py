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
# A file or directory changed less than this long ago may change again in
# the same tick of the file system's clock, unseen by its stat: what rests
# on it is not kept (the loading cache's listings follow the same rule).
RACY_NS = 2_000_000_000


@record
class Units:
    loaded: List[LoadedFile] = field(default_factory=list)
    problems: List[RenderProblem] = field(default_factory=list)
    consumed: Set[str] = field(default_factory=set)
    # virtual display path of a rendered stream -> the stream
    streams: Dict[str, Rendered] = field(default_factory=dict)
    # said once on standard error: how the renderers ran, where weaker
    notes: List[str] = field(default_factory=list)


def render_units(
    inputs: List[InputFile],
    walked: List[str],
    settings: Settings,
    cwd: str,
    focus: Optional[Set[str]] = None,
    markers: Optional[Dict[str, Set[str]]] = None,
    store=None,
) -> Units:
    """Render every chart and kustomization root under the walked
    directories, and the charts of explicitly named template files.

    With ``focus`` (real paths of the files named for a pre-commit run),
    only units that read one of those files are rendered: the findings of
    the others could not be reported anyway, and building costs a process
    per unit.  ``markers``: what discovery's walk of ``walked`` saw (see
    ``somaxlint.discover.MARKERS``), else the directories are walked.
    ``store``: where renders are kept between runs (the loading cache,
    ``somaxlint.cache.Cache``), or None."""
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
    jobs = []  # (what to call, its arguments, where a failure of ours is said)
    require = bool(getattr(settings, "require_sandbox", False))
    from somaxlint.units.sandbox import MAX_RENDER_BYTES

    # a rendered stream is read like a file, and never more than the hard cap
    limit = min(settings.max_file_bytes, MAX_RENDER_BYTES)
    for chart in sorted(charts):
        files = helm_chart.chart_files(chart)
        if focus is not None and not (files & focus):
            units.consumed |= files
            continue
        release = settings.helm_release.get(chart, "release-name")
        boundary = _boundary(chart, cwd, walked)
        jobs.append((
            lambda chart=chart, release=release, boundary=boundary: helm_chart.render_chart(
                chart, settings.helm_values.get(chart), shown, release_name=release, boundary=boundary,
                require_sandbox=require, max_output=limit, store=store,
            ),
            os.path.join(chart, "Chart.yaml"), files,
        ))

    marked = None if markers is None else set().union(*(markers.get(n, set()) for n in kustomization.KUSTOMIZATION_NAMES))
    found = kustomization.find_kustomizations(walked, marked) if walked else []
    explicit_roots = [
        os.path.dirname(f.path)
        for f in inputs
        if f.explicit and f.path != "-" and os.path.basename(f.path) in kustomization.KUSTOMIZATION_NAMES
    ]
    candidates = sorted(set(found) | set(explicit_roots))
    for root, consumed in _roots_reaching_all(kustomization, candidates, walked, store).items():
        # A chart's own kustomization (rare) is the chart's business.
        if any(root == c or root.startswith(c + os.sep) for c in charts):
            continue
        if focus is not None and not (consumed & focus):
            units.consumed |= consumed
            continue
        boundary = _boundary(root, cwd, walked)
        jobs.append((
            lambda root=root, boundary=boundary: kustomization.build(
                root, shown, allowed_roots=walked or None, boundary=boundary, require_sandbox=require, max_output=limit,
                store=store,
            ),
            kustomization.kustomization_file(root) or root, consumed,
        ))
    # Each render is a process (or two): run them side by side, as many
    # as there are cores, and take the results in order so the output
    # stays deterministic.  A failure of somaxlint's own in one unit is
    # said at that unit; the others are rendered all the same.
    def one(job):
        call, anchor, consumed = job
        try:
            return call()
        except Exception as exc:
            from somaxlint.findings import internal_error
            from somaxlint.units import RenderResult

            return RenderResult(problems=[RenderProblem(anchor, 1, 1, internal_error(exc, "chart or kustomization"), "error")], consumed=set(consumed))

    if len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        from somaxlint.units import sandbox

        with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 2)) as pool:
            try:
                results = list(pool.map(one, jobs))
            except BaseException:  # interrupted: stop what runs, skip what waits
                pool.shutdown(wait=False, cancel_futures=True)
                sandbox.stop_all()
                raise
    else:
        results = [one(job) for job in jobs]
    for (_call, _anchor, consumed), result in zip(jobs, results):
        if focus is not None:
            # a unit rendered for a file named among a wider context: what
            # stops it concerns that file (a staged template)
            named = tuple(sorted(consumed & focus))
            for problem in result.problems:
                problem.related = named
        _take(units, result, shown)
    if jobs and not require:
        from somaxlint.units import sandbox

        how, why = sandbox.probed()
        if how is None and why:
            units.notes.append(
                f"charts and kustomizations were rendered without their own network and mount namespaces ({why}): "
                "see 'Running on untrusted pull requests' in the README"
            )
    return units


def _boundary(unit: str, root: str, walked: List[str]) -> str:
    """What a unit's renderer may read: the repository root, when the unit
    is inside it; else the directory named on the command line that holds
    it; else the unit's own directory."""
    real_root = os.path.realpath(root)
    for candidate in [real_root] + [os.path.realpath(w) for w in walked]:
        if unit == candidate or unit.startswith(candidate.rstrip(os.sep) + os.sep):
            return candidate
    return unit


def _roots_reaching_all(kustomization, candidates: List[str], walked: List[str], store=None) -> Dict[str, Set[str]]:
    """The roots, plus every kustomization that no root reaches (two that
    include each other): each is built, and kustomize says what is wrong,
    rather than both vanishing.  Each with the files it reads, computed
    once (it parses every kustomization it reaches).

    With ``store`` (the loading cache) the answer is kept: which roots
    there are, with the stat of every kustomization file (what decides
    it), and each root's files, with the stat of every file its walk read
    and every directory it looked in.  While those have not changed they
    are read back: a hook run over a repository of many overlays stats
    their files instead of parsing them, and a changed base walks again
    only the roots over it."""
    from somaxlint.units.sandbox import code_identity

    key = ["kustomization roots", code_identity(), *walked, "\0", *candidates]
    kept = _graph_entry(store.get_render(key)) if store is not None else None
    tops = [os.path.realpath(w).rstrip(os.sep) for w in walked]

    def inside(path: str) -> bool:
        return any(path == top or path.startswith(top + os.sep) for top in tops)

    memo: dict = {"real": _Recording()}  # what the walks share: overlays over one base read it alike
    signatures: Dict[str, object] = {}

    def walk(root: str) -> Set[str]:
        memo["real"].seen = seen = set()
        files = kustomization.consumed_files(root, walked or None, memo)
        if store is not None and walked:
            # what the walk looked at inside the walked directories (outside
            # them it reads nothing: the allowed roots)
            looked = {d for d in (os.path.dirname(p) for p in seen) if inside(d)} | {root}
            looked |= {os.path.dirname(f) for f in files if inside(os.path.dirname(f))}
            signatures[root] = _signature(sorted(files), sorted(looked))
        return files

    walked_any = True  # (whether the entry kept must be written again)
    if kept is not None and _unchanged(kept[1]):
        roots = {}
        walked_any = False
        for root, files, signature in kept[0]:
            if signature is not None and _unchanged(signature):
                roots[root], signatures[root] = set(files), signature
            else:
                roots[root] = walk(root)
                walked_any = True
    else:
        roots = {root: walk(root) for root in kustomization.roots(candidates)}
        reached: Set[str] = set().union(*roots.values()) if roots else set()
        for candidate in candidates:
            kfile = kustomization.kustomization_file(candidate)
            if candidate not in roots and kfile is not None and os.path.realpath(kfile) not in reached:
                roots[candidate] = walk(candidate)
                reached |= roots[candidate]
    roots = dict(sorted(roots.items()))
    if store is not None and walked and walked_any:
        kfiles = [os.path.realpath(k) for k in (kustomization.kustomization_file(c) for c in candidates) if k is not None]
        which = _signature(sorted(set(kfiles)), sorted(set(candidates)))
        if which is not None:
            store.put_render(key, ([(root, sorted(files), signatures.get(root)) for root, files in roots.items()], which))
    return roots


class _Recording(dict):
    """The walks' real paths, noting which each walk asked for (``seen``):
    the directories a walk looked in are those paths' parents, whoever
    resolved them first."""

    def __init__(self):
        super().__init__()
        self.seen: Set[str] = set()

    def get(self, key, default=None):
        self.seen.add(key)
        return dict.get(self, key, default)


def _stat_of(path: str, directory: bool):
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if directory:
        return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_size)


def _signature(files: List[str], directories: List[str]):
    """(path, is a directory, stat) of each; None when one changed so
    recently that a change in the same tick of the clock would not show
    (``RACY_NS``): then what rests on it is not kept."""
    import time

    now = time.time_ns()
    out = []
    for path, directory in [(f, False) for f in files] + [(d, True) for d in directories]:
        stat = _stat_of(path, directory)
        if stat is not None and now - max(stat[0], stat[1]) <= RACY_NS:
            return None
        out.append((path, directory, stat))
    return out


def _unchanged(signature) -> bool:
    for path, directory, stat in signature:
        if _stat_of(path, directory) != (tuple(stat) if stat is not None else None):
            return False
    return True


def _graph_entry(kept):
    """The kept entry when it has its shape (it is data, never trusted
    blindly), else None."""
    try:
        roots, which = kept
        checked = []
        for root, files, signature in roots:
            if type(root) is not str or not all(type(f) is str for f in files):
                return None
            if signature is not None and not all(type(p) is str and type(d) is bool for p, d, _ in signature):
                return None
            checked.append((root, files, signature))
        if not all(type(p) is str and type(d) is bool for p, d, _ in which):
            return None
        return checked, which
    except (TypeError, ValueError):
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
        if rendered is not None and rendered.unit not in message:
            # every finding of a render says which (the values set too)
            message += f" (in {rendered.unit})"
        if rendered is not None:
            assumptions = tuple(dict.fromkeys(assumptions + rendered.assumptions))
            for assumption in rendered.assumptions:
                if assumption not in message:
                    message += f" (assumption: {assumption})"
        return replace(finding, location=location, related=tuple(related), message=message, assumptions=assumptions)


def _line(rendered: Rendered, line: int) -> Optional[str]:
    lines = rendered.text.split("\n")
    return lines[line - 1] if 1 <= line <= len(lines) else None


def shorten(message: str, limit: int = MAX_MESSAGE) -> str:
    """At most ``limit`` characters: the tools nest their context first and
    the cause last, so both ends are kept, each cut at a word."""
    if len(message) <= limit:
        return message
    half = (limit - 5) // 2
    head = message[:half]
    tail = message[-half:]
    if " " in head[half // 2:]:
        head = head[: head.rindex(" ")]
    if " " in tail[: half // 2]:
        tail = tail[tail.index(" ") + 1:]
    return head + " ... " + tail


def problem_locations(units: Units, cwd: str) -> List[Tuple[Location, str, str, Tuple[Related, ...]]]:
    """(location, message, severity, related) of each unit that did not
    render: related, the files named among a wider context that it reads."""
    prefixes = sorted({os.path.realpath(cwd), cwd}, key=len, reverse=True)

    def portable(message: str) -> str:
        # Helm and kustomize quote absolute paths: the same input must give
        # the same message (and fingerprint) wherever it is checked out.
        for prefix in prefixes:
            message = message.replace(prefix.rstrip(os.sep) + os.sep, "")
        return shorten(message)

    return [
        (
            Location(display_path(p.path, cwd), p.line, p.column),
            portable(p.message) + (f" ({p.note})" if p.note else ""),
            p.severity,
            tuple(Related(Location(display_path(r, cwd), 1, 1), "a file of this unit, named on the command line") for r in p.related),
        )
        for p in units.problems
    ]

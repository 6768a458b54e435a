"""The pipeline, in its one direction:

discover -> load -> model -> check -> filter -> (report, in the CLI)
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Set

from somaxlint.discover import InputFile, Skipped, discover, read_input
from somaxlint.findings import SEVERITY_RANK, Finding, Location, internal_error, number_occurrences
from somaxlint.load import NOT_NGINX, LoadedFile, LoadError, load_bytes
from somaxlint.load.positioned import YMap
from somaxlint.model import Model, build_model, merge_models
from somaxlint.records import record, field
from somaxlint.rulebook import Rule, all_rules
from somaxlint.settings import Settings


@record
class Summary:
    files: int = 0
    skipped_not_kubernetes: int = 0
    skipped_other: int = 0
    unparsable: int = 0
    skipped: List[Skipped] = field(default_factory=list)
    # what the model saw, so a clean report says how much it covered
    workloads: int = 0
    servers: int = 0
    listeners: int = 0
    unresolved: int = 0
    # with files named among a wider context: how many files were modelled
    # (the named ones and what they relate to); None when all were
    modelled: Optional[int] = None

    def text(self) -> str:
        related = "" if self.modelled is None else f" of the {_count(self.modelled, 'file')} related to the files named"
        return (
            f"{_count(self.files, 'file')}, {self.skipped_not_kubernetes + self.skipped_other} skipped "
            f"({self.skipped_not_kubernetes} not Kubernetes or nginx), {self.unparsable} unparsable; "
            f"{_count(self.workloads, 'workload')}, {_count(self.servers, 'server')} ({self.unresolved} unresolved), "
            f"{_count(self.listeners, 'listener')}{related}"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


@record
class Result:
    findings: List[Finding]
    model: Model
    summary: Summary
    files: List[LoadedFile]
    stale_baseline: List[dict] = field(default_factory=list)
    suppressed: int = 0
    baselined: int = 0  # findings the baseline holds, not reported
    # the directory the display paths are relative to (the repository root
    # on the command line)
    root: str = ""
    # every input's display path, read or (narrowed out) known by its keys,
    # then the rendered streams: what the reports list as inputs
    inputs: List[str] = field(default_factory=list)
    # the display paths of the files named among a wider context (whose
    # findings alone are reported), or None
    focus: Optional[Set[str]] = None
    # lines for standard error about how the run went (a weaker sandbox)
    notes: List[str] = field(default_factory=list)


def load_file(f: InputFile, max_bytes: int, stdin_bytes: Optional[bytes], cache=None) -> LoadedFile:
    """Stage 2 for one file; with a ``somaxlint.cache.Cache``, through it."""
    try:
        data = read_input(f, max_bytes, stdin_bytes)
    except (OSError, ValueError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return LoadedFile(f, f.kind or "yaml", errors=[LoadError(f"cannot read: {message}", 1, 1)])
    try:
        if cache is not None:
            return cache.load(f, data, max_bytes)
        return load_bytes(f, data)
    except Exception as exc:  # a loader bug must not lose the other files
        return LoadedFile(f, f.kind or "yaml", errors=[LoadError(internal_error(exc), 1, 1)])



def _render_units(args: List[str], inputs: List[InputFile], settings: Settings, cwd: str, base: str, focus, markers, cache=None):
    """Charts and kustomizations under the directories given (stage 2b);
    the arguments are read from ``cwd``, shown relative to ``base``."""
    from somaxlint.units.stage import Units, render_units

    from somaxlint.discover import admitted_directories

    # only the directories discovery walks: never one a symlink leads out to
    walked = admitted_directories([a if a == "-" else os.path.join(cwd, a) for a in args])
    try:
        focus_paths = None
        if focus is not None:
            focus_paths = {f.path for f in inputs if f.display in focus}
        return render_units(inputs, walked, settings, base, focus_paths, markers, store=cache)
    except Exception as exc:  # a renderer bug must not lose the plain files
        units = Units()
        from somaxlint.units import RenderProblem

        units.problems.append(RenderProblem(walked[0] if walked else base, 1, 1, internal_error(exc, "chart or kustomization"), "error"))
        return units


def _no_units(inputs: List[InputFile], markers: dict) -> bool:
    """True when no chart or kustomization can be among the inputs: the
    directories walked hold none (``markers``, from discovery's walk), and
    no file named is a kustomization or lies in a directory tree with a
    Chart.yaml above it (a commit's staged files, a hook on single files).
    Then the rendering stage is not even imported; in any doubt, it runs."""
    if markers:
        return False
    for f in inputs:
        if f.path == "-" or not f.explicit:
            continue  # a walked file's unit is among the markers
        if "kustomization" in os.path.basename(f.path).lower():
            return False
        here = os.path.dirname(f.path)
        while True:
            if os.path.exists(os.path.join(here, "Chart.yaml")):
                return False
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
    return True


FILES = ""  # the summary category of a file somaxlint reads
NOT_KUBERNETES = "not Kubernetes"


def summary_category(f: LoadedFile) -> str:
    """How the summary counts a loaded file: FILES, NOT_KUBERNETES, or
    another reason it was skipped."""
    from somaxlint.load import NOT_OURS

    if f.template is not None:
        return FILES  # read as what it is, and said (SMX019)
    if f.not_applicable == NOT_OURS:
        return NOT_KUBERNETES
    if f.not_applicable:
        return f.not_applicable
    if f.errors:
        return FILES
    if f.kind in ("yaml", "json") and not is_kubernetes_or_cni(f):
        return NOT_KUBERNETES
    return FILES


def _narrowable(focus, units, settings: Settings, inputs: List[InputFile]) -> bool:
    """Whether the context can be narrowed to what the named files relate
    to (``somaxlint.relations``); else every file is modelled."""
    if focus is None or (units is not None and units.loaded) or settings.servers or settings.helm_chart_dir:
        return False
    # a named file of a kind its content decides
    return not any(f.display in focus and f.kind is None for f in inputs)


def _load_related(inputs: List[InputFile], focus, units, settings: Settings, load, cache, progress):
    """(loaded files to model, the summary category of every input, how
    many inputs are modelled or None when all are).  With files named
    among a wider context, only the context files their findings can
    depend on are loaded: the others are known by their keys (from the
    cache when their size, times and inode are unchanged)."""
    total = len(inputs)
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    if not _narrowable(focus, units, settings, inputs):
        loaded = []
        for f in inputs:
            loaded.append(load(f))
            tick()
        return loaded, [summary_category(one) for one in loaded], None

    from somaxlint.relations import keys_of, related

    keys, early = {}, {}
    stored = cache.keys([f for f in inputs if f.display not in focus], settings.max_file_bytes) if cache is not None else {}
    for f in inputs:
        known = stored.get(f.path)
        if known is None:
            one = early[f.path] = load(f)
            tick()
            known = keys_of(one, summary_category(one))
            if cache is not None:
                cache.put_keys(f, settings.max_file_bytes, known)
        keys[f.path] = known
    by_path = {f.path: f for f in inputs}
    wanted = related(keys, by_path, [f.path for f in inputs if f.display in focus])
    if wanted is not None and any(f.display in focus and f.kind == "nginx" for f in inputs):
        # A standalone nginx file may be included by any other (and runs in
        # no pod without `servers:` links, which turn narrowing off).
        wanted |= {f.path for f in inputs if f.kind == "nginx"}
    loaded = []
    for f in inputs:
        if wanted is None or f.path in wanted:
            one = early.get(f.path)
            if one is None:
                one = load(f)
                tick()
            loaded.append(one)
    return loaded, [keys[f.path].summary for f in inputs], (None if wanted is None else len(loaded))


def rule_enabled(rule: Rule, settings: Settings) -> bool:
    def named(idents):
        return any(i.upper() == rule.code or i.lower() == rule.name for i in idents)

    if settings.select is not None and not named(settings.select):
        return False
    return not named(settings.ignore)


def is_kubernetes_or_cni(loaded: LoadedFile) -> bool:
    for doc in loaded.documents:
        root = doc.root
        if isinstance(root, YMap) and (
            ("apiVersion" in root and "kind" in root) or (loaded.kind == "json" and ("plugins" in root or "type" in root))
        ):
            return True
    return False


def run(
    paths: List[str],
    settings: Settings,
    cwd: Optional[str] = None,
    stdin_bytes: Optional[bytes] = None,
    progress=None,
    root: Optional[str] = None,
    cache=None,
) -> Result:
    """Lint ``paths`` (read from the current directory).  Every path in the
    result is shown relative to ``root`` (the command line passes the
    repository root), or to ``cwd`` without one.  With ``cache`` (a
    ``somaxlint.cache.Cache``), loading -- and the parses of the nginx
    configurations in ConfigMaps -- go through it; the model and the rules
    always run."""
    from somaxlint.cache import activate

    with activate(cache):
        return _run(paths, settings, cwd, stdin_bytes, progress, root, cache)


def _run(paths, settings, cwd, stdin_bytes, progress, root, cache) -> Result:
    cwd = cwd or os.getcwd()
    base = os.path.abspath(root or cwd)
    markers: dict = {}  # unit directories discovery's walks saw
    listings = cache.listing if cache is not None else None
    from somaxlint.projects import rooted_exclude

    exclude = rooted_exclude(settings, base)
    inputs, skipped, roots = discover(paths, base, exclude, settings.stdin_filename, settings.own_files, markers, listings)
    focus = None
    if settings.context:
        focus = {f.display for f in inputs}
        extra, _, extra_roots = discover(settings.context, base, exclude, settings.stdin_filename, settings.own_files, markers, listings)
        known = {f.path for f in inputs}
        inputs = sorted(inputs + [f for f in extra if f.path not in known], key=lambda f: (f.path == "-", f.display))
        roots = sorted(set(roots) | set(extra_roots))
    from somaxlint.projects import govern, project_of

    projects, config_files, nearest = govern(inputs, settings, base, cwd)
    skipped = list(skipped) + config_files
    governed = {id(f) for project in projects for f in project.inputs}
    inputs = [f for f in inputs if id(f) in governed]  # (a project's configuration is not an input)
    several = len(projects) > 1
    # what the run's stages before the model read: the charts' values sets
    # and the `servers:` links of every project
    run_settings = _merged(settings, projects) if several else settings
    units = None
    stage = getattr(progress, "stage", None) or (lambda text: None)
    if not _no_units(inputs, markers):
        stage("rendering charts and kustomizations")
        units = _render_units(paths + list(settings.context), inputs, run_settings, cwd, base, focus, markers, cache)
    if units is not None and units.consumed:
        # Templates, bases, patches and generator sources are read through
        # their chart or kustomization, never as plain manifests.
        consumed = [f for f in inputs if f.path in units.consumed]
        inputs = [f for f in inputs if f.path not in units.consumed]
        skipped = list(skipped) + [Skipped(f.display, "read through its chart or kustomization") for f in consumed if not f.explicit]
    def load(f: InputFile) -> LoadedFile:
        one = load_file(f, settings.max_file_bytes, stdin_bytes, cache)
        if f.path == "-" and f.stands_for is None:
            # a stream (helm template | somaxlint -): its objects see each
            # other first; named, it is the file it stands for
            one.unit = "standard input"
        return one

    loaded, categories, modelled = _load_related(inputs, focus, units, run_settings, load, cache, progress)
    if units is not None:
        loaded.extend(units.loaded)

    summary = Summary(skipped=list(skipped), skipped_other=len(skipped), modelled=modelled)
    rendered = [(one.input, summary_category(one)) for one in units.loaded] if units is not None else []
    for f, category in list(zip(inputs, categories)) + rendered:
        if category == FILES:
            summary.files += 1
        elif category in (NOT_KUBERNETES, NOT_NGINX):
            summary.skipped_not_kubernetes += 1
            summary.skipped.append(Skipped(f.display, category))
        else:
            summary.skipped_other += 1
            summary.skipped.append(Skipped(f.display, category))

    relocator = None
    problems = []
    if units is not None:
        from somaxlint.units.stage import Relocator, problem_locations

        problems = problem_locations(units, base)
        relocator = Relocator(units, base)
    # each project's files, and the problems of its units
    groups = [([], []) for _ in projects]
    if several:
        index = {f.path: i for i, project in enumerate(projects) for f in project.inputs}
        for one in loaded:
            i = index.get(one.input.path)
            groups[i if i is not None else project_of(projects, nearest, one.input.path)][0].append(one)
        for problem in problems:
            groups[project_of(projects, nearest, os.path.join(base, problem[0].path))][1].append(problem)
    else:
        groups[0] = (loaded, problems)

    stage("modelling")
    models = []
    findings: List[Finding] = []
    for project, (files, unit_problems) in zip(projects, groups):
        if several and not files and not unit_problems:
            continue
        model = build_model(files, project.settings, roots, base)
        model.unit_problems = unit_problems
        if relocator is not None:
            model.relocate = lambda location: relocator.location(location)[0]
        models.append((project, model))
    model = models[0][1] if len(models) == 1 else merge_models([m for _, m in models], settings, loaded, relocator)
    model.governed = [(project.shown, m) for project, m in models]
    summary.workloads = len(model.inventory.workloads)
    from somaxlint.model.processes import unread

    # an unread server process is counted once, among the unresolved
    summary.servers = sum(1 for s in model.servers if not unread(s)) + len(model.unresolved)
    summary.unresolved = len(model.unresolved)
    summary.listeners = sum(len(s.listeners) for s in model.servers)
    stage("checking")
    for project, one in models:
        findings.extend(check(one, project.settings))
    if relocator is not None:
        findings = [relocator.finding(f) for f in findings]
    if settings.helm_chart_dir:
        from somaxlint.helm import map_findings

        rendered = {f.input.display: f.text for f in loaded if f.text is not None}
        findings = map_findings(findings, rendered, settings.helm_chart_dir, base)
    if focus is not None:
        findings = [f for f in findings if f.location.path in focus or any(r.location.path in focus for r in f.related)]
    findings = dedupe(sorted(findings, key=Finding.sort_key))
    summary.unparsable = len({f.location.path for f in findings if f.rule == "SMX000"})
    shown = [f.display for f in inputs] + ([u.input.display for u in units.loaded] if units is not None else [])
    notes = list(units.notes) if units is not None else []
    if several:
        counts = {id(project): len(files) for project, (files, _) in zip(projects, groups)}
        notes.append("configurations: " + "; ".join(
            f"{project.shown or 'none (defaults and the command line)'} governs {_count(counts[id(project)], 'file')}"
            for project, _ in models
        ))
    return _filter(Result(findings, model, summary, loaded, root=base, inputs=shown, focus=focus, notes=notes), settings)


def check(model: Model, settings: Settings) -> List[Finding]:
    """Stage 4: every rule ``settings`` enables, on ``model``."""
    findings: List[Finding] = []
    for rule in all_rules():
        if not rule_enabled(rule, settings):
            continue
        override = settings.severity.get(rule.code) or settings.severity.get(rule.name)
        try:
            for finding in rule.check(model):
                if override:
                    finding.severity = override
                findings.append(finding)
        except Exception as exc:  # a rule bug must not hide the other rules' findings
            findings.append(
                Finding("SMX000", "unparsable-input", "error", f"rule {rule.code} failed: {internal_error(exc)}", Location("<somaxlint>"))
            )
    return findings


def _merged(settings: Settings, projects) -> Settings:
    """The run's settings with every project's charts' values sets and
    releases (keyed by chart directory: each is its own project's) and
    `servers:` links, for the stages that run once for all projects."""
    from somaxlint.records import replace

    values, releases, servers = dict(settings.helm_values), dict(settings.helm_release), list(settings.servers)
    for project in projects[1:]:
        values.update(project.settings.helm_values)
        releases.update(project.settings.helm_release)
        servers.extend(project.settings.servers)
    return replace(settings, helm_values=values, helm_release=releases, servers=servers)


def _filter(result: Result, settings: Settings) -> Result:
    """Suppressions, then the baseline (stage 5)."""
    from somaxlint import filtering
    from somaxlint.rules import smx014_unused_suppression as unused

    # under --trusted-config the tree's own suppressions are part of what
    # is under review: they apply only where that configuration says so
    honoured = settings.inline_suppressions is not False
    index = filtering.collect_suppressions(result.files if honoured else [], result.model.inventory if honoured else None)
    kept = filtering.apply_suppressions(result.findings, index)
    result.suppressed = len(result.findings) - len(kept)
    unused_rule = next(r for r in all_rules() if r.code == unused.CODE)
    if rule_enabled(unused_rule, settings):
        kept.extend(unused.findings_for(index, settings.report_unused_suppressions))
    kept = dedupe(sorted(kept, key=Finding.sort_key))
    number_occurrences(kept)  # before the baseline: fingerprints do not depend on it
    if settings.baseline:
        kept, result.stale_baseline = filtering.apply_baseline(kept, filtering.read_baseline(settings.baseline))
    result.findings = kept
    return result


def dedupe(findings: List[Finding]) -> List[Finding]:
    out = []
    seen = set()
    for f in findings:
        # The subject is part of the identity: one ConfigMap mounted by
        # three Deployments is three findings at one location.
        key = (f.rule, f.location, f.message, f.subject)
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return out


def exit_status(findings: List[Finding], fail_on: str) -> int:
    threshold = SEVERITY_RANK[fail_on]
    for f in findings:
        if f.rule == "SMX000" or SEVERITY_RANK.get(f.severity, 2) >= threshold:
            return 1
    return 0

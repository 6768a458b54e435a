"""Render Helm charts into ``Rendered`` streams.

Helm is used in-process through the optional ``helm_python`` binding
(``somaxlint[helm]``) when it imports, else the ``helm`` binary on PATH,
else the chart is reported as not rendered.  The chart is untrusted: nothing
in it is executed, helm runs offline (no ``--dependency-update``) under a
timeout, and values files are read only from inside the chart directory.

A rendered line maps back to its template the way ``somaxlint.helm`` does it:
exactly when its stripped text occurs once in the template, else to the
template's line 1, marked approximate.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Set, Tuple

from somaxlint.discover import DEFAULT_MAX_FILE_BYTES, SKIP_DIRS
from somaxlint.units import RenderProblem, Rendered, RenderResult, SourcePosition

NOT_INSTALLED = "chart not rendered: install helm (on PATH) or somaxlint[helm] to lint its templates"

_SEPARATOR = re.compile(r"^---[ \t]*\r?$")
_SOURCE = re.compile(r"^# Source: (.*\S)")  # greedy to the last non-blank: linear
# helm names the failing template as "<chart>/templates/x.yaml:LINE" (or
# "<chart>/charts/<sub>/templates/..."), inside quotes or parentheses
# A template path and line in Helm's message (`chart/templates/x.yaml:12`),
# found from each `/templates/` outwards: a regex scanning for it from every
# position was quadratic in a long run of path characters.
_LINE_AFTER = re.compile(r":(\d+)")
# C0/C1 controls and bidi/zero-width formatting: helm's messages and the
# chart's file names end up on a terminal
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
_CHART_NAME = re.compile(r"^name:[ \t]*[\"']?([^\"'\s#]+)", re.M)

# (template real path, its line index, rendered line); line None = a marker
if TYPE_CHECKING:
    _Entry = Tuple[str, Optional[Dict[str, List[Tuple[int, int]]]], Optional[str]]


class _Failure(Exception):
    """The render failed: why, and where if not at Chart.yaml or the
    template helm names."""

    def __init__(self, message: str, path: Optional[str] = None, line: int = 1, severity: str = "error"):
        super().__init__(message)
        self.at = (path, line) if path else None
        self.severity = severity  # "info": nothing wrong with the chart, it was not rendered here
        self.transient = False  # stopped at a bound, or no sandbox: never kept


def find_charts(directories: List[str], marked: Optional[Set[str]] = None) -> List[str]:
    """Real paths of the chart directories (holding Chart.yaml) at or below
    each directory; a subchart in a chart's charts/ is part of that chart.
    ``marked``: the directories holding a Chart.yaml that discovery's walk
    of these directories saw (no second walk)."""
    found: Set[str] = set()
    if marked is not None:
        # not below a chart's charts/ (the walk below never enters one)
        found = {c for c in marked if not any(c.startswith(a + os.sep + "charts" + os.sep) for a in marked)}
        directories = []
    for top in directories:
        # os.walk does not descend into symlinked directories: the walk
        # never leaves the real directory it starts from
        for dirpath, dirnames, filenames in os.walk(os.path.realpath(top)):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            if "Chart.yaml" in filenames:
                found.add(dirpath)
                # charts/ holds this chart's subcharts: rendered with it
                dirnames[:] = [d for d in dirnames if d != "charts"]
    # a subchart reached through its own directory is still its parent's
    # when the parent is linted too
    return sorted(c for c in found if _parent_chart(c) not in found)


def chart_of(path: str) -> Optional[str]:
    """Real path of the chart that deploys this file, or None."""
    real = os.path.realpath(path)
    here = real if os.path.isdir(real) else os.path.dirname(real)
    while not os.path.isfile(os.path.join(here, "Chart.yaml")):
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    while True:  # a subchart's file belongs to the chart that deploys it
        parent = _parent_chart(here)
        if parent is None:
            return here
        here = parent


def chart_files(chart_dir: str) -> Set[str]:
    """Real paths of every file in the chart: never linted as plain manifests."""
    root = os.path.realpath(chart_dir)
    files = set()
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            real = os.path.realpath(os.path.join(dirpath, name))
            if _inside(real, root):  # a link out of the chart is its own file
                files.add(real)
    return files


def render_chart(
    chart_dir: str,
    value_sets: Optional[List[List[str]]],
    display: Callable[[str], str],
    release_name: str = "release-name",
    timeout: float = 60,
    boundary: Optional[str] = None,
    require_sandbox: bool = False,
    max_output: int = DEFAULT_MAX_FILE_BYTES,
    store=None,
) -> RenderResult:
    """One ``Rendered`` per values set (None: the chart's values.yaml only;
    else each set's files, relative to the chart, layered over it).

    Helm reads a private copy of the chart made inside ``boundary`` (the
    repository root; default the chart itself) and runs in the jail
    (``somaxlint.units.sandbox``); ``require_sandbox``: without the jail's
    namespaces, the chart is not rendered.  The whole render -- the copy
    and every values set -- has ``timeout`` seconds.  With ``store`` (the
    loading cache), a values set whose every input is unchanged -- the
    files copied, byte for byte, the values set, the release, Helm itself
    and this code -- is not rendered again: Helm's answer is kept under a
    key of exactly those."""
    from somaxlint.units import sandbox

    chart_dir = os.path.realpath(chart_dir)
    anchor = os.path.join(chart_dir, "Chart.yaml")
    consumed = chart_files(chart_dir)
    result = RenderResult(consumed=consumed)
    engine = _engine()
    if engine is None:
        result.problems.append(RenderProblem(anchor, 1, 1, NOT_INSTALLED, "info"))
        return result
    deadline = time.monotonic() + timeout
    copy = sandbox.PrivateTree(boundary or chart_dir, deadline)
    try:
        copy.add_directory(chart_dir, skip=lambda name: name in SKIP_DIRS)
    except sandbox.Refused as exc:
        where = exc.path if exc.path and os.path.lexists(exc.path) else anchor
        result.problems.append(RenderProblem(where, 1, 1, f"chart not rendered: {exc}", "error"))
        return result
    from somaxlint.units import helm_values

    # declared and not vendored (`helm dependency build` not run): Helm
    # would refuse the chart; it renders without them, and says so
    missing = helm_values.missing(copy, chart_dir)
    if missing:
        helm_values.strip(copy, chart_dir, missing)
    templates = _Templates(chart_dir, copy)
    sets = [[]] if value_sets is None else value_sets
    jobs: List[Tuple[str, List[str]]] = []  # (label, copy-relative values files) to render
    failures: Set[str] = set()
    outcomes: List[object] = []  # per set: a _Failure, or the index of its job
    assumptions: List[Tuple[str, ...]] = []  # per set
    for files in sets:
        label = f" ({', '.join(files)})" if files else ""
        said: List[str] = []
        assumptions.append(())
        try:
            outcomes.append(len(jobs))
            paths = _values_paths(chart_dir, files, copy, check=engine[0] == "binary")
            merged, _why = helm_values.values(copy, chart_dir, paths)
            refusal, unchecked = helm_values.schema_problem(copy, chart_dir, merged, paths)
            if refusal is not None:
                raise _Failure(refusal[2], refusal[0], refusal[1])
            said += [unchecked] if unchecked else []
            said += [
                f"dependency {d.label()} (declared in {d.declared_in}) is not in charts/: rendered without it (run `helm dependency build`)"
                for d in missing if helm_values.enabled(d, merged)
            ]
            assumptions[-1] = tuple(said)
            jobs.append((label, paths))
        except _Failure as exc:
            outcomes[-1] = exc
    answers: List[object] = [None] * len(jobs)
    keys = [_render_key(engine, copy, chart_dir, values, release_name, max_output) for _label, values in jobs] if store is not None else []
    for index, key in enumerate(keys):
        answers[index] = _from_store(store.get_render(key), copy)
    todo = [i for i, answer in enumerate(answers) if answer is None]
    if todo:
        import tempfile

        work = tempfile.mkdtemp(prefix="somaxlint-render-")
        try:
            sandbox.prepare(work)
            # Helm validates values against values.schema.json resolving
            # its `$ref`s over the network: somaxlint checked them above,
            # and Helm does not see the schema
            copy.write(os.path.join(work, "tree"), omit=lambda rel: rel.rsplit("/", 1)[-1] == "values.schema.json")
            fresh = _render_all(engine, copy, chart_dir, work, [jobs[i] for i in todo], release_name, deadline, timeout, require_sandbox, max_output)
        finally:
            _remove(work)
        for index, answer in zip(todo, fresh):
            answers[index] = answer
            if store is not None and not getattr(answer, "transient", False):
                store.put_render(keys[index], _for_store(answer, copy))
    for files, outcome, said in zip(sets, outcomes, assumptions):
        label = f" ({', '.join(files)})" if files else ""
        if isinstance(outcome, int):
            outcome = answers[outcome]
        note = ""
        if isinstance(outcome, _Failure) and said and outcome.severity == "error" and any("is not in charts/" in a for a in said):
            # the templates that use a dependency that is not there cannot
            # render: the chart is not at fault, its checkout is
            gone = ", ".join(d.name for d in missing)
            outcome, note = _Failure(str(outcome), *(outcome.at or (None, 1)), severity="info"), f"dependency {gone} is not in charts/: run `helm dependency build`"
        elif isinstance(outcome, _Failure) and value_sets is None and outcome.severity == "error" and _deliberate(str(outcome)):
            # `required` or `fail` on the chart's own defaults: a chart that
            # needs a value nobody named here, not a broken one
            outcome, note = _Failure(str(outcome), *(outcome.at or (None, 1)), severity="info"), _name_a_values_set(copy, chart_dir)
        if isinstance(outcome, _Failure):
            message = _one_line(str(outcome))
            if message not in failures:  # a broken Chart.yaml fails every set alike
                failures.add(message)
                path, line = outcome.at or _error_at(message, templates, anchor)
                result.problems.append(RenderProblem(path, line, 1, f"chart not rendered{label}: {message}", outcome.severity, note=note))
            continue
        text, entries = _stream(outcome, templates, anchor)
        unit = f"helm chart {display(chart_dir)}{label}"
        result.rendered.append(Rendered(unit, anchor, text, _line_map(entries), consumed=consumed, assumptions=said))
    return result


def _deliberate(message: str) -> bool:
    """Helm's words for a template's own `fail` or `required`."""
    return "execution error at (" in message


def _name_a_values_set(copy, chart_dir: str) -> str:
    """How to give the chart the values it requires: chart-testing's
    ``ci/*-values.yaml`` when the chart keeps them."""
    rel = copy.rel(chart_dir)
    under = "ci/" if rel == "." else f"{rel}/ci/"
    kept = sorted(f[len(under):] for f in copy.files if f.startswith(under) and "/" not in f[len(under):] and f.endswith((".yaml", ".yml")))
    hint = f", e.g. ci/{kept[0]}" if kept else ""
    return f"the chart refuses its default values: name a values set for it under `helm.charts` in .somaxlint.yaml{hint}"


def _render_key(engine, copy, chart_dir: str, values: List[str], release_name: str, max_output: int) -> List[str]:
    from somaxlint.units import sandbox

    kind, tool = engine
    identity = sandbox.file_identity(os.path.join(tool, "helm_python", "lib", "libhelm_c.so") if kind == "binding" else tool)
    return ["helm", kind, identity, sandbox.code_identity(), copy.digest(), copy.rel(chart_dir), release_name, *values, f"max={max_output}"]


def _for_store(answer, copy):
    """An answer as the cache keeps it: plain data, paths relative to the
    copy (the same render checked out elsewhere)."""
    if isinstance(answer, _Failure):
        path, line = answer.at or (None, 1)
        rel = next((r for r, (real, _d) in copy.files.items() if real == path), None) if path else None
        return ("failed", str(answer), rel, line, answer.severity)
    return ("rendered", dict(answer))


def _from_store(value, copy):
    """A kept answer, or None for anything that is not one."""
    if type(value) is tuple and len(value) == 2 and value[0] == "rendered" and type(value[1]) is dict:
        if all(type(k) is str and type(v) is str for k, v in value[1].items()):
            return value[1]
    if type(value) is tuple and len(value) == 5 and value[0] == "failed" and type(value[1]) is str and type(value[3]) is int:
        _kind, message, rel, line, severity = value
        if severity not in ("error", "info"):
            return None
        found = copy.files.get(rel) if type(rel) is str else None
        return _Failure(message, found[0] if found else None, line, severity=severity)
    return None


def _remove(directory: str) -> None:
    """A render's directory, whatever the tool left in it (modes included)."""
    import shutil

    def retry(function, path, _info):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
            function(path)
        except OSError:
            pass

    shutil.rmtree(directory, onerror=retry)


def _render_all(engine, copy, chart_dir, work, jobs, release_name, deadline, timeout, require, max_output) -> List[object]:
    """Each job's manifests ({template: text}) or its _Failure, in order."""
    from somaxlint.units import sandbox

    kind, tool = engine
    answers: List[object] = []
    try:
        if kind == "binding":
            while len(answers) < len(jobs):
                answers += _render_binding(tool, copy, chart_dir, work, jobs[len(answers):], release_name, deadline, timeout, require, max_output)
        else:
            for _label, values in jobs:
                answers.append(_render_binary(tool, copy, chart_dir, work, values, release_name, deadline, timeout, require, max_output))
    except sandbox.SandboxError as exc:
        failure = _Failure(str(exc), severity="info")
        failure.transient = True
        answers += [failure] * (len(jobs) - len(answers))
    return answers


def _in_work(work: str, rel: str, inside: bool = False) -> str:
    """Where the copy's ``rel`` is, for the tool: under ``/tree`` of its
    chroot (``inside``), else under the render's directory."""
    top = "/tree" if inside else os.path.join(work, "tree")
    return top if rel == "." else top + "/" + rel


def _killed(why: Optional[str], timeout: float) -> "_Failure":
    """The failure of a render stopped at a bound: not kept in the cache
    (the next run, on a quieter machine, may finish)."""
    if why == "it did not finish in time":
        failure = _Failure(f"helm did not finish rendering within {timeout:g} s")
    else:
        failure = _Failure("helm stopped: " + (why or "it ended without answering"))
    failure.transient = True
    return failure


def _render_binding(helm_path, copy, chart_dir, work, jobs, release_name, deadline, timeout, require, max_output) -> List[object]:
    """Render ``jobs`` with the binding in one worker process (one process
    per chart, not per values set); answers for as many as it finished,
    the one it was stopped on a _Failure (the caller starts another worker
    for the rest)."""
    import json
    from somaxlint.units import sandbox

    tree = os.path.join(work, "tree") + os.sep
    request = {
        "path": helm_path,
        "chart": _in_work(work, copy.rel(chart_dir)),
        "renders": [{"values": [_in_work(work, v) for v in values], "release": release_name} for _label, values in jobs],
    }
    answers: List[object] = []

    def line(raw: bytes) -> None:
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {"error": "helm's worker answered something that is not JSON"}
        manifests = answer.get("manifests") if isinstance(answer, dict) else None
        if isinstance(manifests, dict):
            answers.append({str(k): str(v) for k, v in manifests.items()})
            return
        message = sandbox.clean_message(str(answer.get("error", "helm failed")), work)
        at = answer.get("file")
        source = copy.files.get(at[len(tree):]) if isinstance(at, str) and at.startswith(tree) else None
        line_number = answer.get("line") if isinstance(answer.get("line"), int) else 1
        answers.append(_Failure(message, source[0], line_number) if source else _Failure(message))

    argv = [sys.executable, "-I", sandbox.HELM_WORKER]
    outcome = sandbox.run(
        argv, argv, work, "tree", deadline, max_output, stdin=json.dumps(request).encode(), require=require,
        on_line=line, drop=sandbox.runs_as_nobody(sys.executable, sandbox.HELM_WORKER, os.path.join(helm_path, "helm_python")),
    )
    if len(answers) < len(jobs):
        if outcome.why is None and outcome.status:
            said = sandbox.clean_message(outcome.err.decode("utf-8", "replace"), work)
            failure = _Failure(f"helm's worker failed: {said[-600:] or f'exit status {outcome.status}'}")
            failure.transient = True
            answers.append(failure)
        else:
            answers.append(_killed(outcome.why, timeout))
    return answers[: len(jobs)]


def _render_binary(binary, copy, chart_dir, work, values, release_name, deadline, timeout, require, max_output) -> object:
    from somaxlint.units import sandbox

    def argv(inside: bool, program: str) -> List[str]:
        out = [program, "template"]
        for rel in values:
            out += ["--values", _in_work(work, rel, inside)]
        return out + ["--", release_name, _in_work(work, copy.rel(chart_dir), inside)]  # "--": neither read as a flag

    static = sandbox.static_binary(binary)
    outcome = sandbox.run(
        argv(True, "/bin/helm"), argv(False, binary), work, "tree", deadline, max_output,
        binary=os.path.realpath(binary) if static else None, require=require,
    )
    if outcome.why is not None:
        return _killed(outcome.why, timeout)
    if outcome.status != 0:
        message = sandbox.clean_message(outcome.err.decode("utf-8", "replace").strip(), work)
        start = message.find("Error: ")  # after helm's warnings, if any
        return _Failure(message[start + 7:] if start >= 0 else message or f"helm exited with {outcome.status}")
    return _split_template_output(outcome.out.decode("utf-8", "replace"))


def _engine():
    """("binding", the directory holding helm_python) when the binding is
    installed (found, not imported: it is imported by the worker only), else
    ("binary", path) for ``helm`` on PATH, else None."""
    if sys.version_info >= (3, 10) and not ("helm_python" in sys.modules and sys.modules["helm_python"] is None):
        from importlib.machinery import PathFinder

        try:
            spec = PathFinder.find_spec("helm_python")
        except Exception:
            spec = None
        locations = list(spec.submodule_search_locations or ()) if spec is not None else []
        if locations and os.path.isdir(os.path.join(locations[0], "lib")):
            return "binding", os.path.dirname(locations[0])
    binary = shutil.which("helm")
    return ("binary", binary) if binary else None


def _values_paths(chart_dir: str, files: List[str], copy, check: bool) -> List[str]:
    """The copy's relative path of each values file, which must be in the
    chart (as copied); with ``check`` (the binary, which reads them itself)
    each is parsed here to point a broken one at its line (the binding's
    worker reads them with Helm's own reader, which says where)."""
    paths = []
    for name in files:
        lexical = os.path.normpath(os.path.join(chart_dir, name))
        if not _inside(lexical, chart_dir):
            raise _Failure(f"values file {name} is outside the chart directory", os.path.join(chart_dir, "Chart.yaml"))
        rel = copy.rel(lexical)
        if rel not in copy.files:
            raise _Failure(f"values file {name} not found in the chart", os.path.join(chart_dir, "Chart.yaml"))
        if check:
            _check_yaml(copy.files[rel][0], copy.files[rel][1])
        paths.append(rel)
    return paths


def _check_yaml(path: str, data: bytes) -> None:
    """A values file Helm would refuse, at its line (ruamel's safe loader,
    which builds plain data: nothing in the file executes)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe")
    yaml.allow_duplicate_keys = True  # helm keeps the last one
    try:
        loaded = yaml.load(data.decode("utf-8", "replace"))
    except YAMLError as exc:
        mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
        raise _Failure(f"values file {os.path.basename(path)} is not valid YAML: {exc}", path, mark.line + 1 if mark else 1)
    except RecursionError:
        raise _Failure(f"values file {os.path.basename(path)} is nested too deeply", path, 1)
    if loaded is not None and not isinstance(loaded, dict):
        raise _Failure(f"values file {os.path.basename(path)} is not a mapping", path, 1)


def _split_template_output(output: str) -> Dict[str, str]:
    """`helm template` output -> {source: its documents}; helm writes each
    document as `---`, `# Source: <key>`, then the document."""
    docs: Dict[str, List[List[str]]] = {}
    current: Optional[List[str]] = None
    key = None
    for line in output.split("\n"):
        match = _SOURCE.match(line)
        if match:
            key = match.group(1)
            current = []
            docs.setdefault(key, []).append(current)
        elif _SEPARATOR.match(line):
            current = None
        elif key is not None:
            if current is None:  # a document without its own # Source line
                current = []
                docs[key].append(current)
            current.append(line)
    return {k: "---\n".join("\n".join(d).strip("\n") + "\n" for d in v) for k, v in docs.items()}


class _Templates:
    """One chart's template files: helm's keys resolved to real paths, and
    each file's lines indexed once (stripped text -> [(line, indent)]).
    Read from the private copy Helm rendered: the same bytes."""

    def __init__(self, chart_dir: str, copy):
        self.root = chart_dir
        self.copy = copy
        self._paths: Dict[str, Optional[str]] = {}
        self._indexes: Dict[str, Optional[Dict[str, List[Tuple[int, int]]]]] = {}

    def path(self, key: str) -> Optional[str]:
        if key not in self._paths:
            self._paths[key] = self._resolve(key)
        return self._paths[key]

    def index(self, path: Optional[str]) -> Optional[Dict[str, List[Tuple[int, int]]]]:
        if path is None:
            return None
        if path not in self._indexes:
            data = self.copy.by_real.get(path)
            if data is None:
                self._indexes[path] = None
                return None
            index: Dict[str, List[Tuple[int, int]]] = {}
            for number, text in enumerate(data.decode("utf-8", "replace").split("\n"), 1):
                stripped = text.strip()
                if stripped:
                    index.setdefault(stripped, []).append((number, len(text) - len(text.lstrip())))
            self._indexes[path] = index
        return self._indexes[path]

    def _file(self, lexical: str) -> Optional[Tuple[str, bytes]]:
        return self.copy.files.get(self.copy.rel(os.path.normpath(lexical)))

    def _resolve(self, key: str) -> Optional[str]:
        # "<chart>/templates/x.yaml", "<chart>/charts/<sub>/templates/x.yaml":
        # names are chart names (Chart.yaml `name`), not directory names
        parts = key.replace("\\", "/").split("/")[1:]
        here: Optional[str] = self.root
        while here and len(parts) > 2 and parts[0] == "charts":
            here, parts = self._subchart(here, parts[1]), parts[2:]
        if not here or not parts or ".." in parts:
            return None  # e.g. a subchart packed as a .tgz
        found = self._file(os.path.join(here, *parts))
        return found[0] if found else None

    def _subchart(self, chart: str, name: str) -> Optional[str]:
        under = self.copy.rel(os.path.join(chart, "charts"))
        under = "" if under == "." else under + "/"
        entries = sorted({d[len(under):].split("/", 1)[0] for d in self.copy.directories if d.startswith(under) and len(d) > len(under)})
        entries.sort(key=lambda e: e != name)  # the same-named directory first
        for entry in entries:
            found = self._file(os.path.join(chart, "charts", entry, "Chart.yaml"))
            declared = _CHART_NAME.search(found[1].decode("utf-8", "replace")) if found else None
            if declared and declared.group(1) == name:
                return os.path.join(chart, "charts", entry)
        return None


def _stream(manifests: Dict[str, str], templates: _Templates, anchor: str) -> Tuple[str, List[_Entry]]:
    """One YAML stream for the render, in template order, every document
    headed by `# Source: <key>` like `helm template` output; with one entry
    per stream line for the line map."""
    lines: List[str] = []
    entries: List[_Entry] = []
    for key in sorted(manifests):
        base = key.rsplit("/", 1)[-1]
        body = manifests[key].split("\n")
        if base == "NOTES.txt" or base.startswith("_") or all(_empty(line) for line in body):
            continue
        path = templates.path(key)
        index = templates.index(path)
        where = path or anchor
        source = "# Source: " + _CONTROL.sub("", key)  # a file name must not break the line structure
        if body[-1] == "":
            body.pop()  # the final newline
        while body and (not body[0].strip() or _SEPARATOR.match(body[0])):
            body.pop(0)  # nothing before the first document: no empty one
        lines += ["---", source]
        entries += [(where, None, None)] * 2
        for line in body:
            if _SEPARATOR.match(line):
                lines += [line, source]
                entries += [(where, None, None)] * 2
            else:
                lines.append(line)
                entries.append((where, index, line))
    return ("\n".join(lines) + "\n" if lines else ""), entries


def _line_map(entries: List[_Entry]):
    """Rendered line -> template line.  A line found once in its template
    is exact.  The others (a value a template expression wrote, a line
    repeated in the template) are placed by order: between the nearest
    exact lines before and after it in the same document, at the
    repeated line that lies there (exact), else at the line as many
    lines below the one before as it is in the render (approximate, with
    the rendered text).  One pass over the render, on the first call."""
    anchors: List[Optional[Tuple[int, int]]] = []  # (exact source line, shift) per rendered line

    def exact(i: int) -> Optional[Tuple[int, int]]:
        path, index, text = entries[i]
        wanted = text.strip() if text is not None else ""
        hits = index.get(wanted) if index is not None and wanted else None
        if hits and len(hits) == 1:
            number, indent = hits[0]
            return number, indent - (len(text) - len(text.lstrip()))
        return None

    before: List[Optional[int]] = []  # index of the nearest exact line above, same document
    after: List[Optional[int]] = []

    def prepare() -> None:
        last: Optional[int] = None
        for i, entry in enumerate(entries):
            anchors.append(exact(i))
            if entry[2] is None:  # `---` or `# Source:`: a new document
                last = None
            before.append(last)
            if anchors[i] is not None:
                last = i
        after.extend([None] * len(entries))
        last = None
        for i in range(len(entries) - 1, -1, -1):
            if entries[i][2] is None:
                last = None
            after[i] = last
            if anchors[i] is not None:
                last = i

    def line_map(line: int, column: int) -> Optional[SourcePosition]:
        if not 1 <= line <= len(entries):
            return None
        if not anchors:
            prepare()
        i = line - 1
        path, index, text = entries[i]
        if text is None:  # `---` or `# Source:`
            return SourcePosition(path, 1, 1, approximate=True)
        if anchors[i] is not None:
            number, shift = anchors[i]
            return SourcePosition(path, number, max(1, column + shift))
        wanted = text.strip()
        j, k = before[i], after[i]
        low = anchors[j][0] if j is not None else 0
        high = anchors[k][0] if k is not None else None
        for number, indent in (index.get(wanted, ()) if index is not None and wanted else ()):
            if low < number and (high is None or number < high):
                return SourcePosition(path, number, max(1, column + indent - (len(text) - len(text.lstrip()))))
        if j is None:
            return SourcePosition(path, 1, 1, approximate=True, rendered=wanted)
        guess = low + (i - j)
        if high is not None and guess >= high:
            # more rendered lines than template lines between the two (an
            # expression that wrote several): the last template line before
            # the next exact one wrote them
            guess = high - 1 if high - 1 > low else low
        return SourcePosition(path, guess, len(text) - len(text.lstrip()) + 1, approximate=True, rendered=wanted)

    return line_map


def _error_at(message: str, templates: _Templates, anchor: str) -> Tuple[str, int]:
    """The template and line Helm's message names (`chart/templates/x.yaml:12`):
    each run of path characters that holds `/templates/` is read once, so
    the cost is linear in the message."""
    separators = " \t\n\r\f\v:()<>\"'"
    at = message.find("/templates/")
    floor = 0
    while at >= 0:
        start = at
        while start > floor and message[start - 1] not in separators:
            start -= 1
        end = at + len("/templates/")
        while end < len(message) and message[end] not in separators:
            end += 1
        line = _LINE_AFTER.match(message, end)
        if start < at and end > at + len("/templates/") and line:
            path = templates.path(message[start:end])
            if path:
                return path, int(line.group(1))
        floor = end
        at = message.find("/templates/", end)
    return anchor, 1


def _empty(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#") or stripped == "---"


def _one_line(message: str, limit: int = 4000) -> str:
    text = " ".join(_CONTROL.sub(" ", message).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _inside(real: str, root: str) -> bool:
    return real.startswith(root.rstrip(os.sep) + os.sep)


def _parent_chart(chart: str) -> Optional[str]:
    """The chart whose charts/ directory holds this one, if any."""
    charts = os.path.dirname(chart)
    parent = os.path.dirname(charts)
    if os.path.basename(charts) == "charts" and os.path.isfile(os.path.join(parent, "Chart.yaml")):
        return parent
    return None

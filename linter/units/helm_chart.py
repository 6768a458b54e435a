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
import signal
import subprocess
import threading
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Set, Tuple

from somaxlint.discover import DEFAULT_MAX_FILE_BYTES, SKIP_DIRS, read_regular_file
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
_YAML_LINE = re.compile(r"\bline (\d+)\b")
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

    def __init__(self, message: str, path: Optional[str] = None, line: int = 1):
        super().__init__(message)
        self.at = (path, line) if path else None


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
) -> RenderResult:
    """One ``Rendered`` per values set (None: the chart's values.yaml only;
    else each set's files, relative to the chart, layered over it)."""
    chart_dir = os.path.realpath(chart_dir)
    anchor = os.path.join(chart_dir, "Chart.yaml")
    consumed = chart_files(chart_dir)
    result = RenderResult(consumed=consumed)
    engine = _engine()
    if engine is None:
        result.problems.append(RenderProblem(anchor, 1, 1, NOT_INSTALLED, "info"))
        return result
    kind, tool = engine
    missing = _missing_dependencies(chart_dir)
    if missing:
        # `helm template` refuses such a chart; the binding silently renders
        # it without them.  Either way the result is not what deploys.
        result.problems.append(
            RenderProblem(anchor, 1, 1, f"chart not rendered: dependency {', '.join(missing)} is not in charts/ (run `helm dependency build`)", "info")
        )
        return result
    templates = _Templates(chart_dir)
    failures: Set[str] = set()
    with _without_schemas(chart_dir) as render_dir:
        _render_sets(result, chart_dir, render_dir, anchor, value_sets, display, release_name, timeout, kind, tool, templates, failures, consumed)
    return result


def _render_sets(result, chart_dir, render_dir, anchor, value_sets, display, release_name, timeout, kind, tool, templates, failures, consumed):
    for files in [[]] if value_sets is None else value_sets:
        label = f" ({', '.join(files)})" if files else ""
        try:
            paths = _values_paths(chart_dir, files)
            if kind == "binding":
                manifests = _render_binding(tool, render_dir, _binding_values(tool, paths), release_name, timeout)
            else:
                for path in paths:
                    _check_yaml(path)
                manifests = _render_binary(tool, render_dir, paths, release_name, timeout)
        except _Failure as exc:
            message = _one_line(str(exc))
            if message not in failures:  # a broken Chart.yaml fails every set alike
                failures.add(message)
                path, line = exc.at or _error_at(message, templates, anchor)
                result.problems.append(RenderProblem(path, line, 1, f"chart not rendered{label}: {message}", "error"))
            continue
        text, entries = _stream(manifests, templates, anchor)
        unit = f"helm chart {display(chart_dir)}{label}"
        result.rendered.append(Rendered(unit, anchor, text, _line_map(entries), consumed=consumed))


def _missing_dependencies(chart_dir: str) -> List[str]:
    """Dependencies Chart.yaml declares that charts/ does not hold."""
    from somaxlint.load.positioned import YMap, YSeq
    from somaxlint.load.yaml_stream import load_yaml

    try:
        documents, _ = load_yaml(read_regular_file(os.path.join(chart_dir, "Chart.yaml"), DEFAULT_MAX_FILE_BYTES).decode("utf-8", "replace"))
    except (OSError, ValueError):  # rendering the chart says what is wrong
        return []
    root = documents[0].root if documents else None
    deps = root.get("dependencies") if isinstance(root, YMap) else None
    if not isinstance(deps, YSeq):
        return []
    present = set()
    charts = os.path.join(chart_dir, "charts")
    if os.path.isdir(charts):
        for entry in os.listdir(charts):
            present.add(entry[:-4].rsplit("-", 1)[0] if entry.endswith(".tgz") else entry)
            present.add(entry)
    missing = []
    for dep in deps:
        name = dep.get("name") if isinstance(dep, YMap) else None
        if isinstance(name, str) and name not in present and not any(p.startswith(name + "-") for p in present):
            missing.append(name)
    return missing


class _without_schemas:
    """The chart as Helm should read it: without values.schema.json, whose
    `$ref`s Helm resolves over the network while validating values.
    somaxlint never fetches; schema validation is not its business.  When
    the chart has no schema, the chart directory itself."""

    def __init__(self, chart_dir: str):
        self.chart_dir = chart_dir
        self.tmp = None

    def __enter__(self) -> str:
        import shutil
        import tempfile

        has_schema = False
        for _, _, names in os.walk(self.chart_dir):
            if "values.schema.json" in names:
                has_schema = True
                break
        if not has_schema:
            return self.chart_dir
        self.tmp = tempfile.mkdtemp(prefix="somaxlint-chart-")
        copy = os.path.join(self.tmp, os.path.basename(self.chart_dir))
        shutil.copytree(self.chart_dir, copy, symlinks=False, ignore=shutil.ignore_patterns("values.schema.json"))
        return copy

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)


def _engine():
    try:
        # optional (somaxlint[helm]), Python >= 3.10, and it loads a native
        # library at import: any failure means "not available"
        import helm_python
    except Exception:
        helm_python = None
    if helm_python is not None:
        return "binding", helm_python
    binary = shutil.which("helm")
    return ("binary", binary) if binary else None


def _values_paths(chart_dir: str, files: List[str]) -> List[str]:
    paths = []
    for name in files:
        real = os.path.realpath(os.path.join(chart_dir, name))
        if not _inside(real, chart_dir):
            raise _Failure(f"values file {name} is outside the chart directory", os.path.join(chart_dir, "Chart.yaml"))
        if not os.path.isfile(real):
            raise _Failure(f"values file {name} not found in the chart", os.path.join(chart_dir, "Chart.yaml"))
        paths.append(real)
    return paths


def _binding_values(helm, paths: List[str]) -> Optional[dict]:
    # helm's own YAML reader, not ruamel: helm reads values as YAML 1.1
    # (`yes` is true, `0777` is octal) and refuses alias bombs, and the
    # values must be what helm would deploy.  The chart's values.yaml is
    # merged underneath by the binding itself, as `helm -f` does.
    merged: Optional[dict] = None
    for path in paths:
        try:
            values = helm.values_from_yaml(_read(path))
        except helm.HelmError as exc:
            raise _Failure(f"values file {os.path.basename(path)}: {exc}", path, _yaml_line(str(exc)))
        merged = _merge(merged or {}, values)
    return merged


def _merge(base: dict, over: dict) -> dict:
    # helm's mergeMaps for -f files: maps merge key by key, anything else
    # (lists, scalars, null) replaces
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _check_yaml(path: str) -> None:
    # the binary reads the file itself; parse it first only to point a
    # broken file's error at the file
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe")
    yaml.allow_duplicate_keys = True  # helm keeps the last one
    try:
        data = yaml.load(_read(path))
    except YAMLError as exc:
        mark = exc.problem_mark if isinstance(exc, MarkedYAMLError) else None
        raise _Failure(f"values file {os.path.basename(path)} is not valid YAML: {exc}", path, mark.line + 1 if mark else 1)
    if data is not None and not isinstance(data, dict):
        raise _Failure(f"values file {os.path.basename(path)} is not a mapping", path, 1)


def _render_binding(helm, chart_dir: str, values: Optional[dict], release_name: str, timeout: float) -> Dict[str, str]:
    # the native call cannot be interrupted: run it on a daemon thread (the
    # ctypes call releases the GIL) and abandon it past the timeout
    box: dict = {}

    def work():
        try:
            with helm.Chart.load(chart_dir) as chart:
                box["out"] = chart.render(values=values, name=release_name)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="somaxlint-helm-render", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise _Failure(f"helm did not finish rendering within {timeout:g} s")
    error = box.get("error")
    if isinstance(error, helm.HelmError):
        raise _Failure(str(error))
    if error is not None:
        raise error
    return box["out"]


def _render_binary(binary: str, chart_dir: str, paths: List[str], release_name: str, timeout: float) -> Dict[str, str]:
    argv = [binary, "template"]
    for path in paths:
        argv += ["--values", path]
    argv += ["--", release_name, chart_dir]  # "--": neither can be read as a flag
    try:
        # own session: on timeout the whole group goes, and no child keeps
        # the pipes open
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        raise _Failure(f"could not run helm: {exc}")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        except OSError:  # gone in the meantime
            pass
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        raise _Failure(f"helm did not finish rendering within {timeout:g} s")
    if proc.returncode != 0:
        message = err.decode("utf-8", "replace").strip()
        start = message.find("Error: ")  # after helm's warnings, if any
        raise _Failure(message[start + 7:] if start >= 0 else message or f"helm exited with {proc.returncode}")
    return _split_template_output(out.decode("utf-8", "replace"))


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
    each file's lines indexed once (stripped text -> [(line, indent)])."""

    def __init__(self, chart_dir: str):
        self.root = chart_dir
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
            try:
                lines = _read(path).split("\n")
            except _Failure:
                self._indexes[path] = None
                return None
            index: Dict[str, List[Tuple[int, int]]] = {}
            for number, text in enumerate(lines, 1):
                stripped = text.strip()
                if stripped:
                    index.setdefault(stripped, []).append((number, len(text) - len(text.lstrip())))
            self._indexes[path] = index
        return self._indexes[path]

    def _resolve(self, key: str) -> Optional[str]:
        # "<chart>/templates/x.yaml", "<chart>/charts/<sub>/templates/x.yaml":
        # names are chart names (Chart.yaml `name`), not directory names
        parts = key.replace("\\", "/").split("/")[1:]
        here: Optional[str] = self.root
        while here and len(parts) > 2 and parts[0] == "charts":
            here, parts = self._subchart(here, parts[1]), parts[2:]
        if not here or not parts:
            return None  # e.g. a subchart packed as a .tgz
        real = os.path.realpath(os.path.join(here, *parts))
        return real if _inside(real, self.root) and os.path.isfile(real) else None

    def _subchart(self, chart: str, name: str) -> Optional[str]:
        charts = os.path.join(chart, "charts")
        try:
            entries = sorted(os.listdir(charts), key=lambda e: e != name)  # the same-named directory first
        except OSError:
            return None
        for entry in entries:
            try:
                declared = _CHART_NAME.search(_read(os.path.join(charts, entry, "Chart.yaml")))
            except _Failure:
                continue
            if declared and declared.group(1) == name:
                return os.path.join(charts, entry)
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
    def line_map(line: int, column: int) -> Optional[SourcePosition]:
        if not 1 <= line <= len(entries):
            return None
        path, index, text = entries[line - 1]
        if text is None:  # `---` or `# Source:`
            return SourcePosition(path, 1, 1, approximate=True)
        wanted = text.strip()
        hits = index.get(wanted) if index is not None and wanted else None
        if hits and len(hits) == 1:
            number, indent = hits[0]
            shift = indent - (len(text) - len(text.lstrip()))
            return SourcePosition(path, number, max(1, column + shift))
        return SourcePosition(path, 1, 1, approximate=True, rendered=wanted)

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


def _read(path: str) -> str:
    """A chart's file: never a FIFO (which would block the run), never more
    than DEFAULT_MAX_FILE_BYTES."""
    try:
        data = read_regular_file(path, DEFAULT_MAX_FILE_BYTES)
    except OSError as exc:
        raise _Failure(f"cannot read {os.path.basename(path)}: {exc.strerror}")
    except ValueError as exc:
        if str(exc).startswith("larger than"):
            raise _Failure(f"{os.path.basename(path)} is larger than {DEFAULT_MAX_FILE_BYTES} bytes")
        raise _Failure(f"cannot read {os.path.basename(path)}: {exc}")
    return data.decode("utf-8", "replace")


def _yaml_line(message: str) -> int:
    match = _YAML_LINE.search(message)
    return int(match.group(1)) if match else 1


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

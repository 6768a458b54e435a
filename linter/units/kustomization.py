"""Kustomize units: find kustomizations, build them, map the output back.

The build runs the real tool (``kustomize build`` or ``kubectl kustomize``)
on a throw-away kustomization in a temporary directory that lists the
user's directory as its only resource and asks for origin annotations, so
nothing is ever written into the user's tree.  kustomize refuses absolute
paths as resources ("new root cannot be absolute"), so the wrapper names
the directory by a relative path, and every ``path:`` / ``configuredIn:`` of
an origin annotation is then relative to the wrapper directory (joined
lexically: symlinks are kept as written).  The annotations are removed from
the returned text, which is then byte for byte what a plain build gives.

Each rendered line is mapped by its YAML path: the same path in the origin
file (same value: exact), else in a patch of the build (exact), else the
object's ``kind:`` line, approximately.  Sequence items are matched by
their merge key (``name``, ``mountPath``, ...), not their index, because
patches and generators reorder and insert items.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import shutil
import stat
import tempfile
import time
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from somaxlint.discover import DEFAULT_MAX_FILE_BYTES, SKIP_DIRS, read_regular_file, within
from somaxlint.load.positioned import YMap, YSeq
from somaxlint.load.yaml_stream import load_yaml
from somaxlint.records import replace
from somaxlint.units import Rendered, RenderProblem, RenderResult, SourcePosition

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

ORIGIN = "config.kubernetes.io/origin"
FALLBACK_ASSUMPTION = (
    "kustomize not installed: resources linked without patches or generators (install kustomize or kubectl)"
)
# said on every finding of a kustomization kustomize did not build (the
# SMX000 at the kustomization says why)
UNBUILT_ASSUMPTION = (
    "kustomize did not build this kustomization (see the SMX000 at it): its resources linked as they are, "
    "without patches or generators"
)
# the stage shortens messages once absolute paths are gone (somaxlint.units.stage)
MAX_MESSAGE = 4000

# The keys kustomize's strategic merge uses to match list items, in the
# order that identifies an item best (a volumeMount's name is not unique,
# its mountPath is).
_ITEM_KEYS = ("mountPath", "devicePath", "containerPort", "name", "key", "ip")
_REMOTE_PREFIXES = ("git@", "git::", "github.com/", "gitlab.com/", "bitbucket.org/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# kustomize nests quotes ("err='... from 'x.yaml': ...'"): every span
# between two quotes is a candidate, hence the overlapping lookahead
_QUOTED = re.compile(r"(?='([^'\n]+)')")
# kustomize's list of a generator's sources: "env source files: [.env]"
_LISTED = re.compile(r"files: \[([^\]\s]+)\]")
_BLOCK_HEADER = re.compile(r"[|>]([1-9])?[-+]?([1-9])?")
_ANY = object()  # a source value that matches whatever was rendered


# ---------------------------------------------------------------- discovery


def kustomization_file(directory: str) -> Optional[str]:
    for name in KUSTOMIZATION_NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def find_kustomizations(directories: List[str], marked: Optional[Set[str]] = None) -> List[str]:
    """Real paths of directories holding a kustomization file at or below
    the given directories (sorted; skip .git, node_modules, .venv; never
    follow symlinks out).  ``marked``: those discovery's walk of these
    directories saw (no second walk)."""
    if marked is not None:
        return sorted(marked)
    found: Set[str] = set()
    for directory in directories:
        root = os.path.realpath(directory)
        if not os.path.isdir(root):
            continue
        # followlinks=False: a symlinked directory is listed but not entered
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in KUSTOMIZATION_NAMES:
                if name in filenames:
                    path = os.path.join(dirpath, name)
                    if os.path.isfile(path) and within(path, [root]):
                        found.add(os.path.realpath(dirpath))
                    break
    return sorted(found)


def roots(kustomization_dirs: List[str]) -> List[str]:
    """Those that no other kustomization in the list includes (through
    resources:, bases: or components:, relative to the including one).  A
    kustomization that does not parse is still a root: building it reports
    the error."""
    dirs = [os.path.realpath(d) for d in kustomization_dirs]
    listed = set(dirs)
    included: Set[str] = set()
    for kdir in dirs:
        kfile = kustomization_file(kdir)
        kmap = _load_map(kfile) if kfile else None
        if kmap is None:
            continue
        for key in ("resources", "bases", "components"):
            for entry, _pos in (item for value in _values(kmap, key) for item in _strings(value)):
                if _is_remote(entry):
                    continue
                target = _resolve(kdir, entry)
                if target is not None and target != kdir and target in listed:
                    included.add(target)
    seen: Set[str] = set()
    out = []
    for kdir in dirs:
        if kdir not in included and kdir not in seen:
            seen.add(kdir)
            out.append(kdir)
    return out


def consumed_files(kustomization_dir: str, allowed_roots: Optional[Sequence[str]] = None, memo: Optional[dict] = None) -> Set[str]:
    """Real paths of every file the kustomization (recursively through its
    directory resources, bases and components) reads.  With
    ``allowed_roots``, files outside them are neither opened nor listed.
    ``memo``: a dictionary shared by the walks of one run (the real paths
    resolved and the kustomizations parsed, which overlays over one base
    have in common)."""
    return _Tree(os.path.realpath(kustomization_dir), allowed_roots, memo=memo, files_only=True).files


# ------------------------------------------------------------ reading files


def _read_text(path: str) -> Optional[str]:
    try:
        data = _read_bytes(path)
    except (OSError, ValueError):
        return None
    return _decode(data)


def _decode(data: bytes) -> Optional[str]:
    """The text of a file as kustomize reads it: UTF-8, or UTF-16 after its
    byte-order mark (YAML allows both); None for other binary data."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data:
        return None
    return data.decode("utf-8-sig", errors="replace")


def _read_bytes(path: str) -> bytes:
    """A file the kustomization names: never a FIFO (which would block the
    run), never more than DEFAULT_MAX_FILE_BYTES.  Raises OSError, or
    ValueError saying why it is not read."""
    return read_regular_file(path, DEFAULT_MAX_FILE_BYTES)


def _unreadable(path: str) -> Optional[str]:
    """Why ``path`` cannot be read, or None when it can."""
    try:
        _read_bytes(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    except ValueError as exc:
        return str(exc)
    return None


def _load_map(path: str) -> Optional[YMap]:
    text = _read_text(path)
    if text is None:
        return None
    documents, errors = load_yaml(text)
    if errors or not documents or not isinstance(documents[0].root, YMap):
        return None
    return documents[0].root


def _strings(value: Any) -> Iterable[Tuple[str, Tuple[int, int]]]:
    """(string item, its position) of a sequence; anything else: nothing."""
    if isinstance(value, YSeq):
        for item, pos in zip(value, value.ipos):
            if isinstance(item, str):
                yield item, (pos[0], pos[1])


def _maps(value: Any) -> Iterable[Tuple[YMap, Tuple[int, int]]]:
    if isinstance(value, YSeq):
        for item, pos in zip(value, value.ipos):
            if isinstance(item, YMap):
                yield item, (pos[0], pos[1])


def _is_remote(entry: str) -> bool:
    return "://" in entry or "?ref=" in entry or entry.startswith(_REMOTE_PREFIXES)


def _resolve(base: str, rel: str) -> Optional[str]:
    try:
        return os.path.realpath(os.path.join(base, rel))
    except (ValueError, OSError):
        return None


# ------------------------------------------------------- the kustomization tree


class _Src:
    """Where one YAML path is written: its key (or item) and value, and for
    multi-line values where the content lines start."""

    __slots__ = (
        "file", "line", "col", "vline", "vcol", "value", "style", "key_col", "cfile", "cline0", "cindent", "_at", "_vat"
    )

    def __init__(self, file, line, col, value, style, key_col):
        self.file = file
        self.line = line
        self.col = col
        self.vline = line
        self.vcol = col
        self.value = value
        self.style = style
        self.key_col = key_col
        # block scalar content: line k of the value is line cline0 + k of
        # cfile; cindent is filled in when first needed
        self.cfile = file
        self.cline0 = line
        self.cindent: Optional[int] = None
        self._at: Optional[SourcePosition] = None
        self._vat: Optional[SourcePosition] = None

    def at(self) -> SourcePosition:
        if self._at is None:
            self._at = SourcePosition(self.file, self.line, self.col)
        return self._at

    def value_at(self) -> SourcePosition:
        if self._vat is None:
            self._vat = SourcePosition(self.file, self.vline, self.vcol)
        return self._vat


if TYPE_CHECKING:
    Shift = Callable[[int, int], Tuple[int, int]]


def _no_shift(line: int, col: int) -> Tuple[int, int]:
    return line, col


class _Patch:
    """One patch document (strategic merge) or operation list (JSON 6902)."""

    def __init__(self, file: str, root: Any, target: Optional[YMap], shift: Shift):
        self.file = file
        self.root = root
        self.target = target if isinstance(target, YMap) else None
        self.shift = shift
        self.json = isinstance(root, YSeq)
        self._index: Optional[Dict[tuple, _Src]] = None

    def kind_name(self) -> Tuple[Optional[str], Optional[str]]:
        if self.target is not None:
            return _str(self.target.get("kind")), _str(self.target.get("name"))
        if isinstance(self.root, YMap):
            return _str(self.root.get("kind")), _str(_get(self.root, "metadata", "name"))
        return None, None

    def index(self) -> Dict[tuple, _Src]:
        if self._index is None:
            self._index = _index(_walk(self.root), self.file, self.shift)
        return self._index

    def json_index(self, rendered: YMap) -> Dict[tuple, _Src]:
        """The operations' values under the paths they write to; numeric
        pointer steps are resolved against the rendered object (the item
        now at that index), since the rendered paths name items by key."""
        out: Dict[tuple, _Src] = {}
        for op, _pos in _maps(self.root):
            if op.get("op") not in ("add", "replace") or "value" not in op or not isinstance(op.get("path"), str):
                continue
            prefix = _pointer_path(op["path"], rendered)
            if prefix is None:
                continue
            value = op["value"]
            kp, vp = op.kpos["value"], op.vpos["value"]
            line, col = self.shift(kp[0], kp[1])
            src = _Src(self.file, line, col, value, vp[2], col)
            src.vline, src.vcol = self.shift(vp[0], vp[1])
            src.cline0 = src.vline
            out.setdefault(prefix, src)
            for path, src in _index(_walk(value, prefix), self.file, self.shift).items():
                out.setdefault(path, src)
        return out


def _values(kmap: Any, key: str) -> List[Any]:
    """Every value of ``key`` in ``kmap``, spelled in any case: kustomize
    decodes its files as JSON does in Go, matching field names without
    regard to case (``Resources:`` is ``resources:``)."""
    if not isinstance(kmap, YMap):
        return []
    if key in kmap and all(k == key or not isinstance(k, str) or k.lower() != key.lower() for k in kmap):
        return [kmap[key]]
    return [v for k, v in kmap.items() if isinstance(k, str) and k.lower() == key.lower()]


def _value(kmap: Any, key: str) -> Any:
    """The value of ``key`` spelled in any case (the last one, as Go's
    decoder keeps), or None."""
    found = _values(kmap, key)
    return found[-1] if found else None


def _key_pos(kmap: YMap, key: str) -> Tuple[int, int]:
    for k in kmap:
        if isinstance(k, str) and k.lower() == key.lower():
            pos = kmap.kpos.get(k)
            if pos:
                return pos[0], pos[1]
    return 1, 1


class _Tree:
    """Every kustomization reachable from a root, the files they read, and
    the patches in the order the last applied comes first.

    Paths are joined as kustomize joins them, lexically (``a/../b`` is
    ``b`` whatever ``a`` is); the file read there is the one each symlink
    hop on the way leads to.  With ``copy`` (a
    ``somaxlint.units.sandbox.PrivateTree``), every file is also taken
    into the private copy the build reads, each hop kept inside the
    repository: what may not be read is in ``refusals`` and the build does
    not run."""

    def __init__(self, root: str, allowed: Optional[Sequence[str]], copy=None, memo: Optional[dict] = None, files_only: bool = False):
        self.allowed = [os.path.realpath(r) for r in allowed] if allowed is not None else None
        # only which files it reads: patches are not parsed
        self.files_only = files_only
        self.copy = copy
        # real paths and parsed kustomizations, shared by the walks of a run
        self.memo = memo if memo is not None else {}
        self.files: Set[str] = set()
        self.kmaps: Dict[str, Optional[YMap]] = {}  # kustomization file (real) -> parsed
        self.patches: List[_Patch] = []
        self.origin_annotations = False  # the user asked for them too
        # why the build may not run, each at the entry that names the file
        self.refusals: List[RenderProblem] = []
        # the first remote entry (kfile, line, column): never fetched
        self.remote: Optional[Tuple[str, int, int]] = None
        self.dirs: Set[str] = set()  # real paths of the directories it reaches
        self._kfile: Optional[str] = None
        self._collect(os.path.normpath(root))

    def readable(self, path: Optional[str]) -> bool:
        if path is None:
            return False
        if self.copy is not None:
            return path in self.copy.by_real or path in self.dirs
        if self.allowed is None:
            return True
        from somaxlint.discover import _under

        return _under(self._real(path), self.allowed)

    def _real(self, path: str) -> Optional[str]:
        """``os.path.realpath(path)`` (absolute), each directory resolved once
        in a run: the overlays over one base name it alike, and only the
        last component of a path is new (one ``lstat``, where ``realpath``
        walks every component again)."""
        cache = self.memo.setdefault("real", {})
        found = cache.get(path, False)
        if found is not False:
            return found
        parent, name = os.path.split(path)
        if not name or parent == path or "\0" in name:
            try:
                real: Optional[str] = os.path.realpath(path)
            except (ValueError, OSError):
                real = None
        else:
            above = self._real(parent)
            if above is None:
                real = None
            elif name == ".":
                real = above
            elif name == "..":
                real = os.path.dirname(above)
            else:
                candidate = os.path.join(above, name)
                try:
                    link = stat.S_ISLNK(os.lstat(candidate).st_mode)
                except (OSError, ValueError):
                    link = False
                try:
                    real = os.path.realpath(candidate) if link else candidate
                except (ValueError, OSError):
                    real = None
        cache[path] = real
        return real

    def source(self, lexical: str) -> Optional[str]:
        """The real path of the file the copy holds at ``/tree/<rel>`` (the
        build's view of it), or None."""
        if self.copy is None or not lexical.startswith("/tree/"):
            return None
        found = self.copy.files.get(lexical[len("/tree/"):])
        return found[0] if found else None

    def text(self, real: str) -> Optional[str]:
        """The content of a file the tree took (from the copy when there is
        one: the bytes the build reads)."""
        if self.copy is not None:
            data = self.copy.by_real.get(real)
            return None if data is None else _decode(data)
        return _read_text(real)

    # -- one path as kustomize joins it

    def _refuse(self, entry: str, at: Optional[Tuple[int, int]], reason: str) -> None:
        if self._kfile is not None:
            line, col = at or (1, 1)
            self.refusals.append(RenderProblem(self._kfile, line, col, f"kustomization not built: {entry}: {reason}", "error"))

    def _locate(self, kdir: str, entry: str, at: Optional[Tuple[int, int]] = None) -> Optional[Tuple[str, str, bool]]:
        """(lexical path, real path, is a directory) of ``entry`` named in
        the kustomization of the lexical directory ``kdir``; None when there
        is nothing there (kustomize says so) or it may not be read."""
        if "\0" in entry:
            return None
        lexical = os.path.normpath(os.path.join(kdir, entry))
        if self.copy is None:
            real = self._real(os.path.join(kdir, entry))
            if real is None or not self.readable(real):
                return None
            kinds = self.memo.setdefault("kind", {})
            if real not in kinds:
                kinds[real] = "dir" if os.path.isdir(real) else ("file" if os.path.exists(real) else None)
            if kinds[real] is None:
                return None
            return lexical, real, kinds[real] == "dir"
        from somaxlint.units.sandbox import Missing, Refused

        try:
            real = self.copy.real(lexical)
        except Missing:
            return None
        except Refused as exc:
            self._refuse(entry, at, str(exc))
            return None
        is_dir = os.path.isdir(real)
        if is_dir:
            self.dirs.add(real)
        return lexical, real, is_dir

    def _add_file(self, kdir: str, entry: str, at: Optional[Tuple[int, int]] = None) -> Optional[str]:
        found = self._locate(kdir, entry, at)
        if found is None or found[2]:
            return None
        lexical, real, _ = found
        if self.copy is not None:
            from somaxlint.units.sandbox import Refused

            try:
                self.copy.add_file(lexical)
            except Refused as exc:
                self._refuse(entry, at, str(exc))
                return None
        elif not os.path.isfile(real):
            if self._kfile is not None:
                self._refuse(entry, at, "not a regular file (kustomize would wait on it forever)")
            return None
        self.files.add(real)
        return real

    def _kustomization(self, kdir: str) -> Optional[str]:
        """The real path of the kustomization file in the lexical directory
        ``kdir``, taken into the tree."""
        for name in KUSTOMIZATION_NAMES:
            found = self._locate(kdir, name)
            if found is not None and not found[2]:
                return self._add_file(kdir, name)
        return None

    # -- the walk

    def _collect(self, root: str) -> None:
        seen: Set[str] = set()
        stack = [root]
        while stack:
            kdir = stack.pop()
            if kdir in seen:
                continue
            seen.add(kdir)
            kfile = self._kustomization(kdir)
            if kfile is None:
                continue
            self._kfile = kfile
            parsed = self.memo.setdefault("kmap", {}) if self.copy is None else {}
            if kfile not in parsed:
                parsed[kfile] = _parse_map(self.text(kfile))
            kmap = parsed[kfile]
            self.kmaps[kfile] = kmap
            if kmap is None:
                continue
            if any(s == "originAnnotations" for v in _values(kmap, "buildMetadata") for s, _ in _strings(v)):
                self.origin_annotations = True
            if _values(kmap, "helmCharts") and self.remote is None:
                line, col = _key_pos(kmap, "helmCharts")
                self.refusals.append(RenderProblem(kfile, line, col, "kustomization not built: helmCharts fetches charts; render the chart itself instead", "error"))
            resource_dirs = self._references(kdir, kmap, ("resources", "bases"))
            component_dirs = self._references(kdir, kmap, ("components",))
            self._patches(kdir, kfile, kmap)
            self._other_files(kdir, kmap)
            # kustomize builds resources, then applies components in order,
            # then this kustomization's patches: visit the other way round
            stack.extend(reversed(list(reversed(component_dirs)) + resource_dirs))

    def _references(self, kdir: str, kmap: YMap, keys: Tuple[str, ...]) -> List[str]:
        dirs = []
        for key in keys:
            for value in _values(kmap, key):
                for entry, pos in _strings(value):
                    if self._is_remote(entry, pos):
                        continue
                    found = self._locate(kdir, entry, pos)
                    if found is None:
                        continue
                    if found[2]:
                        dirs.append(found[0])
                    else:
                        self._add_file(kdir, entry, pos)
        return dirs

    def _is_remote(self, entry: str, pos: Tuple[int, int]) -> bool:
        if not _is_remote(entry):
            return False
        if self.remote is None and self._kfile is not None:
            self.remote = (self._kfile, pos[0], pos[1])
        return True

    def _patches(self, kdir: str, kfile: str, kmap: YMap) -> None:
        found: List[_Patch] = []
        for key in ("patches", "patchesJson6902"):
            for value in _values(kmap, key):
                for entry, _pos in _maps(value):
                    self._patch_entry(kdir, kfile, entry, found)
        for smp in _values(kmap, "patchesStrategicMerge"):
            if not isinstance(smp, YSeq):
                continue
            for i, entry in enumerate(smp):
                if not isinstance(entry, str):
                    continue
                if "\n" in entry:
                    pos = smp.ipos[i]
                    self._inline(kfile, entry, pos, max(1, pos[1] - 2), None, found)
                else:
                    self._patch_file(kdir, entry, None, found, smp.ipos[i][:2])
        self.patches.extend(reversed(found))

    def _patch_entry(self, kdir: str, kfile: str, entry: YMap, found: List[_Patch]) -> None:
        target = _value(entry, "target")
        path, patch = _value(entry, "path"), _value(entry, "patch")
        if isinstance(path, str):
            self._patch_file(kdir, path, target, found, _entry_pos(entry, "path"))
        elif isinstance(patch, str):
            key = next(k for k in entry if isinstance(k, str) and k.lower() == "patch")
            self._inline(kfile, patch, entry.vpos[key], entry.kpos[key][1], target, found)

    def _patch_file(self, kdir: str, rel: str, target: Any, found: List[_Patch], at: Optional[Tuple[int, int]] = None) -> None:
        path = self._add_file(kdir, rel, at)
        if path is None or self.files_only:
            return
        text = self.text(path)
        if text is None:
            return
        documents, _errors = load_yaml(text)
        for document in documents:
            if document.root is not None:
                found.append(_Patch(path, document.root, target, _no_shift))

    def _inline(self, kfile: str, text: str, pos: tuple, key_col: int, target: Any, found: List[_Patch]) -> None:
        """A patch written inside the kustomization: positions are moved
        into the kustomization file.  A literal block keeps its lines; any
        other style cannot be followed line by line, so everything in it
        points at the start of the value."""
        if self.files_only:
            return
        shift: Shift
        if pos[2] == "|":
            content = self.text(kfile)
            lines = content.split("\n") if content is not None else None
            indent = _block_indent(lines, pos[0], pos[1], key_col) if lines else 0
            header = pos[0]

            def shift(line: int, col: int) -> Tuple[int, int]:
                return header + line, col + indent

        else:
            at = (pos[0], pos[1])

            def shift(line: int, col: int) -> Tuple[int, int]:
                return at

        documents, _errors = load_yaml(text)
        for document in documents:
            if document.root is not None:
                found.append(_Patch(kfile, document.root, target, shift))

    def _other_files(self, kdir: str, kmap: YMap) -> None:
        for key in ("configMapGenerator", "secretGenerator"):
            for value in _values(kmap, key):
                for gen, _pos in _maps(value):
                    self._generator(kdir, gen)
        for value in _values(kmap, "replacements"):
            for entry, _pos in _maps(value):
                if isinstance(_value(entry, "path"), str):
                    self._add_file(kdir, _value(entry, "path"), _entry_pos(entry, "path"))
        for key in ("generators", "transformers", "validators", "configurations", "crds"):
            for value in _values(kmap, key):
                for entry, pos in _strings(value):
                    if "\n" in entry or self._is_remote(entry, pos):
                        continue
                    found = self._locate(kdir, entry, pos)
                    if found is not None and not found[2]:
                        self._add_file(kdir, entry, pos)
                    elif found is not None and key in ("generators", "transformers", "validators"):
                        self._nested(found[0])
        for openapi in _values(kmap, "openapi"):
            if isinstance(_value(openapi, "path"), str):
                self._add_file(kdir, _value(openapi, "path"), _entry_pos(openapi, "path"))

    def _nested(self, kdir: str) -> None:
        """A directory of generators or transformers: a kustomization of its
        own, whose files the build reads too."""
        naming = self._kfile
        self._collect(kdir)
        self._kfile = naming

    def _generator(self, kdir: str, gen: YMap) -> None:
        for value in _values(gen, "files"):
            for entry, pos in _strings(value):
                _key, _, rel = entry.partition("=")
                if not rel:
                    rel = entry
                found = self._locate(kdir, rel, pos)
                if found is None:
                    continue
                if not found[2]:
                    self._add_file(kdir, rel, pos)
                    continue
                # a directory: each regular file in it
                try:
                    names = sorted(os.listdir(found[1]))
                except OSError:
                    continue
                for name in names:
                    if os.path.isfile(os.path.join(found[1], name)):
                        self._add_file(found[0], name, pos)
        for key in ("envs", "env"):
            for value in _values(gen, key):
                items = [(value, _entry_pos(gen, key))] if isinstance(value, str) else list(_strings(value))
                for entry, pos in items:
                    self._add_file(kdir, entry, pos)


def _entry_pos(entry: YMap, key: str) -> Tuple[int, int]:
    for k in entry:
        if isinstance(k, str) and k.lower() == key.lower():
            pos = entry.vpos.get(k)
            if pos:
                return pos[0], pos[1]
    return 1, 1


def _parse_map(text: Optional[str]) -> Optional[YMap]:
    if text is None:
        return None
    documents, errors = load_yaml(text)
    if errors or not documents or not isinstance(documents[0].root, YMap):
        return None
    return documents[0].root


def _generator_files(kdir: str, gen: YMap) -> Iterable[Tuple[str, str, Tuple[int, int]]]:
    """(data key, real path, position of the files: item) of a generator;
    a directory entry stands for every regular file in it."""
    for entry, pos in _strings(gen.get("files")):
        key, _, rel = entry.partition("=")
        if not rel:
            key, rel = os.path.basename(entry.rstrip("/")), entry
        path = _resolve(kdir, rel)
        if path is None:
            continue
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                continue
            for name in names:
                full = os.path.join(path, name)
                if os.path.isfile(full):
                    yield name, os.path.realpath(full), pos
        else:
            yield key, path, pos


def _env_entries(gen: YMap) -> List[Tuple[str, Tuple[int, int]]]:
    envs = list(_strings(gen.get("envs")))
    if isinstance(gen.get("env"), str):
        kp = gen.kpos["env"]
        envs.append((gen["env"], (kp[0], kp[1])))
    return envs


# ------------------------------------------------------------------ YAML paths


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _item_step(item: Any, index: int, counts: Dict[tuple, int]) -> tuple:
    """How a list item is named in a path: by its merge key and value, or
    by its own value for a scalar; the count tells duplicates apart."""
    if isinstance(item, YMap):
        ident: tuple = (index,)
        for key in _ITEM_KEYS:
            value = item.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                ident = (key, value)
                break
    elif isinstance(item, YSeq):
        ident = (index,)
    else:
        ident = ("=", item)
    n = counts.get(ident, 0)
    counts[ident] = n + 1
    return ident + (n,)


# (line, column, path, part, value, style, key column); part is "k" (a
# mapping key), "v" (a scalar value) or "i" (a sequence item)
if TYPE_CHECKING:
    Entry = Tuple[int, int, tuple, str, Any, Optional[str], int]


def _walk(root: Any, prefix: tuple = ()) -> List[Entry]:
    """Every key, scalar value and item under ``root``.  Each collection is
    visited once, so a shared (aliased) subtree cannot multiply the work."""
    out: List[Entry] = []
    seen: Set[int] = set()
    stack = [(root, prefix)]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, YMap):
            for key, value in node.items():
                kp = node.kpos.get(key)
                if kp is None:
                    continue
                vp = node.vpos.get(key)
                step = path + (key,)
                style = vp[2] if vp else None
                out.append((kp[0], kp[1], step, "k", value, style, kp[1]))
                if isinstance(value, (YMap, YSeq)):
                    stack.append((value, step))
                elif vp is not None:
                    out.append((vp[0], vp[1], step, "v", value, style, kp[1]))
        elif isinstance(node, YSeq):
            counts: Dict[tuple, int] = {}
            for i, item in enumerate(node):
                ip = node.ipos[i]
                step = path + (_item_step(item, i, counts),)
                out.append((ip[0], ip[1], step, "i", item, ip[2], ip[1]))
                if isinstance(item, (YMap, YSeq)):
                    stack.append((item, step))
    return out


def _index(entries: List[Entry], file: str, shift: Shift = _no_shift) -> Dict[tuple, _Src]:
    index: Dict[tuple, _Src] = {}
    for line, col, path, part, value, style, key_col in entries:
        if part == "v":
            src = index.get(path)
            if src is not None:
                src.vline, src.vcol = shift(line, col)
                src.cline0 = src.vline
            continue
        if path not in index:
            sline, scol = shift(line, col)
            index[path] = _Src(file, sline, scol, value, style, shift(line, key_col)[1])
    return index


def _pointer_path(pointer: str, rendered: Any) -> Optional[tuple]:
    if not pointer.startswith("/"):
        return None
    path: tuple = ()
    node = rendered
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, YSeq):
            if token == "-":
                index = len(node) - 1
            elif token.isdigit():
                index = int(token)
            else:
                return None
            if not 0 <= index < len(node):
                return None
            counts: Dict[tuple, int] = {}
            step = None
            for i in range(index + 1):
                step = _item_step(node[i], i, counts)
            path += (step,)
            node = node[index]
        elif isinstance(node, YMap):
            path += (token,)
            node = node.get(token)
        else:
            return None
    return path


def _same(source: Any, rendered: Any) -> bool:
    if source is _ANY:
        return True
    if isinstance(source, dict) or isinstance(rendered, dict):
        return isinstance(source, dict) and isinstance(rendered, dict)
    if isinstance(source, list) or isinstance(rendered, list):
        return isinstance(source, list) and isinstance(rendered, list)
    return type(source) is type(rendered) and source == rendered


def _block_indent(lines: List[str], header_line: int, value_col: int, key_col: int) -> int:
    """Indentation of a block scalar's content: an explicit indicator adds
    to the parent's indentation, else the first non-blank line sets it."""
    if 1 <= header_line <= len(lines):
        match = _BLOCK_HEADER.match(lines[header_line - 1], value_col - 1)
        digit = match and (match.group(1) or match.group(2))
        if digit:
            return key_col - 1 + int(digit)
    for text in lines[header_line : header_line + 10000]:
        if text.strip():
            return len(text) - len(text.lstrip(" "))
    return 0


# ------------------------------------------------------------------ building


def _tool() -> Optional[List[str]]:
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    return None


def build(
    kustomization_dir: str,
    display: Callable[[str], str],
    timeout: float = 60,
    allowed_roots: Optional[Sequence[str]] = None,
    boundary: Optional[str] = None,
    require_sandbox: bool = False,
    max_output: int = DEFAULT_MAX_FILE_BYTES,
    store=None,
) -> RenderResult:
    """Build the kustomization in ``kustomization_dir`` with the tool, on a
    private copy of the files its graph reads inside ``boundary`` (the
    repository root; default the git top level above it, else itself), in
    the jail (``somaxlint.units.sandbox``); without the tool, link its
    resources natively (inside ``allowed_roots``).  With ``store`` (the
    loading cache), a build whose every input is unchanged -- each file of
    its graph, byte for byte, the tool and its flags, this code -- is not
    run again: the tool's answer is kept under a key of exactly those."""
    from somaxlint.units import sandbox

    kdir = os.path.realpath(kustomization_dir)
    kfile = kustomization_file(kdir)
    unit = f"kustomize {display(kdir)}"
    if kfile is None:
        return RenderResult(problems=[RenderProblem(kdir, 1, 1, "no kustomization file in this directory", "error")])
    kfile = os.path.realpath(kfile)
    why = _unreadable(kfile)
    if why is not None:
        # not handed to kustomize either: it would block on a FIFO
        return RenderResult(problems=[RenderProblem(kfile, 1, 1, f"kustomization not built: cannot read {os.path.basename(kfile)}: {why}", "error")])
    argv = _tool()
    if argv is None:
        tree = _Tree(kdir, allowed_roots)
        result = RenderResult(consumed=set(tree.files))
        if tree.refusals:
            result.problems.append(tree.refusals[0])
            return result
        return _native(kdir, kfile, unit, tree, result)
    deadline = time.monotonic() + timeout
    if boundary is None:
        from somaxlint.discover import _git_top

        boundary = _git_top(kdir) or kdir
    copy = sandbox.PrivateTree(boundary, deadline)
    tree = _Tree(kdir, None, copy)
    result = RenderResult(consumed=set(tree.files))
    if tree.refusals:
        result.problems.append(tree.refusals[0])
        return _fallback(kdir, kfile, unit, tree, result)
    if tree.remote is not None:
        path, line, col = tree.remote
        result.problems.append(RenderProblem(path, line, col, "kustomization not built: it names a remote resource, and somaxlint never fetches", "error"))
        return _fallback(kdir, kfile, unit, tree, result)
    key = None
    if store is not None:
        from somaxlint.units import sandbox as _sandbox

        key = ["kustomize", " ".join(argv[1:]), _sandbox.file_identity(argv[0]), _sandbox.code_identity(), copy.digest(), copy.rel(kdir), f"max={max_output}"]
        kept = store.get_render(key)
        if type(kept) is tuple and len(kept) == 2 and kept[0] in ("mapped", "direct", "error") and type(kept[1]) is str:
            return _answer(kept, kdir, kfile, unit, tree, result)
    work = tempfile.mkdtemp(prefix="somaxlint-render-")
    try:
        answer = _build_in(work, argv, copy, kdir, kfile, unit, tree, result, deadline, timeout, require_sandbox, max_output)
        if answer[0] != "killed" and key is not None:
            store.put_render(key, answer)
        return _answer(answer, kdir, kfile, unit, tree, result)
    except sandbox.SandboxError as exc:
        result.problems.append(RenderProblem(kfile, 1, 1, f"kustomization not built: {exc}", "info"))
        return result  # (not linked natively either: the sandbox was required)
    finally:
        from somaxlint.units.helm_chart import _remove

        _remove(work)


def _build_in(work, argv, copy, kdir, kfile, unit, tree, result, deadline, timeout, require, max_output) -> Tuple[str, str]:
    """Run the build in the jail: ("mapped", the annotated stream), ("direct",
    the stream of a build of the directory itself), ("error", kustomize's
    message) or ("killed", why: a bound stopped it)."""
    from somaxlint.units import sandbox

    sandbox.prepare(work)
    copy.write(os.path.join(work, "tree"))
    os.makedirs(os.path.join(work, "wrapper"), mode=0o755)
    rel = copy.rel(kdir)
    target = "../tree" if rel == "." else "../tree/" + rel
    with open(os.path.join(work, "wrapper", "kustomization.yaml"), "w", encoding="utf-8") as handle:
        # JSON is YAML, and quotes any path safely
        json.dump({"resources": [target], "buildMetadata": ["originAnnotations"]}, handle)
    binary = os.path.realpath(argv[0])
    name = os.path.basename(argv[0])
    static = binary if sandbox.static_binary(binary) else None
    flags = ["--load-restrictor", "LoadRestrictionsRootOnly"]

    def attempt(path: str) -> sandbox.Outcome:
        return sandbox.run(
            ["/bin/" + name] + argv[1:] + flags + [path], argv + flags + [path], work, "wrapper", deadline, max_output,
            binary=static, require=require,
        )

    outcome = attempt(".")
    if outcome.why is None and outcome.status == 0:
        return ("mapped", outcome.out.decode("utf-8", "replace"))
    if outcome.why is None:
        # The wrapper adds its own words to every error, and refuses what a
        # direct build accepts (a Component): ask the tool about the
        # directory itself.
        outcome = attempt(target)
    if outcome.why is not None:
        why = f"did not finish within {timeout:g} s" if outcome.why == "it did not finish in time" else outcome.why.replace("it ", "", 1)
        return ("killed", f"{name} {why}")
    out = outcome.out.decode("utf-8", "replace")
    if outcome.status == 0:
        return ("direct", out)
    err = outcome.err.decode("utf-8", "replace")
    return ("error", _one_line(sandbox.clean_message(err, work) if err.strip() else (out or f"exit status {outcome.status}")))


def _answer(answer: Tuple[str, str], kdir, kfile, unit, tree, result) -> RenderResult:
    """The result of a build from the tool's answer (fresh or kept)."""
    kind, text = answer
    if kind == "mapped":
        mapper = _Mapper(text, "/wrapper", kfile, tree)
        result.rendered.append(Rendered(unit=unit, anchor=kfile, text=mapper.text, line_map=mapper.line_map, consumed=set(tree.files)))
        return result
    if kind == "direct":
        anchor = SourcePosition(kfile, 1, 1, approximate=True)
        lines = text.split("\n")

        def line_map(line: int, col: int) -> Optional[SourcePosition]:
            if 1 <= line <= len(lines):
                return replace(anchor, rendered=lines[line - 1].strip())
            return None

        result.rendered.append(Rendered(unit=unit, anchor=kfile, text=text, line_map=line_map, consumed=set(tree.files)))
        return result
    if kind == "killed":
        result.problems.append(RenderProblem(kfile, 1, 1, text, "error"))
    else:
        line, col = _error_position(kfile, text, tree)
        result.problems.append(RenderProblem(kfile, line, col, text, "error"))
    return _fallback(kdir, kfile, unit, tree, result)


def _one_line(text: str) -> str:
    # kustomize writes deprecation notes ("# Warning: 'commonLabels' is
    # deprecated...") before the error: they are not the cause.
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("# Warning:", "Warning:"))]
    text = _CONTROL.sub(" ", "\n".join(lines)).strip()
    # kubectl's structured log of the error: `"command failed" err=<...>`
    # or `err="..."`; the error itself is what is quoted
    wrapped = re.match(r'^"command failed" err=(?:<\s*(.*?)\s*>|"(.*)")\s*$', " ".join(text.split()))
    if wrapped:
        text = wrapped.group(1) if wrapped.group(1) is not None else wrapped.group(2).replace('\\"', '"')
    for prefix in ("Error: ", "error: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = re.sub(r" {2,}", " ", text)
    # kustomize loads a resource as a file, then as a directory, and says
    # both: "accumulation err='<as a file>': must build at directory: <as
    # a directory>".  Where the path is a file, or nothing, the second
    # says only that; the first is the cause.
    both = re.match(r"^(.*?)accumulation err='(.*)': must build at directory: (.*)$", text)
    if both and (both.group(3).endswith("file is not directory") or both.group(3).startswith("not a valid directory")):
        text = both.group(1) + both.group(2)
    if len(text) <= MAX_MESSAGE:
        return text
    # kustomize nests its context first and the cause last ("...: no such
    # file or directory"): keep both ends.
    half = (MAX_MESSAGE - 5) // 2
    return text[:half] + " ... " + text[-half:]


def _error_position(kfile: str, message: str, tree: Optional[_Tree] = None) -> Tuple[int, int]:
    """The first entry of the kustomization the message quotes (a missing
    resource, a patch file), or where the file stops being YAML."""
    text = tree.text(kfile) if tree is not None else _read_text(kfile)
    if text is None:
        return 1, 1
    documents, errors = load_yaml(text)
    if errors:
        return errors[0].line, errors[0].column
    if not documents or not isinstance(documents[0].root, YMap):
        return 1, 1
    places: Dict[str, Tuple[int, int]] = {}
    for line, col, path, part, value, _style, _kc in sorted(_walk(documents[0].root), key=lambda e: e[:2]):
        if isinstance(value, str) and (part == "i" or (part == "v" and path[-1] == "path")):
            places.setdefault(value, (line, col))
    quoted = _QUOTED.findall(message) + _LISTED.findall(message)
    for name in quoted:
        if name in places:
            return places[name]
    # kustomize names a generator's source by the path it joined
    # ('overlays/azd/.env', "env source files: [.env]"): the entry that
    # path ends with
    for name in quoted:
        for value, place in places.items():
            entry = value[2:] if value.startswith("./") else value
            if entry and name.endswith("/" + entry):
                return place
    return 1, 1


def _fallback(kdir: str, kfile: str, unit: str, tree: _Tree, result: RenderResult) -> RenderResult:
    """A kustomization kustomize did not build (or somaxlint did not let
    it): its problem stands, and its resources are still linked natively,
    so the base's own objects are checked -- unless the kustomization
    itself is not a mapping (its problem is all there is to say)."""
    if tree.kmaps.get(kfile) is not None:
        _native(kdir, kfile, unit, tree, result, UNBUILT_ASSUMPTION)
    return result


def _native(kdir: str, kfile: str, unit: str, tree: _Tree, result: RenderResult, assumption: str = FALLBACK_ASSUMPTION) -> RenderResult:
    """No tool: the resource files, linked in order, nothing applied."""
    kmap = tree.kmaps.get(kfile)
    if kmap is None:
        line, col = _error_position(kfile, "")
        result.problems.append(RenderProblem(kfile, line, col, "kustomization file is not a valid YAML mapping", "error"))
        return result
    parts: List[str] = []
    origins: List[Optional[Tuple[str, int]]] = []
    seen: Set[str] = set()
    for path in _resource_files(kdir, tree, seen):
        text = tree.text(path)
        if text is None:
            continue
        if parts:
            parts.append("---\n")
            origins.append(None)
        if not text.endswith("\n"):
            text += "\n"
        parts.append(text)
        origins.extend((path, n) for n in range(1, text.count("\n") + 1))
    text = "".join(parts)

    def line_map(line: int, col: int) -> Optional[SourcePosition]:
        if 1 <= line <= len(origins) and origins[line - 1] is not None:
            path, source_line = origins[line - 1]
            return SourcePosition(path, source_line, col)
        return None

    result.rendered.append(
        Rendered(unit=unit, anchor=kfile, text=text, line_map=line_map, consumed=set(tree.files), assumptions=(assumption,))
    )
    return result


def _resource_files(kdir: str, tree: _Tree, seen: Set[str]) -> List[str]:
    out: List[str] = []
    stack = [kdir]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple):  # a file, in its place in the order
            out.append(current[0])
            continue
        if current in seen:
            continue
        seen.add(current)
        kfile = kustomization_file(current)
        kmap = tree.kmaps.get(os.path.realpath(kfile)) if kfile else None
        if kmap is None:
            continue
        todo: List[Any] = []
        for key in ("resources", "bases"):
            for entry, _pos in (item for value in _values(kmap, key) for item in _strings(value)):
                path = None if _is_remote(entry) else _resolve(current, entry)
                if path is None or not tree.readable(path):
                    continue
                if os.path.isdir(path):
                    todo.append(path)
                elif os.path.isfile(path):
                    todo.append((path,))
        stack.extend(reversed(todo))
    return out


# ------------------------------------------------------------------ line map


class _Mapper:
    """Rendered (annotated) output -> table of source positions per line,
    then the annotations removed from the text and the table alike."""

    def __init__(self, annotated: str, wrapper: str, kfile: str, tree: _Tree):
        self.wrapper = wrapper
        self.kfile = kfile
        self.tree = tree
        self.lines = annotated.split("\n")
        self.sources: Dict[str, Optional[_OriginFile]] = {}
        self.origins: Dict[str, Optional[YMap]] = {}  # annotation text -> parsed
        self.indexes: Dict[int, Dict[tuple, _Src]] = {}  # id(source document) -> index
        self.file_lines: Dict[str, Optional[List[str]]] = {}
        self.patch_by_kind: Dict[Optional[str], List[Tuple[int, _Patch]]] = {}
        for order, patch in enumerate(tree.patches):
            self.patch_by_kind.setdefault(patch.kind_name()[0], []).append((order, patch))
        # per rendered line: ("e", columns, [(src, part, offset allowed)],
        # approx, annotated line) for lines with keys/items; ("c", src, k,
        # rendered indent, style, approx, annotated line) for content lines
        # of a multi-line scalar.  SourcePositions are made when asked for.
        table: List[Any] = [None] * (len(self.lines) + 1)
        drop: Set[int] = set()
        documents, _errors = load_yaml(annotated)
        for document in documents:
            if isinstance(document.root, YMap):
                self._document(document.root, table, drop)
        if tree.origin_annotations:
            drop = set()
        kept = [n for n in range(1, len(self.lines) + 1) if n not in drop]
        self.text = "\n".join(self.lines[n - 1] for n in kept)
        self.table = [None] + [table[n] for n in kept]

    # -- per document

    def _document(self, root: YMap, table: List[Any], drop: Set[int]) -> None:
        entries = _walk(root)
        origin = self._origin(root)
        kind = _str(root.get("kind"))
        name = _str(_get(root, "metadata", "name")) or ""
        source_index, approx, source_name = self._source(origin, root, kind, name)
        patches = self._patches_for(kind, source_name, name, root)
        self._strip(root, drop)

        by_line: Dict[int, List[Entry]] = {}
        for entry in entries:
            by_line.setdefault(entry[0], []).append(entry)
        resolved: Dict[tuple, Optional[_Src]] = {}

        def find(path: tuple, value: Any) -> Optional[_Src]:
            key = path
            if key in resolved:
                return resolved[key]
            src = source_index.get(path)
            if src is None or not _same(src.value, value):
                src = None
                for index in patches:
                    candidate = index.get(path)
                    if candidate is not None and _same(candidate.value, value):
                        src = candidate
                        break
            resolved[key] = src
            return src

        last: Optional[Entry] = None
        last_indent: Optional[int] = None
        first = min(by_line) if by_line else 0
        stop = max(by_line) if by_line else -1
        # content lines of a multi-line scalar run to the next entry line
        end = stop
        for entry in by_line.get(stop, ()):
            if entry[3] in ("v", "i") and isinstance(entry[4], str):
                end = stop + entry[4].count("\n")
        for n in range(first, min(end, len(self.lines)) + 1):
            here = by_line.get(n)
            text = self.lines[n - 1]
            if here:
                here.sort(key=lambda e: e[1])
                cols, cells = [], []
                for line, col, path, part, value, style, key_col in here:
                    src = find(path, value)
                    cols.append(col)
                    # the offset into a value holds only if it is written alike
                    offset = src is not None and (part == "k" or style == src.style)
                    cells.append((src, part, offset))
                    if part in ("v", "i") and isinstance(value, str):
                        last, last_indent = (line, col, path, part, value, style, key_col), None
                    else:
                        last = None
                table[n] = ("e", cols, cells, approx, n)
            elif last is not None and text.strip() != "---":
                line, col, path, part, value, style, key_col = last
                if last_indent is None:  # once per block, not per line
                    last_indent = _block_indent(self.lines, line, col, key_col) if style in ("|", ">") else 0
                table[n] = ("c", find(path, value), n - line, last_indent, style, approx, n)

    def _strip(self, root: YMap, drop: Set[int]) -> None:
        annotations = _get(root, "metadata", "annotations")
        if not isinstance(annotations, YMap) or ORIGIN not in annotations:
            return
        value = annotations[ORIGIN]
        if not isinstance(value, str) or annotations.vpos[ORIGIN][2] != "|":
            return
        line = annotations.kpos[ORIGIN][0]
        drop.update(range(line, line + value.count("\n") + 1))
        metadata = root["metadata"]
        if len(annotations) == 1 and metadata.kpos["annotations"][0] < line:
            drop.add(metadata.kpos["annotations"][0])

    # -- where a document came from

    def _origin(self, root: YMap) -> Optional[YMap]:
        text = _get(root, "metadata", "annotations", ORIGIN)
        if not isinstance(text, str):
            return None
        if text not in self.origins:  # most objects share a few origins
            documents, errors = load_yaml(text)
            ok = not errors and documents and isinstance(documents[0].root, YMap)
            self.origins[text] = documents[0].root if ok else None
        return self.origins[text]

    def _real(self, rel: Any) -> Optional[str]:
        if not isinstance(rel, str):
            return None
        # kustomize joins the wrapper directory and the path lexically; the
        # path is one of the copy's, standing for the file it was copied from
        return self.tree.source(os.path.normpath(os.path.join(self.wrapper, rel)))

    def _source(self, origin, root, kind, name) -> Tuple[Dict[tuple, _Src], SourcePosition, str]:
        """The positions of the object as written, the approximate position
        for what is not, and its name as written."""
        anchor = SourcePosition(self.kfile, 1, 1, approximate=True)
        if origin is None or "repo" in origin:
            return {}, anchor, name
        if "path" in origin:
            path = self._real(origin.get("path"))
            source = self._documents(path) if path else None
            if source is None:
                return {}, anchor, name
            match = source.find(kind, name)
            if match is None:
                return {}, SourcePosition(path, 1, 1, approximate=True), name
            written, doc_root = match
            index = self.indexes.get(id(doc_root))
            if index is None:
                index = self.indexes[id(doc_root)] = _index(_walk(doc_root), path)
            kp = doc_root.kpos.get("kind") or doc_root.pos
            return index, SourcePosition(path, kp[0], kp[1], approximate=True), written
        kfile = self._real(origin.get("configuredIn"))
        generator = _get(origin, "configuredBy", "kind")
        if kfile is None:
            return {}, anchor, name
        kmap = self.tree.kmaps.get(kfile)
        if kmap is None:
            return {}, SourcePosition(kfile, 1, 1, approximate=True), name
        key = {"ConfigMapGenerator": "configMapGenerator", "SecretGenerator": "secretGenerator"}.get(generator)
        if key is None:
            return {}, SourcePosition(kfile, 1, 1, approximate=True), name
        return self._generated(kfile, _value(kmap, key), name)

    def _generated(self, kfile: str, generators: Any, name: str) -> Tuple[Dict[tuple, _Src], SourcePosition, str]:
        """A generated ConfigMap/Secret: ``data`` is the generator's list of
        sources, each key its entry, and a file's content its lines."""
        best = None
        for gen, pos in _maps(generators):
            gen_name = _str(gen.get("name"))
            if gen_name and gen_name in name and (best is None or len(gen_name) > len(best[0])):
                best = (gen_name, gen, pos)
        if best is None:
            return {}, SourcePosition(kfile, 1, 1, approximate=True), name
        gen_name, gen, pos = best
        kdir = os.path.dirname(kfile)
        index: Dict[tuple, _Src] = {}
        for list_key in ("files", "literals", "envs", "env"):
            if list_key in gen:
                kp = gen.kpos[list_key]
                for data in ("data", "binaryData"):
                    index[(data,)] = _Src(kfile, kp[0], kp[1], _ANY, None, kp[1])
                break
        entries: List[Tuple[str, _Src]] = []
        for key, path, (line, col) in _generator_files(kdir, gen):
            src = _Src(kfile, line, col, _ANY, None, col)
            if self.tree.readable(path):
                # line k of the value is line k of the file, unindented
                src.style, src.cfile, src.cline0, src.cindent = "|", path, 0, 0
            entries.append((key, src))
        for literal, (line, col) in _strings(gen.get("literals")):
            entries.append((literal.partition("=")[0], _Src(kfile, line, col, _ANY, None, col)))
        for env, _pos in _env_entries(gen):
            path = self._real_in(kdir, env)
            for n, text in enumerate((self._lines(path) or []) if path else [], start=1):
                stripped = text.strip()
                if stripped and not stripped.startswith("#"):
                    key = stripped.split("=", 1)[0].strip()
                    entries.append((key, _Src(path, n, len(text) - len(text.lstrip()) + 1, _ANY, None, 1)))
        for key, src in entries:
            for data in ("data", "binaryData"):
                index.setdefault((data, key), src)
        return index, SourcePosition(kfile, pos[0], pos[1], approximate=True), gen_name

    def _real_in(self, kdir: str, rel: str) -> Optional[str]:
        path = _resolve(kdir, rel)
        return path if self.tree.readable(path) else None

    def _lines(self, path: str) -> Optional[List[str]]:
        if path not in self.file_lines:
            text = self.tree.text(path)
            self.file_lines[path] = text.split("\n") if text is not None else None
        return self.file_lines[path]

    def _documents(self, path: str) -> Optional[_OriginFile]:
        if path not in self.sources:
            text = self.tree.text(path)
            self.sources[path] = _OriginFile(load_yaml(text)[0]) if text is not None else None
        return self.sources[path]

    def _patches_for(self, kind: Optional[str], source_name: str, name: str, root: YMap) -> List[Dict[tuple, _Src]]:
        """Indexes of the patches that may have written to this object,
        the last applied first.  A patch names the object as it was at its
        level: the name as written, with some of the prefixes and suffixes
        added since."""
        out = []
        candidates = self.patch_by_kind.get(kind, []) + self.patch_by_kind.get(None, []) if kind else []
        for _order, patch in sorted(candidates, key=lambda c: c[0]):
            patch_kind, patch_name = patch.kind_name()
            if patch_kind not in (None, kind) or not _names_match(patch_name, source_name, name, patch.target is not None):
                continue
            out.append(patch.json_index(root) if patch.json else patch.index())
        return out

    # -- lookups

    def line_map(self, line: int, col: int) -> Optional[SourcePosition]:
        if not 1 <= line < len(self.table):
            return None
        cell = self.table[line]
        if cell is None:
            return None
        if cell[0] == "e":
            _e, cols, cells, approx, n = cell
            i = bisect.bisect_right(cols, col) - 1
            if i < 0:  # left of everything: the innermost node at the first column
                i = bisect.bisect_right(cols, cols[0]) - 1
                col = cols[0]
            src, part, offset = cells[i]
            if src is None:
                return _approx(approx, self.lines[n - 1])
            pos = src.value_at() if part == "v" else src.at()
            if offset and col > cols[i]:
                return replace(pos, column=pos.column + col - cols[i])
            return pos
        _c, src, k, r_indent, style, approx, n = cell
        if src is None:
            return _approx(approx, self.lines[n - 1])
        if src.style == "|" and style == "|":
            lines = self._lines(src.cfile)
            if lines is not None and src.cline0 + k <= len(lines):
                if src.cindent is None:
                    src.cindent = _block_indent(lines, src.cline0, src.vcol, src.key_col)
                return SourcePosition(src.cfile, src.cline0 + k, max(1, col - r_indent + src.cindent))
        return SourcePosition(src.file, src.line, src.col, approximate=True, rendered=self.lines[n - 1].strip())


def _approx(approx: SourcePosition, text: str) -> SourcePosition:
    return SourcePosition(approx.path, approx.line, approx.column, True, text.strip())


class _OriginFile:
    """The objects of one source file, found by kind and name.  Rendered
    names carry the prefixes and suffixes of the overlays, mostly the same
    ones for every object of a file: the last one seen is tried first, so
    finding an object does not mean comparing it with every other."""

    def __init__(self, documents: List[Any]):
        self.by_key: Dict[Tuple[Optional[str], str], YMap] = {}
        self.names: Dict[Optional[str], List[str]] = {}
        for document in documents:
            root = document.root
            name = _get(root, "metadata", "name")
            if isinstance(root, YMap) and isinstance(name, str):
                kind = _str(root.get("kind"))
                if (kind, name) not in self.by_key:
                    self.by_key[(kind, name)] = root
                    self.names.setdefault(kind, []).append(name)
        self.affix = ("", "")

    def find(self, kind: Optional[str], name: str) -> Optional[Tuple[str, YMap]]:
        root = self.by_key.get((kind, name))
        if root is not None:
            return name, root
        prefix, suffix = self.affix
        if (prefix or suffix) and name.startswith(prefix) and name.endswith(suffix):
            middle = name[len(prefix) : len(name) - len(suffix)]
            root = self.by_key.get((kind, middle))
            if root is not None:
                return middle, root
        best = None
        for written in self.names.get(kind, ()):
            if written in name and (best is None or len(written) > len(best)):
                best = written
        if best is None:
            return None
        at = name.find(best)
        self.affix = (name[:at], name[at + len(best) :])
        return best, self.by_key[(kind, best)]


def _names_match(patch_name: Optional[str], source_name: str, name: str, is_target: bool) -> bool:
    if patch_name is None:
        return True
    if patch_name in (source_name, name) or (source_name in patch_name and patch_name in name):
        return True
    if is_target:  # a target's name is a regular expression
        try:
            return any(re.fullmatch(patch_name, n) for n in (source_name, name))
        except re.error:
            return False
    return False

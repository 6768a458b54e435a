"""Stage 1: which files are the input, and reading them safely.

The lint roots are the directories given on the command line and the
directories of the files given.  Nothing outside them is ever opened,
listed or shown: a symlink that leads out of a root is refused (and named,
never its target), nginx includes are resolved only against files under a
root (see ``RootFS``), and a file is opened without blocking and read only
when the opened descriptor is a regular file under its root.

An argument is taken as written (``k8s/..`` is the current directory, as a
shell's ``cd`` has it), and may not lead out of the repository it is in
(the git top level above the current directory, else the current
directory) through a symlink: a checked-in ``k8s -> /`` named on the
command line is an error at ``k8s``, not a walk of the host.
"""

from __future__ import annotations

import fnmatch
import os
import stat
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Optional, Tuple

from somaxlint.records import record, field

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json", ".conflist")
NGINX_SUFFIXES = (".conf",)

DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024
# Directory entries one nginx include pattern may make somaxlint look at
# (`include */*/*/*.conf` over a large tree): beyond it, SMX013.
MAX_GLOB_ENTRIES = 100_000
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".venv", "node_modules", ".somaxlint_cache"}

STDIN = "-"
STDIN_DISPLAY = "<stdin>"


@record
class InputFile:
    path: str  # real path on disk, or "-" for standard input
    display: str  # what findings show
    kind: Optional[str]  # "yaml", "json", "nginx", "directory" or None: decide by content
    explicit: bool  # named on the command line (not found by walking)
    # the real lint root the file was found under: the opened file must be
    # in it (a directory swapped for a symlink after discovery)
    root: Optional[str] = None
    # why the path is not read at all (it leads outside the lint root, a
    # directory cannot be listed): reported as SMX000 at the path
    error: Optional[str] = None
    # standard input given a --stdin-filename: the absolute path it stands
    # for (its directory decides nearness and nginx's prefix, as the file's
    # would; the file itself, if the context walks it, is not read)
    stands_for: Optional[str] = None


@record
class Skipped:
    display: str
    reason: str


class InputError(Exception):
    """A command-line path that does not exist (usage error, exit 2)."""


LEAVES_ROOT = "the path leads outside the lint root through a symlink; somaxlint does not read it"
SYMLINK_OUT = "symlink that leads outside the lint root"


def display_path(path: str, base: str) -> str:
    """``path`` as findings show it: relative to ``base`` (the repository
    root, see ``repository_root``), or absolute when it lies outside
    ``base`` -- a relative ``../x`` would be read against the root by every
    consumer of the report, and would change with the current directory.
    Always text: undecodable bytes of a file name are shown as ``\\xNN``."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, base)
    except ValueError:  # another drive
        return _text(absolute.replace(os.sep, "/"))
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return _text(absolute.replace(os.sep, "/"))
    return _text(rel.replace(os.sep, "/"))


def _text(path: str) -> str:
    """A file name that is not UTF-8 (its bytes are lone surrogates in a
    Python path) shown with those bytes as ``\\xNN``: every report, and
    every fingerprint, takes text."""
    if path.isascii():
        return path
    return "".join(
        ("\\x%02x" % (ord(ch) - 0xDC00) if 0xDC80 <= ord(ch) <= 0xDCFF else "\\u%04x" % ord(ch)) if 0xD800 <= ord(ch) <= 0xDFFF else ch
        for ch in path
    )


def for_people(path: str, root: str, cwd: str) -> str:
    """A display path (relative to ``root``) relative to ``cwd`` instead,
    for the text output: what a terminal or an editor opens from there.
    ``<stdin>`` stays; a rendered stream, ``chart/x.yaml [helm chart ...]``,
    has its file part moved."""
    if path.startswith("<"):
        return path
    head, sep, tail = path.partition(" [")
    absolute = head if os.path.isabs(head) else os.path.join(root, head)
    try:
        shown = os.path.relpath(absolute, cwd).replace(os.sep, "/")
    except ValueError:  # another drive
        shown = absolute
    return shown + sep + tail


def _git_top(directory: str) -> Optional[str]:
    while True:
        if os.path.lexists(os.path.join(directory, ".git")):  # a directory, or a worktree's file
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def repository_root(paths: List[str], config_path: Optional[str], cwd: str, stdin_name: Optional[str] = None) -> str:
    """The directory every machine-read path is relative to, whatever the
    current directory and however (in whatever order) the paths are given:
    the git top level (the nearest directory holding ``.git`` upward from
    the first path argument -- first in sorted order of the absolute
    paths, so that the order of the arguments never matters; git itself is
    not run), else the configuration file's directory, else ``cwd``.
    Standard input counts as its ``--stdin-filename`` when it has one."""
    named = [stdin_name if arg == STDIN else arg for arg in paths]
    candidates = sorted(os.path.abspath(os.path.join(cwd, arg)) for arg in named if arg)
    if candidates:
        start = candidates[0]
        boundary = argument_boundary(cwd)
        while leaves(start, boundary) and os.path.dirname(start) != start:
            start = os.path.dirname(start)  # never look for .git through a symlink out
        if not os.path.isdir(start):
            start = os.path.dirname(start)
        top = _git_top(start)
        if top is not None:
            return top
    if config_path:
        return os.path.dirname(os.path.abspath(os.path.join(cwd, config_path)))
    return os.path.abspath(cwd)


def kind_by_name(path: str) -> Optional[str]:
    return _kind_of(os.path.basename(path))


def _kind_of(name: str) -> Optional[str]:
    # by the file's name alone, remembered: a repository repeats a few
    # names (deployment.yaml, nginx.conf) thousands of times
    kind = _KINDS.get(name, _UNKNOWN)
    if kind is _UNKNOWN:
        kind = _KINDS[name] = _kind_by_suffix(name)
    return kind


_KINDS: Dict[str, Optional[str]] = {}
_UNKNOWN = object()


def _kind_by_suffix(name: str) -> Optional[str]:
    lower = name.lower()
    if lower.endswith(YAML_SUFFIXES):
        return "yaml"
    if lower.endswith(JSON_SUFFIXES):
        return "json"
    if lower.endswith(NGINX_SUFFIXES) or lower == "nginx.conf":
        return "nginx"
    return None


def within(path: str, roots: Iterable[str]) -> bool:
    real = _real_path(path)
    return real is not None and _under(real, roots)


def _real_path(path: str) -> Optional[str]:
    """``os.path.realpath(path)``; None for a path that has none (NUL
    bytes, a symlink loop): never a path somaxlint reads."""
    try:
        return os.path.realpath(path)
    except (ValueError, OSError):
        return None


def _under(real: str, roots: Iterable[str]) -> bool:
    for root in roots:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def argument_boundary(cwd: Optional[str] = None) -> str:
    """The real directory command-line paths may not leave through a
    symlink: the git top level above the current directory (real, as
    ``os.getcwd`` gives it), else the current directory."""
    cwd = os.path.realpath(cwd or os.getcwd())
    return _git_top(cwd) or cwd


def leaves(lexical: str, boundary: str) -> bool:
    """Whether the path as written (absolute, normalised) resolves, through
    symlinks, to somewhere outside where it is written: outside
    ``boundary`` when it is written under it, else outside the real
    directory that holds its last component."""
    lexical = os.path.abspath(lexical)
    try:
        real = os.path.realpath(lexical)
        if _under(lexical, [boundary]):
            return not _under(real, [os.path.realpath(boundary)])
        return not _under(real, [os.path.realpath(os.path.dirname(lexical))])
    except (ValueError, OSError):
        return True


def confined(path: str, root: str) -> Optional[str]:
    """None when ``path`` (a file named by an option: ``--baseline``) may be
    read -- written under ``root``, it stays there through any symlink;
    written elsewhere, it stays in its own directory -- else why not,
    naming ``path``, never where it leads.  The command line calls it
    before reading the file."""
    if not os.path.lexists(path):
        return None  # opening it says "No such file or directory"
    if leaves(os.path.abspath(path), os.path.realpath(root)):
        return f"{path}: {LEAVES_ROOT}"
    return None


def admitted_directories(args: List[str]) -> List[str]:
    """Real paths of the directory arguments that ``discover`` walks (not
    those that lead out of the repository through a symlink): where charts
    and kustomizations may be looked for."""
    boundary = argument_boundary()
    out = set()
    for arg in args:
        if arg == STDIN:
            continue
        lexical = os.path.abspath(arg)
        if os.path.isdir(lexical) and not leaves(lexical, boundary):
            out.add(os.path.realpath(lexical))
    return sorted(out)


def _excluded(display: str, patterns: Tuple[str, ...]) -> bool:
    for pattern in patterns:
        if fnmatch.fnmatchcase(display, pattern) or fnmatch.fnmatchcase(display, pattern.rstrip("/") + "/*"):
            return True
    return False


def discover(
    args: List[str],
    cwd: str,
    exclude: Tuple[str, ...] = (),
    stdin_name: Optional[str] = None,
    own_files: Optional[Dict[str, str]] = None,
    markers: Optional[Dict[str, set]] = None,
    listings=None,
) -> Tuple[List[InputFile], List[Skipped], List[str]]:
    """Expand the command-line paths into input files.

    ``cwd`` is the base of the display paths (the repository root for the
    command line); the arguments themselves are read from the current
    directory, as written (see ``leaves``).  ``exclude`` patterns match
    display paths.  Standard input (``-``) is shown as ``stdin_name`` (a
    path from the current directory), is read as a file of that name would
    be (``nginx.conf`` as nginx), and replaces the file of that name where
    a walk reaches it: an editor or hook sends the unsaved text of a file
    of the repository.  ``own_files`` (real path -> what it is: the
    configuration, the baseline) are skipped as such.  ``markers``, when
    given, is filled with the real directories that hold each of
    ``MARKERS`` (a chart's Chart.yaml, a kustomization), so that finding
    the charts and kustomizations needs no second walk.  Returns (files,
    skipped, roots).

    The result does not depend on the order of the arguments (nor on the
    order directories list in): sorted by display path; a file named on
    the command line is explicit however else it was reached; a file
    reached under several names shows the name given on the command line,
    else its own (not a symlink's), else the smallest.  A path that leads
    out of its root, and a directory that cannot be listed, become inputs
    with an ``error`` (SMX000 there); a usage error names the first bad
    argument in sorted order.
    """
    by_real: Dict[str, InputFile] = {}
    known_rank: Dict[str, tuple] = {}
    refused: Dict[str, InputFile] = {}
    skipped: Dict[str, Skipped] = {}
    roots: List[str] = []
    problems: List[Tuple[str, str]] = []
    boundary = argument_boundary()
    stdin = False

    def add(path: str, explicit: bool, root: str, display: Optional[str] = None, real: Optional[str] = None, kind: Optional[str] = None):
        """``display``, ``real`` and ``kind``, when the walk knows them (a
        file that is not a symlink, in a directory it knows the names of),
        save working them out again."""
        given = display is not None
        if not given:
            display = display_path(path, cwd)
        if exclude and _excluded(display, exclude):
            return
        if real is None:
            real = os.path.realpath(path)
        if own_files and real in own_files:
            skip(path, own_files[real])
            return
        # Which name a file reached under several is shown with: a name
        # from the command line, else its own (not a symlink's), else the
        # smallest -- whatever order the arguments and the walk came in.
        # (a path the walk gives is absolute and normal already)
        rank = (not explicit, (path if given else os.path.abspath(path)) != real, display)
        known = by_real.get(real)
        if known is not None and known_rank[real] <= rank:
            return
        known_rank[real] = rank
        by_real[real] = InputFile(path=real, display=display, kind=kind or kind_by_name(path), explicit=explicit, root=root)

    def refuse(path: str, kind: Optional[str], error: str):
        display = display_path(path, cwd)
        if _excluded(display, exclude):
            return
        refused.setdefault(display, InputFile(path=os.path.abspath(path), display=display, kind=kind, explicit=False, error=error))

    def skip(path: str, reason: str):
        display = display_path(path, cwd)
        if not _excluded(display, exclude):
            skipped.setdefault(display, Skipped(display, reason))

    for arg in args:
        if arg == STDIN:
            stdin = True
            continue
        lexical = os.path.abspath(arg)
        if not os.path.lexists(lexical):
            problems.append((arg, f"{arg}: no such file or directory"))
            continue
        if leaves(lexical, boundary):
            refuse(lexical, "directory" if os.path.isdir(lexical) else kind_by_name(lexical), LEAVES_ROOT)
            continue
        if os.path.isdir(lexical):
            root = os.path.realpath(lexical)
            roots.append(root)
            _walk(lexical, root, cwd, add, refuse, skip, markers, listings)
            continue
        root = os.path.realpath(os.path.dirname(lexical))
        if not within(lexical, [root]):  # a named symlink stays in its own directory
            refuse(lexical, kind_by_name(lexical), LEAVES_ROOT)
            continue
        if not os.path.isfile(lexical):
            problems.append((arg, f"{arg}: not a regular file"))
            continue
        roots.append(root)
        add(lexical, True, root)
    if problems:
        raise InputError(min(problems)[1])

    files = list(by_real.values()) + list(refused.values())
    standard_input = stdin_input(stdin_name, cwd)
    if standard_input.stands_for is not None:
        files = [f for f in files if f.path != standard_input.stands_for]
    files.sort(key=lambda f: f.display)
    if stdin:
        files.append(standard_input)
    return files, sorted(skipped.values(), key=lambda s: s.display), sorted(set(roots))


def stdin_input(stdin_name: Optional[str], cwd: str) -> InputFile:
    """Standard input, as itself or as the file ``stdin_name`` names."""
    if stdin_name is None:
        return InputFile(STDIN, STDIN_DISPLAY, None, True)
    named = os.path.abspath(stdin_name)
    return InputFile(STDIN, display_path(named, cwd), kind_by_name(stdin_name), True, stands_for=os.path.realpath(named))


# Files whose directories are units (``somaxlint.units``): a chart, a kustomization.
MARKERS = ("Chart.yaml", "kustomization.yaml", "kustomization.yml", "Kustomization")


def list_directory(directory: str) -> List[Tuple[str, str]]:
    """(name, kind) of each entry of ``directory``; kind is ``dir``,
    ``file`` (regular), ``link`` (a symlink, whatever it points to) or
    ``other``.  Raises OSError when the directory cannot be listed."""
    out = []
    with os.scandir(directory) as listing:
        for entry in listing:
            try:
                if entry.is_symlink():
                    kind = "link"
                elif entry.is_dir(follow_symlinks=False):
                    kind = "dir"
                elif entry.is_file(follow_symlinks=False):
                    kind = "file"
                else:
                    kind = "other"
            except OSError:  # gone since the listing
                continue
            out.append((entry.name, kind))
    return out


def _walk(top: str, root: str, base: str, add, refuse, skip, markers: Optional[Dict[str, set]] = None, listings=None) -> None:
    """The files under the directory ``top`` (real path ``root``), in a
    walk that enters no symlinked directory; symlinks that lead out of
    ``root`` and directories that cannot be listed are reported.

    Directories are entered by their names under ``top``, never through a
    symlink, so a plain file's real path is its directory's real path and
    its name: only symlinks are resolved (a realpath per file was most of
    the time of walking a large repository).  ``listings(directory,
    real_dir, list_directory)``, when given, answers for a directory
    unchanged since a previous run (``Cache.listing``)."""
    stack = [(top, root, display_path(top, base))]
    while stack:
        directory, real_dir, display_dir = stack.pop()
        try:
            entries = list_directory(directory) if listings is None else listings(directory, real_dir, list_directory)
        except OSError as exc:
            refuse(directory, "directory", f"cannot list the directory: {exc.strerror or exc}")
            continue
        prefix = "" if display_dir == "." else display_dir + "/"
        # joined by hand: os.path.join per entry was a third of the walk
        in_dir = directory if directory.endswith(os.sep) else directory + os.sep
        in_real = real_dir if real_dir.endswith(os.sep) else real_dir + os.sep
        for name, kind in entries:
            full = in_dir + name
            link = kind == "link"
            if kind == "dir":
                if name not in SKIP_DIRS:
                    stack.append((full, in_real + name, prefix + _text(name)))
                continue
            if markers is not None and name in MARKERS and (not link or (within(full, [root]) and os.path.isfile(full))):
                markers.setdefault(name, set()).add(real_dir)
            if link:
                if os.path.isdir(full):
                    if not within(full, [root]):
                        skip(full, SYMLINK_OUT)
                    continue  # a symlink inside the root: its target is walked as itself
                if kind_by_name(name) is None:
                    continue
                if not within(full, [root]):
                    skip(full, SYMLINK_OUT)
                elif os.path.isfile(full):
                    add(full, False, root)
                continue
            file_kind = _kind_of(name)
            if file_kind is None:
                continue
            if kind != "file":
                skip(full, "not a regular file")
                continue
            add(full, False, root, prefix + _text(name), in_real + name, file_kind)


def _open_regular(path: str, roots: Optional[List[str]]) -> int:
    """A descriptor for ``path``, opened without blocking (a FIFO swapped in
    after discovery must not hang the run) and without following a final
    symlink; raises unless it is a regular file under ``roots``."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        if roots:
            try:
                opened = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:  # no /proc: the checks before opening stand
                opened = None
            if opened is not None and opened.startswith("/") and not _under(opened, roots):
                raise ValueError(LEAVES_ROOT)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _read_fd(fd: int, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes (one more tells a file over the
    limit), and the descriptor closed.  Read by the size the file has, not
    the limit: a read of the limit allocates that much for every file,
    however small.  Read with ``os.read``: one system call for a file
    that has the size its fstat gave (a buffered file object asked a
    second time to see the end: 80 ms against 57 ms for the benchmark
    corpus' 3,164 files)."""
    try:
        size = os.fstat(fd).st_size
        want = min(size, max_bytes) + 1
        chunks, got = [], 0
        while got < want:
            chunk = os.read(fd, want - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got == size:  # all that the fstat saw: a consistent read
                break
        if got == want and got <= max_bytes:
            # grown since the fstat: the rest, up to the limit
            while got <= max_bytes:
                chunk = os.read(fd, max_bytes + 1 - got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(fd)


def read_input(f: InputFile, max_bytes: int, stdin_bytes: Optional[bytes] = None) -> bytes:
    """The file's bytes; raises OSError or ValueError (too large, not a
    regular file, outside its root, or the discovery error)."""
    if f.error is not None:
        raise ValueError(f.error)
    if f.path == STDIN:
        data = stdin_bytes or b""
    else:
        data = _read_fd(_open_regular(f.path, [f.root] if f.root else None), max_bytes)
    if len(data) > max_bytes:
        raise ValueError(
            f"file is larger than the limit of {max_bytes} bytes (raise it with --max-file-size)"
        )
    return data


def decode_strict(data: bytes) -> Tuple[Optional[str], Optional[Tuple[int, int, str]]]:
    """UTF-8 (BOM allowed).  On failure, (None, (line, column, message))."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        head = data[: exc.start]
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        line = head.count(b"\n") + 1
        column = len(head[head.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        return None, (line, column, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})")


def decode_lenient(data: bytes) -> str:
    """nginx reads bytes: a Latin-1 comment is fine there."""
    text = data.decode("utf-8-sig", errors="replace")
    return text


@record
class GlobResult:
    """What an include pattern matches under the lint roots: files sorted
    as glob(3) sorts them (byte order of the whole path) -- at most
    ``limit`` + 1, the first ones of that order, so the cut at the limit
    never depends on the order a directory lists in -- and what was not
    looked into: in-root symlinks that lead out (named by their own path),
    and whether the entry budget ran out."""

    matches: List[str] = field(default_factory=list)
    escapes: List[str] = field(default_factory=list)
    exhausted: bool = False


_MAGIC = frozenset("*?[")


class RootFS:
    """Read-only view of the files under the lint roots, for resolving
    includes of standalone nginx files.  Every path is checked to stay
    inside a root after resolving symlinks, before it is listed or read."""

    def __init__(self, roots: List[str], max_bytes: int, max_entries: int = MAX_GLOB_ENTRIES):
        self.roots = roots
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        # path -> inside a root, and path -> its real path (None: none):
        # every standalone file's prefix search asks about the same
        # directories again, and an include is checked, then read, by its
        # real path (the file read is still checked on its opened
        # descriptor, see ``_open_regular``)
        self._inside: Dict[str, bool] = {}
        self._real: Dict[str, Optional[str]] = {}

    def realpath(self, path: str) -> Optional[str]:
        """``_real_path(path)``, asked of the file system once per run."""
        if path not in self._real:
            self._real[path] = _real_path(path)
        return self._real[path]

    def inside(self, path: str) -> bool:
        known = self._inside.get(path)
        if known is None:
            real = self.realpath(path)
            known = self._inside[path] = real is not None and _under(real, self.roots)
        return known

    def isfile(self, path: str) -> bool:
        try:
            return self.inside(path) and os.path.isfile(path)
        except (ValueError, OSError):
            return False

    def glob(self, pattern: str, limit: int) -> List[str]:
        return self.expand(pattern, limit).matches

    def expand(self, pattern: str, limit: int) -> GlobResult:
        """Match ``pattern`` (an absolute local path) one component at a
        time, as glob(3) does for nginx: a directory is listed only when
        its real path is under a root, a symlink that leads out is
        recorded, never entered; ``*`` does not match a leading dot."""
        result = GlobResult()
        if "\0" in pattern:
            return result
        parts = pattern.split(os.sep)
        first = next((i for i, part in enumerate(parts) if _MAGIC & set(part)), len(parts))
        static = os.sep.join(parts[:first]) or os.sep
        if not self.inside(static):
            return result
        if first == len(parts):
            if self.isfile(static):
                result.matches.append(static)
            return result
        budget = [self.max_entries]
        level = [static]
        rest = parts[first:]
        for depth, part in enumerate(rest):
            last = depth == len(rest) - 1
            found: List[str] = []
            for directory in level:
                names = self._names(directory, part, budget)
                if names is None:
                    result.exhausted = True
                    break
                for name in names:
                    path = os.path.join(directory, name)
                    if not self.inside(path):
                        result.escapes.append(path)
                        continue
                    try:
                        if (os.path.isfile(path) if last else os.path.isdir(path)):
                            found.append(path)
                    except (ValueError, OSError):
                        continue
            level = found
            if result.exhausted or not level:
                break
        if not result.exhausted:
            result.matches = sorted(level, key=os.fsencode)[: limit + 1] if rest else []
        else:
            result.matches = []
        result.escapes.sort()
        return result

    def _names(self, directory: str, part: str, budget: List[int]) -> Optional[List[str]]:
        """The names in ``directory`` that ``part`` matches, sorted; None
        when listing it would exceed the entry budget."""
        if not _MAGIC & set(part):
            if not part or part in (".", ".."):
                return []
            return [part] if os.path.lexists(os.path.join(directory, part)) else []
        hidden = part.startswith(".")
        names = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    budget[0] -= 1
                    if budget[0] < 0:
                        return None
                    if entry.name.startswith(".") and not hidden:
                        continue
                    if fnmatch.fnmatchcase(entry.name, part):
                        names.append(entry.name)
        except (ValueError, OSError):
            return []
        return sorted(names, key=os.fsencode)

    def read(self, path: str) -> bytes:
        if not self.inside(path):
            raise PermissionError("outside the lint root")
        data = _read_fd(_open_regular(path, self.roots), self.max_bytes)
        if len(data) > self.max_bytes:
            raise ValueError(f"larger than the limit of {self.max_bytes} bytes")
        return data


def read_regular_file(path: str, max_bytes: int) -> bytes:
    """The bytes of ``path``, a file somaxlint reads besides its inputs (a
    configuration, a baseline, a chart's or kustomization's file).  Opened
    without blocking, so a FIFO there cannot hang the run, and read only
    when the opened descriptor is a regular file of at most ``max_bytes``;
    a symlink is followed (where it may lead is the caller's check).
    Raises OSError, or ValueError saying why the file is not read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
    except BaseException:
        os.close(fd)
        raise
    data = _read_fd(fd, max_bytes)
    if len(data) > max_bytes:
        raise ValueError(f"larger than {max_bytes} bytes")
    return data

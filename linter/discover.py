"""Stage 1: which files are the input, and reading them safely.

The lint roots are the directories given on the command line and the
directories of the files given.  Nothing outside them is ever opened: a
symlink that leads out of a root is refused, and nginx includes are
resolved only against files under a root (see ``RootFS``).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json", ".conflist")
NGINX_SUFFIXES = (".conf",)

DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".venv", "node_modules"}

STDIN = "-"
STDIN_DISPLAY = "<stdin>"


@dataclass
class InputFile:
    path: str  # real path on disk, or "-" for standard input
    display: str  # what findings show
    kind: Optional[str]  # "yaml", "json", "nginx" or None: decide by content
    explicit: bool  # named on the command line (not found by walking)


@dataclass
class Skipped:
    display: str
    reason: str


class InputError(Exception):
    """A command-line path that does not exist (usage error, exit 2)."""


def display_path(path: str, base: str) -> str:
    """``path`` as findings show it: relative to ``base`` (the repository
    root, see ``repository_root``), or absolute when it lies outside
    ``base`` -- a relative ``../x`` would be read against the root by every
    consumer of the report, and would change with the current directory."""
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, base)
    except ValueError:  # another drive
        return absolute.replace(os.sep, "/")
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return absolute.replace(os.sep, "/")
    return rel.replace(os.sep, "/")


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
        if not os.path.isdir(start):
            start = os.path.dirname(start)
        top = _git_top(start)
        if top is not None:
            return top
    if config_path:
        return os.path.dirname(os.path.abspath(os.path.join(cwd, config_path)))
    return os.path.abspath(cwd)


def kind_by_name(path: str) -> Optional[str]:
    lower = path.lower()
    if lower.endswith(YAML_SUFFIXES):
        return "yaml"
    if lower.endswith(JSON_SUFFIXES):
        return "json"
    if lower.endswith(NGINX_SUFFIXES) or os.path.basename(lower) == "nginx.conf":
        return "nginx"
    return None


def within(path: str, roots: Iterable[str]) -> bool:
    try:
        real = os.path.realpath(path)
    except (ValueError, OSError):  # NUL bytes, loops: never a path we read
        return False
    for root in roots:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
    return False


def _excluded(display: str, patterns: Tuple[str, ...]) -> bool:
    for pattern in patterns:
        if fnmatch.fnmatchcase(display, pattern) or fnmatch.fnmatchcase(display, pattern.rstrip("/") + "/*"):
            return True
    return False


def discover(
    args: List[str], cwd: str, exclude: Tuple[str, ...] = ()
) -> Tuple[List[InputFile], List[Skipped], List[str]]:
    """Expand the command-line paths into input files.

    ``cwd`` is the base of the display paths (the repository root for the
    command line); the arguments themselves are read from the current
    directory.  ``exclude`` patterns match display paths.  Returns (files,
    skipped, roots).  Order is deterministic: sorted by display path,
    whatever order the arguments came in.
    """
    files: List[InputFile] = []
    skipped: List[Skipped] = []
    roots: List[str] = []
    seen = set()

    def add(path: str, explicit: bool):
        display = display_path(path, cwd)
        if _excluded(display, exclude):
            return
        real = os.path.realpath(path)
        if real in seen:
            return
        seen.add(real)
        files.append(InputFile(path=real, display=display, kind=kind_by_name(path), explicit=explicit))

    for arg in args:
        if arg == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                files.append(InputFile(STDIN, STDIN_DISPLAY, None, True))
            continue
        if not os.path.lexists(arg):
            raise InputError(f"{arg}: no such file or directory")
        if os.path.isdir(arg):
            root = os.path.realpath(arg)
            roots.append(root)
            for dirpath, dirnames, filenames in os.walk(arg, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                for name in sorted(filenames):
                    full = os.path.join(dirpath, name)
                    if kind_by_name(full) is None:
                        continue
                    if not within(full, [root]):
                        skipped.append(Skipped(display_path(full, cwd), "symlink that leads outside the lint root"))
                        continue
                    if not os.path.isfile(full):
                        continue
                    add(full, explicit=False)
        else:
            root = os.path.realpath(os.path.dirname(os.path.abspath(arg)))
            roots.append(root)
            if not within(arg, [root]):
                skipped.append(Skipped(display_path(arg, cwd), "symlink that leads outside the lint root"))
                continue
            if not os.path.isfile(arg):
                raise InputError(f"{arg}: not a regular file")
            add(arg, explicit=True)

    files.sort(key=lambda f: (f.display == STDIN_DISPLAY, f.display))
    skipped.sort(key=lambda s: s.display)
    return files, skipped, sorted(set(roots))


def read_input(f: InputFile, max_bytes: int, stdin_bytes: Optional[bytes] = None) -> bytes:
    """The file's bytes; raises OSError or ValueError (too large)."""
    if f.path == STDIN:
        data = stdin_bytes or b""
    else:
        with open(f.path, "rb") as handle:
            data = handle.read(max_bytes + 1)
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


class RootFS:
    """Read-only view of the files under the lint roots, for resolving
    includes of standalone nginx files.  Every path is checked to stay
    inside a root after resolving symlinks."""

    def __init__(self, roots: List[str], max_bytes: int):
        self.roots = roots
        self.max_bytes = max_bytes

    def inside(self, path: str) -> bool:
        return within(path, self.roots)

    def isfile(self, path: str) -> bool:
        try:
            return self.inside(path) and os.path.isfile(path)
        except (ValueError, OSError):
            return False

    def glob(self, pattern: str, limit: int) -> List[str]:
        import glob as _glob

        matches = []
        try:
            for match in _glob.iglob(pattern):
                if self.isfile(match):
                    matches.append(match)
                if len(matches) > limit:
                    break
        except (ValueError, OSError):
            return []
        return sorted(matches)

    def read(self, path: str) -> bytes:
        if not self.inside(path):
            raise PermissionError("outside the lint root")
        with open(path, "rb") as handle:
            data = handle.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise ValueError(f"larger than the limit of {self.max_bytes} bytes")
        return data

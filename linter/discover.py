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


def display_path(path: str, cwd: str) -> str:
    absolute = os.path.abspath(path)
    try:
        rel = os.path.relpath(absolute, cwd)
    except ValueError:  # another drive
        return absolute
    return rel.replace(os.sep, "/")


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

    Returns (files, skipped, roots).  Order is deterministic: sorted by
    display path, whatever order the arguments came in.
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

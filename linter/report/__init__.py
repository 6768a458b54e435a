"""Stage 6: findings -> text for people and machines.  Reporters only
format; they never compute facts.  Heavy formats are imported on use.

Where a report goes: standard output, or a file written atomically.  A
file is opened before linting starts -- a temporary file beside the target
-- so an unwritable path is a usage error at once, not after a long run.
The report is written into the temporary file and moved over the target
with ``os.replace`` only when complete: a failed or interrupted run leaves
no partial file and an existing file untouched.  A path in the repository
that leads out of it through a symlink is never written; a target that is
not a regular file (``/dev/stdout``, ``/dev/null``, a FIFO) is written in
place, never replaced.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Optional, TextIO

from somaxlint.patterns import LazyPattern

# `check --format` choices; the first is the default.
FORMATS = ("text", "json", "sarif", "github", "gitlab")
STDOUT = "-"

# What no output may carry raw: C0 and C1 controls and DEL (a newline would
# start a new line -- a forged `::error` workflow command in a CI log --,
# ESC starts terminal sequences such as OSC 8 hyperlinks), the line and
# paragraph separators, bidirectional marks, embeddings, overrides and
# isolates (U+202E shows text backwards), zero-width and invisible
# formatting characters, the byte-order mark, interlinear annotation, and
# lone surrogates (a file name that is not UTF-8: unprintable as text).
_CONTROL = LazyPattern(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def _visible(match) -> str:
    code = ord(match.group())
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


# Output channels, and the one function each uses for text taken from the
# input (paths, object names, messages quoting file content):
#
#   lines for people   escape_control   text, `explain` text, every stderr
#                                       line (diagnostics, stale baseline
#                                       entries, progress, the summary)
#   workflow commands  workflow_data,   --format github
#                      workflow_property
#   JSON documents     escape_control   on the human-readable strings
#                      + write_json     (messages, labels, reasons); the
#                                       whole document ASCII-only: json,
#                                       gitlab, sarif, `explain` json
#   URIs               uri_reference    SARIF artifact locations


def escape_control(text: str) -> str:
    """Make control characters (and bidi, invisible and separator
    characters) visible as ``\\xNN`` / ``\\uNNNN``, so a line quoting file
    content stays one line and can never drive the reader's terminal or
    a CI log (no forged `::error`, no OSC 8 link, no reversed text)."""
    if text.isascii() and text.isprintable():  # (no control character: most text)
        return text
    return _CONTROL.sub(_visible, text)


def workflow_data(text: str) -> str:
    """A GitHub Actions workflow command's message: the Actions toolkit's
    escapes (``%``, CR and LF as ``%25``, ``%0D``, ``%0A``), and every other
    control character made visible as ``escape_control`` does."""
    return escape_control(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def workflow_property(text: str) -> str:
    """A workflow command's property value: also ``:`` and ``,``."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


def write_json(document, out: TextIO) -> None:
    """A JSON report: ASCII only, so no control, bidi or separator
    character reaches the output raw whatever a string holds.

    Byte for byte what ``json.JSONEncoder(indent=2, ensure_ascii=True)``
    writes, by one recursive function over the report's plain values, with
    json's own C function for strings: with an indent, json encodes in
    Python generators, a tenth of a run from the cache.  Written in batches
    (json.dumps would hold every token and then the whole report at once)."""
    from json.encoder import encode_basestring_ascii

    parts: list = []
    append = parts.append

    def flush():
        out.write("".join(parts))
        parts.clear()

    def value(o, indent: str) -> None:
        # json's order: strings, then (for anything else) lists and tuples,
        # dictionaries, and the scalars; subclasses as their base
        if type(o) is str or isinstance(o, str):
            append(encode_basestring_ascii(o))
        elif isinstance(o, (list, tuple)):
            if not o:
                append("[]")
                return
            inner = indent + "  "
            separator = "[\n" + inner
            for item in o:
                append(separator)
                value(item, inner)
                separator = ",\n" + inner
            append("\n" + indent + "]")
        elif isinstance(o, dict):
            if not o:
                append("{}")
                return
            inner = indent + "  "
            separator = "{\n" + inner
            for key, item in o.items():
                append(separator)
                append(encode_basestring_ascii(key if type(key) is str else _json_key(key)))
                append(": ")
                value(item, inner)
                separator = ",\n" + inner
            append("\n" + indent + "}")
            if len(parts) > 8192:
                flush()
        else:
            append(_json_scalar(o))

    value(document, "")
    append("\n")
    flush()


def _json_scalar(o) -> str:
    """What json writes for a value that is not a string or a container."""
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if o != o:
            return "NaN"
        if o == float("inf"):
            return "Infinity"
        if o == -float("inf"):
            return "-Infinity"
        return float.__repr__(o)
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _json_key(key) -> str:
    """A dictionary key that is not a string, converted as json converts it
    (a number, boolean or null as it writes that value)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (int, float)):
        return _json_scalar(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


_URI_UNSAFE = LazyPattern(r"[^A-Za-z0-9._~/!$&'()*+,;=@-]")


def uri_reference(path: str) -> str:
    """A path as a URI reference that is always relative: every byte
    outside the unreserved and sub-delimiter characters percent-encoded,
    ``:`` included -- ``javascript:alert(1)`` would otherwise be read as an
    absolute URI with its own scheme -- and a leading ``/`` kept off (a
    network-path or absolute reference)."""
    encoded = _URI_UNSAFE.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "surrogateescape")), path
    )
    return encoded.lstrip("/")


class OutputError(Exception):
    """The report cannot be written (exit status 2)."""


class Output:
    """``Output(path, option)``; ``handle`` to write to, then ``commit()``
    (or ``abort()`` on any failure)."""

    def __init__(self, path: str, option: str = "--output"):
        self.path = path
        self.option = option
        self.temp: Optional[str] = None
        self.in_place = False
        self.handle: TextIO = sys.stdout
        if path == STDOUT:
            return
        from somaxlint.discover import _under, argument_boundary

        lexical = os.path.abspath(path)
        boundary = argument_boundary()
        target = os.path.realpath(path)  # through a symlink inside the root, as open() would
        if _under(lexical, [boundary]) and not _under(target, [os.path.realpath(boundary)]):
            # a checked-in `report.sarif -> ~/.bashrc` must not be replaced
            self._fail("the path leads outside the lint root through a symlink")
        self.target = target
        if os.path.isdir(target):
            self._fail("Is a directory")
        if os.path.exists(target) and not os.access(target, os.W_OK):
            self._fail("Permission denied")  # what open(path, "w") would say
        import stat
        import tempfile

        try:
            mode = os.stat(path).st_mode  # /dev/stdout: what fd 1 is, a pipe or a terminal
        except OSError:
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            # /dev/stdout, /dev/null, a FIFO: written as it is, never replaced
            # by a rename (which would put a regular file in its place)
            try:
                self.handle = open(path, "w", encoding="utf-8", newline="\n")
            except OSError as exc:
                self._fail(exc.strerror or str(exc))
            self.in_place = True
            return
        directory = os.path.dirname(target)
        try:
            fd, self.temp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            self._fail(exc.strerror or str(exc))
        if mode is not None:
            mode = stat.S_IMODE(mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        except BaseException:
            os.close(fd)
            self._remove()
            raise

    @property
    def is_stdout(self) -> bool:
        return self.temp is None and not self.in_place

    def _fail(self, reason: str):
        raise OutputError(f"{self.option} {self.path}: cannot write: {reason}")

    def _remove(self) -> None:
        if self.temp is not None:
            try:
                os.unlink(self.temp)
            except OSError:
                pass
            self.temp = None

    def commit(self) -> None:
        """Move the finished report into place (stdout: flush it)."""
        if self.in_place:
            try:
                self.handle.close()
            except OSError as exc:
                self._fail(exc.strerror or str(exc))
            self.in_place = False
            return
        if self.temp is None:
            self.handle.flush()
            return
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temp, self.target)
        except OSError as exc:
            self.abort()
            self._fail(exc.strerror or str(exc))
        self.temp = None

    def abort(self) -> None:
        """Drop the unfinished report; the target is left as it was."""
        if self.in_place:
            try:
                self.handle.close()
            except OSError:
                pass
            self.in_place = False
            return
        if self.temp is None:
            return
        try:
            self.handle.close()
        except OSError:
            pass
        self._remove()

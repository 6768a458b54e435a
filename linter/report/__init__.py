"""Stage 6: findings -> text for people and machines.  Reporters only
format; they never compute facts.  Heavy formats are imported on use.

Where a report goes: standard output, or a file written atomically.  A
file is opened before linting starts -- a temporary file beside the target
-- so an unwritable path is a usage error at once, not after a long run.
The report is written into the temporary file and moved over the target
with ``os.replace`` only when complete: a failed or interrupted run leaves
no partial file and an existing file untouched.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Optional, TextIO

# `check --format` choices; the first is the default.
FORMATS = ("text", "json", "sarif", "github", "gitlab")
STDOUT = "-"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_control(text: str) -> str:
    """Make terminal control characters (and bidi overrides) visible, so a
    message quoting file content can never drive the reader's terminal."""
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100 else "\\u%04x" % ord(m.group()), text)


class OutputError(Exception):
    """The report cannot be written (exit status 2)."""


class Output:
    """``Output(path, option)``; ``handle`` to write to, then ``commit()``
    (or ``abort()`` on any failure)."""

    def __init__(self, path: str, option: str = "--output"):
        self.path = path
        self.option = option
        self.temp: Optional[str] = None
        self.handle: TextIO = sys.stdout
        if path == STDOUT:
            return
        target = os.path.realpath(path)  # through a symlink, as open() would
        self.target = target
        if os.path.isdir(target):
            self._fail("Is a directory")
        if os.path.exists(target) and not os.access(target, os.W_OK):
            self._fail("Permission denied")  # what open(path, "w") would say
        import stat
        import tempfile

        directory = os.path.dirname(target)
        try:
            fd, self.temp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            self._fail(exc.strerror or str(exc))
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except OSError:
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
        return self.temp is None

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
        if self.temp is None:
            return
        try:
            self.handle.close()
        except OSError:
            pass
        self._remove()

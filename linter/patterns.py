"""Regular expressions compiled when first used.

A commit-time run is mostly start-up, and a module-level ``re.compile``
is paid by every run that imports the module, whether or not the run
meets the text the pattern is for (a suppression comment, a template, a
pyproject.toml).  ``LazyPattern`` stands where the compiled pattern would,
with the methods somaxlint calls (``match``, ``search``, ``finditer``,
``sub``), and compiles it on the first call.
Patterns in loops that every run executes stay compiled at import.
"""

import re


class LazyPattern:
    __slots__ = ("_source", "_flags", "_compiled")

    def __init__(self, source, flags: int = 0):
        self._source, self._flags, self._compiled = source, flags, None

    @property
    def compiled(self) -> "re.Pattern":
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source, self._flags)
        return compiled

    def match(self, *args):
        return self.compiled.match(*args)

    def search(self, *args):
        return self.compiled.search(*args)

    def finditer(self, *args):
        return self.compiled.finditer(*args)

    def sub(self, *args):
        return self.compiled.sub(*args)

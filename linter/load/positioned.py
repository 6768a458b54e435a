"""Positioned YAML/JSON values: plain dicts and lists that also know where
each key, value and item sits in the source.

Lines and columns count from 1.  A position is ``(line, column, style)``
where ``style`` is the YAML scalar style (``""`` plain, ``"|"`` literal,
``">"`` folded, ``'"'`` / ``"'"`` quoted) or ``None`` for collections.
"""

from __future__ import annotations

from copyreg import __newobj__
from typing import Any, Optional, Tuple

Pos = Tuple[int, int, Optional[str]]


class YMap(dict):
    """A mapping; ``kpos[key]`` is where the key is, ``vpos[key]`` its value."""

    __slots__ = ("pos", "kpos", "vpos")

    def __init__(self, pos: Pos = (1, 1, None)):
        super().__init__()
        self.pos = pos
        self.kpos = {}
        self.vpos = {}

    # Pickled (the loading cache, worker processes) as "a new YMap, these
    # slots, these items": pickle's C code rebuilds it without calling any
    # Python function, which is what makes a cache hit cheap.
    def __reduce_ex__(self, protocol):
        return (__newobj__, (YMap,), (None, {"pos": self.pos, "kpos": self.kpos, "vpos": self.vpos}), None, iter(self.items()))


class YSeq(list):
    """A sequence; ``ipos[i]`` is where item ``i`` is."""

    __slots__ = ("pos", "ipos")

    def __init__(self, pos: Pos = (1, 1, None)):
        super().__init__()
        self.pos = pos
        self.ipos = []

    def __reduce_ex__(self, protocol):
        return (__newobj__, (YSeq,), (None, {"pos": self.pos, "ipos": self.ipos}), iter(self), None)


def get_path(value: Any, *keys) -> Any:
    """Follow mapping keys; None as soon as a step is missing or not a map."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def as_map(value: Any) -> Optional[YMap]:
    return value if isinstance(value, YMap) else None


def as_seq(value: Any) -> YSeq:
    """The value if it is a sequence, else an empty one (wrong types are
    reported by the rules that care, never crash the model)."""
    return value if isinstance(value, YSeq) else _EMPTY_SEQ


_EMPTY_SEQ = YSeq()

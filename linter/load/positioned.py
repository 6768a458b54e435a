"""Positioned YAML/JSON values: plain dicts and lists that also know where
each key, value and item sits in the source.

Lines and columns count from 1.  A position is ``(line, column, style)``
where ``style`` is the YAML scalar style (``""`` plain, ``"|"`` literal,
``">"`` folded, ``'"'`` / ``"'"`` quoted) or ``None`` for collections.
"""

from __future__ import annotations

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

    # dict subclasses do not pickle their slots by default; worker processes
    # hand these trees back to the parent.
    def __reduce__(self):
        return (_rebuild_map, (self.pos, self.kpos, self.vpos, dict(self)))


class YSeq(list):
    """A sequence; ``ipos[i]`` is where item ``i`` is."""

    __slots__ = ("pos", "ipos")

    def __init__(self, pos: Pos = (1, 1, None)):
        super().__init__()
        self.pos = pos
        self.ipos = []

    def __reduce__(self):
        return (_rebuild_seq, (self.pos, self.ipos, list(self)))


def _rebuild_map(pos, kpos, vpos, items):
    m = YMap(pos)
    m.kpos = kpos
    m.vpos = vpos
    m.update(items)
    return m


def _rebuild_seq(pos, ipos, items):
    s = YSeq(pos)
    s.ipos = ipos
    s.extend(items)
    return s


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

"""Positioned YAML/JSON values: plain dicts and lists that also know where
each key, value and item sits in the source.

Lines and columns count from 1.  A position is ``(line, column, style)``
where ``style`` is the YAML scalar style (``""`` plain, ``"|"`` literal,
``">"`` folded, ``'"'`` / ``"'"`` quoted) or ``None`` for collections.
"""

from __future__ import annotations

from copyreg import __newobj__
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

if TYPE_CHECKING:
    Pos = Tuple[int, int, Optional[str]]


class YMap(dict):
    """A mapping; ``kpos[key]`` is where the key is, ``vpos[key]`` its value.

    A mapping with ``<<`` merge keys is a ``MergedMap``: a YMap that holds
    only the keys written in it and reads the others through its merge
    sources (shared, never copied)."""

    __slots__ = ("pos", "kpos", "vpos", "_merge")

    def __init__(self, pos: Pos = (1, 1, None), merged=None):
        super().__init__()
        self.pos = pos
        if merged is None:
            self.kpos = {}
            self.vpos = {}
        else:  # a MergedMap read back by pickle: (kpos, vpos, sources)
            make_merged(self, *merged)

    # Pickled (the loading cache, worker processes) as "a new YMap, these
    # slots, these items": pickle's C code rebuilds it without calling any
    # Python function, which is what makes a cache hit cheap.
    def __reduce_ex__(self, protocol):
        return (__newobj__, (YMap,), (None, {"pos": self.pos, "kpos": self.kpos, "vpos": self.vpos}), None, iter(self.items()))


class _MergeState:
    __slots__ = ("sources", "found", "origins", "view", "nonempty")

    def __init__(self, sources, nonempty):
        self.sources = sources  # in precedence order: earlier wins
        self.found = {}  # key -> the map that holds it (None: no source does)
        self.origins = None  # every key -> its map, once iterated
        self.view = None  # every key -> its value, once iterated
        self.nonempty = nonempty


def make_merged(node: YMap, kpos: dict, vpos: dict, sources) -> None:
    """Turn ``node`` (holding the keys written in it, at ``kpos``/``vpos``)
    into a MergedMap over ``sources``, the mappings its ``<<`` keys name
    in precedence order.  Costs O(len(sources)): nothing is copied."""
    sources = tuple(sources)
    node.__class__ = MergedMap
    node._merge = _MergeState(sources, dict.__len__(node) > 0 or any(map(bool, sources)))
    node.kpos = _Positions(kpos)
    node.kpos.owner, node.kpos.which = node, "kpos"
    node.vpos = _Positions(vpos)
    node.vpos.owner, node.vpos.which = node, "vpos"


_UNSET = object()


class _ReadThrough:
    """Iteration, length and the key/value/item views of a mapping whose
    keys are ``_keys()`` and whose whole content is ``_view()``: what a
    merged mapping and its positions answer from their sources."""

    __slots__ = ()

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return len(self._keys())

    def keys(self):
        return self._view().keys()

    def values(self):
        return self._view().values()

    def items(self):
        return self._view().items()


class MergedMap(_ReadThrough, YMap):
    """A mapping with merge keys (``<<: *base``, ``<<: [*a, *b]``): the keys
    written in it win, then earlier sources over later ones (the YAML merge
    key spec).  The dict itself holds only the written keys; a key of a
    source is found on lookup (each (mapping, key) resolved once), and the
    whole mapping is put together only when something iterates it.  So a
    chain of anchors each merging the previous costs memory and time in
    proportion to what is written, not to what the merges would copy.

    Positions of merged keys are those of the source that wrote them.  A
    MergedMap is read-only once loaded."""

    __slots__ = ()

    # -- resolving one key ------------------------------------------------

    def origin(self, key):
        """The mapping (this one or a source) whose own keys hold ``key``;
        None when neither it nor any source has it."""
        if dict.__contains__(self, key):
            return self
        state = self._merge
        if state.origins is not None:
            return state.origins.get(key)
        found = state.found.get(key, _UNSET)
        if found is not _UNSET:
            return found
        # Depth first, in precedence order, without recursion (a chain of
        # merges may be longer than Python's stack); every mapping passed
        # on the way remembers the answer.
        path = [self]
        todo = [iter(state.sources)]
        found = None
        while todo:
            source = next(todo[-1], _UNSET)
            if source is _UNSET:
                path.pop()._merge.found[key] = None
                todo.pop()
                continue
            if dict.__contains__(source, key):
                found = source
                break
            if type(source) is MergedMap:
                inner = source._merge
                if inner.origins is not None:
                    hit = inner.origins.get(key)
                else:
                    hit = inner.found.get(key, _UNSET)
                    if hit is _UNSET:
                        path.append(source)
                        todo.append(iter(inner.sources))
                        continue
                if hit is not None:
                    found = hit
                    break
        for node in path:
            node._merge.found[key] = found
        return found

    def __getitem__(self, key):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        found = self.origin(key)
        if found is None:
            raise KeyError(key)
        return dict.__getitem__(found, key)

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        found = self.origin(key)
        return default if found is None else dict.__getitem__(found, key)

    def __contains__(self, key):
        return dict.__contains__(self, key) or self.origin(key) is not None

    def __bool__(self):
        return self._merge.nonempty

    def __setitem__(self, key, value):
        # (the configuration reader rewrites a version it read as a number)
        dict.__setitem__(self, key, value)
        state = self._merge
        state.origins = state.view = None
        state.nonempty = True

    # -- the whole mapping ------------------------------------------------

    def origins(self) -> dict:
        """Every key -> the mapping that holds it: written keys first, in
        order, then each source's (depth first, each mapping once)."""
        state = self._merge
        if state.origins is None:
            origins = dict.fromkeys(dict.keys(self), self)
            seen = {id(self)}
            todo = [iter(state.sources)]
            while todo:
                source = next(todo[-1], None)
                if source is None:
                    todo.pop()
                    continue
                if id(source) in seen:
                    continue
                seen.add(id(source))
                for key in dict.keys(source):
                    if key not in origins:
                        origins[key] = source
                if type(source) is MergedMap:
                    todo.append(iter(source._merge.sources))
            state.origins = origins
            state.found = {}
        return state.origins

    def _view(self) -> dict:
        state = self._merge
        if state.view is None:
            state.view = {key: dict.__getitem__(holder, key) for key, holder in self.origins().items()}
        return state.view

    def _keys(self):
        return self.origins()

    def copy(self):
        return dict(self._view())

    def __eq__(self, other):
        if isinstance(other, MergedMap):
            other = other._view()
        return self._view() == other if isinstance(other, dict) else NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __repr__(self):
        return repr(self._view())

    def __reduce_ex__(self, protocol):
        # Rebuilt by YMap itself (the only mapping class a cache entry may
        # name), from the written keys and the shared sources.
        merged = (dict.copy(self.kpos), dict.copy(self.vpos), self._merge.sources)
        return (YMap, (self.pos, merged), None, None, iter(dict.items(self)))


class _Positions(_ReadThrough, dict):
    """``kpos`` or ``vpos`` of a MergedMap: the written keys' positions,
    and those of merged keys as their source has them."""

    __slots__ = ("owner", "which")

    def _holder(self, key):
        if dict.__contains__(self, key):
            return self
        found = self.owner.origin(key)
        return None if found is None else getattr(found, self.which)

    def __getitem__(self, key):
        holder = self._holder(key)
        if holder is None:
            raise KeyError(key)
        return dict.__getitem__(holder, key)

    def get(self, key, default=None):
        holder = self._holder(key)
        return default if holder is None else dict.get(holder, key, default)

    def __contains__(self, key):
        holder = self._holder(key)
        return holder is not None and dict.__contains__(holder, key)

    def _view(self) -> dict:
        which = self.which
        return {key: dict.__getitem__(getattr(holder, which), key) for key, holder in self.owner.origins().items()}

    def _keys(self):
        return self.owner.origins()

    def __reduce_ex__(self, protocol):
        return (dict, (self._view(),))


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

"""YAML text -> positioned documents, built straight from libyaml events.

Why events: the round-trip loader is about 30x slower than libyaml and the
linter needs only values and marks, not comments (suppression comments and
Helm ``# Source:`` lines are read from the raw text instead).  The builder
is iterative, so deep nesting cannot overflow the Python stack, and aliases
are shared references, so an alias bomb costs no memory.  Nothing is ever
constructed from a tag: ``!!python/object`` is just a string here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Any, List, Tuple

from somaxlint.load.positioned import YMap, YSeq, make_merged
from somaxlint.records import record

# ruamel.yaml (libyaml through ruamel.yaml.clib) and the regular expressions
# below are set up on first use, not with this module: the model imports
# it, and a run whose YAML comes from the cache never parses any.
_event_source = None
_MarkedYAMLError = None
_events = None


def _setup_parser() -> None:
    global _event_source, _MarkedYAMLError, _events, HAVE_LIBYAML
    if _event_source is not None:
        return
    from ruamel.yaml import events
    from ruamel.yaml.error import MarkedYAMLError

    try:  # libyaml through ruamel.yaml.clib
        from ruamel.yaml.cyaml import CParser

        def source(text: str):
            # get_event returns None past the stream's end: no generator
            # frame between libyaml and the builder for every event
            return iter(CParser(text).get_event, None)

        have = True
    except ImportError:  # pragma: no cover - pure-Python fallback
        from ruamel.yaml.main import YAML

        def source(text: str):
            return YAML(typ="safe", pure=True).parse(text)

        have = False
    _events, _MarkedYAMLError, HAVE_LIBYAML = events, MarkedYAMLError, have
    _event_source = source


def __getattr__(name):
    if name == "HAVE_LIBYAML":
        _setup_parser()
        return HAVE_LIBYAML
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_DEPTH = 256

# The longest decimal integer read as a number: converting decimal text to
# an int costs time quadratic in its length, which is why Python refuses
# longer ones by default (``sys.get_int_max_str_digits()``, 4300).  The
# bound is the linter's own, whatever the interpreter's setting, so the
# same file gives the same finding everywhere; no Kubernetes or server
# setting needs more than 20 digits.  A longer one is a located error that
# costs its document (the rest of the stream is read).
MAX_INTEGER_DIGITS = 4300

# What aliases (and the merge keys that name them) may add to one file,
# counted as if each were a copy of what it names: characters of scalars,
# plus one per node.  Nothing is copied; the bound is for what reads the
# tree afterwards, once per reference -- a script aliased into every
# container is analysed for each, a merged base checked in each object.
# The larger of the floor and the ratio times the file's length.
ALIAS_EXPANSION_FLOOR = 256 * 1024
ALIAS_EXPANSION_RATIO = 2


@record
class YamlError:
    message: str
    line: int
    column: int
    # True for a bound of the linter's own (nesting, aliases, a long
    # integer) rather than a syntax error: JSON that a bound stops is
    # reported at the bound, never read around it
    bound: bool = False


@record
class Document:
    index: int  # 0-based position in the stream
    root: Any
    line: int  # first line of the document's content
    end_line: int


# YAML 1.1 as Kubernetes' go-yaml resolves plain scalars; what matters to
# the linter is telling integers and booleans from strings.  Compiled on
# first use (``_setup_patterns``).
_INT_RE = _HEX_RE = _OCT_RE = _FLOAT_RE = None
_BOOLS = {
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
    "yes": True, "Yes": True, "YES": True, "no": False, "No": False, "NO": False,
    "on": True, "On": True, "ON": True, "off": False, "Off": False, "OFF": False,
}
_NULLS = {"", "~", "null", "Null", "NULL"}
# A plain scalar needs resolve_plain only when it is one of these words or
# starts like a number; any other is the string itself.
_PLAIN_SPECIAL = frozenset(_NULLS) | frozenset(_BOOLS)
_PLAIN_LEADS = frozenset("0123456789+-.")


def _setup_patterns() -> None:
    global _INT_RE, _HEX_RE, _OCT_RE, _FLOAT_RE, _DOC_START_RE, _NOT_PRINTABLE, _NOT_PRINTABLE_ASCII
    import re

    _HEX_RE = re.compile(r"^[-+]?0x[0-9a-fA-F_]+$")
    _OCT_RE = re.compile(r"^[-+]?0o?[0-7_]+$")
    _FLOAT_RE = re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$")
    _DOC_START_RE = re.compile(r"^---(?:[ \t]|$)", re.M)
    # What YAML 1.2 allows in a stream (c-printable, §5.1); libyaml refuses
    # anything else for the whole stream before parsing a document.  The
    # full class is compiled only for text that is not ASCII: its ranges
    # up to U+10FFFF took 6 ms to compile, a tenth of a commit's run.
    _NOT_PRINTABLE = _NotPrintable("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    _NOT_PRINTABLE_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    _INT_RE = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")  # last: the others are set when it is


class _NotPrintable:
    """The characters YAML refuses, searched for with a small pattern in
    ASCII text and with the full class (compiled on first use) in any
    other."""

    __slots__ = ("_full",)

    def __init__(self, source: str):
        from somaxlint.patterns import LazyPattern

        self._full = LazyPattern(source)

    def search(self, text: str):
        if text.isascii():
            return _NOT_PRINTABLE_ASCII.search(text)
        return self._full.search(text)


class IntegerTooLong(ValueError):
    """A plain decimal integer of more than ``MAX_INTEGER_DIGITS`` digits."""

    def __init__(self, digits: int):
        super().__init__(f"an integer of {digits} digits")
        self.digits = digits


def resolve_plain(text: str) -> Any:
    """What go-yaml reads a plain scalar as; raises IntegerTooLong for a
    decimal integer longer than ``MAX_INTEGER_DIGITS``."""
    if text in _NULLS:
        return None
    first = text[0]
    if first.isdigit() or first in "+-.":
        if _INT_RE is None:
            _setup_patterns()
        if _INT_RE.match(text):
            digits = text.replace("_", "")
            if len(digits) > MAX_INTEGER_DIGITS:
                length = len(digits.lstrip("+-"))
                if length > MAX_INTEGER_DIGITS:
                    raise IntegerTooLong(length)
            try:
                return int(digits)
            except ValueError:  # an interpreter limit lower than ours
                raise IntegerTooLong(len(digits.lstrip("+-"))) from None
        if _HEX_RE.match(text):
            return int(text.replace("_", ""), 16)
        if _OCT_RE.match(text) and len(text.lstrip("+-")) > 1:
            digits = text.replace("_", "").replace("0o", "0")
            try:
                return int(digits, 8)
            except ValueError:
                return text
        if _FLOAT_RE.match(text):
            try:
                return float(text.replace("_", ""))
            except ValueError:
                return text
        return text
    boolean = _BOOLS.get(text)
    if boolean is not None:
        return boolean
    return text


_MERGE = "<<"


class _Frame:
    __slots__ = ("node", "is_map", "key", "kpos", "merges", "anchor", "size")

    def __init__(self, node, is_map, anchor=None):
        self.node = node
        self.is_map = is_map
        self.key = _NOKEY
        self.kpos = None
        self.merges = None
        self.anchor = anchor
        self.size = 1  # the node, and what it holds once it is closed


class _Budget:
    """How much aliases may still add to the file (``ALIAS_EXPANSION_*``),
    and whether the text can define an anchor at all (only ``&`` does: a
    text without one has no sizes to count)."""

    __slots__ = ("left", "limit", "anchors")

    def __init__(self, text: str):
        self.limit = max(ALIAS_EXPANSION_FLOOR, ALIAS_EXPANSION_RATIO * len(text))
        self.left = self.limit
        self.anchors = "&" in text


_NOKEY = object()


def _build(events, first_line: int, documents: List[Document], errors: List[YamlError], last_line: int, budget: "_Budget", started: List[int]):
    """Consume events, appending finished documents; raises MarkedYAMLError,
    or _TooDeep / _LongInteger / _TooMuchAliasing for the document being
    built.  ``started[0]`` is kept at the line where that document starts,
    so that an error without a position costs that document alone.

    libyaml may mark an empty value (``key:`` at the end of the text) just
    past the last line; such marks are pulled back to ``last_line`` so every
    position lies inside the file.

    The loop runs once per event of every YAML file: it is most of a cold
    run's loading, so it keeps the innermost frame in a local (``top``),
    settles the common plain scalar (a word, not a number, boolean or null)
    without a call, and counts sizes for the alias bound only in a text
    that can define an anchor (``budget.anchors``)."""
    stack: List[_Frame] = []
    top = None  # stack[-1]
    anchors = {}
    sizes = {}  # anchor -> the size of its node, aliases counted as copies
    open_anchors = set()
    doc_errors = errors
    root = None
    doc_line = first_line
    line_offset = first_line - 1
    count_sizes = budget.anchors
    special = _PLAIN_SPECIAL
    resolve = resolve_plain
    ev = _events
    ScalarEvent = ev.ScalarEvent
    MappingStartEvent = ev.MappingStartEvent
    SequenceStartEvent = ev.SequenceStartEvent
    MappingEndEvent = ev.MappingEndEvent
    SequenceEndEvent = ev.SequenceEndEvent
    AliasEvent = ev.AliasEvent
    DocumentStartEvent = ev.DocumentStartEvent
    DocumentEndEvent = ev.DocumentEndEvent

    for event in events:
        cls = type(event)
        opens = False
        if cls is ScalarEvent:
            mark = event.start_mark
            text = event.value
            style = event.style
            if not style:
                style = ""
                if event.implicit[0] and event.tag in (None, "!"):
                    if text in special or text[:1] in _PLAIN_LEADS:
                        try:
                            value = resolve(text)
                        except IntegerTooLong as exc:
                            line = mark.line + 1 + line_offset
                            raise _LongInteger((line, mark.column + 1) if line <= last_line else (last_line, 1), exc.digits) from None
                    else:
                        value = text
                else:
                    value = text
            else:
                value = text
            line = mark.line + 1 + line_offset
            pos = (line, mark.column + 1, style) if line <= last_line else (last_line, 1, style)
            if count_sizes:
                size = len(text) + 1
                if event.anchor:
                    anchors[event.anchor] = value
                    sizes[event.anchor] = size
                if top is not None:
                    top.size += size
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            mark = event.start_mark
            line = mark.line + 1 + line_offset
            # (libyaml counts U+2028/U+0085 as line breaks)
            pos = (line, mark.column + 1, None) if line <= last_line else (last_line, 1, None)
            if len(stack) >= MAX_DEPTH:
                raise _TooDeep(pos)
            value = YMap(pos) if cls is MappingStartEvent else YSeq(pos)
            if event.anchor:
                anchors[event.anchor] = value
            opens = True
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            frame = stack.pop()
            top = stack[-1] if stack else None
            if count_sizes:
                if top is not None:
                    top.size += frame.size
                if frame.anchor is not None:
                    open_anchors.discard(frame.anchor)
                    sizes[frame.anchor] = frame.size
            if frame.merges:
                _apply_merges(frame.node, frame.merges, doc_errors)
            continue
        elif cls is AliasEvent:
            mark = event.start_mark
            line = mark.line + 1 + line_offset
            pos = (line, mark.column + 1, None) if line <= last_line else (last_line, 1, None)
            if event.anchor in open_anchors:
                # a node containing itself: refused, so that no walk of the
                # tree can loop forever
                doc_errors.append(YamlError(f"recursive alias {event.anchor!r} (a node cannot contain itself)", pos[0], pos[1]))
                value = None
            else:
                if event.anchor not in anchors:
                    doc_errors.append(YamlError(f"found undefined alias {event.anchor!r}", pos[0], pos[1]))
                value = anchors.get(event.anchor)
                size = sizes.get(event.anchor, 1)
                budget.left -= size
                if budget.left < 0:
                    raise _TooMuchAliasing(pos, budget.limit)
                if count_sizes and top is not None:
                    top.size += size
        elif cls is DocumentStartEvent:
            doc_line = event.start_mark.line + 1 + line_offset
            started[0] = doc_line
            anchors = {}
            sizes = {}
            root = None
            continue
        elif cls is DocumentEndEvent:
            documents.append(
                Document(
                    index=len(documents),
                    root=root,
                    line=doc_line,
                    end_line=event.end_mark.line + 1 + line_offset,
                )
            )
            continue
        else:  # stream start/end
            continue

        # Attach the new value to its parent.
        if top is None:
            root = value
        else:
            node = top.node
            if not top.is_map:
                node.append(value)
                node.ipos.append(pos)
            elif top.key is _NOKEY:
                if type(value) is str:
                    key = value
                elif isinstance(value, (YMap, YSeq)):
                    # `{{ x }}: 1` (an unrendered template) or `? [x]`.  The
                    # node itself still receives its children below; only
                    # the key is a placeholder.
                    doc_errors.append(
                        YamlError("complex (non-scalar) mapping keys are not supported", pos[0], pos[1])
                    )
                    key = f"<complex key at {pos[0]}:{pos[1]}>"
                elif not isinstance(value, (str, int, float, bool, type(None))):
                    key = str(value)
                else:
                    key = value
                top.key = key
                top.kpos = pos
            else:
                key = top.key
                top.key = _NOKEY
                if key == _MERGE and pos[2] != "'" and pos[2] != '"':
                    if top.merges is None:
                        top.merges = []
                    top.merges.append((value, pos))
                elif key in node:
                    kpos = top.kpos
                    doc_errors.append(
                        YamlError(
                            f"duplicate key {key!r} (first defined at line {node.kpos[key][0]}); "
                            "Kubernetes rejects the document",
                            kpos[0],
                            kpos[1],
                        )
                    )
                else:
                    node[key] = value
                    node.kpos[key] = top.kpos
                    node.vpos[key] = pos
        if opens:
            anchor = event.anchor or None
            if anchor is not None:
                open_anchors.add(anchor)
            top = _Frame(value, cls is MappingStartEvent, anchor)
            stack.append(top)


def _apply_merges(node: YMap, merges, doc_errors):
    """``<<: *base`` / ``<<: [*a, *b]``: keys written in the mapping win,
    then earlier merge sources win over later ones (YAML merge key spec).
    The sources are shared, not copied (``MergedMap``): a chain of anchors
    each merging the previous would otherwise copy quadratically."""
    sources = []
    for value, pos in merges:
        for source in value if isinstance(value, YSeq) else [value]:
            if isinstance(source, YMap):
                sources.append(source)
            else:
                doc_errors.append(YamlError("merge key value is not a mapping", pos[0], pos[1]))
    if sources:
        make_merged(node, node.kpos, node.vpos, sources)


class _TooDeep(Exception):
    def __init__(self, pos):
        super().__init__(pos)
        self.pos = pos


class _LongInteger(Exception):
    def __init__(self, pos, digits):
        super().__init__(pos)
        self.pos = pos
        self.digits = digits


class _TooMuchAliasing(Exception):
    def __init__(self, pos, limit):
        super().__init__(pos)
        self.pos = pos
        self.limit = limit


_DOC_START_RE = _NOT_PRINTABLE = _NOT_PRINTABLE_ASCII = None


def load_yaml(text: str) -> Tuple[List[Document], List[YamlError]]:
    """Every document of a YAML stream, and every error met.

    After a syntax error the stream is resumed at the next ``---`` line, so
    one broken document does not hide the documents after it.  A character
    YAML does not allow (a raw ESC, DEL) costs only the document that holds
    it: the stream is then read document by document.
    """
    if _event_source is None:
        _setup_parser()
    if _INT_RE is None:
        _setup_patterns()
    documents: List[Document] = []
    errors: List[YamlError] = []
    last_line = max(text.count("\n"), text.count("\r")) + 1
    budget = _Budget(text)
    if _NOT_PRINTABLE.search(text) is None:
        _load_chunk(text, 1, last_line, documents, errors, budget)
        return documents, errors
    starts = [0] + [m.start() for m in _DOC_START_RE.finditer(text) if m.start() > 0]
    for start, end in zip(starts, starts[1:] + [len(text)]):
        chunk = text[start:end]
        first_line = text.count("\n", 0, start) + 1
        bad = _NOT_PRINTABLE.search(chunk)
        if bad is None:
            _load_chunk(chunk, first_line, last_line, documents, errors, budget)
            continue
        line = first_line + chunk.count("\n", 0, bad.start())
        column = bad.start() - (chunk.rfind("\n", 0, bad.start()) + 1) + 1
        errors.append(YamlError(f"character U+{ord(bad.group()):04X} is not allowed in YAML (a control character)", line, column))
    return documents, errors


def _load_chunk(chunk: str, offset_line: int, last_line: int, documents: List[Document], errors: List[YamlError], budget: _Budget) -> None:
    """The documents of ``chunk`` (whose first line is ``offset_line``).

    After an error the rest is read one document at a time, each from its
    own ``---`` line: resuming the stream after every error would copy and
    hand libyaml the rest of the text once per error, which costs the
    product of the errors and the length."""
    resume = _read_stream(chunk, offset_line, last_line, documents, errors, budget)
    if resume is None:
        return
    offset, line = resume[0], offset_line + resume[1]
    starts = [match.start() for match in _DOC_START_RE.finditer(chunk, offset)]
    counted_to = offset
    for start, end in zip(starts, starts[1:] + [len(chunk)]):
        line += chunk.count("\n", counted_to, start)
        counted_to = start
        # (a piece holds no other document start: its own error ends it)
        _read_stream(chunk[start:end], line, last_line, documents, errors, budget)


def _read_stream(chunk: str, offset_line: int, last_line: int, documents: List[Document], errors: List[YamlError], budget: _Budget):
    """Read ``chunk`` until its end or its first error; after an error, the
    (offset, lines into the chunk) of the first document start past it, or
    None when there is none."""
    started = [offset_line]  # where the document being built starts
    after = False  # resume strictly after the error line
    try:
        _build(_event_source(chunk), offset_line, documents, errors, last_line, budget, started)
        return None
    except _TooDeep as exc:
        line, column = exc.pos[0], exc.pos[1]
        errors.append(YamlError(f"nesting deeper than {MAX_DEPTH} levels", line, column, bound=True))
    except _LongInteger as exc:
        line, column = exc.pos[0], exc.pos[1]
        errors.append(
            YamlError(
                f"an integer of {exc.digits} digits, more than the {MAX_INTEGER_DIGITS} somaxlint reads as a "
                "number: this document is not read",
                line,
                column,
                bound=True,
            )
        )
    except _TooMuchAliasing as exc:
        line, column = exc.pos[0], exc.pos[1]
        errors.append(
            YamlError(
                f"aliases and merge keys expand the file to more than {exc.limit} characters "
                f"(counted as copies; the limit is the larger of {ALIAS_EXPANSION_FLOOR} and "
                f"{ALIAS_EXPANSION_RATIO} times the file's length): this document is not read",
                line,
                column,
                bound=True,
            )
        )
    except _MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = min((mark.line if mark else 0) + offset_line, last_line)
        column = (mark.column if mark else 0) + 1
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        errors.append(YamlError(problem, line, column))
    except (ValueError, UnicodeError) as exc:  # e.g. control characters
        # No position: said where the document being built starts, and
        # read again after it -- never from the start of the chunk,
        # whose finished documents are already read.
        line = started[0]
        errors.append(YamlError(f"invalid YAML: {exc}", line, 1))
        after = True
    # Resume at the first document start after the error line.
    lines_into_chunk = line - offset_line
    resume = None
    counted_to = start_line = 0
    for match in _DOC_START_RE.finditer(chunk):
        start_line += chunk.count("\n", counted_to, match.start())
        counted_to = match.start()
        if (start_line > lines_into_chunk if after else start_line >= lines_into_chunk) and start_line > 0:
            resume = (match.start(), start_line)
            break
    return resume

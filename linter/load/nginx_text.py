"""nginx configuration text -> directive trees with exact line and column.

crossplane does the parsing, one file at a time (``single=True``): it never
follows an ``include`` itself, because crossplane opens include paths as
they are written, absolute ones included.  somaxlint resolves includes in
the model stage, against the container's filesystem or the lint root.

crossplane's ``parse()`` wants a file name and opens it; the loader instead
hands it text that somaxlint has already read (with its size limits and its
refusal to leave the lint root), by routing crossplane's lexer to an
in-memory buffer for names registered here.  crossplane reports lines only;
columns are recovered from the text.

The in-memory text is tokenized by ``somaxlint.load.nginx_lexer``, which yields
exactly crossplane's tokens several times faster (one regular expression
instead of a generator per character); crossplane's parser and analyser do
the rest.  ``SOMAXLINT_NGINX_LEXER=crossplane`` (or setting ``LEXER``) puts
crossplane's own lexer back, for differential checks.
"""

from __future__ import annotations

import os
import sys
# threading.local is this C class; the threading module itself is not
# imported for it (a commit-time run is mostly imports)
from _thread import _local as thread_local
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Tuple

from somaxlint.records import record

# crossplane (and somaxlint's lexer, which registers crossplane's Lua
# plugin) is imported on the first parse, not with this module: a run whose
# nginx files all come from the cache never imports it.
_memory = thread_local()
_kept = thread_local()


def keep_parses_in(store):
    """From now on in this thread, ``parse_nginx`` reads and keeps its
    results in ``store`` (an object with ``get_nginx_text(text)`` and
    ``put_nginx_text(text, result)``), or nowhere for None; the previous
    store is returned.  The loading cache sets itself here for a run."""
    previous = getattr(_kept, "store", None)
    _kept.store = store
    return previous
_original_lex = None
_ready = False

# "somaxlint" (the default) or "crossplane": which lexer tokenizes text.
LEXER = os.environ.get("SOMAXLINT_NGINX_LEXER", "somaxlint")

# Blocks nested deeper than this are an error of the file, at the line of
# the `{` that goes deeper: crossplane's parser (and every walk of the
# tree) recurses once per block, so without a bound of its own a file
# would fail at whatever depth Python's stack had left where it was parsed.
# nginx's own configurations nest a handful of levels.
MAX_BLOCK_DEPTH = 100


def _lex(filename):
    buffers = getattr(_memory, "buffers", None)
    if buffers is None or filename not in buffers:
        return _original_lex(filename)
    # crossplane.parse() calls lex() once per file, from its own frame,
    # where its recursive ``_parse`` closure lives: that closure holds
    # itself (and, through ``_handle_error``, the whole payload) in a
    # reference cycle that outlives the parse.  Remember it so that
    # parse_nginx can break the cycle once the payload is converted.
    _memory.closure = sys._getframe(1).f_locals.get("_parse")
    if LEXER == "crossplane":
        return _bounded(crossplane_lex_text(buffers[filename], filename), filename)
    return _bounded(lex_text(buffers[filename], filename), filename)


def _bounded(tokens, filename):
    """The tokens, until a `{` opens a block deeper than MAX_BLOCK_DEPTH:
    then crossplane's syntax error at its line (the parse stops there)."""
    from crossplane.errors import NgxParserSyntaxError

    depth = 0
    # nginx refuses a `}` that ends a directive (`listen 80 }`: 'unexpected
    # "}"'); crossplane says so only of directives it knows, in contexts it
    # knows, so the first such `}` is remembered here for parse_nginx
    pending = False
    _memory.unexpected = None
    for token in tokens:
        if not token[2]:  # (a quoted "{" opens nothing)
            value = token[0]
            if value == "{":
                depth += 1
                pending = False
                if depth > MAX_BLOCK_DEPTH:
                    raise NgxParserSyntaxError(f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels", filename, token[1])
            elif value == "}":
                depth -= 1
                if pending and _memory.unexpected is None:
                    _memory.unexpected = token[1]
                pending = False
            elif value == ";":
                pending = False
            elif not value.startswith("#"):
                pending = True
        else:
            pending = True
        yield token


def _setup() -> None:
    """Import crossplane and route its lexer to in-memory buffers (once)."""
    global _original_lex, _ready
    if _ready:
        return
    import crossplane.parser

    from somaxlint.load import nginx_lexer  # registers crossplane's Lua plugin

    module = globals()
    # a test may have replaced these already (monkeypatch reads them first)
    module.setdefault("lex_text", nginx_lexer.lex_text)
    module.setdefault("crossplane_lex_text", nginx_lexer.crossplane_lex_text)
    if crossplane.parser.lex is not _lex:
        _original_lex = crossplane.parser.lex
        crossplane.parser.lex = _lex
    _ready = True


def __getattr__(name):
    # ``lex_text`` / ``crossplane_lex_text`` before the first parse
    if name in ("lex_text", "crossplane_lex_text"):
        _setup()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Directive:
    """One nginx directive.  ``block`` is None for simple directives."""

    __slots__ = ("name", "args", "line", "column", "block", "source")

    def __init__(self, name, args, line, column, block, source=None):
        self.name = name
        self.args = args
        self.line = line
        self.column = column
        self.block = block
        self.source = source  # the TextSource it was read from (model stage)

    def __repr__(self):
        return f"Directive({self.name!r}, {self.args!r}, {self.line}:{self.column})"


@record
class NginxError:
    message: str
    line: int
    column: int


_SUFFIX_RE = None


def parse_nginx(text: str) -> Tuple[List[Directive], List[NginxError]]:
    """Parse one nginx file's text (never touching the filesystem).

    During a run with a store of parses (``keep_parses_in``: the loading
    cache), a text parsed before is read back from its entry instead: the
    same directives and errors, as new objects every time."""
    store = getattr(_kept, "store", None)
    if store is not None:
        hit = store.get_nginx_text(text)
        if hit is not None:
            return hit
    directives, errors = _parse_nginx(text)
    if store is not None:
        store.put_nginx_text(text, (directives, errors))
    return directives, errors


def _parse_nginx(text: str) -> Tuple[List[Directive], List[NginxError]]:
    global _SUFFIX_RE
    _setup()
    import crossplane

    name = "<somaxlint-memory>"
    buffers = getattr(_memory, "buffers", None)
    if buffers is None:
        buffers = _memory.buffers = {}
    buffers[name] = text
    try:
        payload = crossplane.parse(
            name,
            single=True,
            catch_errors=True,
            # Context depends on where a file is included; a snippet of
            # `location` blocks is valid nginx, so only arguments are checked.
            check_ctx=False,
            check_args=True,
        )
    except RecursionError:
        return [], [NginxError("blocks nested too deeply to parse", 1, 1)]
    finally:
        del buffers[name]
        _break_cycle()

    if _SUFFIX_RE is None:
        import re

        _SUFFIX_RE = re.compile(r" in \S*:\d+$| in \S*$")
    lines = text.split("\n")
    errors: List[NginxError] = []
    for err in payload["errors"]:
        message = _SUFFIX_RE.sub("", err.get("error") or "")
        line = err.get("line")
        if not message:
            # crossplane's parser runs out of tokens mid-directive.
            message = 'unexpected end of file, expecting ";" or "}"'
        elif message.startswith("maximum recursion depth exceeded"):
            # crossplane's parser recurses once per block and reports the
            # RecursionError as an error of the file.
            message, line = "blocks nested too deeply to parse", 1
        if not line:
            line = len(lines) if lines and lines[-1] else max(len(lines) - 1, 1)
        line = max(1, min(line, len(lines)))
        errors.append(NginxError(message, line, _first_column(lines, line)))

    unexpected = getattr(_memory, "unexpected", None)
    _memory.unexpected = None
    if unexpected is not None:
        # crossplane calls a known directive ended by `}` "not terminated
        # by ';'"; nginx says 'unexpected "}"' at the brace (it keeps that
        # message for a directive followed by a `{` it does not take)
        errors = [e for e in errors if not (e.line <= unexpected and e.message.endswith('is not terminated by ";"'))]
        if not any(e.line <= unexpected for e in errors):
            errors.append(NginxError('unexpected "}"', unexpected, _first_column(lines, unexpected)))
            errors.sort(key=lambda e: e.line)
    parsed = payload["config"][0]["parsed"] if payload["config"] else []
    cursors = {}
    directives = _convert(parsed, lines, cursors)
    return directives, errors


def _break_cycle() -> None:
    """Empty the cells of crossplane's ``_parse`` closure: the function,
    which refers to itself, is then freed by reference counting, with the
    payload its ``_handle_error`` sibling holds (the collector is off during
    a run, so a cycle would stay until the process ends)."""
    closure = getattr(_memory, "closure", None)
    if closure is None:
        return
    _memory.closure = None
    for cell in closure.__closure__ or ():
        try:
            del cell.cell_contents
        except ValueError:  # already empty
            pass


def _convert(stmts, lines, cursors) -> List[Directive]:
    out = []
    for stmt in stmts:
        name = stmt["directive"]
        line = stmt["line"]
        column = _locate(lines, line, name, cursors)
        block = stmt.get("block")
        converted = _convert(block, lines, cursors) if block is not None else None
        out.append(Directive(name, stmt["args"], line, column, converted))
    return out


_BOUNDARY = set(" \t\r;{}")


def _locate(lines, line, name, cursors) -> int:
    """1-based column of directive ``name`` on ``line``, scanning left to
    right so that several directives on one line get their own columns."""
    if not 1 <= line <= len(lines):
        return 1
    text = lines[line - 1]
    start = cursors.get(line, 0)
    while True:
        found = text.find(name, start)
        if found < 0:
            break
        before_ok = found == 0 or text[found - 1] in _BOUNDARY or text[found - 1] in "\"'"
        if before_ok:
            cursors[line] = found + len(name)
            return found + 1
        start = found + 1
    return _first_column(lines, line)


def _first_column(lines, line) -> int:
    if not 1 <= line <= len(lines):
        return 1
    text = lines[line - 1]
    stripped = len(text) - len(text.lstrip(" \t"))
    return stripped + 1


_NGINX_MARKERS = _SPECIALS = None


def looks_like_nginx(text: str) -> bool:
    """True when the text uses constructs only nginx configs have (used to
    tell an nginx file from another program's *.conf found by walking):
    at the start of a line, a block name whose next `;`, `{` or `}` is a
    `{`, or a directive followed by a `;` somewhere after it.

    One expression finds the words at line starts, and what follows is
    looked up, not matched: ``^\\s*`` from every line start over a run of
    blank lines, and ``[^;{}]*`` from every `server` line to the end of a
    text without braces, each cost the square of the text (40 KB: 30 s)."""
    global _NGINX_MARKERS, _SPECIALS
    if _NGINX_MARKERS is None:
        import re

        _SPECIALS = re.compile(r"[;{}]")
        _NGINX_MARKERS = re.compile(
            r"^[^\S\n]*(?:(http|events|stream|server|upstream|location|map|types)\b"
            r"|(?:listen|server_name|worker_processes|proxy_pass|root|include)\s)",
            re.M,
        )
    last_semicolon = text.rfind(";")
    special = -1  # where the first of ; { } at or after ``special`` is (a cursor: words come in order)
    for match in _NGINX_MARKERS.finditer(text):
        end = match.end()
        if match.group(1) is None:
            if last_semicolon >= end:
                return True
            continue
        if special < end:
            found = _SPECIALS.search(text, end)
            if found is None:
                return False  # no `{` after here, nor a `;`
            special = found.start()
        if text[special] == "{":
            return True
    return False

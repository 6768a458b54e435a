"""nginx tokenizer yielding exactly crossplane's tokens, several times faster.

``lex_text(text, filename)`` generates the same ``(token, line, quoted)``
tuples as ``crossplane.lexer._balance_braces(crossplane.lexer.
_lex_file_object(io.StringIO(text)), filename)`` and raises the same
``NgxParserSyntaxError`` (message, file name, line) at the same point of the
stream.  crossplane's lexer walks the text one character at a time through
three nested generators; this one takes a whole token per match of one
compiled regular expression.  The parser and analyser stay crossplane's.

crossplane's behaviour, reproduced here quirk for quirk (``tests/
test_nginx_lexer.py`` checks it differentially, property-based and on the
corpus):

* A backslash and the character after it form one unit everywhere (an
  escape pair).  Pairs are kept as written, except that inside quotes
  ``\\"`` (``\\'``) becomes the bare quote.  A backslash as the very last
  character of the text ends the token stream.
* Whitespace is ``str.isspace()`` (the regex ``\\s`` is the same set).
* ``#`` at the start of a token starts a comment token that runs to the
  next newline, an escaped one included (the newline and its backslash are
  not part of the token); inside a word ``#`` is an ordinary character.
* A quote at the start of a token reads a quoted token to the matching
  quote; inside a word a quote is an ordinary character.
* ``{``, ``}`` and ``;`` are tokens of their own.
* In a word, ``{`` right after ``$`` opens a ``${...}`` run that takes
  characters up to and including a ``}`` (or up to whitespace), and then
  takes one more unit unconditionally unless it is ``{``, ``}`` or ``;``:
  whitespace, a quote or ``#`` included, so ``${a} b`` is one token.
* The end of the text, or a trailing backslash, silently drops whatever
  token is unfinished: a word not followed by whitespace or ``{};``, an
  unterminated quoted string, a comment without a final newline.
* A unit's line is one plus the newlines before it and in it, so a word
  starting with an escaped newline is on the following line.
* Braces are balanced as the stream is consumed: a ``}`` too many raises
  ``unexpected "}"`` at its line before it is yielded; open braces at the
  end raise ``unexpected end of file, expecting "}"`` at the last token's
  line.

Files that use crossplane's external lexers (``*_by_lua_block`` once the
Lua plugin is registered) are handed to crossplane's own lexer, so their
Lua bodies are tokenized exactly as before.

The expression is linear on any input: every repetition is over units that
no other branch at the same point can take, so a successful match never
backtracks, and a failing one (only at the end of the stream) backtracks
once over the unfinished token.
"""

from __future__ import annotations

import io
import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Iterator, Optional, Tuple

import crossplane.lexer
from crossplane.errors import NgxParserSyntaxError
from crossplane.ext.lua import LuaBlockPlugin

# *_by_lua_block bodies are Lua, not nginx syntax (OpenResty configs): with
# the plugin registered, crossplane lexes them with its Lua lexer.
LuaBlockPlugin().register_extension()

if TYPE_CHECKING:
    Token = Tuple[str, int, bool]

# Group numbers, in the order of the alternation below.
_WORD, _DQUOTED, _SQUOTED, _COMMENT, _SPECIAL = 1, 2, 3, 4, 5

_TOKEN_RE = re.compile(
    r"""
    \s*
    (?:
        (   # 1: a word
            (?: [^\s{};\\\#"'] | \\[\s\S] )   # first unit: not a comment or a quote
            [^\s{};\\]* (?: \\[\s\S] [^\s{};\\]* )*    # then anything but whitespace and {};
            (?:
                (?<=\$) \{                          # "${" ...
                [^\s}\\]* (?: \\[^}] [^\s}\\]* )*     # ... up to a "}", whitespace
                (?: \\?\} | (?=\s) | \\?\Z )         #     or the end of the text,
                (?: [^{};\\] | \\[\s\S] )?          # then one unit, whatever it is,
                [^\s{};\\]* (?: \\[\s\S] [^\s{};\\]* )*
            )*
        )
    |   " ( [^"\\]* (?: \\[\s\S] [^"\\]* )* ) "        # 2: double-quoted
    |   ' ( [^'\\]* (?: \\[\s\S] [^'\\]* )* ) '        # 3: single-quoted
    |   ( \# [^\\\n]* (?: \\[^\n] [^\\\n]* )* ) \\?\n   # 4: comment, to the newline
    |   ( [{};] )                                   # 5: {, } and ;
    )
    """,
    re.VERBOSE,
)

_UNEXPECTED_CLOSE = 'unexpected "}"'
_UNEXPECTED_EOF = 'unexpected end of file, expecting "}"'

_needles_for: Optional[tuple] = None
_needles: tuple = ()


def _external_needles() -> tuple:
    """Substrings whose presence means a file may need an external lexer."""
    global _needles_for, _needles
    keys = tuple(crossplane.lexer.EXTERNAL_LEXERS)
    if keys != _needles_for:
        if keys and all(key.endswith("_by_lua_block") for key in keys):
            needles: tuple = ("_by_lua_block",)
        else:
            needles = keys
        _needles, _needles_for = needles, keys
    return _needles


def needs_crossplane(text: str) -> bool:
    """True when ``text`` may use a directive with an external lexer.

    A token equal to such a directive name is always a substring of the text
    (names contain no quotes or backslashes), so a file without any of them
    is tokenized identically without consulting the external lexers."""
    for needle in _external_needles():
        if needle in text:
            return True
    return False


def crossplane_lex_text(text: str, filename: Optional[str] = None) -> Iterator[Token]:
    """crossplane's own lexer over in-memory text (the reference)."""
    tokens = crossplane.lexer._lex_file_object(io.StringIO(text))
    return crossplane.lexer._balance_braces(tokens, filename)


def lex_text(text: str, filename: Optional[str] = None) -> Iterator[Token]:
    """Tokens of nginx ``text``, exactly as crossplane's lexer makes them."""
    if needs_crossplane(text):
        return crossplane_lex_text(text, filename)
    return _lex(text, filename)


def _lex(text: str, filename: Optional[str]) -> Iterator[Token]:
    match = _TOKEN_RE.scanner(text).match
    count = text.count
    end_of_text = len(text)
    line = 1  # the line at position ``last``
    last = 0
    depth = 0
    token_line = 0
    while True:
        m = match()
        if m is None:
            break  # the end of the text, or an unfinished token before it
        kind = m.lastindex
        if kind == _SPECIAL:
            start = m.end() - 1
            line += count("\n", last, start)
            last = start
            token = m.group(_SPECIAL)
            if token == "}":
                depth -= 1
                if depth < 0:
                    raise NgxParserSyntaxError(_UNEXPECTED_CLOSE, filename, line)
            elif token == "{":
                depth += 1
            token_line = line
            yield (token, line, False)
        elif kind == _WORD:
            start = m.start(_WORD)
            end = m.end()
            if end == end_of_text or text[end] == "\\":
                break  # not followed by whitespace or {};: dropped
            line += count("\n", last, start)
            last = start
            token = m.group(_WORD)
            if token[0] == "\\" and token[1] == "\n":
                token_line = line + 1  # an escaped newline belongs to its line
            else:
                token_line = line
            yield (token, token_line, False)
        elif kind == _COMMENT:
            start = m.start(_COMMENT)
            line += count("\n", last, start)
            last = start
            token_line = line
            yield (m.group(_COMMENT), line, False)
        else:
            start = m.start(kind) - 1
            line += count("\n", last, start)
            last = start
            token = m.group(kind)
            if "\\" in token:
                token = token.replace('\\"' if kind == _DQUOTED else "\\'", '"' if kind == _DQUOTED else "'")
            token_line = line
            yield (token, line, True)
    if depth > 0:
        raise NgxParserSyntaxError(_UNEXPECTED_EOF, filename, token_line)


def count_matches(text: str) -> int:
    """How many regular-expression matches lexing ``text`` takes (a time-free
    cost measure for the linearity test)."""
    scanner = _TOKEN_RE.scanner(text)
    n = 0
    while scanner.match() is not None:
        n += 1
    return n

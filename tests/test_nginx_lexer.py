"""somaxlint's nginx lexer yields exactly crossplane's tokens.

``somaxlint.load.nginx_lexer.lex_text`` replaces crossplane's tokenizer under
crossplane's parser; these tests hold it to crossplane's own lexer
(``_lex_file_object`` + ``_balance_braces`` over the same text), token for
token and error for error: on generated text (Hypothesis), on quirks spelled
out, on every nginx file of the shared corpus and of the test suite, and
through whole ``somaxlint`` runs on the corpus.  A last test bounds the
lexer's work on hostile input.
"""

import os
import string
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import crossplane.lexer
import somaxlint.load.nginx_text as nginx_text
from conftest import CORPUS, REPO, corpus_or_skip
from somaxlint.load import nginx_lexer
from somaxlint.load.nginx_lexer import count_matches, crossplane_lex_text, lex_text, needs_crossplane

EXAMPLES = settings(
    max_examples=int(os.environ.get("SOMAXLINT_PROPERTY_EXAMPLES", "300")) * 4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def outcome(lexer, text):
    """Every token, then the error that ended the stream, if any."""
    out = []
    try:
        for token in lexer(text, "<memory>"):
            out.append(token)
    except Exception as exc:  # type, message and line must all agree
        out.append(("raised", type(exc).__name__, str(exc), getattr(exc, "lineno", None)))
    return out


def assert_same_tokens(text):
    assert outcome(lex_text, text) == outcome(crossplane_lex_text, text), repr(text)


# Generated text ----------------------------------------------------------------

# Single characters: nginx syntax, the escape character, every kind of line
# and space crossplane treats specially (str.isspace, "\n" only for lines),
# and odd ones.
CHARACTERS = string.ascii_letters[:6] + string.digits[:3] + "{};#\"'\\$ \t\n\r" + "\x0b\x0c\x1c\x85\xa0\u2028\u3000\x00é"
# Pieces that make the interesting sequences likely.
PIECES = list(CHARACTERS) + [
    "${", "}", "${a}", "$", "\\\n", "\\\r\n", '\\"', "\\'", "\\\\", "\\ ", "\\{", "\\}", "\\;", "\\#", "\\$",
    "\r\n", "#c\n", "# c\\\n", '"x"', "'y'", '""', "listen", " 80", ";", " {", "}\n", "server", "a b;",
]
LUA = ["content_by_lua_block", "set_by_lua_block $x", "{ ngx.say('}') }", "-- c\n", "access_by_lua_block {", '"', "}"]

generated = st.one_of(
    st.text(alphabet=CHARACTERS, max_size=120),
    st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
    st.text(max_size=60),  # any Unicode at all
)


@EXAMPLES
@given(generated)
@example("x${a} b;")  # after "${...}" one more character joins the token, space included
@example("x${a b};")  # "${" stops at whitespace, which still joins the token
@example("a${a}#c\n;")
@example("\\\nx;")  # a token starting with an escaped newline is on the next line
@example("#c\\\nx;")  # an escaped newline ends a comment
@example('"a\\"b\\\'c";')  # only the escaped closing quote loses its backslash
@example("a;#c")  # a comment with no newline is dropped
@example("a b")  # so is a last word with nothing after it
@example("a \\")  # a trailing backslash ends the stream
@example("{}}")
@example("{ a;\n{\n")
def test_same_tokens_and_errors_as_crossplane(text):
    assert_same_tokens(text)


@EXAMPLES
@given(st.lists(st.sampled_from(PIECES + LUA), max_size=40).map("".join))
def test_same_tokens_with_lua_blocks(text):
    # Files that may use an external lexer go to crossplane's own lexer.
    assert_same_tokens(text)


@EXAMPLES
@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_the_expression_path_is_the_one_tested(text):
    # Without *_by_lua_block the fast path runs, not the fallback.
    assert not needs_crossplane(text)
    assert outcome(nginx_lexer._lex, text) == outcome(crossplane_lex_text, text), repr(text)


QUIRKS = [
    "",
    "a",
    "a;",
    "a ",
    "\\",
    "a\\",
    "a;\\",
    "\\\\;",
    "\\\nx;\n",
    "\\\n\\\n;",
    "#",
    "#c",
    "#c\n",
    "#c\r\n",
    "a#b c;",
    "a;#b\n",
    "#c\\",
    '"a',
    '"a\\',
    '"a\\"b";',
    "'a\\'b';",
    "'a\\\"b';",
    '"";',
    '"a"b;',
    '"a""b";',
    'a"b c";',
    "${a};",
    "x${a} b;",
    "x${a b};",
    "x${a\\}b} c;",
    "x${a}${b} c;",
    "x${a}$${b} c;",
    "\\${a} b;",
    "x${",
    "x${a",
    "x${a\\",
    "x${a}",
    "x${a}\\",
    "x${a};",
    "x${a}{",
    "x${a}}",
    "x${a}\n;",
    "x${a}'q';",
    "x$ {a};",
    "a\\{b;",
    "a\\;b;",
    "{",
    "}",
    "{}}",
    "{{}",
    "a {\n b;\n",
    "a\r\nb c;\r\n",
    "a\tb\x0bc\x0cd\x1ce\x85f\xa0g\u2028h\u3000i;",
    "\x00;",
    "é \U0001f600;",
    "server{listen 80;}",
    "if ($a = b) { return 403; }",
]


@pytest.mark.parametrize("text", QUIRKS)
def test_quirks(text):
    assert_same_tokens(text)


# Real files ----------------------------------------------------------------------


def _nginx_files():
    files = sorted(str(p.relative_to(REPO)) for p in REPO.glob("tests/**/*.conf"))
    if (CORPUS / "nginx").is_dir():
        files += sorted(str(p) for p in (CORPUS / "nginx").rglob("*") if p.is_file())
    return files


def _read(path):
    with open(REPO / path, "rb") as handle:
        return handle.read().decode("utf-8-sig", "replace")


@pytest.mark.parametrize("path", _nginx_files())
def test_same_tokens_on_real_files(path):
    text = _read(path)
    assert_same_tokens(text)
    assert_same_tokens(text.replace("\n", "\r\n"))  # the same file from Windows


def test_the_corpus_is_here():
    corpus = corpus_or_skip()
    assert any((corpus / "nginx").rglob("*.conf"))


def _shape(directives):
    return [(d.name, d.args, d.line, d.column, _shape(d.block) if d.block is not None else None) for d in directives]


def _parsed_both_ways(monkeypatch, text):
    results = []
    for lexer in ("somaxlint", "crossplane"):
        monkeypatch.setattr(nginx_text, "LEXER", lexer)
        directives, errors = nginx_text.parse_nginx(text)
        results.append((_shape(directives), [(e.message, e.line, e.column) for e in errors]))
    return results


@pytest.mark.parametrize("path", _nginx_files())
def test_same_directives_on_real_files(monkeypatch, path):
    new, old = _parsed_both_ways(monkeypatch, _read(path))
    assert new == old


def test_same_somaxlint_results_on_the_corpus(project, monkeypatch):
    corpus = corpus_or_skip()
    runs = {}
    for lexer in ("somaxlint", "crossplane"):
        monkeypatch.setattr(nginx_text, "LEXER", lexer)
        runs[lexer] = project.run("--format", "json", str(corpus), cwd=REPO)
    new, old = runs["somaxlint"], runs["crossplane"]
    assert (new.status, new.out, new.err) == (old.status, old.out, old.err)
    assert new.json["findings"]  # the comparison compared something


def test_parsing_goes_through_the_new_lexer(monkeypatch):
    calls = []

    def counting(text, filename=None):
        calls.append(text)
        return lex_text(text, filename)

    monkeypatch.setattr(nginx_text, "lex_text", counting)
    monkeypatch.setattr(nginx_text, "LEXER", "somaxlint")
    directives, errors = nginx_text.parse_nginx("events {}\nhttp { server { listen 80; } }\n")
    assert calls == ["events {}\nhttp { server { listen 80; } }\n"]
    assert [d.name for d in directives] == ["events", "http"] and not errors


def test_every_external_lexer_directive_goes_to_crossplane():
    assert crossplane.lexer.EXTERNAL_LEXERS  # the Lua plugin is registered
    for directive in crossplane.lexer.EXTERNAL_LEXERS:
        assert needs_crossplane(f"location / {{ {directive} {{ return }} }}")
    assert not needs_crossplane("location / { content_by_lua_file x.lua; }")


def test_deep_nesting_is_an_error_of_the_file():
    # crossplane's parser recurses once per block: past MAX_BLOCK_DEPTH the
    # file is reported at the block that goes deeper, whatever the depth
    # of Python's stack where it is parsed (never the interpreter's message).
    depth = 2 * sys.getrecursionlimit()
    text = "events {}\n" + "http {\n" * depth + "}\n" * depth
    _, errors = nginx_text.parse_nginx(text)
    limit = nginx_text.MAX_BLOCK_DEPTH
    assert [(e.message, e.line, e.column) for e in errors] == [(f"blocks nested deeper than {limit} levels", limit + 2, 1)]
    _, errors = nginx_text.parse_nginx("events {}\n" + "http {\n" * limit + "}\n" * limit)
    assert errors == []


# Linear work -------------------------------------------------------------------

HOSTILE = {
    "one long word": lambda n: "a" * n + ";",
    "dollar braces": lambda n: "x" + "${" * n + ";",
    "dollar braces closed": lambda n: "x" + "${a}" * n + ";",
    "dollar braces spaced": lambda n: "x" + "${a} " * n + ";",
    "escapes": lambda n: "\\" * (2 * n) + ";",
    "unterminated quote": lambda n: '"' + "\\\"a" * n,
    "unterminated comment": lambda n: "#" + "\\x" * n,
    "comments": lambda n: "#\n" * n,
    "spaces then a backslash": lambda n: " " * n + "\\",
    "braces": lambda n: "{" * n + "}" * n,
    "semicolons": lambda n: ";" * n,
    "quotes": lambda n: '"";' * n,
    "mixed": lambda n: "a${b}'c'\"d\"#e\\\n{f;}" * n,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_work_is_linear_in_the_input(name):
    # The work is one match of the expression per token, and each match is
    # linear in what it consumes: its repetitions are over units that no
    # other branch at that point can take, so it never backtracks, except
    # once, over the unfinished token, where the stream ends.  Doubling the
    # input at most doubles the number of matches; and the inputs are big
    # enough (10,000 to 20,000 repetitions) that one match doing quadratic work
    # would not finish.  The tokens still agree with crossplane's.
    make = HOSTILE[name]
    small, large = make(10000), make(20000)
    assert count_matches(large) <= 2 * count_matches(small) + 2
    assert_same_tokens(large)

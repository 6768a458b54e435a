"""How somaxlint.model.shell reads a container's `sh -c` script: as POSIX sh
does, quotes first (a quoted word keeps its newlines), then commands."""

import shutil
import subprocess

import pytest

from somaxlint.model.shell import Operator, parse_commands, sysctl_writes, tokenize

PROC = "/proc/sys/net/core/somaxconn"


def _writes(script):
    return [(w.name, w.data, w.statement) for w in sysctl_writes(["sh", "-c", script])]


def test_a_quoted_newline_belongs_to_its_word():
    assert tokenize(f"echo '1000\n' > {PROC}") == ["echo", "1000\n", ">", PROC]
    assert _writes(f"echo '1000\n' > {PROC}") == [("net.core.somaxconn", "1000\n\n", 0)]
    assert _writes(f'printf %s " 0x3e8\n" > {PROC}') == [("net.core.somaxconn", " 0x3e8\n", 0)]


def test_a_quoted_newline_in_an_earlier_command_keeps_the_later_write():
    script = "echo 'a\nb' && sysctl -w net.core.somaxconn=1000\necho done"
    assert [c.words for c in parse_commands(["sh", "-c", script])] == [["echo", "a\nb"], ["sysctl", "-w", "net.core.somaxconn=1000"], ["echo", "done"]]
    assert _writes(script) == [("net.core.somaxconn", "1000\n", 1)]


def test_unquoted_newlines_end_commands_and_a_backslash_newline_joins_lines():
    script = "sysctl -w \\\n  net.core.somaxconn=9\n\n\nsysctl -w net.ipv4.tcp_syncookies=1"
    assert _writes(script) == [("net.core.somaxconn", "9\n", 0), ("net.ipv4.tcp_syncookies", "1\n", 1)]
    assert tokenize("ab\\\ncd") == ["abcd"]


def test_a_comment_ends_at_its_line():
    script = "sysctl -w a.b=1 # no ; sysctl -w x.y=2\nsysctl -w c.d=3 #x\n"
    assert _writes(script) == [("a.b", "1\n", 0), ("c.d", "3\n", 1)]
    assert tokenize("echo a#b") == ["echo", "a#b"]  # `#` inside a word is the word's


def test_a_here_document_is_not_commands():
    script = (
        f"cat <<EOF > /etc/motd\ndon't run: sysctl -w no.no=1\nEOF\n"
        f"cat <<-'END'\n\techo 1 > {PROC}\n\tEND\n"
        "sysctl -w net.core.somaxconn=7"
    )
    assert _writes(script) == [("net.core.somaxconn", "7\n", 2)]


def test_an_unterminated_quote_drops_the_list_that_holds_it():
    # sh runs each complete command as it reads it and stops at the syntax
    # error: the first line runs, nothing from the broken list on does
    assert _writes("sysctl -w a.b=1\necho 'oops\nsysctl -w c.d=2") == [("a.b", "1\n", 0)]
    assert _writes("sysctl -w a.b=1 &&\necho 'oops") == []
    assert _writes('sysctl -w a.b=1; echo "oops') == []


def test_quoted_operators_are_words():
    assert [c.words for c in parse_commands(["sh", "-c", "echo ';' '&&' \"|\""])] == [["echo", ";", "&&", "|"]]
    tokens = tokenize("a ; b")
    assert isinstance(tokens[1], Operator) and not isinstance(tokenize("a ';' b")[1], Operator)


def test_redirections_of_other_descriptors_do_not_take_the_write():
    assert _writes(f"echo 5 > {PROC} 2>/dev/null") == [("net.core.somaxconn", "5\n", 0)]
    assert _writes(f"echo 5 2>/dev/null >{PROC}") == [("net.core.somaxconn", "5\n", 0)]
    assert _writes("sysctl -w net.core.somaxconn=5 2>/tmp/x=y") == [("net.core.somaxconn", "5\n", 0)]
    assert tokenize("echo 2>x 2 >y '2'>z") == ["echo", "2>", "x", "2", ">", "y", "2", ">", "z"]


def test_double_quotes_escape_only_what_sh_escapes():
    assert tokenize(r'echo "a\"b\$c\\d\e"') == ["echo", 'a"b$c\\d\\e']
    assert tokenize('echo "a\\\nb"') == ["echo", "ab"]


def test_an_argv_without_a_shell_keeps_its_words():
    argv = ["nginx", "-g", "daemon off;\nerror_log stderr;"]
    assert [c.words for c in parse_commands(argv)] == [argv]


SCRIPTS = [
    "echo '1000\n' > {out}",
    'echo "  42\n\n" > {out}',
    "printf %s '0x800\n' > {out}",
    "echo 'a\nb' >/dev/null && echo 77 > {out}",
    "echo 1 > {out}\necho 'broken\necho 2 > {out}",
    "cat <<EOF >/dev/null\nit's\nEOF\necho 3 > {out}",
    "echo 4 \\\n  > {out} # comment ' here\n",
]


@pytest.mark.skipif(not shutil.which("sh"), reason="no sh")
@pytest.mark.parametrize("script", SCRIPTS)
def test_the_data_is_what_sh_writes(tmp_path, script):
    """The script run by the real sh, writing to a file instead of
    /proc/sys: the file holds the last write somaxlint reads."""
    out = tmp_path / "somaxconn"
    subprocess.run(["sh", "-c", script.format(out=out)], capture_output=True)
    writes = sysctl_writes(["sh", "-c", script.format(out=PROC)])
    assert writes, script
    assert out.read_text() == writes[-1].data

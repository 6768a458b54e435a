"""Find sysctl writes in a container's command line.

Recognised, also inside ``sh -c`` / ``bash -c`` scripts (split on newlines,
``;``, ``&&``, ``||``, ``&`` and pipes):

* ``sysctl -w key=value`` and ``sysctl key=value`` (procps and busybox both
  write when an argument contains ``=``), several pairs per call;
* ``echo value > /proc/sys/a/b/c`` (also ``>>``, ``printf``);
* ``echo value | tee /proc/sys/a/b/c``.

Values containing shell expansions are kept as written; the model treats
them as unknown.

Each write also carries ``data``: the exact text the command sends to the
kernel, which ``somaxlint.model.sysctl_value`` reads as the kernel does
(procps ``sysctl`` strips blanks around the value and adds a newline;
``echo`` joins its words with spaces and adds a newline unless ``-n``;
``printf`` expands its format).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh"}
_SEPARATORS = {";", "&&", "||", "&", ";;"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = {"exec", "sudo", "busybox", "command", "nsenter", "nohup", "env"}


@dataclass
class SysctlWrite:
    name: str  # dotted, e.g. net.core.somaxconn
    value: str
    argv_index: int  # which element of command+args holds it
    statement: int  # order among the script's statements
    data: str = ""  # exactly what the command writes to /proc/sys
    background: bool = False  # the command runs in the background (`... &`)


@dataclass
class ShellCommand:
    """One simple command of the script, in order (for ordering rules)."""

    words: List[str]
    argv_index: int
    statement: int
    background: bool


def proc_path_to_name(path: str) -> Optional[str]:
    prefix = "/proc/sys/"
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) :].strip("/")
    return rest.replace("/", ".") if rest else None


def normalize_sysctl_name(name: str) -> str:
    """Kubelet's ConvertSysctlVariableToDotsSeparator: names may use ``/`` as
    the separator; then ``/`` and ``.`` swap roles."""
    slash = name.find("/")
    dot = name.find(".")
    if slash >= 0 and (dot < 0 or slash < dot):
        return name.translate(str.maketrans("/.", "./"))
    return name


def scripts(argv: Sequence[str]) -> List[Tuple[int, str]]:
    """(argv index, script text) pairs to scan.  ``sh -c SCRIPT`` yields the
    script; any other command line is its own single statement."""
    argv = list(argv)
    if not argv:
        return []
    base = argv[0].rsplit("/", 1)[-1]
    if base in SHELLS or (base == "busybox" and len(argv) > 1 and argv[1] in SHELLS):
        for i, word in enumerate(argv[1:], start=1):
            if word.startswith("-") and "c" in word[1:] and not word.startswith("--"):
                if i + 1 < len(argv):
                    return [(i + 1, argv[i + 1])]
                return []
        return []
    return [(0, " ".join(shlex.quote(w) for w in argv))]


def _tokenize(script: str) -> List[str]:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = []
    try:
        for token in lexer:
            tokens.append(token)
    except ValueError:  # unbalanced quotes: keep what was read
        pass
    return tokens


def _split_lines(script: str) -> List[str]:
    # Newlines end statements; a backslash-newline continues one.
    return script.replace("\\\n", " ").split("\n")


def parse_commands(argv: Sequence[str]) -> List[ShellCommand]:
    out: List[ShellCommand] = []
    statement = 0
    for argv_index, script in scripts(argv):
        for line in _split_lines(script):
            words: List[str] = []
            for token in _tokenize(line) + [";"]:
                if token in _SEPARATORS or token == "|":
                    if words:
                        out.append(ShellCommand(words, argv_index, statement, token == "&"))
                        statement += 1
                    if token == "|" and out:
                        out[-1].words.append("|")  # mark: output piped onward
                    words = []
                else:
                    words.append(token)
    return out


def _strip_wrappers(words: List[str]) -> List[str]:
    """Drop leading ``VAR=value`` assignments and wrappers like ``exec``."""
    i = 0
    while i < len(words) and (_ASSIGNMENT.match(words[i]) or words[i].rsplit("/", 1)[-1] in _WRAPPERS):
        i += 1
    return words[i:]


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "r": "\r", "v": "\v", "f": "\f", "a": "\a", "b": "\b"}


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _printf(words: List[str]) -> str:
    """What `printf FORMAT ARGS...` prints (%s, %d, %%, backslash escapes;
    the format is reused while arguments remain, as printf does)."""
    if not words:
        return ""
    fmt, args = words[0], list(words[1:])
    out = []
    while True:
        i = 0
        used = False
        while i < len(fmt):
            c = fmt[i]
            if c == "%" and i + 1 < len(fmt):
                spec = fmt[i + 1]
                if spec == "%":
                    out.append("%")
                elif spec in "sdiu":
                    out.append(args.pop(0) if args else ("" if spec == "s" else "0"))
                    used = True
                else:
                    out.append(fmt[i : i + 2])
                i += 2
                continue
            if c == "\\" and i + 1 < len(fmt) and fmt[i + 1] in _ESCAPES:
                out.append(_ESCAPES[fmt[i + 1]])
                i += 2
                continue
            out.append(c)
            i += 1
        if not args or not used:
            break
    return "".join(out)


def sysctl_writes(argv: Sequence[str]) -> List[SysctlWrite]:
    from somaxlint.model.sysctl_value import SYSCTL_TOOL, written_data

    writes: List[SysctlWrite] = []
    commands = parse_commands(argv)
    previous_output: Optional[str] = None
    for command in commands:
        words = _strip_wrappers(command.words)
        piped = bool(words) and words[-1] == "|"
        if piped:
            words = words[:-1]
        if not words:
            continue
        program = words[0].rsplit("/", 1)[-1]
        if program == "sysctl":
            for word in words[1:]:
                if word.startswith("-"):
                    continue
                if "=" in word:
                    name, value = word.split("=", 1)
                    writes.append(
                        SysctlWrite(
                            normalize_sysctl_name(name.strip()),
                            value.strip(),
                            command.argv_index,
                            command.statement,
                            written_data(value, SYSCTL_TOOL),
                            command.background,
                        )
                    )
        elif program in ("echo", "printf"):
            value_words = []
            options = set()
            target = None
            j = 1
            while j < len(words):
                if words[j] in (">", ">>") and j + 1 < len(words):
                    target = words[j + 1]
                    j += 2
                    continue
                if program == "echo" and not value_words and words[j] in ("-n", "-e", "-ne", "-en", "-E"):
                    options.update(words[j][1:])
                else:
                    value_words.append(words[j])
                j += 1
            value = " ".join(value_words).replace("\\n", "").strip()
            if program == "printf":
                data = _printf(value_words)
                value = data.strip()
            else:
                data = " ".join(value_words)
                if "e" in options:
                    data = _unescape(data)
                if "n" not in options:
                    data += "\n"
            name = proc_path_to_name(target) if target else None
            if name:
                writes.append(SysctlWrite(name, value, command.argv_index, command.statement, data, command.background))
            previous_output = data if piped else None
            continue
        elif program == "tee" and previous_output is not None:
            for word in words[1:]:
                name = proc_path_to_name(word)
                if name:
                    writes.append(
                        SysctlWrite(name, previous_output.strip(), command.argv_index, command.statement, previous_output, command.background)
                    )
        previous_output = None
    return writes

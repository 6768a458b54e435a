"""Find sysctl writes in a container's command line.

Recognised, also inside ``sh -c`` / ``bash -c`` scripts (split on newlines,
``;``, ``&&``, ``||``, ``&`` and pipes):

* ``sysctl -w key=value`` and ``sysctl key=value`` (procps and busybox both
  write when an argument contains ``=``), several pairs per call;
* ``echo value > /proc/sys/a/b/c`` (also ``>>``, ``printf``);
* ``echo value | tee /proc/sys/a/b/c``.

Values containing shell expansions are kept as written; the model treats
them as unknown.
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


def sysctl_writes(argv: Sequence[str]) -> List[SysctlWrite]:
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
                        SysctlWrite(normalize_sysctl_name(name.strip()), value.strip(), command.argv_index, command.statement)
                    )
        elif program in ("echo", "printf"):
            value_words = []
            target = None
            j = 1
            while j < len(words):
                if words[j] in (">", ">>") and j + 1 < len(words):
                    target = words[j + 1]
                    j += 2
                    continue
                if not (program == "echo" and words[j] in ("-n", "-e")):
                    value_words.append(words[j])
                j += 1
            value = " ".join(value_words).replace("\\n", "").strip()
            name = proc_path_to_name(target) if target else None
            if name:
                writes.append(SysctlWrite(name, value, command.argv_index, command.statement))
            previous_output = value if piped else None
            continue
        elif program == "tee" and previous_output is not None:
            for word in words[1:]:
                name = proc_path_to_name(word)
                if name:
                    writes.append(SysctlWrite(name, previous_output, command.argv_index, command.statement))
        previous_output = None
    return writes

"""Find sysctl writes in a container's command line.

Recognised, also inside ``sh -c`` / ``bash -c`` scripts, read as POSIX sh
reads them (``tokenize``: commands end at unquoted newlines, ``;``, ``&&``,
``||``, ``&`` and pipes; a quoted word keeps its newlines):

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
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

from somaxlint.patterns import LazyPattern
from somaxlint.records import record

SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh"}
_SEPARATORS = {";", "&&", "||", "&", ";;"}
_ASSIGNMENT = LazyPattern(r"^[A-Za-z_][A-Za-z0-9_]*=")
_WRAPPERS = {"exec", "sudo", "busybox", "command", "nsenter", "nohup", "env"}


@record
class SysctlWrite:
    name: str  # dotted, e.g. net.core.somaxconn
    value: str
    argv_index: int  # which element of command+args holds it
    statement: int  # order among the script's statements
    data: str = ""  # exactly what the command writes to /proc/sys
    background: bool = False  # the command runs in the background (`... &`)


@record
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
    from shlex import quote  # (here: a module-level import was paid by every run)

    return [(0, " ".join(quote(w) for w in argv))]


class Operator(str):
    """An unquoted control or redirection operator of a script (`;`, `&&`,
    `|`, `>`, `2>`, a newline ...): never a quoted word that reads the same
    (`echo ';'`)."""


# Longest first: the shell reads the longest operator at each position.
_OPERATORS = ("<<-", "&&", "||", ";;", "<<", ">>", "<&", ">&", "<>", ">|", ";", "&", "|", "<", ">")
# Within double quotes a backslash escapes only these (and a newline).
_DQUOTE_ESCAPES = "$`\"\\"
# A run of characters with no meaning to the shell's reader.
_PLAIN = re.compile(r"[^\\'\" \t\r\n#;&|<>]+")
# An operator that leaves its list unfinished at a newline (`a &&<newline>b`).
_CONTINUES = {"&&", "||", "|"}


def tokenize(script: str) -> List[str]:
    """The words and operators of a shell script, read as POSIX sh reads
    them: quotes (and the newlines inside them) belong to their word, an
    unquoted newline ends a command (``Operator("\\n")``), a
    backslash-newline joins two lines, `#` at the start of a word begins a
    comment, a here-document's lines are not commands.  Where a quote is
    never closed, sh rejects the list that holds it and runs nothing from
    there on: those tokens are dropped.  (Carriage returns count as blanks,
    so a script saved with CRLF line ends reads as its author meant.)"""
    tokens: List[str] = []
    word: Optional[List[str]] = None  # None: no word started
    quoted = False  # the current word has a quoted part (not an IO number)
    heredocs: List[Tuple[str, bool]] = []  # (delimiter, strip leading tabs) waiting for the next newline
    want_delimiter: Optional[bool] = None  # after `<<` (False) or `<<-` (True)
    list_start = 0  # index in ``tokens`` where the current complete command begins
    last: Optional[str] = None  # the last token that is not a newline
    i, n = 0, len(script)

    def finish() -> None:
        nonlocal word, quoted, want_delimiter, last
        if word is None:
            return
        text = "".join(word)
        tokens.append(text)
        last = text
        if want_delimiter is not None:
            heredocs.append((text, want_delimiter))
            want_delimiter = None
        word, quoted = None, False

    while i < n:
        c = script[i]
        if c == "\\":
            if i + 1 < n and script[i + 1] == "\n":
                i += 2  # line continuation: nothing of it remains
                continue
            word = word if word is not None else []
            word.append(script[i + 1] if i + 1 < n else "\\")
            quoted = True
            i += 2
            continue
        if c == "'":
            end = script.find("'", i + 1)
            if end < 0:
                return tokens[:list_start]
            word = word if word is not None else []
            word.append(script[i + 1 : end])
            quoted = True
            i = end + 1
            continue
        if c == '"':
            part: List[str] = []
            j = i + 1
            while j < n and script[j] != '"':
                if script[j] == "\\" and j + 1 < n and (script[j + 1] in _DQUOTE_ESCAPES or script[j + 1] == "\n"):
                    if script[j + 1] != "\n":
                        part.append(script[j + 1])
                    j += 2
                    continue
                part.append(script[j])
                j += 1
            if j >= n:
                return tokens[:list_start]
            word = word if word is not None else []
            word.extend(part)
            quoted = True
            i = j + 1
            continue
        if c in " \t\r":
            finish()
            i += 1
            continue
        if c == "\n":
            finish()
            tokens.append(Operator("\n"))
            i += 1
            for delimiter, strip in heredocs:
                # the here-document's body: up to a line that is its delimiter
                while i < n:
                    end = script.find("\n", i)
                    line = script[i:] if end < 0 else script[i:end]
                    i = n if end < 0 else end + 1
                    if (line.lstrip("\t") if strip else line) == delimiter:
                        break
            heredocs = []
            if not _is(last, *_CONTINUES):
                list_start = len(tokens)
            continue
        if c == "#" and word is None:
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        operator = next((op for op in _OPERATORS if script.startswith(op, i)), None) if c in ";&|<>" else None
        if operator is not None:
            i += len(operator)
            if operator[0] in "<>" and word is not None and not quoted and "".join(word).isdigit():
                # an IO number: `2>/dev/null` redirects descriptor 2
                operator = "".join(word) + operator
                word = None
            else:
                finish()
            last = Operator(operator)
            tokens.append(last)
            if operator.endswith(("<<", "<<-")):
                want_delimiter = operator.endswith("-")
            continue
        if word is None:
            word = []
        plain = _PLAIN.match(script, i)
        end = plain.end() if plain else i + 1
        word.append(script[i:end])
        i = end
    finish()
    return tokens


def _is(token: str, *operators: str) -> bool:
    return isinstance(token, Operator) and token in operators


# A container's command line is read by several stages (its namespace,
# late writes, which server it starts), and an anchored script may be
# aliased into many containers: each distinct command line is parsed once.
# The results are shared: callers read them and never change them.
_PARSED: Dict[Tuple[str, ...], List[ShellCommand]] = {}
_WRITES: Dict[Tuple[str, ...], List[SysctlWrite]] = {}
_MEMO_LIMIT = 4096  # distinct command lines kept (a run's worth)


def _memo(table: dict, key: Tuple[str, ...], make):
    found = table.get(key)
    if found is None:
        if len(table) >= _MEMO_LIMIT:
            table.clear()
        found = table[key] = make()
    return list(found)


def parse_commands(argv: Sequence[str]) -> List[ShellCommand]:
    try:
        key = tuple(argv)
        hash(key)
    except TypeError:  # not strings: parsed as given, not kept
        return _parse_commands(argv)
    return _memo(_PARSED, key, lambda: _parse_commands(argv))


def _parse_commands(argv: Sequence[str]) -> List[ShellCommand]:
    out: List[ShellCommand] = []
    statement = 0
    for argv_index, script in scripts(argv):
        words: List[str] = []
        for token in tokenize(script) + [Operator(";")]:
            if _is(token, ";", "&&", "||", "&", ";;", "|", "\n"):
                if words:
                    out.append(ShellCommand(words, argv_index, statement, token == "&"))
                    statement += 1
                if token == "|" and out:
                    out[-1].words.append(Operator("|"))  # mark: output piped onward
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
    try:
        key = tuple(argv)
        hash(key)
    except TypeError:
        return _sysctl_writes(argv)
    return _memo(_WRITES, key, lambda: _sysctl_writes(argv))


def _sysctl_writes(argv: Sequence[str]) -> List[SysctlWrite]:
    from somaxlint.model.sysctl_value import SYSCTL_TOOL, written_data

    writes: List[SysctlWrite] = []
    commands = parse_commands(argv)
    previous_output: Optional[str] = None
    for command in commands:
        words = _strip_wrappers(command.words)
        piped = bool(words) and _is(words[-1], "|")
        if piped:
            words = words[:-1]
        if not words:
            continue
        program = words[0].rsplit("/", 1)[-1]
        if program == "sysctl":
            redirected = False
            for word in words[1:]:
                if redirected or isinstance(word, Operator):
                    redirected = isinstance(word, Operator)  # its next word is a file, not a pair
                    continue
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
                if isinstance(words[j], Operator):
                    # a redirection and its word: only standard output's
                    # target receives what echo and printf print
                    if words[j] in (">", ">>", ">|", "1>", "1>>", "1>|") and j + 1 < len(words):
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


# --------------------------------------------------------------------------
# Which program a command runs: what the kernel execs once every wrapper
# has exec'd the next (the container runtime runs `command` + `args`, or
# the image's ENTRYPOINT + CMD; a wrapper replaces itself with its
# argument).  A word that is an argument of the program -- `contour envoy
# shutdown-manager`'s `envoy` -- is not a program.
# --------------------------------------------------------------------------

# wrapper -> (its options that take a value, how many leading operands
# precede the program): exec'ing what follows
_EXEC_WRAPPERS = {
    "exec": ((), 0), "command": ((), 0), "nohup": ((), 0), "setsid": ((), 0), "time": ((), 0),
    "env": (("-u", "--unset", "-C", "--chdir", "-S", "--split-string"), 0),
    "tini": (("-p", "-e"), 0), "tini-static": (("-p", "-e"), 0), "catatonit": ((), 0),
    "dumb-init": (("-r", "--rewrite"), 0),
    "su-exec": ((), 1), "gosu": ((), 1), "chpst": (("-u", "-U", "-e", "-n", "-l", "-L", "-m", "-d", "-o", "-p", "-f", "-c"), 0),
    "s6-setuidgid": ((), 1), "setuidgid": ((), 1), "runuser": (("-u", "-g", "-G", "--user", "--group"), 0),
    "sudo": (("-u", "-g", "-U", "-C", "-D", "-h", "-p", "-r", "-t", "--user", "--group"), 0),
    "doas": (("-u", "-C"), 0), "nice": (("-n", "--adjustment"), 0), "ionice": (("-c", "-n", "-p", "-t"), 0),
    "stdbuf": (("-i", "-o", "-e"), 0), "taskset": ((), 1), "timeout": (("-k", "--kill-after", "-s", "--signal"), 1),
    "setpriv": ((), 0), "numactl": (("-C", "-N", "-m", "-p", "-i"), 0), "busybox": ((), 0), "nsenter": (("-t", "--target"), 0),
}
# interpreters that run a module or package named after an option
_RUNS_MODULE = {"-m"}
# the interpreter's options that take the next word as their value
_INTERPRETER_VALUED = {"-W", "-X", "--check-hash-based-pycs"}


def _is_interpreter(name: str) -> bool:
    return name in ("python", "python3", "python2", "pypy", "pypy3") or (name.startswith("python") and name[6:].replace(".", "").isdigit())


def executed_program(words: Sequence[str]) -> Optional[Tuple[int, str]]:
    """(the index in ``words`` of the word that names the program the
    command finally runs, its name) -- past `VAR=value` assignments,
    wrappers that exec their operand (`exec`, `tini --`, `dumb-init`,
    `gosu USER`, `su-exec USER`, `env`, `nice -n N`, ...), an image's
    entrypoint script that execs its arguments (`docker-entrypoint.sh
    redis-server`: the official images' convention), `python -m MODULE`
    `npx PACKAGE` and `bundle exec PROGRAM`; None for an empty command.
    The name is the word's base name (`/usr/bin/redis-server`:
    `redis-server`); a Rails command that is not `rails server` is named
    with its subcommand (`rails db:migrate`)."""
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        base = word.rsplit("/", 1)[-1]
        if _ASSIGNMENT.match(word):
            i += 1
            continue
        wrapper = _EXEC_WRAPPERS.get(base)
        if wrapper is not None:
            valued, operands = wrapper
            i += 1
            while i < n and words[i].startswith("-") and words[i] != "-":
                option = words[i]
                i += 1
                if option == "--":
                    break
                if option in valued and "=" not in option:
                    i += 1  # its value
            if base == "env":
                while i < n and _ASSIGNMENT.match(words[i]):
                    i += 1
            i += operands
            continue
        if "entrypoint" in base.lower() and i + 1 < n and not words[i + 1].startswith("-"):
            i += 1  # the entrypoint script execs its arguments
            continue
        if _is_interpreter(base):
            j = i + 1
            while j < n and words[j].startswith("-") and words[j] not in _RUNS_MODULE:
                # (`-W ignore`, `-X dev`: options whose value is the next word)
                j += 2 if words[j] in _INTERPRETER_VALUED else 1
            if j + 1 < n and words[j] in _RUNS_MODULE:
                return j + 1, words[j + 1]
            return i, base
        if base == "rails" and i + 1 < n and words[i + 1] not in ("server", "s") and not words[i + 1].startswith("-"):
            # `rails db:migrate`, `rails console`: a Rails command that starts
            # no server, named with its subcommand so that no server module
            # (puma's `rails server`) takes it for its own
            return i, f"rails {words[i + 1]}"
        if base in ("bundle", "bundler") and words[i + 1 : i + 2] == ["exec"]:
            # `bundle exec puma ...`: Bundler execs its operand (options of
            # its own, `--keep-file-descriptors`, come before it)
            i += 2
            while i < n and words[i].startswith("-"):
                i += 1
            continue
        if base in ("npx", "pnpx") or (base in ("npm", "pnpm", "yarn") and words[i + 1 : i + 2] == ["exec"]):
            j = i + (2 if base in ("npm", "pnpm", "yarn") else 1)
            while j < n and words[j].startswith("-"):
                j += 1
            if j < n:
                return j, words[j].rsplit("/", 1)[-1]
            return i, base
        return i, base
    return None

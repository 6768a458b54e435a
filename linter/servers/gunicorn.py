"""gunicorn: `--backlog`, default 2048.

Sources (../shared/facts/servers.md §2.5, benoitc/gunicorn @ 65ac1a3a):
`class Backlog(Setting)`: cli `--backlog`, default 2048 (gunicorn/config.py:
696-713); `sock.listen(self.conf.backlog)` gunicorn/sock.py:59; no
somaxconn check. `GUNICORN_CMD_ARGS` is shlex-split into arguments
(gunicorn/config.py:86-87).

Read beyond the sheet, at the same commit: the config file is `-c`/`--config`
(from the command line, else GUNICORN_CMD_ARGS), `PATH`, `file:PATH` or
`python:MODULE`; without one, `gunicorn.conf.py` in the working directory
when it exists (`get_default_config_file()`, gunicorn/config.py:616-621;
Application.load_config(), gunicorn/app/base.py:154-199: the file first,
then GUNICORN_CMD_ARGS, then the command line). A relative path is opened
from the working directory: the container's workingDir (without one, the
image's WORKDIR, which the input does not show: then said as an
assumption). A named file that is not in the input is an assumption too.
"""

from __future__ import annotations

import shlex
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener, Option, Word, config_file, find_option, parse_int, parsed

NAME = "gunicorn"
TITLE = "gunicorn"
IMAGES = ()
COMMANDS = ("gunicorn",)
DEFAULT_BACKLOG = 2048
DEFAULT_PORT = 8000
KNOB = "--backlog N (or `backlog = N` in gunicorn.conf.py, or GUNICORN_CMD_ARGS)"
SOURCE = "gunicorn/config.py:696-713 Backlog default 2048; servers.md §2.5"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--backlog",))
BIND = Option(long=("--bind",), short=("-b",))
CONFIG = Option(long=("--config",), short=("-c",))


def _config_backlog(launch: Launch, words):
    """A literal `backlog = N` at the top level of the config file (`-c`,
    else ./gunicorn.conf.py when the input provides it), and the
    assumption the listener rests on when the file is named but not in the
    input.  Read as a syntax tree, never executed."""
    found = find_option(words, CONFIG)
    if found is not None and found[0].startswith("python:"):
        return None, None  # a module, not a file
    if found is None:
        # the default file, read only when it exists: when the input does
        # not provide it, it is taken not to exist
        read, assumption = config_file(launch, "gunicorn.conf.py", "backlog")
        if read is None:
            return None, None
    else:
        path = found[0][len("file:"):] if found[0].startswith("file:") else found[0]
        read, assumption = config_file(launch, path, "backlog")
        if read is None:
            return None, assumption
    text, locate = read
    found = parsed(launch, _backlog_assignment, text)
    if found is False:
        return None, None  # not Python gunicorn reads
    if found is None:
        return None, assumption
    value, line, column = found
    return Word(value, locate(line, column)), assumption


def _backlog_assignment(text: str):
    """(value, line, column) of the last literal `backlog = N` at the top
    level of a config file; None without one; False when the file does not
    parse."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    found = None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "backlog"
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) is int
        ):
            found = (str(node.value.value), node.lineno, node.col_offset + 1)
    return found


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    env = launch.env.get("GUNICORN_CMD_ARGS")
    if env is not None:
        try:
            # Command-line arguments win over GUNICORN_CMD_ARGS: read first.
            words = [Word(w, env.location) for w in shlex.split(env.text)] + words
        except ValueError:
            pass
    conf, assumption = _config_backlog(launch, words)
    if conf is not None:
        # the config file is read first; the command line overrides it
        words = [Word("--backlog", conf.location), conf] + words
    bind = find_option(words, BIND)
    address, port = "*", DEFAULT_PORT
    if bind is not None and not bind[0].startswith(("unix:", "fd://")):
        host, _, port_text = bind[0].rpartition(":")
        address, port = host or "*", parse_int(port_text)
    found = find_option(words, BACKLOG)
    if found is not None and parse_int(found[0]) is not None:
        backlog = parse_int(found[0])
        # from the file: what the file rests on; from the arguments: nothing
        said = assumption if conf is not None and found[1] is conf else None
        return [Listener(NAME, address, port, backlog, f"--backlog {backlog}", found[1].location, True, KNOB, assumption=said)]
    return [Listener(NAME, address, port, DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False, KNOB, assumption=assumption)]

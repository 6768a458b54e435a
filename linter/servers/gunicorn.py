"""gunicorn: `--backlog`, default 2048.

Sources (../shared/facts/servers.md §2.5, benoitc/gunicorn @ 65ac1a3a):
`class Backlog(Setting)`: cli `--backlog`, default 2048 (gunicorn/config.py:
696-713); `sock.listen(self.conf.backlog)` gunicorn/sock.py:59; no
somaxconn check. `GUNICORN_CMD_ARGS` is shlex-split into arguments
(gunicorn/config.py:86-87).
"""

from __future__ import annotations

import shlex
from typing import List

from linter.servers import Launch, Listener, Option, Word, find_option, parse_int

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


def _config_backlog(launch: Launch, words) -> "Word | None":
    """A literal `backlog = N` at the top level of the gunicorn.conf.py that
    `-c` names (or ./gunicorn.conf.py is not knowable: the working
    directory is the image's).  Read as a syntax tree, never executed."""
    import ast

    found = find_option(words, CONFIG)
    if found is None or found[0].startswith("python:"):
        return None  # a module, not a file
    # `file:PATH` or PATH; a relative path names no mount and reads nothing
    path = found[0][len("file:"):] if found[0].startswith("file:") else found[0]
    read = launch.read(path)
    if read is None:
        return None
    text, locate = read
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    value = None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "backlog"
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) is int
        ):
            value = Word(str(node.value.value), locate(node.lineno, node.col_offset + 1))
    return value


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    env = launch.env.get("GUNICORN_CMD_ARGS")
    if env is not None:
        try:
            # Command-line arguments win over GUNICORN_CMD_ARGS: read first.
            words = [Word(w, env.location) for w in shlex.split(env.text)] + words
        except ValueError:
            pass
    conf = _config_backlog(launch, words)
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
        return [Listener(NAME, address, port, backlog, f"--backlog {backlog}", found[1].location, True, KNOB)]
    return [Listener(NAME, address, port, DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False, KNOB)]

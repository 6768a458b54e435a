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


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    env = launch.env.get("GUNICORN_CMD_ARGS")
    if env is not None:
        try:
            # Command-line arguments win over GUNICORN_CMD_ARGS: read first.
            words = [Word(w, env.location) for w in shlex.split(env.text)] + words
        except ValueError:
            pass
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

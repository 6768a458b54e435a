"""uvicorn: `--backlog`, default 2048.

Sources (../shared/facts/servers.md §2.6, encode/uvicorn @ e6c7ce79):
`backlog: int = 2048` uvicorn/config.py:213; CLI `--backlog` default 2048
(uvicorn/main.py:264-267); click's auto_envvar_prefix "UVICORN"
(uvicorn/main.py:61) makes `UVICORN_BACKLOG` the same option; passed to
asyncio `create_server(..., backlog=...)` (uvicorn/server.py:136-169).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener, Option, find_option, parse_int

NAME = "uvicorn"
TITLE = "uvicorn"
IMAGES = ()
COMMANDS = ("uvicorn",)
DEFAULT_BACKLOG = 2048
DEFAULT_PORT = 8000
KNOB = "--backlog N (or UVICORN_BACKLOG)"
SOURCE = "uvicorn/config.py:213 backlog = 2048; servers.md §2.6"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--backlog",))
PORT = Option(long=("--port",))
HOST = Option(long=("--host",))


def listeners(launch: Launch) -> List[Listener]:
    port_found = find_option(launch.words, PORT)
    port = parse_int(port_found[0]) if port_found else DEFAULT_PORT
    host = find_option(launch.words, HOST)
    address = host[0] if host else "127.0.0.1"  # uvicorn's default --host
    found = find_option(launch.words, BACKLOG)
    if found is not None and parse_int(found[0]) is not None:
        backlog = parse_int(found[0])
        return [Listener(NAME, address, port, backlog, f"--backlog {backlog}", found[1].location, True, KNOB)]
    word = launch.env.get("UVICORN_BACKLOG")
    if word is not None and parse_int(word.text) is not None:
        backlog = parse_int(word.text)
        return [Listener(NAME, address, port, backlog, f"UVICORN_BACKLOG={backlog}", word.location, True, KNOB)]
    return [Listener(NAME, address, port, DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False, KNOB)]

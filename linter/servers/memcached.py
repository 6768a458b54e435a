"""memcached: `-b`/`--listen-backlog`, default 1024.

Sources (../shared/facts/servers.md §2.3, memcached/memcached @ 2d51e364,
1.6.45): `settings.backlog = 1024;` memcached.c:238; `-b, --listen-backlog`
memcached.c:4058/4936/4977, `settings.backlog = atoi(optarg)` :5161; used by
`listen(sfd, settings.backlog)` :2523. No somaxconn check. The official
image runs `memcached` and prepends it to arguments that start with `-`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener, Option, find_option, parse_int

NAME = "memcached"
TITLE = "memcached"
IMAGES = ("memcached",)
COMMANDS = ("memcached",)
DEFAULT_BACKLOG = 1024
DEFAULT_PORT = 11211
KNOB = "-b N (--listen-backlog=N)"
SOURCE = "memcached.c:238 settings.backlog = 1024; servers.md §2.3"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--listen-backlog",), short=("-b",))
PORT = Option(long=("--port",), short=("-p",))
LISTEN = Option(long=("--listen",), short=("-l",))
# Without -l, memcached binds every address getaddrinfo(AI_PASSIVE) gives:
# 0.0.0.0 and [::], two sockets (tests/kernel/test_servers_truth.py,
# memcached 1.6.18).
DEFAULT_BIND_SOCKETS = 2


def listeners(launch: Launch) -> List[Listener]:
    port_found = find_option(launch.words, PORT)
    port = parse_int(port_found[0]) if port_found else DEFAULT_PORT
    if port == 0:
        return []
    sockets = 1 if find_option(launch.words, LISTEN) else DEFAULT_BIND_SOCKETS
    found = find_option(launch.words, BACKLOG)
    backlog = parse_int(found[0]) if found else None
    if found is not None and backlog is not None:
        return [Listener(NAME, "*", port, backlog, f"-b {backlog}", found[1].location, True, KNOB, sockets=sockets)]
    return [Listener(NAME, "*", port, DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False, KNOB, sockets=sockets)]

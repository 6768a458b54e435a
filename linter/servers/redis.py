"""Redis: `tcp-backlog`, default 511, passed unchanged to listen().

Sources (../shared/facts/servers.md §2.1, redis/redis @ 4f8cdc2a):
`createIntConfig("tcp-backlog", ..., 511, ...)` src/config.c:3174; passed to
`listen()` via anetTcpServer (src/server.c:2508, src/anet.c:512); any
directive can be given as `--name value` (src/server.c:7068-7090). At
start-up it logs "WARNING: The TCP backlog setting of N cannot be enforced
because /proc/sys/net/core/somaxconn is set to the lower value of M"
(checkTcpBacklogSettings, src/server.c:2401-2445) and keeps running with
the clamped queue. The official image (docker-library/redis) runs
`redis-server` and prepends it to arguments that start with `-`.
"""

from __future__ import annotations

from typing import List

from linter.servers import Launch, Listener, Option, find_option, parse_int

NAME = "redis"
TITLE = "Redis"
IMAGES = ("redis", "redis-stack-server")
COMMANDS = ("redis-server",)
DEFAULT_BACKLOG = 511
DEFAULT_PORT = 6379
KNOB = "tcp-backlog (`--tcp-backlog N`, or `tcp-backlog N` in redis.conf)"
SOURCE = "src/config.c:3174 createIntConfig(\"tcp-backlog\", ..., 511); servers.md §2.1"
STARTUP_WARNING = (
    "Redis logs \"WARNING: The TCP backlog setting of {backlog} cannot be enforced because "
    "/proc/sys/net/core/somaxconn is set to the lower value of {somaxconn}\" at start-up"
)

BACKLOG = Option(long=("--tcp-backlog",))
PORT = Option(long=("--port",))


def listeners(launch: Launch) -> List[Listener]:
    return backlog_listeners(NAME, launch)


def backlog_listeners(name: str, launch: Launch) -> List[Listener]:
    port_found = find_option(launch.words, PORT)
    port = parse_int(port_found[0]) if port_found else DEFAULT_PORT
    if port == 0:
        return []  # `--port 0`: no TCP listener
    found = find_option(launch.words, BACKLOG)
    backlog = parse_int(found[0]) if found else None
    if found is not None and backlog is not None:
        return [Listener(name, "*", port, backlog, f"--tcp-backlog {backlog}", found[1].location, True, KNOB)]
    return [Listener(name, "*", port, DEFAULT_BACKLOG, f"default tcp-backlog {DEFAULT_BACKLOG}", launch.started_at, False, KNOB)]

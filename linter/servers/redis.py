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

from linter.servers import Launch, Listener, Option, Word, find_option, parse_int

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
BIND = Option(long=("--bind",))
# Without `bind`, Redis listens on 0.0.0.0 and [::] (its default `bind *
# -::*`): two sockets with the same backlog, as `ss -lnt` shows
# (tests/kernel/test_servers_truth.py, Redis 7.0.15).
DEFAULT_BIND_SOCKETS = 2
PORT = Option(long=("--port",))


def listeners(launch: Launch) -> List[Listener]:
    return backlog_listeners(NAME, launch)


def backlog_listeners(name: str, launch: Launch) -> List[Listener]:
    # `redis-server /path/redis.conf --opt v`: the file first, then the
    # command line's options "appended to the configuration file"
    # (src/server.c:7068-7090), so the command line wins.
    lines, assumption = _config_file(launch)
    words = []
    for directive, value, location in lines:
        words += [Word(f"--{directive}", location), Word(value, location)]
    words += launch.words
    port_found = find_option(words, PORT)
    port = parse_int(port_found[0]) if port_found else DEFAULT_PORT
    if port == 0:
        return []  # `--port 0`: no TCP listener
    sockets = 1 if find_option(words, BIND) else DEFAULT_BIND_SOCKETS
    found = find_option(words, BACKLOG)
    backlog = parse_int(found[0]) if found else None
    if found is not None and backlog is not None:
        return [Listener(name, "*", port, backlog, f"tcp-backlog {backlog}", found[1].location, True, KNOB, sockets=sockets)]
    return [
        Listener(
            name, "*", port, DEFAULT_BACKLOG, f"default tcp-backlog {DEFAULT_BACKLOG}", launch.started_at, False, KNOB,
            sockets=sockets, assumption=assumption,
        )
    ]


def _config_file(launch: Launch):
    """(directive, value, location) of each `tcp-backlog`/`port` line of the
    config file named as the first argument, when the input provides it."""
    if not launch.words or launch.words[0].text.startswith("-"):
        return [], None
    path = launch.words[0].text
    found = launch.read(path)
    if found is None:
        return [], f"{path} is not in the input (written at run time or mounted from elsewhere): assumed to set no tcp-backlog"
    text, locate = found
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        parts = line.split()
        # redis.conf: `name value`, case-insensitive names, `#` comments
        if len(parts) >= 2 and parts[0].lower() in ("tcp-backlog", "port"):
            column = len(line) - len(line.lstrip()) + 1
            out.append((parts[0].lower(), parts[1], locate(number, column)))
    return out, None

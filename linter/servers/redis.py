"""Redis: `tcp-backlog`, default 511, passed unchanged to listen().

Sources (../shared/facts/servers.md §2.1, redis/redis @ 4f8cdc2a):
`createIntConfig("tcp-backlog", ..., 511, ...)` src/config.c:3174; passed to
`listen()` via anetTcpServer (src/server.c:2508, src/anet.c:512); any
directive can be given as `--name value` (src/server.c:7068-7090). At
start-up it logs "WARNING: The TCP backlog setting of N cannot be enforced
because /proc/sys/net/core/somaxconn is set to the lower value of M"
(checkTcpBacklogSettings, src/server.c:2401-2445) and keeps running with
the clamped queue. The official image (docker-library/redis) runs
`redis-server` and prepends it to arguments that start with `-` or to a
first argument ending in `.conf` (docker-library/redis @ e9204996,
7.2/debian/docker-entrypoint.sh:4-8: `[ "${1#-}" != "$1" ] || [
"${1%.conf}" != "$1" ]`).

Read beyond the sheet, at the same commit:

* Sentinel is redis-server in sentinel mode: `checkForSentinelMode()`
  (src/server.c:6651-6657) when the executable's name contains
  "redis-sentinel" or an argument is `--sentinel`; `initSentinelConfig()`
  sets the port to `REDIS_SENTINEL_PORT` 26379 before the config is read
  (src/sentinel.c:31,461-464), so `port` in sentinel.conf or `--port`
  overrides it; it listens through the same listenToPort() with
  server.tcp_backlog (src/server.c:2494-2512) and runs the same start-up
  check (src/server.c:7212). Without a config file it exits before
  listening ("Sentinel needs config file on disk to save state. Exiting...",
  sentinelCheckConfigFile(), src/sentinel.c:492-496, called at
  src/server.c:7160): no listener.
* Cluster bus: with `cluster-enabled yes` (src/config.c:3089),
  clusterInitLast() listens on `cluster-port`, else the client port +
  CLUSTER_PORT_INCR 10000 (src/cluster_legacy.c:1035-1057,
  cluster_legacy.h:17; the client port is tls-port under `tls-cluster yes`,
  defaultClientPort() :110-112), on the same bind addresses and through
  the same listenToPort(), so with the same backlog.
* `bind` takes several addresses, one socket each (src/config.c:3268,
  listenToPort()); without it Redis binds `* -::*`: two sockets.
* The config file named first is opened relative to the working directory
  (getAbsolutePath(argv[1]), src/server.c:7074): a relative path is resolved
  against the container's workingDir.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.findings import Location
from somaxlint.servers import Launch, Listener, config_file, parse_int, parsed

NAME = "redis"
TITLE = "Redis"
IMAGES = ("redis", "redis-stack-server")
COMMANDS = ("redis-server", "redis-sentinel")
# The official image's entrypoint also prepends redis-server to a first
# argument ending in ".conf" (the module docstring).
ENTRYPOINT_PREPENDS = {"redis": ("-*", "*.conf")}
DEFAULT_BACKLOG = 511
DEFAULT_PORT = 6379
SENTINEL_PORT = 26379  # REDIS_SENTINEL_PORT, src/sentinel.c:31
CLUSTER_PORT_INCR = 10000  # src/cluster_legacy.h:17
SENTINEL_COMMANDS = ("redis-sentinel", "valkey-sentinel")
KNOB = "tcp-backlog (`--tcp-backlog N`, or `tcp-backlog N` in redis.conf)"
SOURCE = "src/config.c:3174 createIntConfig(\"tcp-backlog\", ..., 511); servers.md §2.1"
STARTUP_WARNING = (
    "Redis logs \"WARNING: The TCP backlog setting of {backlog} cannot be enforced because "
    "/proc/sys/net/core/somaxconn is set to the lower value of {somaxconn}\" at start-up"
)

# Without `bind`, Redis listens on 0.0.0.0 and [::] (its default `bind *
# -::*`): two sockets with the same backlog, as `ss -lnt` shows
# (tests/kernel/test_servers_truth.py, Redis 7.0.15).
DEFAULT_BIND_SOCKETS = 2
# The directives read, from the config file and the command line.
DIRECTIVES = ("tcp-backlog", "port", "bind", "cluster-enabled", "cluster-port", "tls-port", "tls-cluster", "unixsocket")

# directive -> (its arguments, where its first value is written)
if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[List[str], Location]]


def listeners(launch: Launch) -> List[Listener]:
    return backlog_listeners(NAME, launch)


def backlog_listeners(name: str, launch: Launch) -> List[Listener]:
    sentinel = launch.command in SENTINEL_COMMANDS or any(w.text == "--sentinel" for w in launch.words)
    if sentinel and (not launch.words or launch.words[0].text.startswith("-")):
        return []  # Sentinel exits without a config file, before it listens
    # `redis-server /path/redis.conf --opt v`: the file first, then the
    # command line's options "appended to the configuration file"
    # (src/server.c:7068-7090), so the command line wins.
    settings, assumption = _config_file(launch)
    command_line = _command_line(launch)
    settings.update(command_line)
    port = _int(settings, "port", SENTINEL_PORT if sentinel else DEFAULT_PORT)
    bind = settings.get("bind")
    addresses = _addresses(bind[0]) if bind is not None else [("*", DEFAULT_BIND_SOCKETS)]
    found = settings.get("tcp-backlog")
    backlog = parse_int(found[0][0]) if found and found[0] else None
    if backlog is not None:
        # set on the command line: whatever the file says does not matter
        said = None if "tcp-backlog" in command_line else assumption
        origin, location, explicit = f"tcp-backlog {backlog}", found[1], True
    else:
        backlog, origin, location, explicit, said = DEFAULT_BACKLOG, f"default tcp-backlog {DEFAULT_BACKLOG}", launch.started_at, False, assumption
    if sentinel:
        origin += " (Sentinel)"
    ports = []
    if port is not None and port != 0:
        ports.append((port, origin))  # `--port 0`: no TCP listener
    if not sentinel and _yes(settings, "cluster-enabled"):
        client = _int(settings, "tls-port", 0) if _yes(settings, "tls-cluster") else port
        bus = _int(settings, "cluster-port", 0)
        if bus:
            ports.append((bus, f"{origin} (cluster bus, cluster-port {bus})"))
        elif client is not None:
            ports.append((client + CLUSTER_PORT_INCR, f"{origin} (cluster bus: port + {CLUSTER_PORT_INCR})"))
    out = [
        Listener(name, address, number, backlog, text, location, explicit, KNOB, sockets=sockets, assumption=said,
                 bound_at=bind[1] if bind is not None else None)
        for number, text in ports
        for address, sockets in addresses
    ]
    unix = settings.get("unixsocket")
    if unix is not None and unix[0] and not sentinel:
        # the Unix socket, with the same tcp-backlog (anetUnixServer(...,
        # server.tcp_backlog), src/server.c listenToPort/initListeners)
        path = unix[0][0]
        out.append(Listener(name, path, None, backlog, origin, location, explicit, KNOB, assumption=said, written=f"unix:{path}",
                            bound_at=unix[1], family="unix"))
    return out


def _addresses(words):
    """The sockets of `bind ADDR...` (src/config.c, listenToPort()): one
    per address; `*` is every IPv4 address, `::*` every IPv6 one, a `-`
    prefix makes an address optional (skipped where it cannot be bound);
    `* -::*`, Redis's default, is the two wildcards."""
    plain = [w[1:] if w.startswith("-") else w for w in words if w]
    if sorted(plain) == ["*", "::*"]:
        return [("*", DEFAULT_BIND_SOCKETS)]
    out = []
    for address in plain:
        one = {"*": "0.0.0.0", "::*": "::"}.get(address, address)
        if (one, 1) not in out:
            out.append((one, 1))
    return out


def _int(settings: _Settings, key: str, default: int) -> Optional[int]:
    found = settings.get(key)
    if found is None or not found[0]:
        return default
    return parse_int(found[0][0])


def _yes(settings: _Settings, key: str) -> bool:
    """A boolean directive (yesnotoi(): yes/no, any case)."""
    found = settings.get(key)
    return found is not None and bool(found[0]) and found[0][0].lower() == "yes"


def _command_line(launch: Launch) -> _Settings:
    """`--name value...`: each option takes the words up to the next
    `--name` (src/server.c:7068-7110); later ones win."""
    out: _Settings = {}
    words = launch.words[1:] if launch.words and not launch.words[0].text.startswith("-") else launch.words
    current = None
    for word in words:
        text = word.text
        if text.startswith("--"):
            name, eq, value = text[2:].partition("=")
            name = name.lower()
            current = name if name in DIRECTIVES else None
            if current is not None:
                # `--tcp-backlog=N` is read as its value too (lenient)
                out[current] = ([value] if eq else [], word.location)
        elif current is not None:
            values, location = out[current]
            if not values:
                out[current] = (values, word.location)
            values.append(text)  # (one list per option: a long run of words costs its length)
    return out


def _config_file(launch: Launch):
    """The directives read from the config file named as the first
    argument, when the input provides it, and the assumption the listeners
    rest on otherwise.  `include PATH` reads that file there, in order: a
    directive after it wins over the included one, as later lines win
    (src/config.c loadServerConfigFromString, "include")."""
    if not launch.words or launch.words[0].text.startswith("-"):
        return {}, None
    out: _Settings = {}
    said = _fold(launch, launch.words[0].text, out, [])
    return out, said


MAX_INCLUDE_DEPTH = 16


def _fold(launch: Launch, path: str, out: _Settings, stack: List[str]) -> Optional[str]:
    """Read ``path``'s directives into ``out`` in order; the assumption an
    unread file (this one or an included one) leaves."""
    found, assumption = config_file(launch, path, "tcp-backlog")
    if found is None:
        return assumption
    if path in stack or len(stack) >= MAX_INCLUDE_DEPTH:
        return f"{path} includes itself (directly or not): read once"
    text, locate = found
    said = assumption
    for name, values, number, column in parsed(launch, _directives, text):
        if name == "include":
            for included in values:
                more = _fold(launch, included, out, stack + [path])
                said = said or more
            continue
        out[name] = (list(values), locate(number, column))
    return said


def _directives(text: str) -> Tuple[Tuple[str, Tuple[str, ...], int, int], ...]:
    """The directives of DIRECTIVES and `include` a redis.conf has, in
    order: (name, its arguments, line, column)."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        parts = line.split()
        # redis.conf: `name value...`, case-insensitive names, `#` comments
        if len(parts) >= 1 and (parts[0].lower() in DIRECTIVES or parts[0].lower() == "include"):
            column = len(line) - len(line.lstrip()) + 1
            out.append((parts[0].lower(), tuple(p.strip('"') for p in parts[1:]), number, column))
    return tuple(out)

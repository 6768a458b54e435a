"""NATS (nats-server): a Go server, so the accept queue of each of its
listeners is the namespace's somaxconn.

Sources: Go's `net.Listen` passes `listenerBacklog()`, read once per process
from /proc/sys/net/core/somaxconn (src/net/sock_linux.go
`maxListenerBacklog()`; ../shared/facts/servers.md §2.12; servers-2.md lists
NATS as "Go default, inferred").  nats-server opens each listener with
`natsListen` -> `net.Listen("tcp", hostport)` (server/server.go
`AcceptLoop`, `StartMonitoring`, server/route.go, leafnode.go, gateway.go,
websocket.go, mqtt.go), with no backlog option.

What it listens on (nats-server 2.9.10's `--help` and the config keys of
server/opts.go `processConfigFileLine`, keys case-insensitive): clients on
`-a/--addr/--net` (default 0.0.0.0) : `-p/--port` (default 4222), in the
config `host`/`net`, `port`, `listen: host:port`; monitoring on
`-m/--http_port` / `-ms/--https_port` (config `http_port`/`monitor_port`,
`https_port`, `http`/`https: host:port`), on the client host unless the
config's `http` names one; profiling `--profile` (`prof_port`); routes on
`--cluster`/`--cluster_listen nats://host:port` or the config's `cluster {
port | listen | host }`; `leafnodes`, `gateway`, `websocket`, `mqtt` blocks
(`port`, `listen`, `host`).  The command line wins over the config file
(server/opts.go `MergeOptions`).  A port of -1 is a random one.

Measured with Debian's nats-server 2.9.10 in a network namespace with
somaxconn 1000 (`ss -lntH`, Send-Q 1000 on every socket): no options ->
one dual-stack socket `*:4222` (Go opens an IPv6 socket for the IPv4
wildcard) and nothing else; `-p 7222 -m 7822 --cluster nats://0.0.0.0:7622
--profile 7065` -> four `*` sockets; a config with `listen: 127.0.0.1:5222`,
`http: 127.0.0.1:5822`, `cluster { port: 5622 }`, `leafnodes { port: 5722 }`,
`websocket { port: 5443 }`, `mqtt { listen: "127.0.0.1:5883" }` -> those six,
the blocks given only a port on `*` (not on the client host); with `-p
6000 -m 6001 -a 127.0.0.2 --cluster nats://127.0.0.3:6002` besides ->
127.0.0.2:6000, 127.0.0.1:6001 (the config's http host, the flag's port),
127.0.0.3:6002; `-a 127.0.0.2 -p 7222 -m 7822` -> monitoring on
127.0.0.2:7822.  A `gateway` or `mqtt` block given only a port is taken to
listen on 0.0.0.0 as the other blocks do (not measured).  An `include`d file
is not read (said as an assumption).  Kernel cases: tests/kernel/servers_nats.py.

The official `nats` image (nats-io/nats-docker @aa0caa57, 2.11.x/scratch
and 2.11.x/alpine3.22): the scratch build's ENTRYPOINT is /nats-server with
CMD `--config nats-server.conf` (read as /nats-server.conf: the image sets no
WORKDIR), the alpine build's CMD `nats-server --config
/etc/nats/nats-server.conf` through docker-entrypoint.sh (prepends
nats-server to arguments starting with "-"); both files are the same:
`port: 4222`, `monitor_port: 8222`, `cluster { port: 6222 ... }`.  Arguments
in the manifest replace the CMD, so that file is then read only if they name
it.  Another organisation's nats image (bitnami/nats: its run.sh writes its
own config) run by its own command: nats-server's defaults, said as an
assumption.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.records import replace
from somaxlint.servers import HUB_REGISTRIES, Launch, Listener, Option, config_file, find_option, image_reference, image_repository, parse_int, parsed, resolve
from somaxlint.servers.traefik import follows

NAME = "nats"
TITLE = "NATS"
IMAGES = ("nats",)
COMMANDS = ("nats-server", "gnatsd")
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = 4222
KNOB = "none: the queue is net.core.somaxconn (Go's net.Listen)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); nats-server server/server.go natsListen (net.Listen); servers.md §2.12"
STARTUP_WARNING = ""

# The official image's built-in config (nats-io/nats-docker @aa0caa57
# 2.11.x/scratch/nats-server.conf, = alpine3.22/nats-server.conf), reduced
# to what it listens on.
IMAGE_CONFIG = "port: 4222\nmonitor_port: 8222\ncluster {\n  name: \"my_cluster\"\n  port: 6222\n  routes = []\n}\n"
IMAGE_CONFIG_PATHS = {"scratch": "/nats-server.conf", "alpine": "/etc/nats/nats-server.conf"}
IMAGE_SOURCE = "the nats image's built-in {path}"

BLOCKS = ("cluster", "leafnodes", "gateway", "websocket", "mqtt")
BLOCK_ALIASES = {"leaf": "leafnodes", "ws": "websocket"}

# Go flag words: "-x v", "-x=v", "--x v", "--x=v"
def _flag(*names):
    return Option(long=tuple(p + n for n in names for p in ("--", "-")))


FLAGS = {
    "host": _flag("a", "addr", "net"),
    "port": _flag("p", "port"),
    "http_port": _flag("m", "http_port"),
    "https_port": _flag("ms", "https_port"),
    "config": _flag("c", "config"),
    "cluster": _flag("cluster", "cluster_listen"),
    "profile": _flag("profile"),
}


def listeners(launch: Launch) -> List[Listener]:
    """One listener per socket nats-server opens (see the docstring)."""
    conf, where, assumption = _config(launch)
    flags = {name: find_option(launch.words, option) for name, option in FLAGS.items()}

    def setting(flag, *keys):
        """(value, location, origin) from the command line, else the
        config's first key of ``keys`` present, else None."""
        hit = flags.get(flag) if flag else None
        if hit is not None:
            return hit[0], hit[1].location, f"-{flag} {hit[0]}"
        for key in keys:
            if key in conf:
                value, location = conf[key]
                return value, location, f"{key.rpartition('.')[2]}: {value} in {where}"
        return None

    out = []

    def add(host, port_text, location, origin, what):
        port = parse_int(port_text) if port_text is not None else None
        said = None
        if port is None or port == 0:
            return
        if port < 0:
            said, port = f"the {what} port is -1: a random one", None
        address = _address(host)
        listener = follows(NAME, launch)
        out.append(replace(
            listener, address=address, port=port, location=location, bound_at=location, written=None,
            origin=f"backlog = net.core.somaxconn (Go's net.Listen reads it at start-up; {what} {origin})",
            assumption="; ".join(s for s in (assumption, said) if s) or None,
        ))

    # clients
    listen = conf.get("listen")
    host_hit = setting("host", "host", "net")
    port_hit = setting("port", "port")
    listen_host, listen_port = _split(listen[0]) if listen else (None, None)
    host = host_hit[0] if host_hit and (flags["host"] or not listen) else (listen_host if listen else "0.0.0.0")
    if port_hit and (flags["port"] or not listen):
        port_text, location, origin = port_hit
    elif listen:
        port_text, location, origin = listen_port, listen[1], f"listen: {listen[0]} in {where}"
    else:
        port_text, location, origin = "4222", launch.started_at, "port: nats-server's default 4222"
    add(host, port_text, location, origin, "client")

    # monitoring: on the config's http host, else the client host
    for flag, port_keys, hostport_key in (("http_port", ("http_port", "monitor_port"), "http"), ("https_port", ("https_port",), "https")):
        hostport = conf.get(hostport_key)
        http_host, http_port = _split(hostport[0]) if hostport else (None, None)
        hit = setting(flag, *port_keys)
        if hit is not None and (flags[flag] or not hostport):
            add(http_host if http_host is not None else host, hit[0], hit[1], hit[2], "monitoring")
        elif hostport:
            add(http_host if http_host is not None else host, http_port, hostport[1], f"{hostport_key}: {hostport[0]} in {where}", "monitoring")

    hit = setting("profile", "prof_port")
    if hit is not None:
        add(host, hit[0], hit[1], hit[2], "profiling")

    # cluster, leafnodes, gateway, websocket, mqtt: 0.0.0.0 unless set
    for block in BLOCKS:
        if block == "cluster" and flags["cluster"] is not None:
            url, word = flags["cluster"]
            block_host, block_port = _split(url.partition("://")[2] if "://" in url else url)
            add(block_host or "0.0.0.0", block_port, word.location, f"--cluster {url}", "routes")
            continue
        listen = conf.get(block + ".listen")
        port = conf.get(block + ".port")
        host_set = conf.get(block + ".host") or conf.get(block + ".net")
        if listen is not None:
            block_host, block_port = _split(listen[0])
            add(block_host or "0.0.0.0", port[0] if port else block_port, port[1] if port else listen[1],
                f"listen: {listen[0]} in {where}", block)
        elif port is not None:
            add(host_set[0] if host_set else "0.0.0.0", port[0], port[1], f"port: {port[0]} in {where}", block)
    return out or [follows(NAME, launch)]


def set_backlog(value: int) -> str:
    return f"raise net.core.somaxconn for the pod to {value}: nats-server has no backlog option (Go's net.Listen passes somaxconn)"


def _config(launch: Launch):
    """(key -> (value, Location), the file's name, what the listeners rest
    on) of the config file nats-server reads, if any."""
    hit = find_option(launch.words, FLAGS["config"])
    builtin = _builtin_path(launch)
    if hit is None:
        if not launch.command and not launch.words and builtin is None:
            # another org's nats image (bitnami/nats: its run.sh writes its own config)
            return {}, "", f"the command and config of image {launch.image} are not in the input: nats-server's defaults assumed"
        if launch.command or launch.words or builtin is None:
            return {}, "", None
        path, location = builtin, launch.started_at  # the image's CMD
    else:
        path, location = hit[0], hit[1].location
    absolute, _relative = resolve(launch, path)
    if launch.read(absolute) is None and builtin is not None and absolute == builtin:
        entries = parsed(launch, _parse, IMAGE_CONFIG)
        return {k: (v, location) for k, (v, _l, _c) in entries.items()}, IMAGE_SOURCE.format(path=builtin), None
    read, said = config_file(launch, path, "listen address or port")
    if read is None:
        return {}, path, said
    text, locate = read
    entries = parsed(launch, _parse, text)
    if any(k == "include" or k.endswith(".include") for k in entries):
        included = "the file includes another (`include`), which is not read: assumed to set no listen address or port"
        said = f"{said}; {included}" if said else included
    return {k: (v, locate(line, column)) for k, (v, line, column) in entries.items()}, path, said


def _builtin_path(launch: Launch) -> Optional[str]:
    """The path of the official image's built-in config, for the official
    nats image (Docker Hub's library/nats)."""
    registry, path, tag = image_reference(launch.image)
    if image_repository(launch.image) != "nats" or registry not in HUB_REGISTRIES or path.rpartition("/")[0] not in ("", "library"):
        return None
    return IMAGE_CONFIG_PATHS["alpine" if "alpine" in tag else "scratch"]


def _split(hostport: str) -> Tuple[Optional[str], Optional[str]]:
    if ":" not in hostport:
        return None, hostport
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), port


def _address(host: Optional[str]) -> str:
    if host in (None, "", "0.0.0.0", "::"):
        return "*"  # Go: one dual-stack socket (measured)
    if host == "localhost":
        return "127.0.0.1"
    return host


def _parse(text: str) -> Dict[str, Tuple[str, int, int]]:
    """nats-server's config (server/conf lex.go: `key: v`, `key = v`,
    `key v`, `name { ... }`, arrays, `#` and `//` comments), flattened:
    "cluster.port" -> (value, line, column), keys lower case; values of
    arrays are not kept."""
    out: Dict[str, Tuple[str, int, int]] = {}
    stack: List[str] = []
    i, n, line, start = 0, len(text), 1, 0

    def skip_space(i, line, start, newlines=True):
        while i < n:
            c = text[i]
            if c == "\n":
                if not newlines:
                    break
                line, start = line + 1, i + 1
            elif c in " \t\r,;":
                pass
            elif c == "#" or text.startswith("//", i):
                while i < n and text[i] != "\n":
                    i += 1
                continue
            else:
                break
            i += 1
        return i, line, start

    while True:
        i, line, start = skip_space(i, line, start)
        if i >= n:
            break
        if text[i] == "}":
            if stack:
                stack.pop()
            i += 1
            continue
        if text[i] == "{":
            i += 1  # the braces of a JSON-style file around it all
            continue
        if text[i] in "\"'":
            j = text.find(text[i], i + 1)
            j = n if j < 0 else j
            key, i = text[i + 1:j].lower(), j + 1
        else:
            j = i
            while j < n and text[j] not in " \t\r\n:={}[]#,;\"'":
                j += 1
            key, i = text[i:j].lower(), j
        if not key:
            i += 1
            continue
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in ":=":
            i += 1
            while i < n and text[i] in " \t":
                i += 1
        if i >= n:
            break
        c = text[i]
        if c == "{":
            stack.append(BLOCK_ALIASES.get(key, key) if not stack else key)
            i += 1
            continue
        if c == "[":
            depth = 0
            while i < n:
                if text[i] == "[":
                    depth += 1
                elif text[i] == "]":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                elif text[i] == "\n":
                    line, start = line + 1, i + 1
                i += 1
            continue
        column = i - start + 1
        if c in "\"'":
            end = text.find(c, i + 1)
            end = n if end < 0 else end
            value, column, i = text[i + 1:end], column + 1, end + 1
        else:
            j = i
            while j < n and text[j] not in " \t\r\n,;}#":
                j += 1
            value, i = text[i:j], j
        path = ".".join(stack + [key])
        out[path] = (value, line, column)  # a later setting wins
    return out

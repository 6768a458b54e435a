"""ClickHouse: `listen_backlog`, 4096 since 21.11 (64 before), for every
`listen_host` x every port.

Sources: ClickHouse programs/server/Server.cpp `Server::socketBindListen()`
`socket.listen(/* backlog = */ config.getUInt("listen_backlog", 4096))`
(ClickHouse/ClickHouse @ 0003892b); before 21.11,
dbms/programs/server/Server.cpp `socket_bind_listen`
`socket.listen(/* backlog = */ config().getUInt("listen_backlog", 64))`
(@ 0296c9a9).  The default changed with PR #29643 "Increase listen_backlog
by default (to match default in newer linux kernel)", listed in
docs/changelogs/archive/v21.11.1.8636-prestable.md (as compared to
v21.10.1): so a tag naming a release before 21.11 gets 64, any later (or
`latest`) 4096.  servers-2.md's "4096" is the current value only.
`getListenHosts()` / 18.16's `listen_hosts`: without any `<listen_host>`
the server listens on `::1` and `127.0.0.1` (with `listen_try`); every
listen host gets a socket on every configured port (`http_port`,
`https_port`, `tcp_port`, `tcp_port_secure`, `interserver_http_port`,
`interserver_https_port`, `mysql_port`, `postgresql_port`, `grpc_port`,
`tcp_with_proxy_port`, `prometheus.port`); an empty port is skipped.

Measured with Debian 12's clickhouse-server 18.16.1 in a network namespace
(tests/kernel/servers_clickhouse.py): Send-Q 64 on every socket by default,
`listen_backlog` from config.xml, a config.d file or the command line
(`-- --listen_backlog=N`) is the queue; `<listen_host>::</listen_host>` is
ONE dual-stack socket per port (ss `*:8123`), so the official image's
config.d/docker_related_config.xml (`::`, then `0.0.0.0`, `listen_try` 1:
docker/server/docker_related_config.xml) gives one socket per port and the
`0.0.0.0` bind fails with EADDRINUSE (logged, skipped); `0.0.0.0` before
`::` keeps the IPv4 socket and `::` fails.  A config.d file's
`<listen_host>` replaces the merged file's listen hosts one by one, in
order (a file with one `127.0.0.1` after docker_related_config.xml leaves
`127.0.0.1`, `0.0.0.0`: measured, one IPv4 socket per port).  Without the
default hosts and without `listen_try`, a failing bind stops the server:
such a host is left out here all the same.

Settings read, as the server merges them: the config file
(`--config-file=`/`-C`, the official image's entrypoint passes
/etc/clickhouse-server/config.xml, CLICKHOUSE_CONFIG), then its
config.d/*.xml in name order (only the image's docker_related_config.xml
and the names in ``CONFIG_D_NAMES`` can be looked up: others are said as
an assumption; a volume mounted on the whole config.d directory hides the
image's docker_related_config.xml, which a launch cannot tell -- the file
is merged all the same, and said), then the command line after `--` (`--listen_backlog=N`,
`--http_port=N`, `--listen_host=H`: the entrypoint passes "$@").  The
image's config.xml, when not mounted, is taken as upstream ships it (no
listen_host, no listen_backlog; ports 8123, 9000, 9004, 9005, 9009 since
21.x -- 18.16's has no mysql_port/postgresql_port: Debian's 18.16 file
read), and said.  bitnami/clickhouse's own files are not verified: its
listeners rest on the upstream layout.  ClickHouse never reads somaxconn:
the kernel's silent min.
"""

from __future__ import annotations

import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, image_reference, image_repository, parse_int, parsed

NAME = "clickhouse"
TITLE = "ClickHouse"
IMAGES = ("clickhouse-server", "clickhouse")
COMMANDS = ("clickhouse-server",)
# the official image's entrypoint runs clickhouse-server with no argument
# or with arguments that start with "--" (docker/server/entrypoint.sh)
ENTRYPOINT_PREPENDS = {"clickhouse-server": ("--*",), "clickhouse": ("--*",)}
DEFAULT_BACKLOG = "4096 (ClickHouse >= 21.11); 64 (<= 21.10)"
KNOB = "listen_backlog (`<listen_backlog>N</listen_backlog>` in config.xml or a config.d file, or `-- --listen_backlog=N`)"
SOURCE = (
    "programs/server/Server.cpp socketBindListen() config.getUInt(\"listen_backlog\", 4096); 64 before 21.11 "
    "(PR #29643); servers-2.md"
)
STARTUP_WARNING = ""

CURRENT_BACKLOG, OLD_BACKLOG, CHANGED_IN = 4096, 64, (21, 11)
CONFIG = "/etc/clickhouse-server/config.xml"
BITNAMI_CONFIG = "/opt/bitnami/clickhouse/etc/config.xml"
DOCKER_RELATED = "docker_related_config.xml"
# config.d names looked up besides the image's own (a directory cannot be listed)
CONFIG_D_NAMES = (
    DOCKER_RELATED, "listen.xml", "listen_host.xml", "network.xml", "ports.xml", "backlog.xml", "listen_backlog.xml",
    "config.xml", "custom.xml", "override.xml", "overrides.xml", "00_default_overrides.xml", "server.xml", "settings.xml",
)
PORTS = (
    "http_port", "https_port", "tcp_port", "tcp_port_secure", "interserver_http_port", "interserver_https_port",
    "mysql_port", "postgresql_port", "grpc_port", "tcp_with_proxy_port", "prometheus.port",
)
DEFAULT_HOSTS = ("::1", "127.0.0.1")
# the upstream config.xml's ports (the image's file when not mounted)
IMAGE_PORTS = (("http_port", "8123"), ("tcp_port", "9000"), ("mysql_port", "9004"), ("postgresql_port", "9005"), ("interserver_http_port", "9009"))
IMAGE_PORTS_18 = (("http_port", "8123"), ("tcp_port", "9000"), ("interserver_http_port", "9009"))
DOCKER_HOSTS = ("::", "0.0.0.0")

if TYPE_CHECKING:
    # name -> [(value, location or None)] in order (listen_host repeats)
    _Config = Dict[str, List[Tuple[str, Optional[Location]]]]


def version(image: str) -> Optional[Tuple[int, int]]:
    tag = image_reference(image)[2]
    match = re.match(r"v?(\d+)\.(\d+)", tag)
    return (int(match.group(1)), int(match.group(2))) if match else None


def listeners(launch: Launch) -> List[Listener]:
    repository = image_repository(launch.image)
    official = repository == "clickhouse-server"
    bitnami = repository == "clickhouse"
    config_path, extra = _config_path(launch, bitnami)
    assumptions: List[str] = []
    found_version = version(launch.image) if repository in IMAGES else None
    settings: _Config = {}
    main = launch.read(config_path)
    if main is not None:
        text, locate = main
        parsed_main = parsed(launch, _xml, text)
        if parsed_main is None:
            return []
        _merge(settings, parsed_main, locate)
    else:
        old = found_version is not None and found_version < (19, 1)
        for name, value in (IMAGE_PORTS_18 if old else IMAGE_PORTS):
            settings[name] = [(value, None)]
        assumptions.append(
            f"{config_path} is not in the input: upstream's config.xml assumed (no listen_backlog or listen_host; ports "
            + ", ".join(v for _, v in (IMAGE_PORTS_18 if old else IMAGE_PORTS)) + ")"
        )
    directory = config_path.rsplit("/", 1)[0] + "/config.d/"
    read_names = []
    # a volume on config.d hides the image's files there; the input's own
    # files there are listed (every .xml, in name order, as the server reads them)
    hidden = launch.covered(directory.rstrip("/"))
    given = {path.rsplit("/", 1)[-1] for path in launch.listed(directory.rstrip("/")) if path.endswith(".xml")}
    for name in sorted(set(CONFIG_D_NAMES) | given):
        found = launch.read(directory + name)
        if found is not None:
            text, locate = found
            values = parsed(launch, _xml, text)
            if values is not None:
                _merge(settings, values, locate)
                read_names.append(name)
        elif name == DOCKER_RELATED and official and directory == "/etc/clickhouse-server/config.d/" and not hidden:
            _merge(settings, {"listen_host": [(h, 0, 0) for h in DOCKER_HOSTS], "listen_try": [("1", 0, 0)]}, None)
            assumptions.append(
                f"{directory}{DOCKER_RELATED} is the image's (listen_host :: then 0.0.0.0, listen_try 1), not hidden by a "
                "volume mounted on the directory"
            )
    if not hidden:
        assumptions.append(f"the other files of {directory} (not listed by the input) are assumed to set no listen_backlog, listen_host or port")
    if bitnami:
        assumptions.append("bitnami/clickhouse's own configuration is not verified: the upstream image's layout is assumed")
    for name, value, word in extra:
        if name == "listen_host":
            hosts = settings.setdefault("listen_host", [])
            if hosts:
                hosts[0] = (value, word.location)  # the command line overrides the key `listen_host` (the first)
            else:
                hosts.append((value, word.location))
        else:
            settings[name] = [(value, word.location)]

    backlog_set = settings.get("listen_backlog")
    if backlog_set:
        value, location = backlog_set[-1]
        backlog = parse_int(value)
        if backlog is None:
            return []  # not a literal integer
        origin, explicit = f"listen_backlog {backlog}", True
        if location is None:
            location = launch.started_at
            origin += " (the image's configuration)"
        elif any(word.location == location for _, _, word in extra):
            assumptions = []  # the command line wins over every file
    else:
        location, explicit = launch.started_at, False
        if found_version is None:
            backlog = CURRENT_BACKLOG
            origin = f"default listen_backlog {backlog}"
            if not (repository in IMAGES and image_reference(launch.image)[2] in ("", "latest")):
                assumptions.append(f"the image tag names no ClickHouse release: the current default listen_backlog {CURRENT_BACKLOG} (>= 21.11) is assumed")
        elif found_version >= CHANGED_IN:
            backlog, origin = CURRENT_BACKLOG, f"default listen_backlog {CURRENT_BACKLOG} (ClickHouse >= 21.11)"
        else:
            backlog, origin = OLD_BACKLOG, f"default listen_backlog {OLD_BACKLOG} (ClickHouse <= 21.10)"

    hosts = settings.get("listen_host") or [(h, None) for h in DEFAULT_HOSTS]
    ports = []
    for name in PORTS:
        given = settings.get(name)
        if not given or not given[-1][0].strip():
            continue
        port = parse_int(given[-1][0])
        if port is None or not 0 < port < 65536:
            continue
        ports.append((name, port, given[-1][1]))
    assumption = "; ".join(assumptions) if assumptions else None
    out = []
    bound: Dict[int, List[str]] = {}
    for host, host_at in hosts:
        host = host.strip().strip("[]")
        for name, port, port_at in ports:
            if any(_conflict(host, other) for other in bound.get(port, [])):
                continue  # EADDRINUSE: skipped with listen_try (measured), else the server stops
            bound.setdefault(port, []).append(host)
            address = "*" if host == "::" else host
            out.append(
                Listener(
                    NAME, address, port, backlog, origin, location, explicit, KNOB, assumption=assumption,
                    written=f"[{host}]:{port}" if ":" in host else None, bound_at=port_at or host_at,
                )
            )
    return out


def set_backlog(value: int) -> str:
    return f"set ClickHouse's listen_backlog to {value} (`<listen_backlog>{value}</listen_backlog>` in a config.d file)"


def config_paths(launch: Launch) -> List[str]:
    return [_config_path(launch, image_repository(launch.image) == "clickhouse")[0]]


def _config_path(launch: Launch, bitnami: bool):
    """The config file and the command line's `--key=value` overrides
    (after `--`): (path, [(key, value, word)])."""
    path = None
    extra = []
    words = launch.words
    i = 0
    after = False
    while i < len(words):
        text = words[i].text
        if after:
            if text.startswith("--") and "=" in text:
                key, _, value = text[2:].partition("=")
                if key in PORTS or key in ("listen_backlog", "listen_host", "listen_try"):
                    extra.append((key, value, words[i]))
        elif text == "--":
            after = True
        elif text.startswith("--config-file="):
            path = text.split("=", 1)[1]
        elif text in ("--config-file", "-C") and i + 1 < len(words):
            path = words[i + 1].text
            i += 1
        elif text.startswith("-C") and len(text) > 2:
            path = text[2:]
        i += 1
    if path is None:
        env = launch.env.get("CLICKHOUSE_CONFIG")
        path = env.text if env is not None and not launch.command else (BITNAMI_CONFIG if bitnami else CONFIG)
    if not path.startswith("/"):
        base = launch.working_dir or "/"
        path = base.rstrip("/") + "/" + path
    return path, extra


def _conflict(host: str, other: str) -> bool:
    """Whether binding ``host`` fails with EADDRINUSE on a port ``other``
    already listens on (Linux, SO_REUSEADDR, no SO_REUSEPORT; `::` is
    dual-stack)."""
    if host == other:
        return True
    v4 = lambda h: ":" not in h
    if "::" in (host, other):
        return host == "::" or other == "::"
    if "0.0.0.0" in (host, other):
        return v4(host) and v4(other)
    return False


def _merge(settings, values, locate) -> None:
    """Merge a file's top-level values into ``settings`` as ClickHouse's
    ConfigProcessor does: the n-th element of a name replaces the n-th of
    the merged ones, further ones are appended; `remove="remove"` drops it."""
    for name, items in values.items():
        current = settings.setdefault(name, [])
        for n, (value, line, column) in enumerate(items):
            location = locate(line, column) if locate is not None and line else None
            if value is None:  # removed
                if n < len(current):
                    current[n] = None
                continue
            if n < len(current):
                current[n] = (value, location)
            else:
                current.append((value, location))
        settings[name] = [item for item in current if item is not None]


def _xml(text: str):
    """The top-level values of a ClickHouse config file (`<yandex>` or
    `<clickhouse>` root) the module reads, with (line, column) of each
    element: name -> [(text or None if removed, line, column)]; None when
    it does not parse."""
    from xml.parsers import expat

    out: Dict[str, list] = {}
    stack: List[list] = []  # [name, attributes, text, line, column]
    parser = expat.ParserCreate()

    def start(name, attributes):
        stack.append([name, attributes, "", parser.CurrentLineNumber, parser.CurrentColumnNumber + 1])

    def end(name):
        element = stack.pop()
        depth = len(stack)
        key = None
        if depth == 1:
            key = element[0]
        elif depth == 2 and stack[1][0] == "prometheus" and element[0] == "port":
            key = "prometheus.port"
        if key in PORTS or key in ("listen_backlog", "listen_host", "listen_try"):
            removed = element[1].get("remove") in ("remove", "1", "true")
            out.setdefault(key, []).append((None if removed else element[2].strip(), element[3], element[4]))

    def data(chars):
        if stack:
            stack[-1][2] += chars

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(text.encode("utf-8", "surrogatepass"), True)
    except (expat.ExpatError, ValueError, UnicodeError, RecursionError, MemoryError):
        return None
    return out

"""RabbitMQ: every protocol listener asks for 128, from its
`tcp_listen_options`; the sockets nobody writes have their own.

Sources (../shared/facts/servers-2.md, RabbitMQ row): the broker and each
protocol plugin carry `{tcp_listen_options, [{backlog, 128}, ...]}` in
their application environment (rabbitmq-server deps/*/Makefile
PROJECT_ENV); rabbitmq.conf sets it per protocol -- the schema files of
Debian's rabbitmq-server 3.10.8 map `tcp_listen_options.backlog`
(rabbit.schema:776), `mqtt.tcp_listen_options.backlog`
(rabbitmq_mqtt.schema:192), `stomp.tcp_listen_options.backlog`
(rabbitmq_stomp.schema:51) and `stream.tcp_listen_options.backlog`
(rabbitmq_stream.schema:51); listeners are `listeners.tcp.NAME = [ADDR:]PORT`
(rabbit.schema:25; `mqtt.listeners.tcp.NAME`, `stomp.`, `stream.`).

Measured with Debian's rabbitmq-server 3.10.8 (Erlang/OTP 25) in network
namespaces (`ss -lntH`; tests/kernel/servers_rabbitmq.py):

* AMQP 5672, MQTT 1883, STOMP 61613, Stream 5552: Send-Q 128, each one
  dual-stack socket `*:PORT` for a bare port (or `:::PORT`); an address
  (`127.0.0.1:5673`) is one socket on it.  `tcp_listen_options.backlog =
  3000` set AMQP's only (3000); MQTT and STOMP took their own
  (`mqtt.`, `stomp.tcp_listen_options.backlog`), Stream kept 128: the
  global options are not the plugins' (the facts sheet's "every listener's
  backlog from tcp_listen_options" holds per plugin only).
* `listeners.tcp.NAME` entries replace the default 5672 (`mqtt.listeners.tcp.a
  = 127.0.0.1:1884` MQTT's 1883); `listeners.tcp = none` opens no AMQP
  socket; `listeners.tcp.default = 5690` won over RABBITMQ_NODE_PORT=5680
  for AMQP; RABBITMQ_ENABLED_PLUGINS=rabbitmq_mqtt replaced the
  enabled_plugins file's list (no prometheus listener).
* The Erlang distribution listener (clustering and the CLI tools, not
  clients): Send-Q 128 at somaxconn 10000 (OTP's inet_tcp_dist listens
  with backlog 128), one IPv4 socket 0.0.0.0 on RABBITMQ_DIST_PORT (25999
  measured), else
  RABBITMQ_NODE_PORT + 20000 (25680 with 5680), else 25672 -- the
  environment's port, not the config file's.
* epmd (the Erlang port mapper, its own process the VM starts): 4096 at
  somaxconn 10000 -- `listen(fd, SOMAXCONN)`, the C library's constant
  (Debian bookworm's glibc 2.36 bits/socket.h: 4096) -- on 0.0.0.0 and
  [::], two sockets; port ERL_EPMD_PORT, else 4369.  The official image
  builds Erlang on Ubuntu 24.04 (docker-library/rabbitmq 3.13/ubuntu
  Dockerfile), whose glibc is taken to say 4096 too (said as an
  assumption).
* The management plugin (15672) and prometheus plugin (15692), Cowboy on
  Ranch: 1024 (Ranch's default backlog; rabbitmq.conf has no key for it,
  only `management.ssl.backlog`), one IPv4 socket 0.0.0.0 (its default
  `management.tcp.ip`), port `management.tcp.port` / `prometheus.tcp.port`.

Which plugins run: RABBITMQ_ENABLED_PLUGINS_FILE, else the image's
enabled_plugins (/etc/rabbitmq/enabled_plugins; bitnami's under
/opt/bitnami/rabbitmq/etc/rabbitmq) when the input mounts it; else the
image's own list: the official image enables rabbitmq_prometheus
(Dockerfile: "Enable Prometheus-style metrics by default") and its
`-management` tags rabbitmq_management; bitnami's are RABBITMQ_PLUGINS (not
verified further; without it rabbitmq_management is assumed).  The
configuration: RABBITMQ_CONFIG_FILE, else the image's rabbitmq.conf, then
the conf.d files the official image and the RabbitMQ cluster operator use
by name (read when mounted; others in conf.d are assumed to set no
listener or backlog).  Not modelled: TLS listeners (listeners.ssl.*), Web
MQTT/Web STOMP (15675/15674), advanced.config, RABBITMQ_NODE_IP_ADDRESS.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, image_reference, parse_int, parsed

NAME = "rabbitmq"
TITLE = "RabbitMQ"
IMAGES = ("rabbitmq",)
COMMANDS = ("rabbitmq-server",)
DEFAULT_BACKLOG = 128
DEFAULT_PORT = 5672
KNOB = "tcp_listen_options.backlog in rabbitmq.conf (mqtt., stomp., stream.tcp_listen_options.backlog for those plugins)"
SOURCE = "{tcp_listen_options, [{backlog, 128}]} of each protocol's app env, measured on RabbitMQ 3.10.8; servers-2.md"
STARTUP_WARNING = ""

# protocol -> (the plugin that runs it, None: the broker; key prefix; default port)
PROTOCOLS = (
    ("AMQP", None, "", 5672),
    ("MQTT", "rabbitmq_mqtt", "mqtt.", 1883),
    ("STOMP", "rabbitmq_stomp", "stomp.", 61613),
    ("Stream", "rabbitmq_stream", "stream.", 5552),
)
# HTTP plugins on Cowboy/Ranch: plugin, key prefix, default port
HTTP_PLUGINS = (("rabbitmq_management", "management.", 15672), ("rabbitmq_prometheus", "prometheus.", 15692))
RANCH_BACKLOG = 1024  # Ranch's default backlog (measured)
DIST_BACKLOG = 128  # OTP inet_tcp_dist (measured)
DIST_OFFSET = 20000
EPMD_PORT = 4369
EPMD_BACKLOG = 4096  # SOMAXCONN of glibc's bits/socket.h (measured)
MUSL_SOMAXCONN = 128  # musl's include/sys/socket.h

CONF = {"rabbitmq": "/etc/rabbitmq/rabbitmq.conf", "bitnami": "/opt/bitnami/rabbitmq/etc/rabbitmq/rabbitmq.conf"}
PLUGINS_FILE = {"rabbitmq": "/etc/rabbitmq/enabled_plugins", "bitnami": "/opt/bitnami/rabbitmq/etc/rabbitmq/enabled_plugins"}
# conf.d files read after rabbitmq.conf, by the names the official image
# (docker-library/rabbitmq) and the cluster operator give them
CONF_D = (
    "10-defaults.conf", "10-operatorDefaults.conf", "11-default_user.conf",
    "20-management_agent.disable_metrics_collector.conf", "90-userDefinedConfiguration.conf",
)

if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[str, Location]]


def listeners(launch: Launch) -> List[Listener]:
    flavour = _flavour(launch.image)
    settings, assumptions = _settings(launch, flavour)
    plugins, plugin_at, said = _plugins(launch, flavour)
    if said:
        assumptions.append(said)
    base = "; ".join(assumptions) if assumptions else None
    out: List[Listener] = []
    node_port = _env_int(launch, "RABBITMQ_NODE_PORT")
    for protocol, plugin, prefix, default_port in PROTOCOLS:
        if plugin is not None and plugin not in plugins:
            continue
        found = settings.get(prefix + "tcp_listen_options.backlog")
        value = parse_int(found[0]) if found is not None else None
        if found is not None and value is not None and value > 0:
            backlog, origin, location, explicit = value, f"{prefix}tcp_listen_options.backlog {value} ({protocol})", found[1], True
        else:
            at = plugin_at.get(plugin, launch.started_at) if plugin else launch.started_at
            backlog, origin, location, explicit = DEFAULT_BACKLOG, f"default {prefix}tcp_listen_options backlog {DEFAULT_BACKLOG} ({protocol})", at, False
        entries = [(v, at) for k, (v, at) in settings.items() if k.startswith(prefix + "listeners.tcp.")]
        whole = settings.get(prefix + "listeners.tcp")
        if whole is not None and whole[0].strip().lower() == "none":
            continue
        if not entries:
            port = node_port[0] if plugin is None and node_port is not None else default_port
            entries = [(str(port), None)]
        for text, _at in entries:
            address, port = _address_port(text)
            if port is None:
                continue
            out.append(Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, assumption=base))
    for plugin, prefix, default_port in HTTP_PLUGINS:
        if plugin not in plugins:
            continue
        given = settings.get(prefix + "tcp.port")
        port = parse_int(given[0]) if given is not None else default_port
        ip = settings.get(prefix + "tcp.ip")
        address = ip[0] if ip is not None else "0.0.0.0"
        if port is None:
            continue
        out.append(
            Listener(
                NAME, address, port, RANCH_BACKLOG, f"{plugin} HTTP listener: Ranch's default backlog {RANCH_BACKLOG}",
                plugin_at.get(plugin, launch.started_at), False,
                f"none in rabbitmq.conf for {plugin}'s TCP listener (Ranch's backlog, advanced.config only)", assumption=base,
            )
        )
    dist = _env_int(launch, "RABBITMQ_DIST_PORT")
    if dist is not None:
        dist_port, dist_at = dist
    elif node_port is not None:
        dist_port, dist_at = node_port[0] + DIST_OFFSET, node_port[1]
    else:
        dist_port, dist_at = DEFAULT_PORT + DIST_OFFSET, launch.started_at
    out.append(
        Listener(
            NAME, "0.0.0.0", dist_port, DIST_BACKLOG,
            f"Erlang distribution listener (clustering and CLI tools, not client traffic): OTP's backlog {DIST_BACKLOG}",
            dist_at, False, "none (Erlang/OTP's inet_tcp_dist listens with 128)", assumption=base, serves=False,
        )
    )
    epmd = _env_int(launch, "ERL_EPMD_PORT")
    epmd_port, epmd_at = epmd if epmd is not None else (EPMD_PORT, launch.started_at)
    # the official -alpine tags build Erlang (epmd too) on Alpine: musl's
    # SOMAXCONN is 128 (include/sys/socket.h); the others, on Ubuntu, glibc's 4096
    musl = "alpine" in image_reference(launch.image)[2]
    epmd_backlog = MUSL_SOMAXCONN if musl else EPMD_BACKLOG
    epmd_said = (
        f"epmd passes the C library's SOMAXCONN, taken as {epmd_backlog} ({'musl' if musl else 'glibc 2.36'}'s; the image's "
        "Erlang build is not in the input)"
    )
    out.append(
        Listener(
            NAME, "*", epmd_port, epmd_backlog,
            f"epmd, the Erlang port mapper (node discovery, not client traffic): SOMAXCONN {epmd_backlog}",
            epmd_at, False, "none (epmd's listen(fd, SOMAXCONN))", sockets=2,
            assumption="; ".join(([base] if base else []) + [epmd_said]), serves=False,
        )
    )
    return out


def set_backlog(value: int) -> str:
    return f"set RabbitMQ's tcp_listen_options.backlog = {value} in rabbitmq.conf (mqtt., stomp., stream.tcp_listen_options.backlog for those)"


def truncation_advice(requested: int, fits: bool) -> str:
    head = f"Raise net.core.somaxconn for the pod to at least {requested}" if fits else "Raise net.core.somaxconn for the pod"
    return (
        f"{head}: RabbitMQ's protocol listeners take tcp_listen_options.backlog (mqtt., stomp., stream. for those "
        "plugins) in rabbitmq.conf, but epmd, the distribution listener and the HTTP plugins' listeners have no "
        "rabbitmq.conf knob: somaxconn is what limits them"
    )


def _flavour(image: str) -> str:
    _registry, path, _tag = image_reference(image)
    return "bitnami" if path.startswith("bitnami/") else "rabbitmq"


def _env_int(launch: Launch, name: str):
    word = launch.env.get(name)
    if word is None:
        return None
    value = parse_int(word.text)
    return (value, word.location) if value is not None and value > 0 else None


def _address_port(text: str) -> Tuple[str, Optional[int]]:
    """`5672` (every address: one dual-stack socket), `127.0.0.1:5672`,
    `:::5672` (also every address), `[::1]:5672`."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    value = parse_int(port)
    if value is None or value <= 0:
        return "*", None
    host = host.strip("[]")
    if host in ("", "::"):
        return "*", value
    return host, value


def _settings(launch: Launch, flavour: str):
    """rabbitmq.conf and the conf.d files read after it; later lines win."""
    out: _Settings = {}
    assumptions: List[str] = []
    named = launch.env.get("RABBITMQ_CONFIG_FILE")
    path = named.text if named is not None else CONF[flavour]
    if named is not None and not path.endswith(".conf") and not path.endswith(".config"):
        path += ".conf"  # RabbitMQ adds the extension
    found = launch.read(path)
    if found is None:
        if flavour == "bitnami" and named is None:
            assumptions.append(
                f"{path} is written at start-up from the environment by the bitnami image (not in the input): "
                "assumed to set no listener or backlog but its ports"
            )
            _bitnami_env(launch, out)
        else:
            assumptions.append(f"{path} is not in the input: assumed to set no listener or backlog")
    else:
        _read_into(launch, found, out)
    if flavour == "rabbitmq" and named is None:
        for name in CONF_D:
            extra = launch.read("/etc/rabbitmq/conf.d/" + name)
            if extra is not None:
                _read_into(launch, extra, out)
        assumptions.append("other files in /etc/rabbitmq/conf.d (not in the input) are assumed to set no listener or backlog")
    return out, assumptions


def _bitnami_env(launch: Launch, out: _Settings) -> None:
    """What bitnami's librabbitmq.sh writes into rabbitmq.conf from its
    environment: `listeners.tcp.default = RABBITMQ_NODE_PORT_NUMBER`,
    `management.tcp.ip`/`.port` from RABBITMQ_MANAGEMENT_BIND_IP /
    RABBITMQ_MANAGEMENT_PORT_NUMBER."""
    for env, key in (
        ("RABBITMQ_NODE_PORT_NUMBER", "listeners.tcp.default"),
        ("RABBITMQ_MANAGEMENT_PORT_NUMBER", "management.tcp.port"),
        ("RABBITMQ_MANAGEMENT_BIND_IP", "management.tcp.ip"),
    ):
        word = launch.env.get(env)
        if word is not None and word.text:
            out[key] = (word.text, word.location)


def _read_into(launch: Launch, found, out: _Settings) -> None:
    text, locate = found
    for key, (value, line, column) in parsed(launch, _conf, text).items():
        out.pop(key, None)  # (re-inserted: the order of the file that set it last)
        out[key] = (value, locate(line, column))


def _conf(text: str) -> Dict[str, Tuple[str, int, int]]:
    """rabbitmq.conf (Cuttlefish): `key = value`, `#` comments; the last
    line that sets a key wins.  The value's position is returned."""
    out: Dict[str, Tuple[str, int, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.split("#", 1)[0]
        key, eq, value = body.partition("=")
        if not eq:
            continue
        key = key.strip()
        if not key or " " in key:
            continue
        value_text = value.strip()
        column = len(body) - len(value.lstrip()) + 1 if value_text else len(line) - len(line.lstrip()) + 1
        out[key] = (value_text, number, column)
    return out


def _plugins(launch: Launch, flavour: str):
    """The enabled plugins, where each is enabled (plugin -> Location),
    and what that rests on."""
    where: Dict[str, Location] = {}
    listed = launch.env.get("RABBITMQ_ENABLED_PLUGINS")
    if listed is not None:
        names = {p.strip() for p in listed.text.split(",") if p.strip()}
        return names, {p: listed.location for p in names}, None
    named = launch.env.get("RABBITMQ_ENABLED_PLUGINS_FILE")
    path = named.text if named is not None else PLUGINS_FILE[flavour]
    found = launch.read(path)
    if found is not None:
        text, locate = found
        for name, line, column in parsed(launch, _plugin_atoms, text):
            where[name] = locate(line, column)
        return set(where), where, None
    if flavour == "bitnami":
        given = launch.env.get("RABBITMQ_PLUGINS")
        if given is not None:
            names = {p.strip() for p in given.text.replace(",", " ").split() if p.strip()}
            return names, {p: given.location for p in names}, None
        return {"rabbitmq_management"}, where, f"{path} is not in the input: the bitnami image's plugins assumed rabbitmq_management only"
    _registry, _path, tag = image_reference(launch.image)
    names = {"rabbitmq_prometheus"}
    if "management" in tag:
        names.add("rabbitmq_management")
    # (a file an init container writes there at run time is not in the input either)
    return names, where, f"{path} is not in the input: the official image's own plugins assumed ({', '.join(sorted(names))})"


def _plugin_atoms(text: str) -> List[Tuple[str, int, int]]:
    """enabled_plugins, an Erlang list of atoms: `[rabbitmq_management,
    rabbitmq_prometheus].`; `%` comments."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.split("%", 1)[0]
        i = 0
        while i < len(body):
            if body[i].isalpha():
                j = i
                while j < len(body) and (body[j].isalnum() or body[j] == "_"):
                    j += 1
                out.append((body[i:j], number, i + 1))
                i = j
            else:
                i += 1
    return out

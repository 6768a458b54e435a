"""Consul: a Go server, so the accept queue of every TCP listener of the
agent is the namespace's somaxconn.

Sources: Go's `net.Listen` passes `listenerBacklog()`, read once per
process from /proc/sys/net/core/somaxconn (src/net/sock_linux.go
`maxListenerBacklog()`; ../shared/facts/servers.md §2.12; servers-2.md
lists Consul as "inferred" from the Go rule).  hashicorp/consul
agent/config/default.go `DefaultSource()`: `client_addr = "127.0.0.1"`,
`bind_addr = "0.0.0.0"`, `ports { dns = 8600, http = 8500, https = -1,
grpc = -1, serf_lan = 8301, serf_wan = 8302, server = 8300 }`;
`DevSource()`: `bind_addr = "127.0.0.1"`, `server = true`, `ports { grpc =
8502 }`; agent/config/builder.go: "replace values <= 0 and > 65535 with
-1" (disabled), and "default gRPC TLS port for servers is 8503" when
`ports.grpc_tls` is unset (Consul 1.14 on; for an image tag naming an
older release, none).  agent/agent.go opens grpc and grpc_tls when
their port is > 0 (`listenAndServeGRPC`), one DNS server per DNS address
(`listenAndServeDNS`: TCP as well as UDP), HTTP/HTTPS on the client
addresses; the server's RPC port and Serf WAN only in server mode, Serf
LAN (memberlist's TCP listener) on every agent.  None of them passes a
backlog: Go's.

Settings read, in Consul's order (later wins): the defaults, `-dev`'s, the
files of `-config-file`/`-config-dir` (HCL or JSON; a directory cannot be
listed from the input: the keys of a ConfigMap mounted at it are found
when named as below, the rest said), then the command-line flags
(`-client`, `-bind`, `-serf-lan-bind`, `-serf-wan-bind`, `-server`,
`-http-port`, `-https-port`, `-dns-port`, `-grpc-port`, `-grpc-tls-port`,
`-serf-lan-port`, `-serf-wan-port`, `-server-port`), then `-hcl`
fragments.  `addresses { http, https, dns, grpc, grpc_tls }` override the
client address per service; a space-separated client_addr is one socket
per address.  An unspecified address (0.0.0.0, "::") is one Go dual-stack
socket.  The official image's entrypoint (hashicorp/consul @ 9bce8613
.release/docker/docker-entrypoint.sh) turns `agent ...` into `consul agent
-data-dir=/consul/data -config-dir=/consul/config $CONSUL_BIND
$CONSUL_CLIENT ...` (CONSUL_CONFIG_DIR replaces the directory;
CONSUL_BIND_INTERFACE / CONSUL_CLIENT_INTERFACE, when CONSUL_BIND /
CONSUL_CLIENT are unset, give `-bind=`/`-client=` an interface's IPv4
address, not in the input), writes CONSUL_LOCAL_CONFIG into the config
directory's local.json, and its CMD (the Dockerfile's) is `agent -dev
-client 0.0.0.0`.  Not measured: no Consul binary could be run here
(NOT_KERNEL_CHECKED); the dual-stack socket of a Go wildcard listener was
measured for CoreDNS's stand-in (tests/kernel/servers_coredns.py).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.records import replace
from somaxlint.servers import Launch, Listener, Word, image_reference, parse_int, parsed
from somaxlint.servers.traefik import follows
from somaxlint.servers.vault import _blocks, _config_texts, _flags, _parse

NAME = "consul"
TITLE = "Consul"
IMAGES = ("consul",)
COMMANDS = ("consul",)
ENTRYPOINT_SUBCOMMANDS = {"consul": ("agent",)}
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = 8500
KNOB = "none: the queue is net.core.somaxconn (Go's net.Listen)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); consul agent/config/default.go ports, agent/agent.go listeners"
STARTUP_WARNING = ""
NOT_KERNEL_CHECKED = (
    "Consul is not packaged in Debian, PyPI or npm (HashiCorp's own apt repository is not reachable): its listeners "
    "are Go's net.Listen (agent/agent.go), whose backlog is src/net/sock_linux.go maxListenerBacklog(), the class "
    "the traefik kernel cases measure"
)

IMAGE_CONFIG_DIR = "/consul/config"
# the files of a -config-dir somaxlint looks for (a directory cannot be
# listed from the input): consul-k8s's ConfigMap keys and the usual names
DIRECTORY_FILES = ("server.json", "server.hcl", "client.json", "client.hcl", "consul.json", "consul.hcl", "config.json",
                   "config.hcl", "extra-from-values.json", "ui-config.json", "central-config.json", "local.json")
DEFAULT_PORTS = {"dns": 8600, "http": 8500, "https": -1, "grpc": -1, "serf_lan": 8301, "serf_wan": 8302, "server": 8300}
# the services on the client address, in the order of the catalogue
CLIENT_SERVICES = ("http", "https", "dns", "grpc", "grpc_tls")
PORT_FLAGS = {"-http-port": "http", "-https-port": "https", "-dns-port": "dns", "-grpc-port": "grpc",
              "-grpc-tls-port": "grpc_tls", "-serf-lan-port": "serf_lan", "-serf-wan-port": "serf_wan", "-server-port": "server"}

if TYPE_CHECKING:
    _Set = Tuple[str, Optional[Location], str]  # value, where, how it was set


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    if not launch.command:
        if not words:
            words = [Word(w, launch.started_at) for w in ("agent", "-dev", "-client", "0.0.0.0")]
        if words[0].text != "agent":
            return []
        env = launch.env
        config_dir = env["CONSUL_CONFIG_DIR"] if env.get("CONSUL_CONFIG_DIR") is not None else Word(IMAGE_CONFIG_DIR, launch.started_at)
        added = [Word(f"-config-dir={config_dir.text}", config_dir.location)]
        for variable in ("CONSUL_BIND", "CONSUL_CLIENT"):  # `$CONSUL_BIND` unquoted: split into words
            if env.get(variable) is not None:
                added += [Word(part, env[variable].location) for part in env[variable].text.split()]
        words = [words[0]] + added + words[1:]
    if not words or words[0].text != "agent":
        return []  # a client command (consul members, consul kv ...)
    flags = _flags(words[1:])
    notes: List[str] = []
    settings: Dict[str, _Set] = {}
    ports: Dict[str, _Set] = {}
    addresses: Dict[str, _Set] = {}
    dev = any(n == "-dev" and v in (None, "true", "1") for n, v, _ in flags)
    if dev:
        settings["bind_addr"] = ("127.0.0.1", None, "-dev's bind_addr 127.0.0.1")
        settings["server"] = ("true", None, "-dev")
        ports["grpc"] = ("8502", None, "-dev's grpc port 8502")
    for name, value, word in flags:
        if name in ("-config-file", "-config-dir") and value:
            for text, locate, said in _config_texts(launch, value, DIRECTORY_FILES if name == "-config-dir" else None):
                if said:
                    notes.append(said.replace("listener", "port"))
                if text is not None:
                    _apply(parsed(launch, _parse, text), locate, word, settings, ports, addresses, notes, value)
    if not launch.command and launch.env.get("CONSUL_LOCAL_CONFIG") is not None:
        word = launch.env["CONSUL_LOCAL_CONFIG"]
        _apply(_parse(word.text), None, word, settings, ports, addresses, notes, "CONSUL_LOCAL_CONFIG")
    for variable, flag in (("CONSUL_BIND_INTERFACE", "bind_addr"), ("CONSUL_CLIENT_INTERFACE", "client_addr")):
        if not launch.command and launch.env.get(variable) is not None and launch.env.get(variable.rsplit("_", 1)[0]) is None:
            word = launch.env[variable]
            settings[flag] = (f"iface:{word.text}", word.location, f"{variable}={word.text}")
            notes.append(f"{variable}={word.text}: the entrypoint passes that interface's address, which the input does not show")
    for name, value, word in flags:
        if value is None and name != "-server":
            continue
        if name == "-client":
            settings["client_addr"] = (value, word.location, f"-client {value}")
        elif name == "-bind":
            settings["bind_addr"] = (value, word.location, f"-bind {value}")
        elif name == "-serf-lan-bind":
            settings["serf_lan_bind"] = (value, word.location, f"-serf-lan-bind {value}")
        elif name == "-serf-wan-bind":
            settings["serf_wan_bind"] = (value, word.location, f"-serf-wan-bind {value}")
        elif name == "-server":
            settings["server"] = (value or "true", word.location, "-server")
        elif name in PORT_FLAGS:
            ports[PORT_FLAGS[name]] = (value, word.location, f"{name} {value}")
    for name, value, word in flags:
        if name == "-hcl" and value:
            _apply(_parse(value), None, word, settings, ports, addresses, notes, "-hcl")
    server = settings.get("server", ("false",))[0].lower() in ("true", "1")
    base = follows(NAME, launch)
    note = "; ".join(dict.fromkeys(notes)) or None
    out: List[Listener] = []
    seen = set()

    def add(service: str, address_set: _Set, default_port: int):
        port_set = ports.get(service)
        port = parse_int(port_set[0]) if port_set else default_port
        if port is None or port <= 0 or port > 65535:
            return
        where = port_set[1] if port_set and port_set[1] else address_set[1] or launch.started_at
        how = port_set[2] if port_set else f"default {service} port {port}"
        written = address_set[0]
        for address in ([written] if "{{" in written else written.split()):
            key = (_address(address), port)
            if key in seen:
                continue
            seen.add(key)
            unknown = "{{" in address or address.startswith("iface:")
            said = note
            if unknown:
                said = "; ".join(x for x in (note, f"the address {address} is resolved at start-up") if x)
            out.append(replace(base, address=_address(address) if not unknown else address, port=port, location=where, bound_at=where,
                               explicit=port_set is not None or address_set[1] is not None,
                               origin=f"backlog = net.core.somaxconn (Go's net.Listen reads it at start-up; {service}: {how}, {address_set[2]})",
                               assumption=said))

    client = settings.get("client_addr", ("127.0.0.1", None, "default client_addr 127.0.0.1"))
    bind = settings.get("bind_addr", ("0.0.0.0", None, "default bind_addr 0.0.0.0"))
    # the servers' grpc_tls default arrived in Consul 1.14 (an image tag
    # naming an older release has none)
    grpc_tls_default = 8503 if server and "grpc_tls" not in ports and not _before(launch.image, (1, 14)) else -1
    for service in CLIENT_SERVICES:
        default = grpc_tls_default if service == "grpc_tls" else DEFAULT_PORTS[service]
        add(service, addresses.get(service, client), default)
    add("serf_lan", settings.get("serf_lan_bind", bind), DEFAULT_PORTS["serf_lan"])
    if server:
        add("serf_wan", settings.get("serf_wan_bind", bind), DEFAULT_PORTS["serf_wan"])
        add("server", bind, DEFAULT_PORTS["server"])
    return out


def set_backlog(value: int) -> str:
    return f"raise net.core.somaxconn for the pod to {value}: Consul (Go) has no backlog setting"


def _before(image: str, version) -> bool:
    """Whether the image's tag names a release before ``version``."""
    tag = image_reference(image)[2].lstrip("v")
    parts = tag.split("-", 1)[0].split(".")
    if len(parts) < 2 or not all(p.isdigit() and len(p) < 6 for p in parts[:2]):
        return False
    return (int(parts[0]), int(parts[1])) < version


def _address(host: str) -> str:
    bare = host.strip("[]")
    if bare in ("", "0.0.0.0", "::"):
        return "*"
    return bare


def _apply(tree, locate, word: Word, settings, ports, addresses, notes, named: str) -> None:
    """A config file's (or -hcl's) settings over the ones before it."""
    if tree is None:
        notes.append(f"{named}: not parsed as HCL or JSON")
        return

    def where(value):
        if locate is not None and value[1]:
            return locate(value[1], value[2])
        return word.location

    for key, value, _line, _column in tree:
        if key in ("client_addr", "bind_addr", "serf_lan", "serf_wan", "server") and isinstance(value, tuple) and value[0] != "list":
            name = {"serf_lan": "serf_lan_bind", "serf_wan": "serf_wan_bind"}.get(key, key)
            settings[name] = (value[0], where(value), f"{key} = {value[0]} in {named}")
    for target, block in ((ports, "ports"), (addresses, "addresses")):
        for body in _blocks(tree, block):
            for key, value in body.items():
                target[key] = (value[0], where(value), f"{block}.{key} = {value[0]} in {named}")

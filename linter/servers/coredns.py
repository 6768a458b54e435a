"""CoreDNS: a Go server, so every TCP socket's accept queue is the
namespace's somaxconn.

Sources: Go's `net.ListenConfig.Listen` passes `listenerBacklog()`, read
once per process from /proc/sys/net/core/somaxconn (src/net/sock_linux.go:66
`maxListenerBacklog()`; src/net/net.go:376 `listenerBacklog()`, Go 1.19;
../shared/facts/servers.md §2.12, servers-2.md).  CoreDNS opens every TCP
listener through `reuseport.Listen` (coredns/coredns @ 4b26cced,
plugin/pkg/reuseport/listen_reuseport.go: `net.ListenConfig{Control:
control}.Listen`, the control setting SO_REUSEPORT and nothing else): the
DNS server (core/dnsserver/server.go:223 `Listen()`), tls://
(server_tls.go:80), grpc:// (server_grpc.go:137), https://
(server_https.go:137), and the plugins `health` (health.go:51, default
":8080", health.go:36), `ready` (ready.go:39, default ":8181",
setup.go:70), `prometheus` (metrics.go:120, default "localhost:9153",
setup.go:142) and `pprof` (pprof.go:30, default "localhost:6053",
setup.go:14).  quic:// and https3:// are UDP (no accept queue).
Measured here (tests/kernel/servers_coredns.py): a Go program that
listens as `reuseport.Listen` does gets Send-Q = somaxconn on every
socket, one dual-stack socket for a wildcard (":53" and "0.0.0.0:53" both:
Go listens on [::] with IPV6_V6ONLY off for an unspecified address,
src/net/ipsock_posix.go:120-122 `favoriteAddrFamily()`; `ss` shows
`*:1053`), and
`multisocket N` opens N sockets on one port (register.go:312-322
`makeServersForGroup`; default GOMAXPROCS, multisocket.go:38).

Settings read: the Corefile `-conf FILE` names (coremain/run.go:24;
without it "Corefile" in the working directory, run.go `defaultLoader`,
and when there is none the built-in ".:53 { whoami log }",
register.go:22-28), and `-dns.port`/`-p` (run.go:33-34), the port of a
server block key without one (register.go:79-94: dns 53, tls 853, grpc
and https 443).  One listener per distinct (transport, address, port) --
zones on one port share a server (register.go `groupConfigsByListenAddr`)
-- with the `bind` plugin's addresses (an interface name binds addresses
the input does not show: said as an assumption).  A plugin listener
opened by several blocks on one address is one socket (ready.go:23 and
metrics setup.go:20 `uniq`; for health, assumed the same).  `import` and
`{$ENV}` placeholders are not followed: said.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.records import replace
from somaxlint.servers import Launch, Listener, Option, config_file, find_option, parse_int, parsed
from somaxlint.servers.traefik import follows

NAME = "coredns"
TITLE = "CoreDNS"
IMAGES = ("coredns",)
COMMANDS = ("coredns",)
# the image's entrypoint is /coredns itself: every argument is CoreDNS's
ENTRYPOINT_PREPENDS = {"coredns": ("*",)}
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = 53
KNOB = "none: the queue is net.core.somaxconn (Go's net.ListenConfig.Listen, SO_REUSEPORT)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); coredns plugin/pkg/reuseport/listen_reuseport.go Listen()"
STARTUP_WARNING = ""
NOT_KERNEL_CHECKED = (
    "CoreDNS is not packaged in Debian, PyPI or npm: the kernel cases run a Go program that listens as "
    "plugin/pkg/reuseport/listen_reuseport.go Listen() does (net.ListenConfig with SO_REUSEPORT), whose backlog is "
    "Go's src/net/sock_linux.go maxListenerBacklog()"
)

CONF = Option(long=("-conf", "--conf"))
PORT = Option(long=("-dns.port", "--dns.port", "-p", "--p"))
TRANSPORT_PORTS = {"dns": 53, "tls": 853, "grpc": 443, "https": 443}
UDP_TRANSPORTS = ("quic", "https3")
# plugin -> its default address (a plugin that listens on TCP)
PLUGIN_DEFAULTS = {"health": ":8080", "ready": ":8181", "prometheus": "localhost:9153", "pprof": "localhost:6053"}

if TYPE_CHECKING:
    _Token = Tuple[str, int, int]  # text, line, column
    _Block = Tuple[List[_Token], List[List[_Token]]]  # keys, directive lines (first token = name)


def listeners(launch: Launch) -> List[Listener]:
    words = launch.words
    given = find_option(words, CONF)
    port_given = find_option(words, PORT)
    default_port = DEFAULT_PORT
    if port_given is not None and parse_int(port_given[0]) is not None:
        default_port = parse_int(port_given[0])
    if given is not None and given[0] == "stdin":
        return [_unknown(launch, "the Corefile is read from standard input, which the input does not show")]
    path = given[0] if given is not None else "Corefile"
    found, said = config_file(launch, path, "listener")
    if found is None:
        if given is None and launch.working_dir is None:
            # the image's WORKDIR is / and holds no Corefile: the built-in one
            return _from_blocks(launch, [([(f".:{default_port}", 0, 0)], [])], None, default_port, None,
                                "no -conf and no Corefile in the working directory: CoreDNS's built-in "
                                f"\".:{default_port} {{ whoami log }}\" (assumed: the image has no /Corefile)")
        return [_unknown(launch, said or f"{path} is not in the input")]
    text, locate = found
    blocks, notes = parsed(launch, _corefile, text)
    assumption = "; ".join(x for x in (said, notes) if x) or None
    return _from_blocks(launch, blocks, locate, default_port, port_given, assumption)


def set_backlog(value: int) -> str:
    return f"raise net.core.somaxconn for the pod to {value}: CoreDNS (Go) has no backlog setting"


def _unknown(launch: Launch, why: str) -> Listener:
    return replace(follows(NAME, launch), assumption=f"{why}: CoreDNS's listeners are not known")


def _from_blocks(launch, blocks, locate, default_port, port_given, assumption) -> List[Listener]:
    here = (lambda line, column: locate(line, column)) if locate is not None else (lambda line, column: launch.started_at)
    base = follows(NAME, launch)
    out: List[Listener] = []
    seen: Dict[Tuple[str, str, int], int] = {}
    extra: List[str] = []

    def add(kind: str, host: str, port: int, sockets: int, where, written: str, why: str):
        address = _address(host)
        key = (kind, address, port)
        if key in seen:
            return
        seen[key] = len(out)
        location = here(*where)
        out.append(replace(
            base, address=address, port=port, location=location, bound_at=location, explicit=True, sockets=sockets,
            origin=f"backlog = net.core.somaxconn (Go's net.Listen reads it at start-up; {why})",
            assumption=assumption,
        ))

    for keys, lines in blocks:
        binds: List[Tuple[str, Tuple[int, int]]] = []
        sockets = 1
        for line in lines:
            name = line[0][0]
            args = _arguments(line)
            if name == "bind":
                for text, l, c in args:
                    if text == "except":
                        break
                    binds.append((text, (l, c)))
            elif name == "multisocket":
                count = parse_int(args[0][0]) if args else None
                if count is None or count < 1:
                    sockets = 1
                    extra.append("`multisocket` without a number opens GOMAXPROCS sockets per port (the node's CPUs "
                                 "or the container's CPU limit): counted as 1")
                else:
                    sockets = min(count, 1024)
        for text, l, c in keys:
            transport, _, rest = text.rpartition("://")
            transport = transport.lower() or "dns"
            if transport in UDP_TRANSPORTS or transport == "unix":
                continue
            zone, colon, port_text = rest.rpartition(":") if ":" in rest.lstrip("[") else (rest, "", "")
            if colon:
                port = parse_int(port_text)
            elif transport == "dns":
                port = default_port
            else:
                port = TRANSPORT_PORTS.get(transport)
            if port is None:
                continue
            where = (l, c) if locate is not None else (0, 0)
            why = f"server block {text}" + ("" if colon else f", port {port}")
            if not binds:
                add(transport, "", port, sockets, where, text, why)
            for host, bound in binds:
                add(transport, host, port, sockets, bound if locate is not None else (0, 0), text, f"{why}, bind {host}")
        for line in lines:
            name = line[0][0]
            if name not in PLUGIN_DEFAULTS:
                continue
            args = _arguments(line)
            value, where = (args[0][0], args[0][1:]) if args else (PLUGIN_DEFAULTS[name], line[0][1:])
            host, _, port_text = value.rpartition(":")
            port = parse_int(port_text)
            if port is None or port == 0:
                continue
            add("plugin", host, port, 1, where if locate is not None else (0, 0), value, f"{name} {value}")
    if extra:
        out = [replace(l, assumption="; ".join(x for x in (l.assumption, *extra) if x)) for l in out]
    # interface names in `bind`: the addresses are the node's, not the input's
    return [replace(l, assumption=_bind_note(l)) for l in out] or [_unknown(launch, "the Corefile opens no TCP listener somaxlint reads")]


def _arguments(line):
    """A directive's arguments: its line's tokens before a `{` (a block's
    subdirectives are not its arguments)."""
    out = []
    for token in line[1:]:
        if token[0] in ("{", "}"):
            break
        out.append(token)
    return out


def _bind_note(listener: Listener) -> Optional[str]:
    address = listener.address
    if address == "*" or any(c in address for c in ".:") or address == "localhost":
        return listener.assumption
    note = f"bind {address} names an interface: its addresses are the node's (not in the input)"
    return f"{listener.assumption}; {note}" if listener.assumption else note


def _address(host: str) -> str:
    """The address Go listens on for ``host``: "" and the unspecified
    addresses are one dual-stack socket ("*"); `localhost` is 127.0.0.1
    (Go's Listen takes the first IPv4 address of a name)."""
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        return "*"
    if host == "localhost":
        return "127.0.0.1"
    return host


def _corefile(text: str):
    """The server blocks of a Corefile: (keys, directive lines), with
    (line, column) of every token; and what is not followed (imports,
    environment placeholders)."""
    tokens: List[List[_Token]] = []  # per line
    for number, line in enumerate(text.split("\n"), start=1):
        row: List[_Token] = []
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if ch in " \t\r":
                i += 1
                continue
            if ch == "#":
                break
            start = i
            if ch == '"':
                i += 1
                while i < n and line[i] != '"':
                    i += 2 if line[i] == "\\" else 1
                row.append((line[start + 1:i], number, start + 1))
                i += 1
                continue
            while i < n and line[i] not in " \t\r":
                i += 1
            word = line[start:i]
            if word.endswith("{") and len(word) > 1:
                row.append((word[:-1], number, start + 1))
                row.append(("{", number, i))
            else:
                row.append((word, number, start + 1))
        if row:
            tokens.append(row)
    blocks: List[_Block] = []
    notes = []
    i = 0
    while i < len(tokens):
        row = tokens[i]
        keys = [t for t in row if t[0] != "{"]
        # keys continued on the next line after a trailing comma
        while keys and keys[-1][0].endswith(",") and row[-1][0] != "{" and i + 1 < len(tokens):
            i += 1
            row = tokens[i]
            keys += [t for t in row if t[0] != "{"]
        keys = [(k.rstrip(","), l, c) for k, l, c in keys for k in [k] if k.rstrip(",")]
        if row[-1][0] != "{":
            # no braces: the whole file is one server block
            lines = [r for r in tokens[i + 1:]]
            blocks.append((keys, lines))
            break
        depth, lines, i = 1, [], i + 1
        while i < len(tokens) and depth > 0:
            inner = tokens[i]
            if depth == 1 and inner[0][0] != "}":
                lines.append(inner)
            depth += sum(1 for t in inner if t[0] == "{") - sum(1 for t in inner if t[0] == "}")
            i += 1
        if keys and keys[0][0].startswith("("):
            continue  # a snippet, reached only through `import`
        blocks.append((keys, lines))
    for _keys, lines in blocks:
        for line in lines:
            if line[0][0] == "import":
                notes.append(f"`import {' '.join(t[0] for t in line[1:])}` (line {line[0][1]}) is not followed")
    if "{$" in text or "{%" in text:
        notes.append("environment placeholders ({$NAME}) of the Corefile are not expanded")
    return blocks, "; ".join(notes) or None

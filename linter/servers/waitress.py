"""Waitress: `--backlog=N`, default 1024.

Sources (../shared/facts/servers-2.md, Pylons/waitress @ 109bf418; read
again in waitress 3.0.2 as installed from PyPI): `backlog = 1024`
(src/waitress/adjustments.py:199 in 3.0.2, class Adjustments), passed to
`self.socket.listen(self.adj.backlog)` (src/waitress/server.py:259, in
3.0.2; every IPv6 socket is IPV6_V6ONLY, server.py:238); no somaxconn check.  The command line
is `waitress-serve [OPTIONS] MODULE:OBJECT` (also `python -m waitress`):
`Adjustments.parse_args()` reads it with `getopt.getopt` (options stop at
the first non-option word, as here; a value is `--backlog=N` or `--backlog
N`; getopt's unique-prefix abbreviations such as `--back=N` are not read).

The sockets (adjustments.py, Adjustments.__init__): `host` defaults to
"0.0.0.0" and `port` to 8080 (adjustments.py:141,144); `--listen=HOST:PORT` may be repeated (the
values are joined and split on whitespace), each entry a socket per
`getaddrinfo(host, port, family, SOCK_STREAM, IPPROTO_TCP, AI_PASSIVE)`
result, duplicates dropped; `--host`/`--port` replace the list with one
`host:port`; a host `*` is getaddrinfo's None (every address); an entry
without a port takes `port`; `--no-ipv4`/`--no-ipv6` restrict the family.
`--unix-socket=PATH` serves on that unix socket only (same backlog).
`--listen` together with `--host`/`--port`, or `--unix-socket` with either,
makes waitress exit (ValueError): no listener is reported then.

Measured (waitress 3.0.2, `ss -lntH` in a fresh network namespace, somaxconn
4096): `waitress-serve app:application` -> one socket 0.0.0.0:8080, Send-Q
1024 (so the default is IPv4 only: getaddrinfo("0.0.0.0") is one result);
`--listen=*:7100` -> two sockets, 0.0.0.0:7100 and [::]:7100 (IPv6-only),
each 1024; with `--no-ipv6` one, 0.0.0.0; `--listen=127.0.0.1:7101
--listen=localhost:7102 --backlog=100` -> two sockets, 100 each;
`--port=7103 --backlog 300` -> 0.0.0.0:7103, 300; `--host=:: --port=7104` ->
one socket [::]:7104 (IPv6 only), 1024; `--listen=[::1]:7108
--backlog=5000` -> 4096 (the kernel's silent min); `--unix-socket=PATH` ->
one unix socket, 1024, no TCP socket.  A host name is resolved when the
server starts: `localhost` is taken to be 127.0.0.1 and ::1 (the
kubelet-managed /etc/hosts of a pod lists both: two sockets), any other
name one address, each said as an assumption.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Word, parse_int

NAME = "waitress"
TITLE = "Waitress"
IMAGES = ()
COMMANDS = ("waitress-serve", "waitress")
DEFAULT_BACKLOG = 1024
DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 8080
KNOB = "--backlog=N"
SOURCE = "waitress/adjustments.py:199 (3.0.2) backlog = 1024; server.py:259 listen(adj.backlog); servers-2.md"
STARTUP_WARNING = ""

# the options that take a value (getopt's `name=`); every other option
# (--ipv4, --no-ipv6, --help, --call, ...) takes none
_VALUED = frozenset(
    "--" + name
    for name in (
        "host", "port", "listen", "threads", "trusted-proxy", "trusted-proxy-count", "trusted-proxy-headers",
        "url-scheme", "url-prefix", "backlog", "recv-bytes", "send-bytes", "outbuf-overflow",
        "outbuf-high-watermark", "inbuf-overflow", "connection-limit", "cleanup-interval", "channel-timeout",
        "max-request-header-size", "max-request-body-size", "ident", "asyncore-loop-timeout", "unix-socket",
        "unix-socket-perms", "sockets", "channel-request-lookahead", "server-name",
    )
)
_HOSTS_ASSUMPTION = "localhost is resolved when Waitress starts: a pod's /etc/hosts (kubelet's) maps it to 127.0.0.1 and ::1"


def _options(words: List[Word]) -> List[Tuple[str, Optional[str], Word]]:
    """(option, value, the word holding the value) as getopt reads them:
    up to the first non-option word or `--`."""
    out = []
    i = 0
    while i < len(words):
        text = words[i].text
        if text == "--" or not text.startswith("--"):
            break  # getopt.getopt stops here (a short option: getopt's error)
        name, eq, value = text.partition("=")
        if name in _VALUED:
            if eq:
                out.append((name, value, words[i]))
            elif i + 1 < len(words):
                i += 1
                out.append((name, words[i].text, words[i]))
        else:
            out.append((name, None, words[i]))
        i += 1
    return out


def _address(host: str, ipv4: bool, ipv6: bool) -> Tuple[str, int, Optional[str]]:
    """(address, sockets, assumption) of a listen entry's host."""
    host = host.strip("[").rstrip("]") if "[" in host and "]" in host else host
    if host == "*":
        if ipv4 and ipv6:
            return "*", 2, None
        return ("0.0.0.0" if ipv4 else "::"), 1, None
    if host == "localhost":
        return host, (2 if ipv4 and ipv6 else 1), _HOSTS_ASSUMPTION
    literal = all(c in "0123456789." for c in host) or ":" in host
    if not literal:
        return host, 1, f"the host name {host} is resolved when Waitress starts: taken to be one address"
    return host, 1, None


def listeners(launch: Launch) -> List[Listener]:
    options = _options(list(launch.words))
    last: Dict[str, Tuple[str, Word]] = {}
    listen: List[Tuple[str, Word]] = []
    ipv4 = ipv6 = True
    for name, value, word in options:
        if name == "--listen" and value is not None:
            listen.extend((entry, word) for entry in value.split())
        elif name in ("--ipv4", "--no-ipv4"):
            ipv4 = name == "--ipv4"
        elif name in ("--ipv6", "--no-ipv6"):
            ipv6 = name == "--ipv6"
        elif value is not None:
            last[name] = (value, word)
    if listen and ("--host" in last or "--port" in last):
        return []  # ValueError: host or port may not be set if listen is set
    if "--unix-socket" in last and ("--host" in last or "--port" in last or listen):
        return []  # ValueError: unix_socket may not be set with host, port or listen
    backlog, origin, location, explicit = DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False
    if "--backlog" in last and parse_int(last["--backlog"][0]) is not None:
        backlog = parse_int(last["--backlog"][0])
        origin, location, explicit = f"--backlog={backlog}", last["--backlog"][1].location, True
    if "--unix-socket" in last:
        path, word = last["--unix-socket"]
        return [Listener(NAME, path, None, backlog, origin, location, explicit, KNOB, written=f"unix:{path}", bound_at=word.location)]
    port_text, port_word = last.get("--port", (str(DEFAULT_PORT), None))
    if "--host" in last or "--port" in last:
        host, host_word = last.get("--host", (DEFAULT_HOST, None))
        listen = [(f"{host}:{port_text}", host_word or port_word)]
    elif not listen:
        listen = [(f"{DEFAULT_HOST}:{DEFAULT_PORT}", None)]
    out: List[Listener] = []
    seen = set()
    for entry, word in listen:
        if ":" in entry:
            host, port_part = entry.rsplit(":", 1)
            if "]" in port_part:  # a bare IPv6 address: the default port
                host, port_part = entry, port_text
        else:
            host, port_part = entry, port_text
        port = parse_int(port_part)
        if not host or port is None:
            continue  # waitress refuses it ("Invalid host/port specified"), or a service name
        address, sockets, assumption = _address(host, ipv4, ipv6)
        if (address, port) in seen:
            continue  # getaddrinfo's duplicates are dropped
        seen.add((address, port))
        out.append(
            Listener(
                NAME, address, port, backlog, origin, location, explicit, KNOB, sockets=sockets, assumption=assumption,
                bound_at=word.location if word is not None else None,
            )
        )
    return out


def set_backlog(value: int) -> str:
    return f"set Waitress's backlog to {value} (`--backlog={value}` to waitress-serve)"

"""Daphne: Twisted's endpoint default backlog, 50.

Sources (../shared/facts/servers-2.md; read again in daphne 4.2.3 and
Twisted 26.10.0 as installed from PyPI): Daphne has no backlog option of
its own.  `CommandLineInterface.run()` (daphne/cli.py:259-283) turns
`-b/--bind` (the host, DEFAULT_HOST "127.0.0.1", cli.py:15) and `-p/--port`
(DEFAULT_PORT 8000, cli.py:16) -- either one given fills in the other;
neither, and no other binding option, gives 127.0.0.1:8000 --,
`-u/--unix-socket` and `--fd` into Twisted endpoint strings
(`build_endpoint_description_strings()`, daphne/endpoints.py:
`tcp:port=%d:interface=%s`, `unix:%s`, `fd:fileno=%d`), adds every
`-e/--endpoint` string (argparse `append`), and each becomes a socket
through `serverFromString()`.  Twisted's parsers
(twisted/internet/endpoints.py in 26.10.0): `_parseTCP(factory, port,
interface="", backlog=50)` (:1443), `_parseUNIX(factory, address,
mode="666", backlog=50, ...)` (:1468), `_parseSSL(factory, port,
privateKey=..., certKey=None, sslmethod=None, interface="", backlog=50,
...)` (:1499), and the tcp6 plugin's `_parseServer(reactor, port,
backlog=50, interface="::")` (:1697); the socket is then
`skt.listen(self.backlog)` (twisted/internet/tcp.py:1439, unix.py:452).
The string is split on ":" (a backslash escapes the next character), a
part with "=" is a keyword (`_tokenize`/`_parse`, :1732-1803).  So the
backlog is 50 unless an `-e` string says `backlog=N`.  `--fd` and
`systemd:` endpoints adopt a socket that is already listening (its backlog
is its creator's): not reported.

Measured (daphne 4.2.3, Twisted 26.10.0, `ss -lntH` / `ss -lxH` in a fresh
network namespace): `daphne app:app` -> 127.0.0.1:8000, Send-Q 50; under
somaxconn 1000, `-b 0.0.0.0 -e tcp:port=7301:backlog=300:interface=0.0.0.0
-e tcp:7302 -e tcp6:port=7303:backlog=2000` -> 0.0.0.0:8000 50, 0.0.0.0:7301
300, 0.0.0.0:7302 50 (interface "" is IPv4's any address) and *:7303 1000 (one
dual-stack IPv6 socket, cut to somaxconn): `backlog=` in `-e` works; `-p
7304 -u PATH` -> 127.0.0.1:7304 50 and the unix socket 50;
`-e unix:PATH:backlog=77` -> 77; `-b :: -p 7306` -> *:7306, one dual-stack
socket, 50.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Option, Word, find_option, option_values, parse_int

NAME = "daphne"
TITLE = "Daphne"
IMAGES = ()
COMMANDS = ("daphne",)
DEFAULT_BACKLOG = 50
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
KNOB = "-e tcp:port=P:backlog=N (a Twisted endpoint string: -b/-p have no backlog)"
SOURCE = "twisted/internet/endpoints.py:1443 _parseTCP(..., backlog=50); daphne/endpoints.py; servers-2.md"
STARTUP_WARNING = ""

BIND = Option(long=("--bind",), short=("-b",))
PORT = Option(long=("--port",), short=("-p",))
UNIX = Option(long=("--unix-socket",), short=("-u",))
ENDPOINT = Option(long=("--endpoint",), short=("-e",))

# Twisted's parsers: the positional parameters after the endpoint type, in
# order, and the interface each defaults to
_POSITIONAL = {
    "tcp": (("port", "interface", "backlog"), ""),
    "tcp6": (("port", "backlog", "interface"), "::"),
    "ssl": (("port", "privateKey", "certKey", "sslmethod", "interface", "backlog"), ""),
    "unix": (("address", "mode", "backlog"), None),
}


def _parse(description: str) -> Tuple[List[str], Dict[str, str]]:
    """Twisted's `_tokenize` + `_parse`: ":"-separated parts, a backslash
    escaping the next character; a part with "=" is a keyword (after the
    "=", only ":" ends the value)."""
    args: List[str] = []
    kw: Dict[str, str] = {}
    parts: List[str] = []
    current = ""
    ops = ":="
    chars = iter(description)
    for c in chars:
        if c in ops:
            parts.append(current)
            current = ""
            if c == ":":
                if len(parts) == 1:
                    args.append(parts[0])
                else:
                    kw[parts[0]] = parts[1]
                parts = []
                ops = ":="
            else:
                ops = ":"
        elif c == "\\":
            current += next(chars, "")
        else:
            current += c
    parts.append(current)
    if len(parts) == 1:
        args.append(parts[0])
    else:
        kw[parts[0]] = parts[1]
    return args, kw


def _endpoint(description: str) -> Optional[Tuple[str, Optional[int], Optional[int], str]]:
    """(address, port, backlog or None for the default, written) of an
    endpoint string that opens a listening socket; None otherwise."""
    args, kw = _parse(description)
    if not args:
        return None
    kind = args[0]  # matched as written (the tcp6 plugin: its lower-case prefix)
    if kind not in _POSITIONAL:
        return None  # fd:, systemd: (adopted sockets), plugins
    names, interface = _POSITIONAL[kind]
    params = dict(zip(names, args[1:]))
    params.update(kw)
    backlog = parse_int(params["backlog"]) if "backlog" in params else None
    if "backlog" in params and backlog is None:
        return None  # Twisted's int() raises: no socket
    if kind == "unix":
        if "address" not in params:
            return None
        return params["address"], None, backlog, f"unix:{params['address']}"
    port = parse_int(params.get("port", ""))
    if port is None:
        return None
    host = params.get("interface", interface)
    if host in ("", "0.0.0.0"):
        return "0.0.0.0", port, backlog, None
    if host == "::":
        return "*", port, backlog, f"[::]:{port}"  # one dual-stack socket
    return host, port, backlog, None


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    host = find_option(words, BIND)
    port = find_option(words, PORT)
    unix = find_option(words, UNIX)
    endpoints = option_values(words, ENDPOINT)
    fd = find_option(words, Option(long=("--fd",)))
    strings: List[Tuple[str, Optional[Word]]] = []
    if not any((host, port, unix, fd, endpoints)):
        strings.append((f"tcp:port={DEFAULT_PORT}:interface={DEFAULT_HOST}", None))
    elif host is not None or port is not None:
        host_text = host[0] if host is not None else DEFAULT_HOST
        port_value = parse_int(port[0]) if port is not None else DEFAULT_PORT
        if port_value is not None and host_text:
            escaped = host_text.strip("[]").replace(":", "\\:")
            strings.append((f"tcp:port={port_value}:interface={escaped}", (host or port)[1]))
    if unix is not None:
        strings.append((f"unix:{unix[0]}", unix[1]))
    strings.extend((text, word) for text, word in endpoints)
    out: List[Listener] = []
    seen = set()
    for text, word in strings:
        found = _endpoint(text)
        if found is None:
            continue
        address, port_number, backlog, written = found
        if (address, port_number) in seen:
            continue
        seen.add((address, port_number))
        bound_at = word.location if word is not None else None
        if backlog is not None and word is not None:
            listener = Listener(
                NAME, address, port_number, backlog, f"endpoint backlog={backlog}", word.location, True, KNOB,
                written=written, bound_at=bound_at,
            )
        else:
            listener = Listener(
                NAME, address, port_number, DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG} (Twisted's endpoint default)",
                launch.started_at, False, KNOB, written=written, bound_at=bound_at,
            )
        out.append(listener)
    return out


def set_backlog(value: int) -> str:
    return f"listen with `-e tcp:port=PORT:interface=HOST:backlog={value}` instead of -b/-p (Daphne's -b/-p take no backlog)"

"""Python's `python -m http.server`: listen(5), which no option changes.

Sources (../shared/facts/listen-queues.md, "Python socket.listen()" row,
checked against CPython's Lib of 3.6.15, 3.7.16, 3.8.18, 3.9.18, 3.10.13,
3.11.7, 3.12.1 and 3.13.0): `socketserver.TCPServer.request_queue_size =
5` (Lib/socketserver.py:445 in 3.6, :441 in 3.7-3.10, :443 in 3.11, :444
in 3.12-3.13), passed by `server_activate()` to `socket.listen()`;
http.server's HTTPServer, ThreadingHTTPServer and the `__main__` block's
DualStackServer do not change it.  The command line (Lib/http/server.py
`__main__`, 3.11: lines 1276-1318): `-b`/`--bind ADDRESS`, `-d`/
`--directory DIR`, `-p`/`--protocol VERSION` (3.11+), `--cgi`, and the
port as the one positional argument, default 8000.  From 3.8 the address
is `_get_best_family(bind, port)`: the first result of
`getaddrinfo(bind, port, SOCK_STREAM, AI_PASSIVE)`; DualStackServer
clears IPV6_V6ONLY, so an IPv6 wildcard is one dual-stack socket.
Python 2's `python -m SimpleHTTPServer [PORT]` (BaseHTTPServer.test():
HTTPServer(('', port))) is the same server: 0.0.0.0, port 8000, 5.

Measured (a fresh network namespace, somaxconn 4096, `ss -lntH`): with no
`-b`, every version above (and 2.7.18's SimpleHTTPServer) listens on one
socket `0.0.0.0:PORT`, Send-Q 5 -- not `::`: glibc returns the IPv4
wildcard first for a passive lookup of no host (musl's order puts it first
too, by its RFC 6724 precedence table; not measured); `-b 127.0.0.1` ->
127.0.0.1, `-b localhost` -> 127.0.0.1, `-b ::` -> one socket `*:PORT`
(dual-stack), `--bind ::1` -> `[::1]`; each Send-Q 5.  The `python` image's
tag names the version: the versions above (python:3.6 to python:3.13) run
the same classes and queue; 3.14 and later were not measured or read (3.14
adds HTTPSServer and --tls-cert to http.server, an HTTPServer subclass
whose queue is taken to be the same).  The kernel cases are
tests/kernel/servers_python_http_server.py.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Option, find_option, parse_int

NAME = "python-http-server"
TITLE = "Python http.server"
IMAGES = ()
COMMANDS = ("http.server", "SimpleHTTPServer")
DEFAULT_BACKLOG = 5
DEFAULT_PORT = 8000
KNOB = "none on the command line: request_queue_size of the server class in the code (socketserver.TCPServer)"
SOURCE = "Lib/socketserver.py TCPServer.request_queue_size = 5; Lib/http/server.py __main__"
STARTUP_WARNING = ""

BIND = Option(long=("--bind",), short=("-b",))
# the options that take the next word as their value (argparse)
VALUED = ("-b", "--bind", "-d", "--directory", "-p", "--protocol", "--tls-cert", "--tls-key", "--tls-password-file")


def _port(words: List[str]) -> Tuple[Optional[int], bool]:
    """The positional port (argparse: options and their values skipped),
    and whether one is given."""
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            rest = words[i + 1:]
            return (parse_int(rest[0]), True) if rest else (DEFAULT_PORT, False)
        if word in VALUED:
            i += 2
            continue
        if word.startswith("-") and word != "-":
            i += 1
            continue
        return parse_int(word), True
    return DEFAULT_PORT, False


def _address(bind: Optional[str]) -> Tuple[str, Optional[str]]:
    """(address, written) of a --bind as getaddrinfo(AI_PASSIVE) gives it."""
    if bind is None or bind == "":
        return "0.0.0.0", None  # glibc's first result for no host (measured)
    stripped = bind.strip("[]")
    if stripped == "::":
        return "*", "[::]"  # one dual-stack socket (DualStackServer; measured)
    if bind == "localhost":
        return "127.0.0.1", None
    return stripped, None


def listeners(launch: Launch) -> List[Listener]:
    texts = [w.text for w in launch.words]
    if launch.command == "SimpleHTTPServer":
        # Python 2: sys.argv[1] is the port, no other option
        port = parse_int(texts[0]) if texts else DEFAULT_PORT
        address, written = "0.0.0.0", None
    else:
        port, _ = _port(texts)
        found = find_option(launch.words, BIND)
        address, written = _address(found[0] if found else None)
    if written is not None and port is not None:
        written = f"{written}:{port}"
    return [
        Listener(
            NAME, address, port, DEFAULT_BACKLOG, f"listen queue {DEFAULT_BACKLOG} (socketserver's request_queue_size, fixed)",
            launch.started_at, False, KNOB, written=written,
        )
    ]


def set_backlog(value: int) -> str:
    return (
        f"`python -m http.server` has no option for it: serve with a server class whose request_queue_size is {value} "
        "(a subclass of http.server.ThreadingHTTPServer in your own script), or with a production server"
    )


def truncation_advice(requested: int, fits: bool) -> str:
    return (
        f"Raise net.core.somaxconn for the pod to at least {requested}, or serve with a server whose backlog you set: "
        "`python -m http.server` always asks for 5"
    )

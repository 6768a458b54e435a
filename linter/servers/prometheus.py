"""Prometheus: a Go server, so the accept queue of its web listener is the
namespace's somaxconn.

Sources: Go's `net.Listen` passes `listenerBacklog()`, read once per process
from /proc/sys/net/core/somaxconn (src/net/sock_linux.go
`maxListenerBacklog()`; ../shared/facts/servers.md §2.12; servers-2.md lists
Prometheus as "Go default, inferred").  Its one listening option is
`--web.listen-address` (kingpin; default `0.0.0.0:9090`): web/web.go
`Listeners()` calls `net.Listen("tcp", address)` for each, through
conntrack, with no backlog option.  Recent releases take the flag more than
once, one listener each (cmd/prometheus/main.go @00315ce1:
`a.Flag("web.listen-address", "... Can be repeated.").Default("0.0.0.0:9090").StringsVar`);
2.42 refuses a repeated flag (measured: "flag 'web.listen-address' cannot be
repeated").  No environment variable and no key of prometheus.yml sets it.

Measured with Debian's prometheus 2.42.0 in a network namespace with
somaxconn 1000 (`ss -lntH`): the default `0.0.0.0:9090` is one dual-stack
socket `*:9090` (Go opens an IPv6 socket for the IPv4 wildcard), Send-Q
1000; kernel cases: tests/kernel/servers_prometheus.py.

Images: prom/prometheus, quay.io/prometheus/prometheus (ENTRYPOINT
/bin/prometheus: arguments go to it; CMD `--config.file=... --storage.tsdb.path=/prometheus`),
bitnami/prometheus; the Prometheus Operator's StatefulSet passes
`--web.listen-address=:9090` (127.0.0.1:9090 with listenLocal).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.records import replace
from somaxlint.servers import Launch, Listener
from somaxlint.servers.traefik import follows

NAME = "prometheus"
TITLE = "Prometheus"
IMAGES = ("prometheus",)
COMMANDS = ("prometheus",)
# the images' entrypoint is the server: every argument is its own
ENTRYPOINT_PREPENDS = {"prometheus": ("*",)}
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = 9090
DEFAULT_ADDRESS = "0.0.0.0:9090"
KNOB = "none: the queue is net.core.somaxconn (Go's net.Listen)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); prometheus web/web.go Listeners() (net.Listen); servers.md §2.12"
STARTUP_WARNING = ""

FLAG = "web.listen-address"


def listeners(launch: Launch) -> List[Listener]:
    """One listener per `--web.listen-address` (kingpin: `--x=v` or `--x v`),
    else the default 0.0.0.0:9090."""
    given = []
    words = launch.words
    for i, word in enumerate(words):
        text = word.text
        if text == "--" + FLAG and i + 1 < len(words):
            given.append((words[i + 1].text, words[i + 1]))
        elif text.startswith("--" + FLAG + "="):
            given.append((text[len(FLAG) + 3:], word))
    out = []
    seen = set()
    for value, word in given or [(DEFAULT_ADDRESS, None)]:
        if value in seen:
            continue
        seen.add(value)
        address, port = _socket(value)
        if port is None:
            continue
        location = word.location if word is not None else launch.started_at
        origin = f"--{FLAG}={value}" if word is not None else f"Prometheus's default --{FLAG} {value}"
        listener = follows(NAME, launch)
        out.append(replace(
            listener, address=address, port=port, location=location, bound_at=location, written=None,
            origin=f"backlog = net.core.somaxconn (Go's net.Listen reads it at start-up; {origin})",
        ))
    return out or [follows(NAME, launch)]


def set_backlog(value: int) -> str:
    return f"raise net.core.somaxconn for the pod to {value}: Prometheus has no backlog option (Go's net.Listen passes somaxconn)"


def _socket(value: str) -> Tuple[str, Optional[int]]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        return value, None
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        return "*", int(port)  # Go: one dual-stack socket (measured)
    if host == "localhost":
        return "127.0.0.1", int(port)
    return host, int(port)

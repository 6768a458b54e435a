"""Traefik: a Go server, so its accept queue is the namespace's somaxconn.

Sources (../shared/facts/servers.md §2.12): Go's `net.Listen` passes
`listenerBacklog()`, read once per process from
/proc/sys/net/core/somaxconn (src/net/sock_linux.go `maxListenerBacklog()`
line 66; src/net/net.go `listenerBacklog()`); there is no API to pass a
backlog (golang/go#9661). Traefik's `buildListener()` uses
`listenConfig.Listen` and has no backlog option
(pkg/server/server_entrypoint_tcp.go:489-515).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.records import replace
from somaxlint.servers import Launch, Listener

NAME = "traefik"
TITLE = "Traefik"
IMAGES = ("traefik",)
COMMANDS = ("traefik",)
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = None
KNOB = "none: the queue is net.core.somaxconn (Go's net.Listen)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); servers.md §2.12"
STARTUP_WARNING = ""


def listeners(launch: Launch) -> List[Listener]:
    """One listener per TCP entry point the command line or the
    environment defines (`--entryPoints.web.address=:8000/tcp`,
    `TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:8000`: Traefik's static
    configuration, keys case-insensitive); without any, one whose port is
    not known (a static configuration file is not read)."""
    found = {}
    for word in launch.words:
        text = word.text
        if not text.startswith("--"):
            continue
        key, _, value = text[2:].partition("=")
        name = _entry_point(key.lower().split("."))
        if name is not None and value:
            found[name] = (value, word.location)
    for key, word in launch.env.items():
        name = _entry_point(key.lower().split("_")) if key.upper().startswith("TRAEFIK_") else None
        if name is not None and word.text:
            found.setdefault(name, (word.text, word.location))
    out = []
    for name, (value, location) in sorted(found.items()):
        address, _, protocol = value.partition("/")
        if protocol and protocol.lower() != "tcp":
            continue  # a UDP entry point has no accept queue
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            continue
        host = host.strip("[]") or "*"
        listener = follows(NAME, launch)
        out.append(replace(listener, address=host, port=int(port), location=location, bound_at=location, written=None,
                           origin=f"backlog = net.core.somaxconn (Go's net.Listen reads it at start-up; entry point {name} {value})"))
    return out or [follows(NAME, launch)]


def _entry_point(parts):
    """The entry point name of a `entrypoints.NAME.address` key (its
    parts, lower case; `traefik_entrypoints_name_address` for the
    environment), else None."""
    if parts and parts[0] == "traefik":
        parts = parts[1:]
    if len(parts) == 3 and parts[0] == "entrypoints" and parts[2] == "address" and parts[1]:
        return parts[1]
    return None


def follows(name: str, launch: Launch, why: str = "Go's net.Listen reads it at start-up") -> Listener:
    """One listener whose backlog is whatever somaxconn is (ports come from
    the server's own configuration, which is not read)."""
    return Listener(name, "*", None, -1, f"backlog = net.core.somaxconn ({why})", launch.started_at, False, KNOB, above_somaxconn="follows")

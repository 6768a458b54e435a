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
    return [follows(NAME, launch)]


def follows(name: str, launch: Launch, why: str = "Go's net.Listen reads it at start-up") -> Listener:
    """One listener whose backlog is whatever somaxconn is (ports come from
    the server's own configuration, which is not read)."""
    return Listener(name, "*", None, -1, f"backlog = net.core.somaxconn ({why})", launch.started_at, False, KNOB, above_somaxconn="follows")

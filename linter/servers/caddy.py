"""Caddy: a Go server, so its accept queue is the namespace's somaxconn.

Sources (../shared/facts/servers.md §2.12): Go's `net.Listen` reads
/proc/sys/net/core/somaxconn once per process (src/net/sock_linux.go);
Caddy's `listenReusable()` calls `config.Listen` (listen_unix.go:94,156)
and has no backlog setting.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener
from somaxlint.servers.traefik import follows

NAME = "caddy"
TITLE = "Caddy"
IMAGES = ("caddy",)
COMMANDS = ("caddy",)
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = None
KNOB = "none: the queue is net.core.somaxconn (Go's net.Listen)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); caddy listen_unix.go:94,156; servers.md §2.12"
STARTUP_WARNING = ""


def listeners(launch: Launch) -> List[Listener]:
    return [follows(NAME, launch)]

"""Caddy: a Go server, so its accept queue is the namespace's somaxconn.

Sources (../shared/facts/servers.md §2.12): Go's `net.Listen` reads
/proc/sys/net/core/somaxconn once per process (src/net/sock_linux.go);
Caddy's `listenReusable()` calls `config.Listen` (listen_unix.go:94,156)
and has no backlog setting.

Besides the sites, `caddy run` (the image's CMD) and `caddy start` open the
admin API on `localhost:2019` (DefaultAdminListen, admin.go), or where
CADDY_ADMIN says; Go listens on one address of a host name, 127.0.0.1.  It
serves no client traffic: explain lists it, rules do not judge it.  The
Caddyfile or JSON config may move or disable it (`admin off`): not read,
said as an assumption.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.records import replace
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


ADMIN = "localhost:2019"


def listeners(launch: Launch) -> List[Listener]:
    out = [follows(NAME, launch)]
    subcommand = launch.words[0].text if launch.words else ("run" if not launch.command else "")
    if subcommand in ("run", "start"):
        out.append(_admin(launch))
    return out


def _admin(launch: Launch) -> Listener:
    word = launch.env.get("CADDY_ADMIN")
    written = word.text if word is not None else ADMIN
    host, _, port = written.rpartition(":")
    host = "127.0.0.1" if host in ("localhost", "") and word is None else (host.strip("[]") or "*")
    if host == "localhost":
        host = "127.0.0.1"
    listener = follows(NAME, launch, why="Go's net.Listen reads it at start-up")
    return replace(
        listener, address=host, port=int(port) if port.isdigit() else None, serves=False,
        origin="admin API (backlog = net.core.somaxconn, Go's net.Listen), not serving traffic",
        location=word.location if word is not None else launch.started_at,
        assumption="the Caddyfile or JSON config may move or disable the admin API (`admin off`): not read",
    )

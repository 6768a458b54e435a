"""uvicorn: `--backlog`, default 2048.

Sources (../shared/facts/servers.md §2.6, encode/uvicorn @ e6c7ce79):
`backlog: int = 2048` uvicorn/config.py:213; CLI `--backlog` default 2048
(uvicorn/main.py:264-267); click's auto_envvar_prefix "UVICORN"
(uvicorn/main.py:61) makes `UVICORN_BACKLOG` the same option; passed to
asyncio `create_server(..., backlog=...)` (uvicorn/server.py:136-169).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener, Option, find_option, parse_int, resolve

NAME = "uvicorn"
TITLE = "uvicorn"
IMAGES = ()
COMMANDS = ("uvicorn",)
DEFAULT_BACKLOG = 2048
DEFAULT_PORT = 8000
KNOB = "--backlog N (or UVICORN_BACKLOG)"
SOURCE = "uvicorn/config.py:213 backlog = 2048; servers.md §2.6"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--backlog",))
PORT = Option(long=("--port",))
HOST = Option(long=("--host",))
UDS = Option(long=("--uds",))
FD = Option(long=("--fd",))
WORKERS = Option(long=("--workers",))


def _setting(launch: Launch, option: Option, variable: str):
    """An option from the command line, else from its UVICORN_ variable
    (click's auto_envvar_prefix, uvicorn/main.py): (value, location,
    origin) or None."""
    found = find_option(launch.words, option)
    if found is not None:
        return found[0], found[1].location, f"{option.long[0]} {found[0]}"
    word = launch.env.get(variable)
    if word is not None:
        return word.text, word.location, f"{variable}={word.text}"
    return None


def listeners(launch: Launch) -> List[Listener]:
    found = _setting(launch, BACKLOG, "UVICORN_BACKLOG")
    if found is not None and parse_int(found[0]) is not None:
        backlog, location, origin, explicit = parse_int(found[0]), found[1], found[2], True
    else:
        backlog, location, origin, explicit = DEFAULT_BACKLOG, launch.started_at, f"default backlog {DEFAULT_BACKLOG}", False
    uds = _setting(launch, UDS, "UVICORN_UDS")
    if uds is not None and uds[0]:
        # a Unix socket instead of TCP (Server.startup: create_unix_server
        # with the same backlog)
        path, relative = resolve(launch, uds[0])
        return [Listener(NAME, path, None, backlog, origin, location, explicit, KNOB, written=f"unix:{path}", bound_at=uds[1],
                         family="unix", assumption=relative)]
    if _setting(launch, FD, "UVICORN_FD") is not None:
        return []  # a socket handed over by the process that started it
    port_found = _setting(launch, PORT, "UVICORN_PORT")
    port = parse_int(port_found[0]) if port_found else DEFAULT_PORT
    host_found = _setting(launch, HOST, "UVICORN_HOST")
    host = host_found[0] if host_found else "127.0.0.1"  # uvicorn's default --host
    bound_at = host_found[1] if host_found else (port_found[1] if port_found else None)
    workers = _setting(launch, WORKERS, "UVICORN_WORKERS") or _setting(launch, Option(), "WEB_CONCURRENCY")
    several = (workers is not None and (parse_int(workers[0]) or 1) > 1) or _reload(launch)
    out = []
    for address, sockets in _addresses(host, several):
        out.append(Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, sockets=sockets, bound_at=bound_at))
    return out


def _reload(launch: Launch) -> bool:
    word = launch.env.get("UVICORN_RELOAD")
    return any(w.text == "--reload" for w in launch.words) or (word is not None and word.text.lower() in ("1", "true", "yes", "on"))


def _addresses(host: str, several: bool):
    """The sockets of ``host``.  One process (asyncio's create_server:
    every address getaddrinfo gives, IPv6 ones IPV6_V6ONLY): `localhost`
    is 127.0.0.1 and ::1, `::` one IPv6 socket, "" every address.  With
    workers or --reload the parent binds one socket (Config.bind_socket:
    AF_INET6 when the host has a ":", dual-stack; else AF_INET)."""
    if several:
        if ":" in host:
            return [("*", 1)] if host in ("::", "::0") else [(host, 1)]
        return [("127.0.0.1" if host == "localhost" else (host or "0.0.0.0"), 1)]
    if host == "localhost":
        return [("127.0.0.1", 1), ("::1", 1)]
    if host == "":
        return [("*", 2)]
    return [(host, 1)]

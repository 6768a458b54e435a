"""memcached: `-b`/`--listen-backlog`, default 1024.

Sources (../shared/facts/servers.md §2.3, memcached/memcached @ 2d51e364,
1.6.45): `settings.backlog = 1024;` memcached.c:238; `-b, --listen-backlog`
memcached.c:4058/4936/4977, `settings.backlog = atoi(optarg)` :5161; used by
`listen(sfd, settings.backlog)` :2523. No somaxconn check. The official
image runs `memcached` and prepends it to arguments that start with `-`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener, Option, find_option, parse_int, resolve

NAME = "memcached"
TITLE = "memcached"
IMAGES = ("memcached",)
COMMANDS = ("memcached",)
DEFAULT_BACKLOG = 1024
DEFAULT_PORT = 11211
KNOB = "-b N (--listen-backlog=N)"
SOURCE = "memcached.c:238 settings.backlog = 1024; servers.md §2.3"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--listen-backlog",), short=("-b",))
PORT = Option(long=("--port",), short=("-p",))
LISTEN = Option(long=("--listen",), short=("-l",))
# Without -l, memcached binds every address getaddrinfo(AI_PASSIVE) gives:
# 0.0.0.0 and [::], two sockets (tests/kernel/test_servers_truth.py,
# memcached 1.6.18).
DEFAULT_BIND_SOCKETS = 2


SOCKET = Option(long=("--unix-socket",), short=("-s",))


def listeners(launch: Launch) -> List[Listener]:
    found = find_option(launch.words, BACKLOG)
    backlog = parse_int(found[0]) if found else None
    if found is not None and backlog is not None:
        origin, location, explicit = f"-b {backlog}", found[1].location, True
    else:
        backlog, origin, location, explicit = DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False
    unix = find_option(launch.words, SOCKET)
    if unix is not None:
        # `-s PATH`: a Unix socket, and no TCP one ("disables network
        # support"), listen(sfd, settings.backlog) as for TCP
        path, relative = resolve(launch, unix[0])
        return [Listener(NAME, path, None, backlog, origin, location, explicit, KNOB, written=f"unix:{path}", bound_at=unix[1].location,
                         family="unix", assumption=relative)]
    port_found = find_option(launch.words, PORT)
    port = parse_int(port_found[0]) if port_found else DEFAULT_PORT
    if port == 0:
        return []
    listens = _all_listen(launch.words)
    if not listens:
        return [Listener(NAME, "*", port, backlog, origin, location, explicit, KNOB, sockets=DEFAULT_BIND_SOCKETS)]
    out = []
    seen = set()
    for entry, word in listens:
        for host, own_port in _entries(entry, port):
            if (host, own_port) in seen or own_port is None:
                continue
            seen.add((host, own_port))
            out.append(Listener(NAME, host, own_port, backlog, origin, location, explicit, KNOB, bound_at=word.location))
    return out


def _all_listen(words):
    """Every `-l`/`--listen` value: memcached joins repeated ones with ","
    (memcached.c, case 'l'), unless already in the list."""
    out = []
    joined = None
    for i, word in enumerate(words):
        text = word.text
        if text in ("-l", "--listen") and i + 1 < len(words):
            found = (words[i + 1].text, words[i + 1])
        elif text.startswith("--listen="):
            found = (text[len("--listen="):], word)
        elif text.startswith("-l") and len(text) > 2 and not text.startswith("--"):
            found = (text[2:], word)
        else:
            continue
        # a value found anywhere in the list so far is skipped, as a
        # substring (`strstr(settings.inter, optarg)`): `-l [::1]` after
        # `-l [::1]:7022` adds nothing (measured)
        if joined is not None and found[0] in joined:
            continue
        joined = found[0] if joined is None else f"{joined},{found[0]}"
        out.append(found)
    return out


def _entries(text: str, port: int):
    """The (address, port) pairs of one `-l` value: a comma-separated list
    of `host`, `host:port`, `[v6]` and `[v6]:port` (server_sockets());
    `localhost` is 127.0.0.1 and ::1, as getaddrinfo gives it."""
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        own = port
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            if rest.startswith(":"):
                own = parse_int(rest[1:])
        elif item.count(":") == 1:
            host, _, number = item.partition(":")
            own = parse_int(number)
        else:
            host = item
        for one in ("127.0.0.1", "::1") if host == "localhost" else (host,):
            yield one, own

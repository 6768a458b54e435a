"""PgBouncer: `listen_backlog` in pgbouncer.ini, default 128.

Sources (pgbouncer/pgbouncer @ 13a344f2, ../shared/facts/servers.md
§2.18): `CF_ABS("listen_backlog", CF_INT, cf_listen_backlog,
CF_NO_RELOAD, "128")` (src/main.c:298), `listen_addr` default "" and
`listen_port` 6432 (main.c:297,299), `unix_socket_dir` default "/tmp"
(include/bouncer.h:197, main.c:363); every socket -- each address of
`listen_addr` and the Unix socket `unix_socket_dir/.s.PGSQL.<port>` --
is `listen(sock, cf_listen_backlog)` in add_listen() (src/pooler.c:193).
`listen_addr` is a comma list (parse_word_list, pooler.c:581), each item
resolved with getaddrinfo(AI_PASSIVE), `*` as NULL (pooler.c:500); IPv6
sockets are IPV6_V6ONLY (pooler.c:146).

Measured with Debian's PgBouncer 1.18 in a network namespace (ss -lntH,
ss -lxH; tests/kernel/servers_pgbouncer.py): the Send-Q of every TCP socket
and of the Unix socket is min(listen_backlog, somaxconn) -- 128 by default;
`listen_addr = *` opens two sockets (0.0.0.0 and [::]), `::` one,
`127.0.0.1, ::1` two; no `listen_addr` no TCP socket at all (the Unix
socket only); `listen_backlog = 0` gives a queue of 0.  Also measured, and
read the same way here: keys are case-sensitive (`LISTEN_ADDR` is an
unknown parameter and PgBouncer refuses to start), a value is the whole
rest of the line (`300 ; comment` and `"300"` are invalid values: it
refuses to start), a later key wins, `%include FILE` reads FILE at that
point, and a `[pgbouncer]` header seen again (in the file or in an
included one) resets every setting made before it to the defaults.

Images (repository `pgbouncer`), run by their own CMD when the manifest
gives no command and no args (none prepends pgbouncer to arguments):

* edoburu/pgbouncer (edoburu/docker-pgbouncer @ 91a581b7, entrypoint.sh,
  Dockerfile): `pgbouncer /etc/pgbouncer/pgbouncer.ini`; when no file is
  there, the entrypoint writes it from the environment: `listen_addr =
  ${LISTEN_ADDR:-0.0.0.0}`, `listen_port = ${LISTEN_PORT:-5432}`,
  `unix_socket_dir = ${UNIX_SOCKET_DIR}` (empty: no Unix socket), and
  `listen_backlog` only when LISTEN_BACKLOG is set.  The entrypoint runs
  before any command (`exec "$@"`), so a `pgbouncer
  /etc/pgbouncer/pgbouncer.ini` command with no file mounted there reads
  the written one too.
* bitnami/pgbouncer (bitnami/containers bitnami/pgbouncer/1/debian-12:
  pgbouncer-env.sh, libpgbouncer.sh pgbouncer_initialize(), run.sh): runs
  `pgbouncer /opt/bitnami/pgbouncer/conf/pgbouncer.ini`, a copy of a
  mounted /bitnami/pgbouncer/conf/pgbouncer.ini, else written from the
  environment: `listen_port` PGBOUNCER_PORT (6432), `listen_addr`
  PGBOUNCER_LISTEN_ADDRESS (0.0.0.0), `unix_socket_dir`
  PGBOUNCER_SOCKET_DIR (/tmp/).  It maps no variable to listen_backlog:
  the default 128 holds unless a mounted pgbouncer.ini sets it.
* pgbouncer/pgbouncer, ghcr.io/cloudnative-pg/pgbouncer and any other:
  the file their start writes is not in the input -- the listener then
  rests on an assumption (listen_addr `*`, the default port and backlog).

A config file the command names that no mount of the input provides is an
assumption too.  A host name in listen_addr is one socket per address it
resolves to at start, which the input does not show (one is assumed, two
for `localhost`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, config_file, image_reference, parse_int, parsed, resolve

NAME = "pgbouncer"
TITLE = "PgBouncer"
IMAGES = ("pgbouncer",)
COMMANDS = ("pgbouncer",)
DEFAULT_BACKLOG = 128
DEFAULT_PORT = 6432
DEFAULT_UNIX_SOCKET_DIR = "/tmp"
KNOB = "listen_backlog (`listen_backlog = N` in pgbouncer.ini's [pgbouncer] section)"
SOURCE = "src/main.c:298 listen_backlog default 128; src/pooler.c:193 listen(sock, cf_listen_backlog); servers.md §2.18"
STARTUP_WARNING = ""
# no image prepends pgbouncer to the container's arguments: args replace CMD
ENTRYPOINT_PREPENDS = {"pgbouncer": ()}

SETTINGS = ("listen_addr", "listen_port", "listen_backlog", "unix_socket_dir")
# pgbouncer's own options (pgbouncer -h); -u takes a value
FLAGS = ("-d", "--daemon", "-R", "--reboot", "-q", "--quiet", "-v", "--verbose", "-V", "--version", "-h", "--help")
EDOBURU_INI = "/etc/pgbouncer/pgbouncer.ini"
BITNAMI_INI = "/opt/bitnami/pgbouncer/conf/pgbouncer.ini"
BITNAMI_MOUNTED_INI = "/bitnami/pgbouncer/conf/pgbouncer.ini"
MAX_INCLUDE_DEPTH = 10

if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[str, Location]]


def listeners(launch: Launch) -> List[Listener]:
    found = _settings(launch)
    if found is None:
        return []
    settings, assumption = found
    port_text = settings.get("listen_port")
    port = parse_int(port_text[0]) if port_text is not None else DEFAULT_PORT
    if port is None:
        return []  # an invalid value: PgBouncer refuses to start (measured)
    given = settings.get("listen_backlog")
    if given is not None:
        backlog = parse_int(given[0])
        if backlog is None:
            return []  # an invalid value: PgBouncer refuses to start (measured)
        origin, location, explicit = f"listen_backlog {backlog}", given[1], True
    else:
        backlog, location, explicit = DEFAULT_BACKLOG, launch.started_at, False
        origin = f"default listen_backlog {DEFAULT_BACKLOG}"
    out: List[Listener] = []
    addr = settings.get("listen_addr")
    bound_at = addr[1] if addr is not None else None
    seen = set()
    for item in (addr[0] if addr is not None else "").split(","):
        item = item.strip()
        if not item or item in seen:
            continue
        seen.add(item)
        address, sockets, said = _address(item)
        out.append(
            Listener(
                NAME, address, port, backlog, origin, location, explicit, KNOB, sockets=sockets,
                assumption=_join(assumption, said), bound_at=bound_at,
            )
        )
    directory = settings.get("unix_socket_dir")
    socket_dir = directory[0] if directory is not None else DEFAULT_UNIX_SOCKET_DIR
    if socket_dir:
        path = f"{socket_dir.rstrip('/') or ''}/.s.PGSQL.{port}"
        out.append(
            Listener(
                NAME, path, None, backlog, origin, location, explicit, KNOB, assumption=assumption, written=path,
                bound_at=directory[1] if directory is not None else None,
            )
        )
    return out


def set_backlog(value: int) -> str:
    return f"set PgBouncer's listen_backlog to {value} (`listen_backlog = {value}` in pgbouncer.ini's [pgbouncer] section)"


def _join(a: Optional[str], b: Optional[str]) -> Optional[str]:
    if a and b:
        return f"{a}; {b}"
    return a or b


def _address(item: str) -> Tuple[str, int, Optional[str]]:
    """(address, sockets, assumption) of one listen_addr item."""
    if item == "*":
        return "*", 2, None  # getaddrinfo(NULL, AI_PASSIVE): 0.0.0.0 and [::] (measured)
    host = item[1:-1] if item.startswith("[") and item.endswith("]") else item
    if _literal(host):
        return host, 1, None
    if host == "localhost":
        return host, 2, "localhost resolves at start (the container's /etc/hosts): 127.0.0.1 and ::1 assumed, one socket each"
    return host, 1, f"{host} resolves at start: one socket per address it resolves to, one assumed"


def _literal(host: str) -> bool:
    if ":" in host:
        return all(c in "0123456789abcdefABCDEF:." for c in host)
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def _settings(launch: Launch):
    """The [pgbouncer] settings as PgBouncer reads them, and what they rest
    on; None when the launch starts no pooler (no config file named)."""
    words = launch.words
    organisation = image_reference(launch.image)[1].rpartition("/")[0]
    if launch.command:
        path = _ini_argument(words)
        if path is None:
            return None  # pgbouncer without a config file prints its usage and exits
        generated = organisation == "edoburu" and resolve(launch, path)[0] == EDOBURU_INI
        if not generated or launch.read(EDOBURU_INI) is not None:
            return _from_file(launch, path)
        # the image's entrypoint writes the file its CMD names before it
        # runs the container's command
    if organisation == "edoburu":
        if launch.read(EDOBURU_INI) is not None:
            return _from_file(launch, EDOBURU_INI)
        return _from_env(
            launch,
            {"listen_addr": ("LISTEN_ADDR", "0.0.0.0"), "listen_port": ("LISTEN_PORT", "5432"),
             "unix_socket_dir": ("UNIX_SOCKET_DIR", ""), "listen_backlog": ("LISTEN_BACKLOG", None)},
            f"no {EDOBURU_INI} is mounted in the input: assumed written by the image's entrypoint from the environment "
            "(edoburu/docker-pgbouncer entrypoint.sh)",
        )
    if organisation == "bitnami":
        if launch.read(BITNAMI_MOUNTED_INI) is not None:
            return _from_file(launch, BITNAMI_MOUNTED_INI)
        return _from_env(
            launch,
            {"listen_addr": ("PGBOUNCER_LISTEN_ADDRESS", "0.0.0.0"), "listen_port": ("PGBOUNCER_PORT", "6432"),
             "unix_socket_dir": ("PGBOUNCER_SOCKET_DIR", "/tmp/")},
            f"no {BITNAMI_MOUNTED_INI} is mounted in the input: assumed written by the image's scripts from the "
            "environment (bitnami libpgbouncer.sh), which set no listen_backlog",
        )
    settings: _Settings = {"listen_addr": ("*", launch.started_at), "unix_socket_dir": ("", launch.started_at)}
    return settings, (
        f"the pgbouncer.ini image {launch.image} starts with is not in the input: assumed to listen on * at the "
        f"default port {DEFAULT_PORT}, with no listen_backlog and no Unix socket"
    )


def _ini_argument(words) -> Optional[str]:
    i = 0
    while i < len(words):
        text = words[i].text
        if text in ("-u", "--user"):
            i += 2
            continue
        if text in FLAGS or text.startswith(("--user=", "-u")):
            i += 1
            continue
        if not text.startswith("-"):
            return text
        i += 1
    return None


def _from_env(launch: Launch, mapping: Dict[str, Tuple[str, Optional[str]]], assumption: str):
    settings: _Settings = {}
    for key, (variable, default) in mapping.items():
        word = launch.env.get(variable)
        if word is not None and word.text != "":
            settings[key] = (word.text, word.location)
        elif default is not None:
            settings[key] = (default, launch.started_at)
    return settings, assumption


def _from_file(launch: Launch, path: str):
    settings: _Settings = {}
    said: List[str] = []
    if config_file(launch, path, "")[0] is None:
        # the file the pooler reads is not in the input: it surely listens
        # somewhere (PgBouncer dies with "nowhere to listen on" otherwise)
        settings["listen_addr"] = ("*", launch.started_at)
        absolute = resolve(launch, path)[0]
        return settings, (
            f"{absolute}, the pgbouncer.ini the command names, is not in the input: assumed to set listen_addr = * and "
            f"no listen_port, listen_backlog or unix_socket_dir (port {DEFAULT_PORT}, the default Unix socket directory "
            f"{DEFAULT_UNIX_SOCKET_DIR})"
        )
    _read_into(launch, path, settings, said, {"section": None, "seen": False}, 0)
    return settings, ("; ".join(said) if said else None)


def _read_into(launch: Launch, path: str, settings: _Settings, said: List[str], state: dict, depth: int) -> None:
    """Read ``path`` into ``settings``; ``state``: the section the reading
    is in (an included file goes on in the section that includes it)."""
    found, assumption = config_file(launch, path, "listen_addr, listen_port, listen_backlog or unix_socket_dir")
    if assumption:
        said.append(assumption)
    if found is None:
        return
    text, locate = found
    for event in parsed(launch, _ini, text):
        kind = event[0]
        if kind == "section":
            state["section"] = event[1]
            if event[1] == "pgbouncer":
                if state["seen"]:
                    settings.clear()  # a [pgbouncer] header seen again: back to the defaults (measured)
                state["seen"] = True
        elif kind == "set" and state["section"] == "pgbouncer":
            _, key, value, line, column = event
            settings[key] = (value, locate(line, column))
        elif kind == "include" and depth < MAX_INCLUDE_DEPTH:
            _read_into(launch, event[1], settings, said, state, depth + 1)


def _ini(text: str) -> List[tuple]:
    """pgbouncer.ini as events: ("section", name) for a `[name]` header,
    ("set", key, value, line, column) for the settings somaxlint reads
    (in whatever section: the reader keeps the section, which an included
    file goes on in), ("include", path) for `%include`."""
    out: List[tuple] = []
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.strip()
        if not body or body[0] in "#;":
            continue
        if body.startswith("%include"):
            target = body[len("%include"):].strip()
            if target:
                out.append(("include", target))
            continue
        if body.startswith("[") and body.endswith("]"):
            out.append(("section", body[1:-1].strip()))
            continue
        key, eq, value = body.partition("=")
        key = key.strip()
        if eq and key in SETTINGS:
            out.append(("set", key, value.strip(), number, len(line) - len(line.lstrip()) + 1))
    return out

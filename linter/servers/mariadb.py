"""MariaDB: `back_log`, autosized from `max_connections`.

Sources (../shared/facts/servers.md §2.17): `Sys_back_log ... AUTO_SET`
(code index), autosized when not set.  Measured with Debian's MariaDB
10.11 in a network namespace (tests/kernel/test_servers_truth.py): the
queue of every socket (TCP on 0.0.0.0 and [::], and the Unix socket) is
`back_log`, and unset it is `50 + max_connections / 5` -- 80 with the
default max_connections 151, 110 with 300 -- as MySQL 5.6 autosized it
(WL#9704's "5.7" rule, capped at 900).  So MariaDB's default sits below
128; a large max_connections or an explicit back_log is what a pod's
somaxconn cuts.

Settings read: the command line (`--back-log=N`, `--back_log N`,
`--max-connections=N`, `--port`/`-P`, `--bind-address`), over a file
named by `--defaults-file=`/`--defaults-extra-file=` when the input
mounts it (`[mysqld]`/`[mariadbd]`/`[server]`/`[mariadb]` groups).  The
image's include directories (/etc/mysql/conf.d, mariadb.conf.d) are not
read: a back_log that does not come from the command line (which wins
over every file) rests on their setting none, said as an assumption.  The official image's entrypoint prepends `mariadbd` to arguments
that start with `-` (docker-library/mariadb docker-entrypoint.sh).  A
`mysqld` from an image that is not MariaDB's is MySQL (whose back_log is
max_connections from 8.0): not read here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, config_file, image_repository, located, parse_int
from somaxlint.servers.mysql import _on, cnf_reader, command_line as mysql_command_line, connections_of

NAME = "mariadb"
TITLE = "MariaDB"
IMAGES = ("mariadb",)
COMMANDS = ("mariadbd", "mysqld")
DEFAULT_MAX_CONNECTIONS = 151
DEFAULT_BACKLOG = 80
DEFAULT_PORT = 3306
KNOB = "back_log (`--back-log=N`, or `back_log = N` in my.cnf)"
SOURCE = "back_log autosized 50 + max_connections / 5 (cap 900), measured on MariaDB 10.11; servers.md §2.17"
STARTUP_WARNING = ""

AUTOSIZE_BASE, AUTOSIZE_DIVISOR, AUTOSIZE_CAP = 50, 5, 900
SETTINGS = ("back_log", "max_connections", "port", "bind_address", "socket", "skip_networking")
FLAGS = ("skip_networking",)  # given alone: ON
# the official image's my.cnf (docker-library/mariadb: `socket = /run/mysqld/mysqld.sock`)
DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"
GROUPS = ("mysqld", "mariadbd", "server", "mariadb", "mysqld-10.11", "mariadb-10.11")

if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[str, Location]]


def autosized(connections: int) -> int:
    return min(AUTOSIZE_BASE + connections // AUTOSIZE_DIVISOR, AUTOSIZE_CAP)


def listeners(launch: Launch) -> List[Listener]:
    if launch.command == "mysqld" and "mariadb" not in image_repository(launch.image):
        return []  # MySQL's own mysqld (its back_log is max_connections): not this module's
    settings, assumption = _settings(launch)
    port = parse_int(settings["port"][0]) if "port" in settings else DEFAULT_PORT
    if port is None or port == 0:
        return []
    found = settings.get("back_log")
    if found is not None and parse_int(found[0]) is not None and parse_int(found[0]) > 0:
        backlog = parse_int(found[0])
        origin, location, explicit = f"back_log {backlog}", found[1], True
    else:
        connections, location, explicit, named = connections_of(launch, settings, "max_connections", DEFAULT_MAX_CONNECTIONS)
        backlog = autosized(connections)
        origin = f"back_log {backlog} (autosized: {AUTOSIZE_BASE} + {named} / {AUTOSIZE_DIVISOR})"
    address = settings.get("bind_address")
    where = address[0] if address is not None else "*"
    # unset, `*` or `::`: an IPv4 and an IPv6 socket (measured); an address: one
    where, sockets = ("*", 2) if where in ("*", "::", "") else (where, 1)
    out = []
    if "skip_networking" not in settings:
        out.append(Listener(NAME, where, port, backlog, origin, location, explicit, KNOB, sockets=sockets, assumption=assumption,
                            bound_at=address[1] if address is not None else None))
    # the Unix socket, with the same back_log (measured)
    socket = settings.get("socket")
    path = socket[0] if socket is not None and socket[0] else DEFAULT_SOCKET
    out.append(Listener(NAME, path, None, backlog, origin, location, explicit, KNOB, assumption=assumption, written=f"unix:{path}",
                        bound_at=socket[1] if socket is not None else None, family="unix"))
    return out


def set_backlog(value: int) -> str:
    return f"set MariaDB's back_log to {value} (`--back-log={value}`)"


def _settings(launch: Launch):
    out: _Settings = {}
    assumption: Optional[str] = None
    command_line, files = mysql_command_line(launch, SETTINGS, FLAGS)
    for path in files:
        found, said = config_file(launch, path, "back_log or max_connections")
        if found is not None:
            out.update(located(launch, _cnf, found))
        elif said:
            assumption = said
    out.update(command_line)
    if "skip_networking" in out and not _on(out["skip_networking"]):
        del out["skip_networking"]  # `skip-networking=0`: networking on
    replaced = any(w.text.startswith("--defaults-file=") or w.text == "--no-defaults" for w in launch.words)
    if "back_log" not in command_line and not replaced and assumption is None:
        # the command line wins over every file; the files the image reads
        # besides (its include directories) are not read here
        assumption = (
            "the my.cnf files of the image's include directories (/etc/mysql/conf.d, /etc/mysql/mariadb.conf.d) "
            "are not read: assumed to set no back_log or max_connections"
        )
    return out, assumption


# my.cnf as MySQL's module reads it (the same format), in MariaDB's groups
_cnf = cnf_reader(SETTINGS, FLAGS, GROUPS)

"""MySQL (and Percona Server): `back_log`, autosized from `max_connections`;
the X Plugin's listener, autosized from `mysqlx_max_connections`.

Sources (../shared/facts/servers.md §2.17):

* MySQL WL#9704: with `back_log` unset (-1, autosized), MySQL 8.0 and
  later take `back_log = max_connections` (151 by default; the variable's
  range ends at 65535); MySQL 5.7 (and 5.6) took `50 + max_connections / 5`,
  at most 900.  Which rule applies is read from the image tag (5.6/5.7:
  the old rule; any other tag, or none: 8.0's, said as an assumption when
  the tag names no version).
* The classic listener passes `back_log` to listen()
  (`mysql_socket_listen(listener_socket, (int)m_backlog)`,
  sql/conn_handler/socket_connection.cc, 5.7-era file @ 01b53478): every
  address of `bind_address` (a comma list from 8.0.13) and the admin
  interface (`admin_address`, `admin_port` 33062) when set.  `*` and `::`
  are one dual-stack socket (an IPv6 socket with IPV6_V6ONLY off, as the
  5.x `activate_tcp_port()` and 8.0's `TCP_socket::get_listener_socket()`
  open it: read, not measured).  The Unix socket (same back_log) is not
  modelled.
* The X Plugin (built in and on from 8.0; not loaded by 5.7's images):
  `Server_builder::get_result_acceptor_task()`
  (plugin/x/src/server/builder/server_builder.cc, 2019-2024 file in the code
  index) computes `listen_backlog = 50 + mysqlx_max_connections / 5`,
  at most 900, for every address of `mysqlx_bind_address` (default `*`)
  on `mysqlx_port` (33060) -- 70 with the default mysqlx_max_connections
  100 (plugin/x/src/variables/system_variables.cc `MYSQL_SYSVAR_INT(
  max_connections, ...)`).  `--mysqlx=OFF`/`--skip-mysqlx` removes it,
  `skip_networking` removes every TCP listener.
* Settings: the command line (`--back-log=N`, `--back_log N`,
  `--max-connections`, `--port`/`-P`, `--bind-address`, `--mysqlx-*`;
  later options win) over a file named by `--defaults-file=` /
  `--defaults-extra-file=` when the input mounts it (`[mysqld]`,
  `[server]`, `[mysqld-8.x]` groups).  The image's own my.cnf and its
  include directory (/etc/my.cnf, /etc/mysql/conf.d; bitnami's generated
  /opt/bitnami/mysql/conf/my.cnf) are not read: an autosized value rests
  on their setting none, said as an assumption.  The official image's
  entrypoint prepends `mysqld` to arguments that start with `-`
  (docker-library/mysql docker-entrypoint.sh).

Images: mysql (the official image and bitnami/mysql), mysql-server
(mysql/mysql-server), percona-server (percona/percona-server) and percona
(the official Percona Server image): Percona Server is a MySQL fork that
keeps MySQL's back_log autosizing per version (its tags are MySQL's
versions); taken to follow MySQL, not checked separately.  A `mysqld` from
a MariaDB image is mariadb.py's.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, config_file, image_reference, image_repository, located, parse_int

NAME = "mysql"
TITLE = "MySQL"
IMAGES = ("mysql", "mysql-server", "percona-server", "percona")
COMMANDS = ("mysqld",)
DEFAULT_MAX_CONNECTIONS = 151
DEFAULT_BACKLOG = "151 (MySQL >= 8.0: back_log = max_connections); 80 (5.7: 50 + max_connections / 5)"
DEFAULT_PORT = 3306
DEFAULT_ADMIN_PORT = 33062
DEFAULT_MYSQLX_PORT = 33060
DEFAULT_MYSQLX_MAX_CONNECTIONS = 100
KNOB = "back_log (`--back-log=N`, or `back_log = N` in my.cnf; unset it follows max_connections)"
SOURCE = "MySQL WL#9704 back_log autosizing (8.0: = max_connections); sql/conn_handler/socket_connection.cc; servers.md §2.17"
STARTUP_WARNING = ""
NOT_KERNEL_CHECKED = (
    "MySQL is not packaged in Debian 12 (mariadb is its default-mysql-server), PyPI or npm: the value follows "
    "MySQL WL#9704's back_log autosizing and sql/conn_handler/socket_connection.cc mysql_socket_listen(..., m_backlog), "
    "and for the X Plugin plugin/x/src/server/builder/server_builder.cc get_result_acceptor_task()"
)
MYSQLX_KNOB = "mysqlx_max_connections (the X Plugin's listen backlog is 50 + mysqlx_max_connections / 5, at most 900)"

OLD_BASE, OLD_DIVISOR, OLD_CAP = 50, 5, 900
BACK_LOG_MAX = 65535
SETTINGS = (
    "back_log", "max_connections", "port", "bind_address", "admin_address", "admin_port", "skip_networking",
    "mysqlx", "mysqlx_port", "mysqlx_bind_address", "mysqlx_max_connections",
)
FLAG_SETTINGS = ("skip_networking",)  # given without a value: ON
GROUPS = ("mysqld", "server")

if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[str, Location]]


def _old_rule(image: str) -> Tuple[bool, Optional[str]]:
    """(5.7's rule applies, assumption) from the image tag."""
    tag = image_reference(image)[2]
    version = tag.split("-", 1)[0]
    if version.startswith(("5.7", "5.6", "5.5")) or version == "5":
        return True, None
    head = version.split(".", 1)[0]
    if head.isdigit() and int(head) >= 8:
        return False, None
    return False, (
        f"the image tag {tag or '(none: latest)'} names no MySQL version: MySQL 8.0's back_log autosizing "
        "(back_log = max_connections) assumed"
    )


def listeners(launch: Launch) -> List[Listener]:
    repository = image_repository(launch.image)
    if "mariadb" in repository:
        return []  # MariaDB's mysqld: mariadb.py
    settings, assumption = _settings(launch)
    if _on(settings.get("skip_networking")):
        return []
    old, version_said = _old_rule(launch.image)
    image_said = None
    if launch.image and repository not in IMAGES:
        image_said = f"image {launch.image} is not a MySQL image: its mysqld taken to be MySQL's"
    port = parse_int(settings["port"][0]) if "port" in settings else DEFAULT_PORT
    if port is None or port == 0:
        return []
    found = settings.get("back_log")
    if found is not None and parse_int(found[0]) is not None and parse_int(found[0]) > 0:
        backlog = min(parse_int(found[0]), BACK_LOG_MAX)
        origin, location, explicit = f"back_log {backlog}", found[1], True
        said = _join(assumption, image_said)
    else:
        connections, location, explicit, named = connections_of(launch, settings, "max_connections", DEFAULT_MAX_CONNECTIONS)
        if old:
            backlog = min(OLD_BASE + connections // OLD_DIVISOR, OLD_CAP)
            origin = f"back_log {backlog} (autosized, MySQL 5.7: {OLD_BASE} + {named} / {OLD_DIVISOR})"
        else:
            backlog = min(connections, BACK_LOG_MAX)
            origin = f"back_log {backlog} (autosized, MySQL 8.0+: = {named})"
        said = _join(_join(assumption, version_said), image_said)
    out: List[Listener] = []
    for address, bound_at in _addresses(settings.get("bind_address")):
        out.append(Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, assumption=said, bound_at=bound_at))
    admin = settings.get("admin_address")
    if admin is not None and admin[0]:
        admin_port = parse_int(settings["admin_port"][0]) if "admin_port" in settings else DEFAULT_ADMIN_PORT
        if admin_port:
            out.append(Listener(NAME, admin[0], admin_port, backlog, origin + ", admin interface", location, explicit, KNOB,
                                assumption=said, bound_at=admin[1]))
    if not old and not _off(settings.get("mysqlx")):
        out.extend(_mysqlx(launch, settings, _join(_join(assumption, version_said), image_said)))
    return out


def set_backlog(value: int) -> str:
    return f"set MySQL's back_log to {value} (`--back-log={value}`)"


def connections_of(launch: Launch, settings: _Settings, name: str, default: int):
    """The connection limit ``name`` a back_log is autosized from: (the
    number, where it is set or the server starts, whether the input sets it,
    how a message names it).  A value below 1 or not a number is the
    default.  MariaDB's module autosizes from it too."""
    given = settings.get(name)
    connections = parse_int(given[0]) if given is not None else None
    if connections is None or connections < 1:
        return default, launch.started_at, False, f"default {name} {default}"
    return connections, given[1], True, f"{name} {connections}"


def _mysqlx(launch: Launch, settings: _Settings, said: Optional[str]) -> List[Listener]:
    port = parse_int(settings["mysqlx_port"][0]) if "mysqlx_port" in settings else DEFAULT_MYSQLX_PORT
    if not port:
        return []
    connections, location, explicit, named = connections_of(launch, settings, "mysqlx_max_connections", DEFAULT_MYSQLX_MAX_CONNECTIONS)
    backlog = min(OLD_BASE + connections // OLD_DIVISOR, OLD_CAP)
    origin = f"X Plugin backlog {backlog} ({OLD_BASE} + {named} / {OLD_DIVISOR})"
    return [
        Listener(NAME, address, port, backlog, origin, location, explicit, MYSQLX_KNOB, assumption=said, bound_at=bound_at, section="X Plugin")
        for address, bound_at in _addresses(settings.get("mysqlx_bind_address"))
    ]


def _addresses(given) -> List[Tuple[str, Optional[Location]]]:
    """Each address of a bind_address list; unset, `*`, `::`: every
    address, one dual-stack socket."""
    if given is None:
        return [("*", None)]
    out, seen = [], set()
    for item in given[0].split(","):
        item = item.strip()
        if item.startswith("[") and item.endswith("]"):
            item = item[1:-1]
        item = "*" if item in ("", "*", "::") else item
        if item not in seen:
            seen.add(item)
            out.append((item, given[1]))
    return out


def _on(found) -> bool:
    return found is not None and found[0].strip().lower() in ("", "1", "on", "true", "yes")


def _off(found) -> bool:
    return found is not None and found[0].strip().lower() in ("0", "off", "false", "no")


def _join(a: Optional[str], b: Optional[str]) -> Optional[str]:
    if a and b:
        return f"{a}; {b}"
    return a or b


def command_line(launch: Launch, settings=None, flags=None):
    """The my.cnf settings among ``settings`` the command line gives
    (`--name=value`, `--name value`, `--loose-name=value`, a flag of
    ``flags`` alone for ON, `--skip-networking`, `-P PORT`; dashes and
    underscores alike), and the `--defaults-file`/`--defaults-extra-file`
    it names.  MariaDB's module reads its command line with it too."""
    settings = SETTINGS if settings is None else settings
    flags = FLAG_SETTINGS if flags is None else flags
    out: _Settings = {}
    files: List[str] = []
    words = launch.words
    i = 0
    while i < len(words):
        text = words[i].text
        if text.startswith("--"):
            name, eq, value = text[2:].partition("=")
            name = name.replace("-", "_")
            if name in ("defaults_file", "defaults_extra_file") and eq:
                files.append(value)
            elif name.startswith("skip_") and name[5:] in ("networking", "mysqlx") and not eq:
                target = name[5:]
                out["skip_networking" if target == "networking" else "mysqlx"] = ("ON" if target == "networking" else "OFF", words[i].location)
            elif name.startswith("loose_") and name[6:] in settings:
                name = name[6:]
                if eq:
                    out[name] = (value, words[i].location)
            elif name in flags and not eq:
                out[name] = ("ON", words[i].location)
            elif name in settings:
                if eq:
                    out[name] = (value, words[i].location)
                elif i + 1 < len(words) and not words[i + 1].text.startswith("-"):
                    out[name] = (words[i + 1].text, words[i + 1].location)
                    i += 1
        elif text == "-P" and i + 1 < len(words):
            out["port"] = (words[i + 1].text, words[i + 1].location)
            i += 1
        elif text.startswith("-P") and len(text) > 2:
            out["port"] = (text[2:], words[i].location)
        i += 1
    return out, files


def _settings(launch: Launch):
    out: _Settings = {}
    assumption: Optional[str] = None
    given, files = command_line(launch)
    for path in files:
        found, said = config_file(launch, path, "back_log or max_connections")
        if found is not None:
            out.update(located(launch, _cnf, found))
        elif said:
            assumption = said
    out.update(given)
    replaced = any(w.text.startswith("--defaults-file=") or w.text == "--no-defaults" for w in launch.words)
    if "back_log" not in given and not replaced and assumption is None:
        assumption = (
            "the image's own my.cnf and include directory (/etc/my.cnf, /etc/mysql/conf.d; bitnami's "
            "/opt/bitnami/mysql/conf/my.cnf) are not read: assumed to set no back_log or max_connections"
        )
    return out, assumption


def cnf_reader(settings, flags, groups, group_prefixes=()):
    """A reader of my.cnf text for ``parsed``: `[group]` sections (those of
    ``groups``, or starting with ``group_prefixes``), `name = value`, a
    flag of ``flags`` alone for ON, `loose-` and `skip-` prefixes, `#`/`;`
    comments; later lines win.  Made once per module (``parsed`` keys its
    results on the reader)."""

    def read(text: str) -> Dict[str, Tuple[str, int, int]]:
        out: Dict[str, Tuple[str, int, int]] = {}
        group = None
        for number, line in enumerate(text.split("\n"), start=1):
            body = line.strip()
            if not body or body[0] in "#;":
                continue
            if body.startswith("[") and body.endswith("]"):
                group = body[1:-1].strip().lower()
                continue
            if group not in groups and not (group_prefixes and (group or "").startswith(tuple(group_prefixes))):
                continue
            name, eq, value = body.partition("=")
            name = name.strip().lower().replace("-", "_")
            column = len(line) - len(line.lstrip()) + 1
            if name.startswith("loose_"):
                name = name[6:]
            if name.startswith("skip_") and name[5:] in ("networking", "mysqlx") and not eq:
                out["skip_networking" if name == "skip_networking" else "mysqlx"] = ("ON" if name == "skip_networking" else "OFF", number, column)
            elif name in settings:
                value = value.split("#", 1)[0].strip().strip("'\"") if eq else ("ON" if name in flags else "")
                out[name] = (value, number, column)
        return out

    return read


_cnf = cnf_reader(SETTINGS, FLAG_SETTINGS, GROUPS, ("mysqld-8", "mysqld-9", "mysqld-5"))

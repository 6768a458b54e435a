"""PostgreSQL: the postmaster's listen queue follows `max_connections`.

Sources (../shared/facts/servers.md §2.16; postgres/postgres
src/backend/libpq/pqcomm.c):

* PostgreSQL 16 and later, `ListenServerPort()` (@ 50e6eb73): "Select
  appropriate accept-queue length limit. It seems reasonable to use a
  value similar to the maximum number of child processes that the
  postmaster will permit." `maxconn = MaxConnections * 2; listen(fd,
  maxconn)` -- 200 with the default `max_connections` 100.  The first
  release with it is 16 by the date of the patch that removed
  PG_SOMAXCONN (servers.md: inferred), so a 16 says so.
* PostgreSQL 15 and before, `StreamServerPort()` (14.18's pqcomm.c:559):
  `maxconn = MaxBackends * 2; if (maxconn > PG_SOMAXCONN) maxconn =
  PG_SOMAXCONN;` (10000), where MaxBackends is `max_connections +
  autovacuum_max_workers + 1 + max_worker_processes + max_wal_senders`
  (InitializeMaxBackends(); `max_wal_senders` from 12) -- 244 with the
  defaults 100, 3, 8 and 10; the kernel suite checks it against Debian's
  postgresql-15.
* The same queue for every socket of `listen_addresses` (the official
  image's postgresql.conf.sample says `'*'`: 0.0.0.0 and [::], two sockets;
  a `config_file` of one's own that does not set it leaves the compiled-in
  `'localhost'`: 127.0.0.1 and [::1], one listener each) and the Unix
  socket `.s.PGSQL.PORT` in each of `unix_socket_directories` (`-k`; the
  image's build says /var/run/postgresql; '' opens none), measured alike.
* Settings: the command line (`-c name=value`, `--name=value`, `-N`
  for max_connections, `-p` for port, `-h` for listen_addresses) over the
  configuration file (`-c config_file=PATH` when the input mounts it),
  over the environment's PGPORT, over the defaults.  The data directory's
  own postgresql.conf (written by initdb at first start, with
  `max_connections = 100` where shared memory allows) and
  postgresql.auto.conf (ALTER SYSTEM) are not in the input: a listener
  that rests on them says so.
* The official image's entrypoint prepends `postgres` to arguments that
  start with `-` (docker-library/postgres docker-entrypoint.sh:329
  `set -- postgres "$@"`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, Word, config_file, image_reference, located, parse_int

NAME = "postgresql"
TITLE = "PostgreSQL"
# image repositories by their last component, as every module names them
# (postgis/postgis, pgvector/pgvector: built on the official image)
IMAGES = ("postgres", "postgis", "pgvector")
COMMANDS = ("postgres", "postmaster")
DEFAULT_MAX_CONNECTIONS = 100
# (the catalogue's: the listeners compute theirs by release)
DEFAULT_BACKLOG = "200 (PostgreSQL >= 16: 2 x max_connections); 244 (<= 15: 2 x MaxBackends)"
DEFAULT_PORT = 5432
KNOB = "max_connections (`-c max_connections=N`, or in postgresql.conf): the queue is twice it"
SOURCE = "src/backend/libpq/pqcomm.c: MaxConnections * 2 (16+), MaxBackends * 2 capped at PG_SOMAXCONN (<= 15); servers.md §2.16"
STARTUP_WARNING = ""

# PostgreSQL 15 and before: the other processes MaxBackends counts, with
# their defaults, and the clamp
BACKENDS_DEFAULTS = {"autovacuum_max_workers": 3, "max_worker_processes": 8, "max_wal_senders": 10}
PG_SOMAXCONN = 10000
MAX_CONNECTIONS_ONLY_SINCE = 16  # inferred (servers.md §2.16)
WAL_SENDERS_COUNTED_SINCE = 12
NEWEST = 17  # what an image tag that names no release is taken for
# `listen_addresses` of the official image's postgresql.conf.sample ('*'):
# an IPv4 and an IPv6 socket
DEFAULT_BIND_SOCKETS = 2

SETTINGS = ("max_connections", "port", "listen_addresses", "config_file", "unix_socket_directories") + tuple(BACKENDS_DEFAULTS)
# the official image's build (Debian's and Alpine's packaging alike)
DEFAULT_SOCKET_DIRECTORIES = "/var/run/postgresql"
SHORT = {"-N": "max_connections", "-p": "port", "-h": "listen_addresses", "-k": "unix_socket_directories"}

if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[str, Location]]


def listeners(launch: Launch) -> List[Listener]:
    command_line = _command_line(launch)
    settings: _Settings = {}
    assumptions: List[str] = []
    port_env = launch.env.get("PGPORT")
    if port_env is not None:
        settings["port"] = (port_env.text, port_env.location)
    config = command_line.get("config_file")
    if config is not None:
        found, assumption = config_file(launch, config[0], "max_connections")
        if found is not None:
            settings.update(located(launch, _conf, found))
        elif assumption:
            assumptions.append(assumption)
    settings.update(command_line)
    port = parse_int(settings["port"][0]) if "port" in settings else DEFAULT_PORT
    if port is None:
        return []
    addresses = settings.get("listen_addresses")
    # the data directory's postgresql.conf (the image's sample) says '*';
    # a config_file of one's own that says nothing leaves PostgreSQL's
    # compiled-in 'localhost'
    default = "localhost" if config is not None else "*"
    words = [a.strip() for a in addresses[0].split(",") if a.strip()] if addresses is not None else [default]
    directories = settings.get("unix_socket_directories")
    sockets_in = [d.strip() for d in (directories[0] if directories is not None else DEFAULT_SOCKET_DIRECTORIES).split(",") if d.strip()]
    if not words and not sockets_in:
        return []
    major, said = _release(launch.image)
    if said:
        assumptions.append(said)
    backlog, origin, location, explicit = _backlog(settings, major, launch)
    if backlog is None:
        return []
    if "max_connections" not in settings:
        assumptions.append(
            f"max_connections is the default {DEFAULT_MAX_CONNECTIONS} that initdb writes into the data directory's "
            "postgresql.conf (not in the input; postgresql.auto.conf may change it)"
        )
    assumption = "; ".join(assumptions) if assumptions else None
    out = []
    for address in words:
        # '*' is an IPv4 and an IPv6 socket; 'localhost' is 127.0.0.1 and ::1
        bound_at = addresses[1] if addresses is not None else None
        for one in ("127.0.0.1", "::1") if address == "localhost" else (address,):
            sockets = DEFAULT_BIND_SOCKETS if one == "*" else 1
            out.append(Listener(NAME, one, port, backlog, origin, location, explicit, KNOB, sockets=sockets, assumption=assumption, bound_at=bound_at))
    for directory in sockets_in:
        path = f"{directory.rstrip('/')}/.s.PGSQL.{port}"
        bound_at = directories[1] if directories is not None else None
        out.append(Listener(NAME, path, None, backlog, origin, location, explicit, KNOB, assumption=assumption, written=f"unix:{path}", bound_at=bound_at, family="unix"))
    return out


def set_backlog(value: int) -> str:
    """How to make the queue ``value``: max_connections is half of it."""
    return f"set PostgreSQL's max_connections to {max(1, value // 2)} (`-c max_connections=N`; the queue is twice it)"


def truncation_advice(requested: int, fits: bool) -> str:
    if fits:
        return (
            f"Raise net.core.somaxconn for the pod to at least {requested}: PostgreSQL's queue is twice its "
            "max_connections (more with its other backends before 16), and both limit it"
        )
    return "Lower PostgreSQL's max_connections and raise net.core.somaxconn for the pod: both limit the queue"


def _backlog(settings: _Settings, major: int, launch: Launch):
    """(backlog, origin, location, explicit) by the release's formula."""
    found = settings.get("max_connections")
    connections = parse_int(found[0]) if found is not None else DEFAULT_MAX_CONNECTIONS
    if connections is None or connections < 1:
        return None, "", launch.started_at, False
    location = found[1] if found is not None else launch.started_at
    explicit = found is not None
    named = f"max_connections {connections}" if explicit else f"default max_connections {connections}"
    if major >= MAX_CONNECTIONS_ONLY_SINCE:
        return 2 * connections, f"listen queue 2 x {named}", location, explicit
    others = {}
    for name, default in BACKENDS_DEFAULTS.items():
        if name == "max_wal_senders" and major < WAL_SENDERS_COUNTED_SINCE:
            continue
        value = settings.get(name)
        others[name] = parse_int(value[0]) if value is not None and parse_int(value[0]) is not None else default
    backends = connections + 1 + sum(others.values())
    backlog = min(2 * backends, PG_SOMAXCONN)
    parts = " + ".join(f"{n} {v}" for n, v in others.items())
    return backlog, f"listen queue 2 x MaxBackends {backends} ({named} + {parts} + 1; PostgreSQL {major})", location, explicit


def _release(image: str) -> Tuple[int, Optional[str]]:
    """The major release the image tag names, and what is assumed when it
    names none (or 16, whose formula is inferred)."""
    _registry, _path, tag = image_reference(image)
    digits = ""
    for char in tag:
        if not char.isdigit():
            break
        digits += char
    major = int(digits) if digits and len(digits) <= 3 else None
    if major is not None and major >= 100:  # (9.6 is "9")
        major = None
    if major is None:
        return NEWEST, f"the image tag names no PostgreSQL release: assumed {MAX_CONNECTIONS_ONLY_SINCE} or later (2 x max_connections)"
    if major == MAX_CONNECTIONS_ONLY_SINCE:
        return major, f"PostgreSQL {major}: its queue taken as 2 x max_connections, as in later releases (inferred from the date of the change)"
    return major, None


def _command_line(launch: Launch) -> _Settings:
    """Settings the postgres command line gives: `-c name=value` (also
    `-cname=value`), `--name=value`, and `-N`, `-p`, `-h`; later ones win."""
    out: _Settings = {}
    words: List[Word] = launch.words
    i = 0
    while i < len(words):
        text = words[i].text
        value_word: Optional[Word] = None
        pair = None
        if text == "-c" and i + 1 < len(words):
            value_word = words[i + 1]
            pair = value_word.text
            i += 1
        elif text.startswith("-c") and len(text) > 2 and not text.startswith("--"):
            value_word, pair = words[i], text[2:]
        elif text.startswith("--") and "=" in text:
            value_word, pair = words[i], text[2:]
        elif text in SHORT and i + 1 < len(words):
            out[SHORT[text]] = (words[i + 1].text, words[i + 1].location)
            i += 2
            continue
        if pair is not None and "=" in pair:
            name, _, value = pair.partition("=")
            name = name.strip().lower().replace("-", "_")
            if name in SETTINGS:
                out[name] = (value.strip().strip("'\""), value_word.location)
        i += 1
    return out


def _conf(text: str) -> Dict[str, Tuple[str, int, int]]:
    """postgresql.conf: `name = value` or `name value`, `#` comments,
    values quoted with '; the last line that sets a name wins."""
    out: Dict[str, Tuple[str, int, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        body = _uncomment(line).strip()
        if not body:
            continue
        name, _, rest = body.partition("=") if "=" in body else body.partition(" ")
        name = name.strip().lower()
        if name in SETTINGS:
            value = rest.strip()
            if value.startswith("'") and value.endswith("'") and len(value) >= 2:
                value = value[1:-1]
            column = len(line) - len(line.lstrip()) + 1
            out[name] = (value, number, column)
    return out


def _uncomment(line: str) -> str:
    """The line up to a `#` outside quotes."""
    quoted = False
    for i, char in enumerate(line):
        if char == "'":
            quoted = not quoted
        elif char == "#" and not quoted:
            return line[:i]
    return line

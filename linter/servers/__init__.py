"""The server layer: one module per server kind.

Each module declares, as data, which containers run it (image
repositories, command words), where its listen backlog comes from
(options on the command line, environment variables) and its default, each
fact with its upstream source; and one function, ``listeners(launch)``,
that reads a launch into listeners with exact positions.  The model asks
every module about every container; rules read listeners, never a server's
own syntax.

nginx, whose configuration is a file tree resolved through the
container's mounts, is the package ``nginx``: its listeners come from its
configuration files (``nginx.listeners(sockets)``), not from a launch.

Adding a server: one module here (see ``redis.py``), its line in
``LAUNCHED`` (what starts it; tests/test_structure.py keeps the line equal
to the module), its fixtures under ``tests/rules/fixtures``, its kernel
cases in ``tests/kernel/servers_<name>.py`` where a package of the server
exists.
"""

from __future__ import annotations

import fnmatch
import importlib
import posixpath
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Sequence, Tuple

from somaxlint.findings import Location
from somaxlint.records import record

@record(frozen=True)
class Listener:
    """One listening socket of a server, as the model sees it."""

    server: str  # module NAME, e.g. "redis"
    address: str  # "*" for every address
    port: Optional[int]
    requested_backlog: int  # what the server passes to listen()
    origin: str  # "--tcp-backlog 1024", "Redis's default tcp-backlog 511"
    location: Location  # where the backlog is set, else where the server is started
    explicit: bool  # set in the input (True) or the server's default (False)
    knob: str  # how to change it, as that server spells it
    # what the server does when the backlog exceeds somaxconn: "truncate"
    # (the kernel's silent min) or "refuse" (exits: uWSGI); "follows": the
    # server passes somaxconn itself (Go's net.Listen, Envoy's default), so
    # the namespace's value is the queue (requested_backlog is then -1)
    above_somaxconn: str = "truncate"
    # listening sockets with this backlog (a default wildcard bind opens one
    # for IPv4 and one for IPv6)
    sockets: int = 1
    # what the value rests on when the input does not show everything (a
    # config file the command names that no mount of the input provides)
    assumption: Optional[str] = None
    # where findings group the listener: nginx's block (http, stream), else
    # the server's name
    section: Optional[str] = None
    # the socket as the server spells it ("[::]:80", a unix path), when not
    # address:port
    written: Optional[str] = None
    # the chart template the listener's text comes from, when rendered
    helm_source: Optional[object] = None
    # where the socket itself is configured (HAProxy's `bind` line), when
    # that is not ``location`` (where its backlog is set): explain's `listen`
    bound_at: Optional[Location] = None
    # "unix" for a Unix stream socket (``address`` is its path in the
    # container, ``port`` None): its queue is min(backlog, somaxconn) too
    family: str = "inet"
    # False for a socket that serves no client of the workload (a control
    # socket, an admin endpoint): explain lists it, rules do not judge it
    serves: bool = True

    @property
    def kind(self) -> str:
        """The socket family: "unix" for one set so or written `unix:`
        (a module may say either), else "inet"."""
        if self.family != "inet":
            return self.family
        return "unix" if (self.written or self.address).startswith("unix:") else "inet"

    @property
    def address_port(self) -> str:
        if self.written is not None:
            return self.written
        return f"{self.address}:{self.port}" if self.port is not None else self.address


@record(frozen=True)
class Refusal:
    """A configuration the server refuses at start-up: it exits, printing
    ``message`` (its own words), about what is written at ``location``."""

    server: str  # module NAME
    message: str
    location: Location


@record
class Word:
    text: str
    location: Location


@record
class Launch:
    """How a container starts a server: the words after the server's
    command word (or the image's default command), and its environment."""

    words: List[Word]  # the server's own arguments
    env: Dict[str, Word]  # name -> value with its location (literal values only)
    started_at: Location  # the command word, else the container's image
    # path in the container -> (text, (line, column) -> Location), when a
    # mount of the input provides that file; else None
    read: Callable[[str], Optional[Tuple[str, Callable[[int, int], Location]]]] = lambda path: None
    image: str = ""  # the container's image reference, for version-dependent defaults
    # the container's `workingDir`; None when the manifest sets none (the
    # process then starts in the image's WORKDIR, which the input does not
    # show: "/" when the image sets none either)
    working_dir: Optional[str] = None
    # the command word that started the server ("redis-sentinel"), "" when
    # the image's own command runs it
    command: str = ""
    # the run's parses of config texts, shared by every launch (``parsed``);
    # None: each launch parses for itself
    parses: Optional[dict] = None

    def covered(self, path: str) -> bool:
        """Whether a volume of the input is mounted on ``path`` or a
        directory above it (what the image had there is hidden)."""
        covered = getattr(self.read, "covered", None)
        return bool(covered is not None and covered(path))

    def listed(self, directory: str) -> List[str]:
        """The files the input puts in ``directory`` (not the image's)."""
        listed = getattr(self.read, "listed", None)
        return listed(directory) if listed is not None else []


def parsed(launch: Launch, parse, text: str):
    """``parse(text)``, worked out once per run for each text: a thousand
    pods mounting one ConfigMap read one parse of its file, each locating
    what it reads through its own ``locate``.  So ``parse`` returns lines
    and columns, never Locations, and what it returns is shared: read, never
    changed.  (nginx's files have their own ParseCache.)"""
    memo = launch.parses
    if memo is None:
        return parse(text)
    key = (parse, text)
    found = memo.get(key, memo)  # (the memo itself: not yet parsed)
    if found is memo:
        found = memo[key] = parse(text)
    return found


def resolve(launch: Launch, path: str) -> Tuple[str, Optional[str]]:
    """The absolute path a server opens for ``path`` as written, and what
    that rests on.  A relative path is relative to the process's working
    directory: the container's ``workingDir``; without one, the image's
    WORKDIR, which the input does not show -- then "/" (the runtime's
    default when the image sets none either) is assumed, and said."""
    if path.startswith("/"):
        return posixpath.normpath(path), None
    if launch.working_dir and launch.working_dir.startswith("/"):
        return posixpath.normpath(posixpath.join(launch.working_dir, path)), None
    return posixpath.normpath("/" + path), (
        f"{path} is relative to the working directory, which the input does not set (no workingDir: the image's "
        f"WORKDIR applies): read as /{posixpath.normpath(path)}"
    )


def config_file(launch: Launch, path: str, sets: str):
    """Read the config file ``path`` names (relative to the working
    directory): ``(text, locate)`` or None, and the assumption the
    listeners then rest on (None when the input settles it).  ``sets``
    names what an unread file is assumed not to set ("tcp-backlog")."""
    absolute, relative = resolve(launch, path)
    found = launch.read(absolute)
    if found is not None:
        return found, relative
    if relative is not None:
        return None, f"{relative}, which is not in the input: assumed to set no {sets}"
    return None, f"{absolute} is not in the input (written at run time or mounted from elsewhere): assumed to set no {sets}"


def entrypoint_prepends(module, repository: str, first: str) -> bool:
    """Whether the entrypoint of ``module``'s image ``repository`` runs the
    server with the container's arguments when the first one is ``first``.
    ``ENTRYPOINT_PREPENDS``: the shell patterns (fnmatch) of the first
    arguments the image's entrypoint prepends the server to, per image
    repository; the official images' convention, an argument starting with
    "-" (`[ "${1#-}" != "$1" ]`), when the module does not say."""
    patterns = getattr(module, "ENTRYPOINT_PREPENDS", {}).get(repository, ("-*",))
    return any(fnmatch.fnmatchcase(first, pattern) for pattern in patterns)


@record
class Option:
    """A command-line option that carries a value."""

    long: Tuple[str, ...] = ()  # "--tcp-backlog"
    short: Tuple[str, ...] = ()  # "-b": also "-b1024"


def option_values(words: Sequence[Word], option: Option) -> List[Tuple[str, Word]]:
    """Every value given for ``option``, in order, each with the word that
    holds it (`--name value`, `--name=value`, `-n value`, `-nvalue`): an
    option that appends (gunicorn's `--bind`) takes them all."""
    out = []
    for i, word in enumerate(words):
        text = word.text
        for name in option.long:
            if text == name and i + 1 < len(words):
                out.append((words[i + 1].text, words[i + 1]))
            elif text.startswith(name + "="):
                out.append((text[len(name) + 1:], word))
        for name in option.short:
            if text == name and i + 1 < len(words):
                out.append((words[i + 1].text, words[i + 1]))
            elif text.startswith(name) and len(text) > len(name) and not text.startswith("--"):
                out.append((text[len(name):], word))
    return out


def find_option(words: Sequence[Word], option: Option) -> Optional[Tuple[str, Word]]:
    """The last value given for ``option`` (later options win, as getopt
    and argparse do), with the word that holds it."""
    values = option_values(words, option)
    return values[-1] if values else None


def located(launch: Launch, parse, found) -> Dict[str, Tuple[str, Location]]:
    """The settings ``parse`` reads (name -> (value, line, column), through
    ``parsed``: once per text) from a file ``config_file`` found, each at
    its Location in that file."""
    text, locate = found
    return {name: (value, locate(line, column)) for name, (value, line, column) in parsed(launch, parse, text).items()}


def parse_int(text: str) -> Optional[int]:
    """A decimal integer as C's atoi/strtol would read a sane one; None
    for anything else (the rule for invalid values reports it)."""
    stripped = text.strip()
    body = stripped[1:] if stripped[:1] in "+-" else stripped
    if not body or len(body) > 19 or not all("0" <= c <= "9" for c in body):
        return None
    return int(stripped)


def image_reference(image: str) -> Tuple[str, str, str]:
    """(registry, path, tag) of an image reference:
    ``registry:5000/org/nginx:1.25@sha256:..`` is ``("registry:5000",
    "org/nginx", "1.25")``; the registry is "" for Docker Hub's short form
    (a first part with no `.` or `:` that is not `localhost` is an
    organisation), the tag "" when there is none."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        tag = last.split(":", 1)[1]
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    parts = name.split("/")
    registry = parts[0] if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost") else ""
    return registry, "/".join(parts[1:] if registry else parts), tag


def image_repository(image: str) -> str:
    """``registry:5000/org/nginx:1.25@sha256:..`` -> ``nginx``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


# Where the images somaxlint knows by name are published: Docker Hub (its
# official images, `library/`), its mirrors, and the organisations of the
# projects that build their own (envoyproxy/envoy, haproxytech/haproxy-alpine).
# An image of the same name anywhere else (registry.k8s.io/redis, a
# company's registry) may be another build: it is taken to run as the
# known one does, and every finding about it says so.
HUB_REGISTRIES = ("", "docker.io", "index.docker.io", "registry-1.docker.io", "mirror.gcr.io")
KNOWN_ORGANISATIONS = (
    "library", "bitnami", "envoyproxy", "istio", "kong", "haproxytech", "traefik", "nginxinc", "nginx",
    "openresty", "memcached", "caddy", "tomcat", "php", "wordpress", "nextcloud", "drupal", "matomo",
    "redis", "valkey", "valkey-io", "postgis", "pgvector", "prom",
    "edoburu", "pgbouncer", "mysql", "percona",
    "coredns", "hashicorp",
    "clickhouse", "yandex",
    "apache", "confluentinc", "mongodb",
)
MIRRORED = {"public.ecr.aws": ("docker/library",), "ghcr.io": ("valkey-io", "nginxinc", "nginx"),
            "quay.io": ("prometheus", "coreos"), "gcr.io": ("etcd-development",),
            "registry.k8s.io": ("coredns",)}


def image_provenance(image: str) -> Optional[str]:
    """None when ``image`` is published where the image of its name is
    (``HUB_REGISTRIES`` and ``KNOWN_ORGANISATIONS``); else what findings
    about it assume."""
    registry, path, _tag = image_reference(image)
    organisation, _, name = path.rpartition("/")
    if registry in HUB_REGISTRIES and organisation in ("",) + KNOWN_ORGANISATIONS:
        return None
    if organisation in MIRRORED.get(registry, ()):
        return None
    return (
        f"image {image} is not published where the {name} image somaxlint knows is: it is taken to be "
        "built the same way (its default command, configuration and defaults)"
    )


_MODULES: list = []


def modules():
    if not _MODULES:
        _MODULES.extend(importlib.import_module(f"somaxlint.servers.{name}") for name in SERVER_MODULES)
    return _MODULES


# What starts each server but nginx, as its module declares it (COMMANDS,
# IMAGES, INJECTED_AS), in the catalogue's order: a container is matched
# against these without importing every server module, so a run imports
# the modules of the servers its containers may start.
# tests/test_structure.py keeps each entry equal to its module.
LAUNCHED = {
    "redis": (("redis-server", "redis-sentinel"), ("redis", "redis-stack-server"), ()),
    "valkey": (("valkey-server", "valkey-sentinel"), ("valkey",), ()),
    "memcached": (("memcached",), ("memcached",), ()),
    "uwsgi": (("uwsgi",), (), ()),
    "gunicorn": (("gunicorn",), (), ()),
    "uvicorn": (("uvicorn",), (), ()),
    "hypercorn": (("hypercorn",), (), ()),
    "daphne": (("daphne",), (), ()),
    "waitress": (("waitress-serve", "waitress"), (), ()),
    "werkzeug": (("flask",), (), ()),
    "python_http_server": (("http.server", "SimpleHTTPServer"), (), ()),
    "nodejs": (("node", "nodejs", "next", "npm", "yarn", "pnpm"), ("node",), ()),
    "puma": (("puma", "rails"), (), ()),
    "unicorn": (("unicorn", "unicorn_rails"), (), ()),
    "tomcat": (("java",), ("tomcat",), ()),
    "jetty": (("java",), ("jetty",), ()),
    "traefik": (("traefik",), ("traefik",), ()),
    "caddy": (("caddy",), ("caddy",), ()),
    "envoy": (("envoy", "pilot-agent"), ("envoy", "envoy-distroless", "proxyv2"), (("istio-proxy", "auto"),)),
    "kong": (("kong",), ("kong", "kong-gateway"), ()),
    "haproxy": (("haproxy",), ("haproxy", "haproxy-alpine", "haproxy-debian", "haproxy-ubuntu"), ()),
    "apache": (("httpd", "apache2", "httpd-foreground", "apache2-foreground"), ("httpd", "php", "wordpress", "nextcloud", "drupal", "matomo"), ()),
    "php_fpm": (
        ("php-fpm", "php-fpm7.4", "php-fpm8.0", "php-fpm8.1", "php-fpm8.2", "php-fpm8.3", "php-fpm8.4"),
        ("php", "matomo", "wordpress", "nextcloud", "drupal"),
        (),
    ),
    "postgresql": (("postgres", "postmaster"), ("postgres", "postgis", "pgvector"), ()),
    "pgbouncer": (("pgbouncer",), ("pgbouncer",), ()),
    "mariadb": (("mariadbd", "mysqld"), ("mariadb",), ()),
    "mysql": (("mysqld",), ("mysql", "mysql-server", "percona-server", "percona"), ()),
    "mongodb": (("mongod", "mongos"), ("mongo", "mongodb", "mongodb-community-server", "mongodb-enterprise-server"), ()),
    "clickhouse": (("clickhouse-server",), ("clickhouse-server", "clickhouse"), ()),
    "rabbitmq": (("rabbitmq-server",), ("rabbitmq",), ()),
    "kafka": (("kafka-server-start.sh", "kafka-server-start"), ("kafka", "cp-kafka", "cp-server"), ()),
    "nats": (("nats-server", "gnatsd"), ("nats",), ()),
    "etcd": (("etcd",), ("etcd",), ()),
    "prometheus": (("prometheus",), ("prometheus",), ()),
    "coredns": (("coredns",), ("coredns",), ()),
    "vault": (("vault",), ("vault",), ()),
    "consul": (("consul",), ("consul",), ()),
}

# The catalogue's order (`somaxlint servers`): nginx, then LAUNCHED's.
SERVER_MODULES = ("nginx",) + tuple(LAUNCHED)


def program_names(commands) -> frozenset:
    """The programs parsed ``commands`` (``model.shell.parse_commands``)
    run, by base name (``model.shell.executed_program``: past wrappers and
    entrypoint scripts; ``/usr/bin/redis-server`` is ``redis-server``,
    ``python -m gunicorn`` runs ``gunicorn``): what ``launched_by`` matches
    a server's COMMANDS against."""
    from somaxlint.model.shell import executed_program

    out = set()
    for c in commands:
        program = executed_program(c.words)
        if program is not None:
            out.add(program[1])
    return frozenset(out)


def launched_by(words: frozenset, repository: str, container) -> list:
    """The launched modules (``launched_modules``) a container may run, in
    the catalogue's order: a program name among ``words`` (the base names
    of its command's words), its image ``repository``, or the (name,
    image) an admission webhook replaces."""
    key = (container.name, container.image)
    return [
        importlib.import_module(f"somaxlint.servers.{name}")
        for name, (commands, images, injected) in LAUNCHED.items()
        if not words.isdisjoint(commands) or repository in images or key in injected
    ]


def launched_modules():
    """The modules whose listeners are read from a launch (argv, env and
    the files they name): every one but nginx, whose file tree the model
    resolves through the container's mounts."""
    return [m for m in modules() if hasattr(m, "COMMANDS") and not hasattr(m, "main_config")]


# What findings say about a listener, in each server's own words.  A module
# may define any of these functions to word them itself (nginx does);
# these are the defaults.


def phrase(module, listener: Listener) -> str:
    """The backlog a listener asks for, naming the server:
    "Redis tcp-backlog 8192"."""
    if hasattr(module, "phrase"):
        return module.phrase(listener)
    return f"{module.TITLE} {listener.origin}"


def set_backlog(module, value: int) -> str:
    """How to set ``module``'s backlog to ``value``."""
    if hasattr(module, "set_backlog"):
        return module.set_backlog(value)
    return f"set {module.TITLE}'s {module.KNOB} to {value} (or the size you need)"


def listener_fix(module, listener: Listener, value: int) -> str:
    """How to set one listener's backlog to ``value``: the module's way
    (``set_backlog``), unless that listener has no setting of its own (its
    knob says "none ..." where the module's does not: RabbitMQ's HTTP
    plugins, a socket handed a fixed queue)."""
    if listener.knob != module.KNOB and listener.knob.startswith("none"):
        return f"{module.TITLE} has no setting for this socket's queue: {listener.knob}"
    return set_backlog(module, value)


def truncation_advice(module, requested: int, fits: bool) -> str:
    """The fix for a backlog the namespace cuts: both knobs.  ``fits``:
    some somaxconn can hold ``requested`` (else the backlog must come down)."""
    if hasattr(module, "truncation_advice"):
        return module.truncation_advice(requested, fits)
    if fits:
        return (
            f"Raise net.core.somaxconn for the pod to at least {requested}, and set {module.TITLE}'s {module.KNOB} "
            "to the queue you need: both knobs limit it"
        )
    return (
        f"Set {module.TITLE}'s {module.KNOB} to the queue size you need and raise net.core.somaxconn for the pod "
        "to at least that: both knobs limit it"
    )


def rows() -> List[dict]:
    out = []
    for module in modules():
        recognised = []
        if module.IMAGES:
            recognised.append("image " + ", ".join(module.IMAGES))
        recognised.append("command " + ", ".join(module.COMMANDS))
        if hasattr(module, "RECOGNISED_BY"):
            recognised = [module.RECOGNISED_BY]
        out.append(
            {
                "name": module.NAME,
                "title": getattr(module, "LONG_TITLE", module.TITLE),
                "recognised_by": "; ".join(recognised),
                "default_backlog": module.DEFAULT_BACKLOG,
                "knob": module.KNOB,
                "source": module.SOURCE,
            }
        )
    return out


def catalogue(fmt: str = "text") -> str:
    """`somaxlint servers`, generated from the modules."""
    table = rows()
    if fmt == "json":
        import json

        return json.dumps(table, indent=2) + "\n"
    if fmt == "markdown":
        lines = ["| Server | Recognised by | Default backlog | Knob | Source |", "|---|---|---|---|---|"]
        for r in table:
            lines.append(f"| {r['title']} | {r['recognised_by']} | {r['default_backlog']} | {r['knob']} | {r['source']} |")
        return "\n".join(lines) + "\n"
    out = []
    for r in table:
        out.append(f"{r['name']:<10} default backlog {r['default_backlog']:<5} knob: {r['knob']}\n")
        out.append(f"{'':<10} recognised by {r['recognised_by']}\n{'':<10} source: {r['source']}\n")
    return "".join(out)

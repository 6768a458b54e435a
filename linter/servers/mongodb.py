"""MongoDB: `net.listenBacklog`, default the build's SOMAXCONN constant.

Sources (../shared/facts/servers-2.md, MongoDB row: `--listenBacklog` /
`net.listenBacklog` since 3.5.13, "mongos --help shows (=128)", default
compile-time SOMAXCONN per the documentation, jira SERVER-2554,
DOCS-15619 -- reported, not read in MongoDB's source here: the
mongodb/mongo snapshot is larger than the fetch limit, so the IDL line of
the default is not cited).  Read in copies of MongoDB's source in the code
index (repository paths not given there): `storeServerOptions()` sets
`serverGlobalParams.listenBacklog` from `net.listenBacklog` and splits
`net.bindIp` on commas, `*` being 0.0.0.0 (and :: with net.ipv6);
`TransportLayerASIO::start()` / `_runListener()` call
`acceptor.second.listen(serverGlobalParams.listenBacklog)` on every bound
address.  The constant is the C library's: glibc's
bits/socket.h says `#define SOMAXCONN 4096` in Debian bookworm's 2.36
(read on this machine), 128 in older releases; the release that changed
it was not established.  So the default is taken as 4096 for images of
MongoDB 6.0 and later (Ubuntu 22.04/24.04 builds) and 128 before (Ubuntu
18.04/20.04 builds), and every default listener says it rests on that.

Addresses (MongoDB's documented behaviour, not measured here: no package):
without `--bind_ip`/`--bind_ip_all` mongod binds localhost (127.0.0.1);
`--bind_ip_all` binds 0.0.0.0 (and :: with `--ipv6`); `--bind_ip a,b` one
socket per address.  The official image's entrypoint (docker-library/mongo
7.0/docker-entrypoint.sh) prepends `mongod` to arguments starting with
`-`, and appends `--bind_ip_all` to `mongod` unless the arguments give
`--bind_ip`/`--bind_ip_all` or the `--config` file sets net.bindIp /
net.bindIpAll; a container `command` bypasses the entrypoint.  Port:
`--port`, net.port, else 27017 (27018 with `--shardsvr`, 27019 with
`--configsvr`).  The command line wins over the `--config`/`-f` YAML file.
bitnami/mongodb: MONGODB_PORT_NUMBER and MONGODB_EXTRA_FLAGS (its
mongodb.conf is written at start-up: bindIpAll assumed, from its
MONGODB_ENABLE_IPV6/MONGODB_BIND_IP defaults, not verified).  The Unix
socket (/tmp/mongodb-PORT.sock) is not modelled.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, Word, config_file, image_reference, image_repository, located, parse_int

NAME = "mongodb"
TITLE = "MongoDB"
IMAGES = ("mongo", "mongodb", "mongodb-community-server", "mongodb-enterprise-server")
COMMANDS = ("mongod", "mongos")
DEFAULT_BACKLOG = "SOMAXCONN of the build (4096 for MongoDB >= 6.0 images, 128 before)"
DEFAULT_PORT = 27017
KNOB = "net.listenBacklog (`--listenBacklog N`, or net.listenBacklog in mongod.conf)"
SOURCE = "net.listenBacklog default SOMAXCONN (compile-time; jira SERVER-2554, DOCS-15619); servers-2.md"
STARTUP_WARNING = ""
NOT_KERNEL_CHECKED = (
    "no Debian/PyPI/npm package of MongoDB exists; the default follows the documented compile-time SOMAXCONN of "
    "net.listenBacklog (servers-2.md: jira SERVER-2554, DOCS-15619), not a source line read here"
)

NEW_SOMAXCONN, OLD_SOMAXCONN = 4096, 128
NEW_SINCE = 6  # MongoDB 6.0 images: Ubuntu 22.04 builds
NEWEST = 8
ROLE_PORTS = {"--shardsvr": 27018, "--configsvr": 27019}
OPTIONS = {"--listenBacklog": "listenBacklog", "--port": "port", "--bind_ip": "bindIp", "--config": "config", "-f": "config"}

if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[str, Location]]


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    texts = [w.text for w in words]
    if any(t in ("--help", "-h", "--version", "--shutdown") for t in texts):
        return []
    command_line, flags = _command_line(words)
    settings: _Settings = {}
    assumptions: List[str] = []
    bitnami = image_reference(launch.image)[1].startswith("bitnami/")
    if bitnami and not launch.command:
        extra = launch.env.get("MONGODB_EXTRA_FLAGS")
        if extra is not None:
            more, more_flags = _command_line([Word(t, extra.location) for t in extra.text.split()])
            command_line.update(more)
            flags.update(more_flags)
        port_env = launch.env.get("MONGODB_PORT_NUMBER")
        if port_env is not None and "port" not in command_line:
            settings["port"] = (port_env.text, port_env.location)
        if "bindIp" not in command_line and "bindIpAll" not in flags:
            flags["bindIpAll"] = launch.started_at
            assumptions.append("the bitnami image's mongodb.conf (written at start-up) is assumed to bind every address")
    config = command_line.get("config")
    if config is not None:
        found, said = config_file(launch, config[0], "net.listenBacklog, net.port or net.bindIp")
        if found is not None:
            settings.update(located(launch, _yaml_net, found))
        elif said:
            assumptions.append(said)
    settings.update(command_line)
    if "bindIpAll" in flags:
        settings.pop("bindIp", None)
    elif "bindIp" not in command_line and settings.get("bindIpAll", ("",))[0].lower() == "true":
        flags["bindIpAll"] = settings["bindIpAll"][1]
    official = image_repository(launch.image) == "mongo" and not bitnami
    mongos = launch.command == "mongos"
    if official and "bindIp" not in settings and "bindIpAll" not in flags and not mongos:
        flags["bindIpAll"] = launch.started_at  # the entrypoint's `--bind_ip_all`
        if launch.command:
            assumptions.append(
                "mongod is taken to run through the image's entrypoint (in `args`), which adds --bind_ip_all; a "
                "`command` that bypasses it binds 127.0.0.1 only"
            )
    port_given = settings.get("port")
    role_port = next((p for f, p in ROLE_PORTS.items() if f in flags), None)
    port = parse_int(port_given[0]) if port_given is not None else (role_port or DEFAULT_PORT)
    if port is None or port <= 0:
        return []
    found = settings.get("listenBacklog")
    value = parse_int(found[0]) if found is not None else None
    if found is not None and value is not None and value > 0:
        backlog, origin, location, explicit = value, f"net.listenBacklog {value}", found[1], True
    else:
        backlog, said = _somaxconn(launch.image)
        assumptions.append(said)
        origin, location, explicit = f"default net.listenBacklog {backlog} (SOMAXCONN of the build)", launch.started_at, False
    ipv6 = "ipv6" in flags or settings.get("ipv6", ("",))[0].lower() == "true"
    if "bindIpAll" in flags:
        addresses = ["0.0.0.0"] + (["::"] if ipv6 else [])
    elif settings.get("bindIp", ("",))[0].strip() == "*":
        addresses = ["0.0.0.0"] + (["::"] if ipv6 else [])  # storeServerOptions(): `*` is 0.0.0.0 (and ::)
    elif "bindIp" in settings:
        addresses = [a.strip() for a in settings["bindIp"][0].split(",") if a.strip()]
    else:
        addresses = ["127.0.0.1"] + (["::1"] if ipv6 else [])
    assumption = "; ".join(assumptions) if assumptions else None
    out = []
    for address in dict.fromkeys(addresses):
        if address == "localhost":
            address = "127.0.0.1"
        out.append(Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, assumption=assumption))
    return out


def set_backlog(value: int) -> str:
    return f"set MongoDB's net.listenBacklog to {value} (`--listenBacklog {value}`)"


def _somaxconn(image: str) -> Tuple[int, str]:
    _registry, _path, tag = image_reference(image)
    digits = ""
    for char in tag:
        if not char.isdigit():
            break
        digits += char
    major = int(digits) if digits and len(digits) <= 2 else None
    if major is None:
        return NEW_SOMAXCONN, (
            f"the image tag names no MongoDB release: its build's SOMAXCONN taken as {NEW_SOMAXCONN} "
            "(a recent glibc's; older builds say 128)"
        )
    if major >= NEW_SINCE:
        return NEW_SOMAXCONN, f"MongoDB {major}'s build is taken to have glibc's SOMAXCONN {NEW_SOMAXCONN} (Ubuntu 22.04 or later)"
    return OLD_SOMAXCONN, f"MongoDB {major}'s build is taken to have glibc's older SOMAXCONN {OLD_SOMAXCONN}"


def _command_line(words: List[Word]):
    """Options with values (`--port 27017`, `--port=27017`) and flags;
    later ones win."""
    out: _Settings = {}
    flags: Dict[str, Location] = {}
    i = 0
    while i < len(words):
        text = words[i].text
        name, eq, value = text.partition("=")
        if name in OPTIONS:
            if eq:
                out[OPTIONS[name]] = (value, words[i].location)
            elif i + 1 < len(words):
                out[OPTIONS[name]] = (words[i + 1].text, words[i + 1].location)
                i += 1
        elif text == "--bind_ip_all":
            flags["bindIpAll"] = words[i].location
        elif text == "--ipv6":
            flags["ipv6"] = words[i].location
        elif text in ROLE_PORTS:
            flags[text] = words[i].location
        i += 1
    if "bindIp" in out and "bindIpAll" in flags:
        del flags["bindIpAll"]  # (mongod refuses both; the later is kept)
    return out, flags


def _yaml_net(text: str) -> Dict[str, Tuple[str, int, int]]:
    """The `net:` section of a mongod.conf (YAML, block style, or the
    dotted `net.port: N` spelling): listenBacklog, port, bindIp,
    bindIpAll, ipv6."""
    out: Dict[str, Tuple[str, int, int]] = {}
    section = None
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.split("#", 1)[0].rstrip()
        if not body.strip():
            continue
        indent = len(body) - len(body.lstrip())
        key, colon, value = body.strip().partition(":")
        if not colon:
            continue
        key = key.strip().strip("'\"")
        value = value.strip().strip("'\"")
        if indent == 0:
            section = key
            if key.startswith("net."):
                name = key[4:]
                if name in ("listenBacklog", "port", "bindIp", "bindIpAll", "ipv6") and value:
                    out[name] = (value, number, body.index(value, len(key)) + 1)
            continue
        if section == "net" and key in ("listenBacklog", "port", "bindIp", "bindIpAll", "ipv6") and value:
            out[key] = (value, number, body.index(value, indent + len(key)) + 1)
    return out

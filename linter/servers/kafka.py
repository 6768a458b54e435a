"""Kafka broker: `socket.listen.backlog.size`, default 50, for every
listener.

Sources (apache/kafka @ 1eb7644, read in the snapshot):
server/src/main/java/org/apache/kafka/network/SocketServerConfigs.java:124-125
`SOCKET_LISTEN_BACKLOG_SIZE_CONFIG = "socket.listen.backlog.size"`,
`SOCKET_LISTEN_BACKLOG_SIZE_DEFAULT = 50` (KIP-764, Kafka 3.2; before it
`ServerSocket.bind(addr)`, whose backlog is the JDK's default 50 too);
core/src/main/scala/kafka/network/SocketServer.scala:594,723-734
`openServerSocket()`: `serverChannel.socket.bind(socketAddress,
listenBacklogSize)`, one server socket per entry of `listeners`
(SocketServerConfigs.java:67 default `PLAINTEXT://:9092`), a blank host
being `new InetSocketAddress(port)`, the wildcard.  The backlog is one
broker-wide setting (KafkaConfig.scala:434), not per listener.

Measured with this machine's OpenJDK 17 (a ServerSocketChannel bound as
openServerSocket does, in a network namespace, `ss -lntH`): a blank host
and `0.0.0.0` are each one dual-stack socket `*:PORT` (Send-Q the backlog
asked for), `127.0.0.1` one socket `[::ffff:127.0.0.1]`; so every listener
is one socket.  No Kafka binary was run (not packaged).

Settings, as each image builds server.properties:

* `kafka-server-start.sh FILE [--override k=v ...]`: the file (read when
  mounted), the overrides winning;
* apache/kafka (docker/resources/common-scripts/configure, docker/jvm/launch,
  core/src/main/scala/kafka/docker/KafkaDockerWrapper.scala:116-137,172-179):
  env `KAFKA_X` -> property (strip `KAFKA_`, lower case, `_`->`.`,
  `...`->`-`, `..`->`_`; KAFKA_OPTS, KAFKA_HEAP_OPTS and the other
  ExcludeServerPropsEnv names excluded), appended to a mounted
  /mnt/shared/config/server.properties, or alone when none is mounted; with
  neither, the image's default (config/kraft/server.properties:
  `listeners=PLAINTEXT://:9092,CONTROLLER://:9093`).  KAFKA_LISTENERS, when
  unset, is KAFKA_ADVERTISED_LISTENERS with every host made 0.0.0.0
  (configure), except for a controller-only node;
* confluentinc/cp-kafka: the same KAFKA_X rule and the same derivation of
  KAFKA_LISTENERS (the apache image's configure follows Confluent's; not
  read here);
* bitnami/kafka (libkafka.sh kafka_configure_from_environment_variables):
  `KAFKA_CFG_X` -> property (strip, `_`->`.`, lower case), over the image's
  server.properties, whose listeners are assumed to be
  `PLAINTEXT://:9092,CONTROLLER://:9093` when no KAFKA_CFG_LISTENERS is set.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, config_file, image_reference, located, parse_int

NAME = "kafka"
TITLE = "Kafka"
IMAGES = ("kafka", "cp-kafka", "cp-server")
COMMANDS = ("kafka-server-start.sh", "kafka-server-start")
DEFAULT_BACKLOG = 50
DEFAULT_LISTENERS = "PLAINTEXT://:9092"  # SocketServerConfigs.LISTENERS_DEFAULT
IMAGE_LISTENERS = "PLAINTEXT://:9092,CONTROLLER://:9093"  # the images' KRaft server.properties
KNOB = "socket.listen.backlog.size (server.properties; KAFKA_SOCKET_LISTEN_BACKLOG_SIZE, bitnami KAFKA_CFG_SOCKET_LISTEN_BACKLOG_SIZE)"
SOURCE = "SocketServerConfigs.java SOCKET_LISTEN_BACKLOG_SIZE_DEFAULT = 50 (KIP-764); SocketServer.scala openServerSocket()"
STARTUP_WARNING = ""
# a JVM: an IPv4 address is bound through an IPv6 socket (explain's ss_line)
JVM = True
NOT_KERNEL_CHECKED = (
    "no Debian/PyPI/npm package of Kafka exists; the value follows SocketServerConfigs.java:125 "
    "SOCKET_LISTEN_BACKLOG_SIZE_DEFAULT = 50, passed by SocketServer.scala:734 serverChannel.socket.bind(addr, backlog)"
)

BACKLOG_KEY = "socket.listen.backlog.size"
APACHE_MOUNTED = "/mnt/shared/config/server.properties"
EXCLUDED_ENV = frozenset((
    "KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_JMX_HOSTNAME",
    "KAFKA_JMX_PORT", "KAFKA_DEBUG", "KAFKA_HOME",
))

if TYPE_CHECKING:
    _Settings = Dict[str, Tuple[str, Location]]


def listeners(launch: Launch) -> List[Listener]:
    settings, assumptions, default_listeners = _settings(launch)
    if settings is None:
        return []
    found = settings.get(BACKLOG_KEY)
    value = parse_int(found[0]) if found is not None else None
    if found is not None and value is not None and value > 0:
        backlog, origin, location, explicit = value, f"{BACKLOG_KEY} {value}", found[1], True
    else:
        backlog, origin, location, explicit = DEFAULT_BACKLOG, f"default {BACKLOG_KEY} {DEFAULT_BACKLOG}", launch.started_at, False
    given = settings.get("listeners")
    text, at = given if given is not None else (default_listeners, launch.started_at)
    assumption = "; ".join(assumptions) if assumptions else None
    out = []
    for entry in text.split(","):
        entry = entry.strip()
        name, sep, rest = entry.partition("://")
        if not sep:
            continue
        host, _, port_text = rest.rpartition(":")
        port = parse_int(port_text)
        if port is None or port < 0:
            continue
        host = host.strip("[]")
        # a blank host and 0.0.0.0: one dual-stack socket (measured)
        address = "*" if host in ("", "0.0.0.0", "::") else host
        out.append(
            Listener(NAME, address, port, backlog, f"{origin} (listener {name})", location, explicit, KNOB,
                     assumption=assumption, bound_at=at, written=f"{entry}")
        )
    return out


def set_backlog(value: int) -> str:
    return f"set Kafka's {BACKLOG_KEY}={value} (server.properties, or the image's environment variable for it)"


def _flavour(image: str) -> str:
    _registry, path, _tag = image_reference(image)
    organisation = path.rpartition("/")[0]
    if organisation == "bitnami":
        return "bitnami"
    if organisation == "confluentinc":
        return "confluent"
    return "apache"


def env_property(name: str, flavour: str) -> Optional[str]:
    """The server.properties key an image's entrypoint makes of an
    environment variable, else None."""
    if flavour == "bitnami":
        if not name.startswith("KAFKA_CFG_"):
            return None
        return name[len("KAFKA_CFG_"):].replace("_", ".").lower()
    if not name.startswith("KAFKA_") or name in EXCLUDED_ENV or name.startswith("KAFKA_CFG_"):
        return None
    return name.replace("KAFKA_", "").lower().replace("_", ".").replace("...", "-").replace("..", "_")


def _settings(launch: Launch):
    """(settings, assumptions, the listeners when none is set), or
    (None, ...) when the launch starts no broker."""
    out: _Settings = {}
    assumptions: List[str] = []
    words = launch.words
    if launch.command:
        # kafka-server-start.sh FILE [--override k=v]...
        if not words or words[0].text.startswith("-"):
            return None, assumptions, DEFAULT_LISTENERS
        found, said = config_file(launch, words[0].text, "listeners or socket.listen.backlog.size")
        if found is not None:
            out.update(located(launch, _properties, found))
        elif said:
            assumptions.append(said)
        i = 1
        while i < len(words):
            if words[i].text == "--override" and i + 1 < len(words):
                key, eq, value = words[i + 1].text.partition("=")
                if eq:
                    out[key.strip()] = (value.strip(), words[i + 1].location)
                i += 2
                continue
            i += 1
        return out, assumptions, DEFAULT_LISTENERS
    flavour = _flavour(launch.image)
    from_env: _Settings = {}
    for name, word in launch.env.items():
        key = env_property(name, flavour)
        if key is not None:
            from_env[key] = (word.text, word.location)
    if flavour == "bitnami":
        assumptions.append("the bitnami image's server.properties (not in the input) is assumed to set no socket.listen.backlog.size")
        out.update(from_env)
        return out, assumptions, IMAGE_LISTENERS
    # apache/kafka (and cp-kafka): KAFKA_LISTENERS from the advertised ones
    roles = from_env.get("process.roles")
    if "listeners" not in from_env and "advertised.listeners" in from_env and not (roles and roles[0].strip() == "controller"):
        text, at = from_env["advertised.listeners"]
        derived = ",".join(_any_host(e) for e in text.split(","))
        from_env["listeners"] = (derived, at)
    mounted = launch.read(APACHE_MOUNTED) if flavour == "apache" else None
    if mounted is not None:
        out.update(located(launch, _properties, mounted))
        out.update(from_env)
        return out, assumptions, DEFAULT_LISTENERS
    if from_env:
        return from_env, assumptions, DEFAULT_LISTENERS
    if flavour == "confluent":
        assumptions.append("cp-kafka is configured by its KAFKA_ environment variables, none of which is given")
        return out, assumptions, DEFAULT_LISTENERS
    return out, assumptions, IMAGE_LISTENERS


def _any_host(entry: str) -> str:
    """`sed -e 's|://[^:]*:|://0.0.0.0:|g'` of the image's configure."""
    name, sep, rest = entry.partition("://")
    if not sep or ":" not in rest:
        return entry
    return f"{name}://0.0.0.0:{rest.split(':', 1)[1]}"


def _properties(text: str) -> Dict[str, Tuple[str, int, int]]:
    """server.properties (java.util.Properties, simple lines): `key=value`
    or `key: value`, `#`/`!` comments; the last line wins.  Continuation
    lines are not joined."""
    out: Dict[str, Tuple[str, int, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.strip()
        if not body or body[0] in "#!":
            continue
        cut = min((i for i in (body.find("="), body.find(":")) if i >= 0), default=-1)
        if cut < 0:
            continue
        key, value = body[:cut].strip(), body[cut + 1:].strip()
        column = len(line) - len(line.lstrip()) + 1
        out[key] = (value, number, column)
    return out

"""Tomcat and Spring Boot's embedded Tomcat: `acceptCount`, default 100,
is the backlog of the connector's server socket.

Sources (../shared/facts/servers.md §2.14): Tomcat `private int
acceptCount = 100;` java/org/apache/tomcat/util/net/AbstractEndpoint.java:1261
(apache/tomcat @ 84ac9af0; :998 on 10.1.x, :1051 on 9.0.x), and
`setAcceptCount()` keeps the old value when given `<= 0` (:1268-1271);
`serverSock.bind(addr, getAcceptCount())` NioEndpoint.java:474,494; the knob
is `<Connector acceptCount="N">` in server.xml (docs http.xml:380-387).
Spring Boot: `@ConfigurationProperties("server.tomcat")` `private int
acceptCount = 100;` (TomcatServerProperties.java:61,126 on 4.x,
ServerProperties.java:463 on 3.5.x), applied only `.when(this::isPositive)`
(TomcatWebServerFactoryCustomizer.java:147-149); the environment variable
is `SERVER_TOMCAT_ACCEPTCOUNT` (external-config.adoc:1136-1138: dots to
underscores, dashes dropped, upper case) and the argument
`--server.tomcat.accept-count=N`. Java never reads somaxconn: silent clamp.

Recognised by: a `java ... -jar app.jar` command *with* Spring Boot Tomcat
evidence in the manifest (an environment variable `SERVER_TOMCAT_*`, an
argument `--server.tomcat.*` or `-Dserver.tomcat.*`), so that not every JVM
is taken for Tomcat; and the official `tomcat` image, whose server.xml is
read when the input mounts it at /usr/local/tomcat/conf/server.xml
(CATALINA_HOME /usr/local/tomcat, `CMD ["catalina.sh", "run"]`:
docker-library/tomcat @ 40f27d56, 10.1/jdk11/temurin-jammy/Dockerfile:9,158
-- read beyond the sheet, which leaves the image's content unverified: so
without a mounted server.xml the image gives no listener).

Not encoded (not on the sheet): which of the command line, the environment
and a config file wins when they disagree -- the module gives no listener
then, nor when the backlog may come from a place it does not read
(`-Dserver.tomcat.accept-count`, another spelling of the name,
SPRING_APPLICATION_JSON, JAVA_TOOL_OPTIONS/JDK_JAVA_OPTIONS, or a config
file named by spring.config.location / SPRING_CONFIG_LOCATION). Spring
Boot's default port 8080 (and `server.port`/SERVER_PORT, read for the
message only) come from the brief, not from the sheet.
"""

from __future__ import annotations

import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Word, image_repository, parse_int, parsed

NAME = "tomcat"
TITLE = "Tomcat"
IMAGES = ("tomcat",)
COMMANDS = ("java",)
DEFAULT_BACKLOG = 100
DEFAULT_PORT = 8080
KNOB = (
    "acceptCount (`<Connector acceptCount=\"N\">` in server.xml; Spring Boot: server.tomcat.accept-count, "
    "SERVER_TOMCAT_ACCEPTCOUNT or --server.tomcat.accept-count=N)"
)
SOURCE = (
    "java/org/apache/tomcat/util/net/AbstractEndpoint.java:1261 acceptCount = 100; Spring Boot "
    "TomcatServerProperties.java:126 acceptCount = 100; servers.md §2.14"
)
STARTUP_WARNING = ""
# a JVM: an IPv4 address is bound through an IPv6 socket (explain's ss_line)
JVM = True
# No listener read means the configuration that defines them is not in the
# input (or not literal): said as unresolved (SMX018), never silent.
EMPTY_MEANS_UNREAD = True

ENV = "SERVER_TOMCAT_ACCEPTCOUNT"
# Tomcat's acceptor accepts until maxConnections (8192 by default) are open;
# acceptCount is "the maximum length of the operating system provided queue
# for incoming connection requests when maxConnections has been reached"
# (webapps/docs/config/http.xml, acceptCount): not a small queue for SMX027
ACCEPTS_UNTIL = "maxConnections"
ARG = "--server.tomcat.accept-count="
SERVER_XML = "/usr/local/tomcat/conf/server.xml"
CATALINA_HOME = "/usr/local/tomcat"

# Places the accept count may also be set that this module does not read.
_CONFIG_LOCATION_ENV = ("SPRING_CONFIG_LOCATION", "SPRING_CONFIG_ADDITIONAL_LOCATION", "SPRING_APPLICATION_JSON")
_CONFIG_LOCATION_ARGS = ("--spring.config.location=", "--spring.config.additional-location=", "--spring.application.json=")
_JVM_OPTION_ENV = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")


def listeners(launch: Launch) -> List[Listener]:
    texts = [w.text for w in launch.words]
    if "-jar" in texts:
        return _spring_boot(launch, texts.index("-jar"))
    if not texts:
        return _server_xml(launch)
    return []


def launch_is_other_server(launch: Launch) -> bool:
    """A `java` launch that is Jetty's (`-jar .../start.jar`, or the jetty
    image's own command): jetty.py's, not an unread Tomcat."""
    texts = [w.text for w in launch.words]
    at = texts.index("-jar") if "-jar" in texts else -1
    return (0 <= at < len(texts) - 1 and texts[at + 1].endswith("start.jar")) or image_repository(launch.image) == "jetty"


def config_paths(launch: Launch) -> List[str]:
    """The file the listeners live in, for an unresolved entry (SMX018):
    the official image's server.xml (Spring Boot's are not one file)."""
    if launch.words:
        return []
    base = launch.env.get("CATALINA_BASE")
    if base is not None and base.text.rstrip("/") != CATALINA_HOME:
        return [base.text.rstrip("/") + "/conf/server.xml"]
    return [SERVER_XML]


def _squash(name: str) -> str:
    return re.sub(r"[-_.]", "", name).lower()


def _spring_boot(launch: Launch, jar_at: int) -> List[Listener]:
    jvm = launch.words[:jar_at]
    app = launch.words[jar_at + 2:]
    env = launch.env
    evidence = (
        any(name.startswith("SERVER_TOMCAT_") for name in env)
        or any(w.text.startswith("--server.tomcat.") for w in app)
        or any(w.text.startswith("-Dserver.tomcat.") for w in jvm)
    )
    if not evidence:
        return []  # a JVM, not known to be Tomcat
    found: List[Tuple[str, Word, str]] = []  # (value, where, origin)
    for name, word in env.items():
        if name == ENV:
            found.append((word.text, word, f"{ENV}={word.text}"))
        elif _squash(name) == "servertomcatacceptcount":
            return []  # another spelling: whether it binds is not on the sheet
        elif name in _CONFIG_LOCATION_ENV:
            return []
        elif name in _JVM_OPTION_ENV and any(k in word.text for k in ("server.tomcat", "spring.config", "spring.application.json")):
            return []
    for word in app:
        key, eq, value = word.text.partition("=")
        if word.text.startswith(ARG):
            found.append((value, word, word.text))
        elif key.startswith("--") and _squash(key) == "servertomcatacceptcount":
            return []
        elif word.text.startswith(_CONFIG_LOCATION_ARGS):
            return []
    for word in jvm:
        if word.text.startswith("-D") and (
            _squash(word.text[2:].partition("=")[0]) in ("servertomcatacceptcount", "springconfiglocation", "springconfigadditionallocation", "springapplicationjson")
        ):
            return []  # a system property: its precedence is not on the sheet
    address, port = "*", _port(launch, app)
    if not found:
        return [Listener(NAME, address, port, DEFAULT_BACKLOG, f"Spring Boot's default server.tomcat.accept-count {DEFAULT_BACKLOG}", launch.started_at, False, KNOB)]
    values = {parse_int(value) for value, _, _ in found}
    if len(values) != 1 or None in values:
        return []  # set twice differently, or not a literal integer
    backlog = values.pop()
    if backlog <= 0:
        # `.when(this::isPositive)`: ignored, Tomcat keeps its 100
        return [Listener(NAME, address, port, DEFAULT_BACKLOG, f"default acceptCount {DEFAULT_BACKLOG} ({found[0][2]} is ignored)", launch.started_at, False, KNOB)]
    _, where, origin = found[0]
    return [Listener(NAME, address, port, backlog, origin, where.location, True, KNOB)]


def _port(launch: Launch, app: List[Word]) -> Optional[int]:
    """server.port (SERVER_PORT, --server.port=N) for the message; 8080
    when unset; None when set to something that is not a literal."""
    value = None
    if "SERVER_PORT" in launch.env:
        value = launch.env["SERVER_PORT"].text
    for word in app:
        if word.text.startswith("--server.port="):
            value = word.text[len("--server.port="):]
    if value is None:
        return DEFAULT_PORT
    return parse_int(value)


def _server_xml(launch: Launch) -> List[Listener]:
    base = launch.env.get("CATALINA_BASE")
    if base is not None and base.text.rstrip("/") != CATALINA_HOME:
        return []  # another CATALINA_BASE: its server.xml is elsewhere
    found = launch.read(SERVER_XML)
    if found is None:
        return []  # not in the input (and the image's own file is unverified)
    text, locate = found
    connectors = parsed(launch, _connectors, text)
    if connectors is None:
        return []
    out = []
    for at, attributes, accept_at, element in connectors:
        if element == "Server":
            shutdown = _shutdown(attributes, locate(*at))
            out.extend(shutdown)
            continue
        if "backlog" in attributes:
            continue  # not the documented attribute: not read
        port = parse_int(attributes.get("port", ""))
        address = attributes.get("address") or "*"
        if "acceptCount" not in attributes:
            out.append(Listener(NAME, address, port, DEFAULT_BACKLOG, f"default acceptCount {DEFAULT_BACKLOG}", locate(*at), False, KNOB))
            continue
        value = parse_int(attributes["acceptCount"])
        if value is None:
            continue  # a ${property}: not known
        where = locate(*accept_at)
        if value <= 0:
            out.append(Listener(NAME, address, port, DEFAULT_BACKLOG, f"default acceptCount {DEFAULT_BACKLOG} (acceptCount {value} is ignored)", where, False, KNOB))
        else:
            out.append(Listener(NAME, address, port, value, f"acceptCount {value} (server.xml)", where, True, KNOB))
    return out


# The shutdown port: StandardServer.await() listens with `new
# ServerSocket(port, 1, InetAddress.getByName(address))` -- backlog 1, on
# `address` (default "localhost": 127.0.0.1) -- for the shutdown command;
# port -1 (or below 0) opens none (catalina StandardServer.java).
SHUTDOWN_BACKLOG = 1


def _shutdown(attributes: dict, where) -> List[Listener]:
    port = parse_int(attributes.get("port", "8005"))
    if port is None or port < 0:
        return []
    address = attributes.get("address", "localhost")
    address = "127.0.0.1" if address == "localhost" else address
    return [Listener(NAME, address, port, SHUTDOWN_BACKLOG, f"shutdown port (backlog {SHUTDOWN_BACKLOG}), not serving traffic", where, False,
                     '<Server port="-1"> (disables it)', serves=False)]


def _connectors(text: str) -> Optional[List[Tuple[Tuple[int, int], dict, Tuple[int, int]]]]:
    """The `<Server>` element (its shutdown port) and the `<Connector>`
    elements of a server.xml, in order: (line, column) of the element, its
    attributes, (line, column) of its `acceptCount=` (else the element's),
    and the element's name; None when the file does not parse.

    expat reports where an element starts as a byte offset: the characters
    before it are counted from the previous element's offset on, and a
    character offset becomes a line and column by bisecting the line
    starts -- decoding the whole prefix and scanning every line start for
    each element cost the square of a file of many connectors."""
    from bisect import bisect_right
    from xml.parsers import expat  # a C extension: loaded when a server.xml is read

    try:
        data = text.encode("utf-8")
    except UnicodeError:  # (a lone surrogate: not XML expat reads)
        return None
    found: List[Tuple[int, dict]] = []  # (byte offset of "<Connector", attributes)
    server: List[Tuple[int, dict]] = []  # the <Server> element's
    parser = expat.ParserCreate()

    def start(name, attributes):
        if name == "Connector":
            found.append((parser.CurrentByteIndex, dict(attributes)))
        elif name == "Server" and not server:
            server.append((parser.CurrentByteIndex, dict(attributes)))

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError, RecursionError, MemoryError):
        return None
    line_starts = [0]
    line_starts += [match.end() for match in re.finditer("\n", text)]

    def at(offset: int) -> Tuple[int, int]:
        line = bisect_right(line_starts, offset) - 1
        return line + 1, offset - line_starts[line] + 1

    out = []
    chars = done = 0  # characters in data[:done]
    if server:
        # the shutdown port: (position, its attributes, position, "Server") first
        index, attributes = server[0]
        chars, done = len(data[:index].decode("utf-8", "replace")), index
        out.append((at(chars), attributes, at(chars), "Server"))
    for index, attributes in found:
        chars += len(data[done:index].decode("utf-8", "replace"))
        done = index
        offset = chars
        accept = offset
        if "acceptCount" in attributes:
            tag = text[offset: text.find(">", offset) + 1 or len(text)]
            match = re.search(r"\bacceptCount\s*=", tag)
            if match:
                accept = offset + match.start()
        out.append((at(offset), attributes, at(accept), "Connector"))
    return out

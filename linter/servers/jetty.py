"""Jetty (jetty-home's `java -jar start.jar`): `jetty.http.acceptQueueSize`,
default 0, which the JDK turns into a backlog of 50.

Sources (../shared/facts/servers.md §2.14): jetty `ServerConnector.java:80`
`private volatile int _acceptQueueSize = 0;` and `:344`
`serverChannel.bind(bindAddress, getAcceptQueueSize())` (jetty/jetty.project
@ acf33259); JDK `ServerSocketChannelImpl.bind()` `Net.listen(fd, backlog
< 1 ? 50 : backlog)` (openjdk/jdk @ 0f7aeed4); jetty-home
`etc/jetty-http.xml:36-40` `<Set name="host"><Property
name="jetty.http.host"/>`, `<Set name="port"><Property
name="jetty.http.port" default="8080"/>`, `<Set name="acceptQueueSize">
<Property name="jetty.http.acceptQueueSize" default="0"/>` (read in
Debian's jetty9 9.4, /usr/share/jetty9/etc/jetty-http.xml; `modules/http.mod`
leaves them commented).  Java never reads somaxconn: the kernel's silent min.

Measured with Debian 12's jetty9 9.4 on OpenJDK 17 in a network namespace
(tests/kernel/servers_jetty.py): `java -jar start.jar` with the http
module: Send-Q 50 by default; `jetty.http.acceptQueueSize=N` on the command
line, in start.ini or start.d/http.ini, and `-Djetty.http.acceptQueueSize=N`
before `-jar` are the queue; the command line wins over the ini files,
which win over a `-D` system property (measured: `-D...=400` with start.ini
250 gives 250).  No `jetty.http.host`, and `0.0.0.0` or `::`, is ONE
dual-stack socket (ss `*:8080`, measured for all three); `jetty.http.host=127.0.0.1` is an IPv6 socket bound to the
IPv4-mapped address (ss `[::ffff:127.0.0.1]:8080`): the address given here
is 127.0.0.1, the one it accepts connections to (the kernel suite matches
a predicted IPv4 address against its mapped form).

Recognised by: a `java ... -jar .../start.jar ...` command (not any JVM:
Tomcat's module claims Spring Boot's `-jar app.jar`), and the official
`jetty` image run with its CMD (`java -jar /usr/local/jetty/start.jar`,
JETTY_BASE /var/lib/jetty as WORKDIR) or with arguments its entrypoint
prepends that command to (a first argument that is not a command:
`jetty.http.port=9090`, `--module=...`; eclipse/jetty.docker @ ebf58ffb,
9.4-jdk11/Dockerfile and docker-entrypoint.sh, which also passes
JAVA_OPTIONS to the JVM).  The base's start.ini and start.d/http.ini are
read when the input mounts them; else the image's (whose http.ini, made by
`--add-to-start=...http...`, leaves the property commented) is assumed to
set none.  Not read: the deprecated names (`jetty.port`, `jetty.host`,
`http.acceptQueueSize`), the https/ssl connector (`jetty.ssl.*`), XML
files of the base, and a jetty.start the entrypoint may have left from an
earlier start.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, Word, image_repository, located, parse_int

NAME = "jetty"
TITLE = "Jetty"
IMAGES = ("jetty",)
COMMANDS = ("java",)
# the entrypoint prepends `java -jar $JETTY_HOME/start.jar` to a first
# argument that is not a command
ENTRYPOINT_PREPENDS = {"jetty": ("-*", "*=*")}
DEFAULT_BACKLOG = 50
DEFAULT_PORT = 8080
KNOB = "jetty.http.acceptQueueSize (`jetty.http.acceptQueueSize=N` on start.jar's command line or in start.d/http.ini)"
SOURCE = "jetty ServerConnector.java:80 _acceptQueueSize = 0; JDK ServerSocketChannelImpl.bind() backlog < 1 ? 50; servers.md §2.14"
STARTUP_WARNING = ""
# a JVM: an IPv4 address is bound through an IPv6 socket (explain's ss_line)
JVM = True

JDK_DEFAULT = 50
IMAGE_BASE = "/var/lib/jetty"
ACCEPT, PORT, HOST, BASE = "jetty.http.acceptQueueSize", "jetty.http.port", "jetty.http.host", "jetty.base"
PROPERTIES = (ACCEPT, PORT, HOST, BASE)

if TYPE_CHECKING:
    _Found = Dict[str, Tuple[str, Location]]


def listeners(launch: Launch) -> List[Listener]:
    texts = [w.text for w in launch.words]
    repository = image_repository(launch.image)
    if "-jar" in texts:
        at = texts.index("-jar")
        if at + 1 >= len(texts) or not texts[at + 1].endswith("start.jar"):
            return []  # another jar: not Jetty's start.jar
        jvm, args = list(launch.words[:at]), list(launch.words[at + 2:])
        java_options = launch.command == "" and repository in IMAGES
    elif launch.command == "" and repository in IMAGES:
        jvm, args, java_options = [], list(launch.words), True
    else:
        return []
    if java_options and "JAVA_OPTIONS" in launch.env:
        word = launch.env["JAVA_OPTIONS"]
        jvm = [Word(part, word.location) for part in word.text.split()] + jvm  # the entrypoint: java $JAVA_OPTIONS "$@"
    system: _Found = {}
    for word in jvm:
        if word.text.startswith("-D"):
            key, _, value = word.text[2:].partition("=")
            if key in PROPERTIES:
                system[key] = (value, word.location)
    command_line: _Found = {}
    for word in args:
        if not word.text.startswith("-") and "=" in word.text:
            key, _, value = word.text.partition("=")
            if key in PROPERTIES:
                command_line[key] = (value, word.location)  # later ones win
    base, base_assumed = _base(launch, command_line, system, repository)
    files: _Found = {}
    assumption = None
    read_any = False
    for path in (base.rstrip("/") + "/start.ini", base.rstrip("/") + "/start.d/http.ini"):
        found = launch.read(path)
        if found is None:
            continue
        read_any = True
        files.update(located(launch, _ini, found))
    if ACCEPT not in command_line:
        unread = "start.d/*.ini files other than http.ini" if read_any else "start.ini and start.d/*.ini"
        assumption = f"the {unread} of jetty.base {base} (not in the input) are assumed to set no {ACCEPT}"
        if base_assumed:
            assumption = f"{base_assumed}; {assumption}"
    settings = dict(system)
    settings.update(files)
    settings.update(command_line)
    port = DEFAULT_PORT
    if PORT in settings:
        port = parse_int(settings[PORT][0])
        if port is None:
            return []
    host = settings[HOST][0].strip().strip("[]") if HOST in settings and settings[HOST][0].strip() else None
    if host is None or host in ("0.0.0.0", "::"):
        address, written = "*", None
    else:
        # an IPv4 literal is an IPv6 socket bound to the IPv4-mapped address
        # (ss `[::ffff:127.0.0.1]`, measured) unless preferIPv4Stack: either
        # way it accepts IPv4 connections to that address, which is given
        address, written = host, (f"[{host}]:{port}" if ":" in host else None)
    if ACCEPT in settings:
        value, location = settings[ACCEPT]
        size = parse_int(value)
        if size is None:
            return []  # not a literal
        if size < 1:
            backlog, origin, explicit = JDK_DEFAULT, f"{ACCEPT}={size}: the JDK's default backlog {JDK_DEFAULT}", False
        else:
            backlog, origin, explicit = size, f"{ACCEPT}={size}", True
    else:
        location = launch.started_at
        backlog, origin, explicit = JDK_DEFAULT, f"default {ACCEPT} 0: the JDK's default backlog {JDK_DEFAULT}", False
    return [Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, assumption=assumption, written=written)]


def set_backlog(value: int) -> str:
    return f"set Jetty's {ACCEPT} to {value} (`{ACCEPT}={value}` on start.jar's command line or in start.d/http.ini)"


def _base(launch: Launch, command_line, system, repository):
    """jetty.base: the property, else the working directory (the image's
    WORKDIR is its JETTY_BASE)."""
    for found in (command_line, system):
        if BASE in found:
            return found[BASE][0].rstrip("/"), None
    if launch.working_dir:
        return launch.working_dir.rstrip("/") or "/", None
    if repository in IMAGES:
        return IMAGE_BASE, None
    return "/", "no jetty.base or workingDir: the image's WORKDIR (not in the input) is jetty.base, read as /"


def _ini(text: str):
    """`name=value` lines of a start.ini / start.d file: the properties
    read; later lines win."""
    out = {}
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.strip()
        if not body or body.startswith("#") or body.startswith("-"):
            continue
        key, eq, value = body.partition("=")
        if eq and key.strip() in PROPERTIES:
            out[key.strip()] = (value.strip(), number, len(line) - len(line.lstrip()) + 1)
    return out

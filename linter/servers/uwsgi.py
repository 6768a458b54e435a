"""uWSGI: `--listen`/`-l`, default 100, and it refuses to start above
somaxconn.

Sources (../shared/facts/servers.md §2.4, unbit/uwsgi @ 6cbb2177 and
uwsgi-2.0 @ 9b1bb837): `uwsgi.listen_queue = 100;` core/init.c:124; option
`listen`/`-l` core/uwsgi.c:165; create_server_socket() (core/socket.c:126-133)
reads /proc/sys/net/core/somaxconn and, when `listen_queue > somaxconn`
(strictly), logs "Listen queue size is greater than the system max
net.core.somaxconn (N)." and calls uwsgi_nuclear_blast(), which exits(1):
the container crash-loops. Every `UWSGI_<NAME>` environment variable is
option `<name>` (parse_sys_envs, core/utils.c:1632-1653), so
`UWSGI_LISTEN=1024` is `--listen 1024`.

Read beyond the sheet (unbit/uwsgi @ 6cbb2177): `--ini file[:section]`
(the section after the last `:`, else [uwsgi]) is opened as named
(uwsgi_ini_config(), core/ini.c:79-118; uwsgi_open_and_read(), core/io.c:487),
so a relative path is relative to the process's working directory, the
container's workingDir (without one, the image's WORKDIR, which the input
does not show: then said as an assumption); its keys are the command
line's options, so `http-socket = :8000` in it is the socket.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener, Option, Word, config_file, find_option, parse_int, parsed

NAME = "uwsgi"
TITLE = "uWSGI"
IMAGES = ()  # no official image: recognised by its command
COMMANDS = ("uwsgi",)
DEFAULT_BACKLOG = 100
DEFAULT_PORT = None
KNOB = "listen (`--listen N`, `-l N`, `listen = N` in the ini file, or UWSGI_LISTEN)"
SOURCE = "core/init.c:124 uwsgi.listen_queue = 100; core/socket.c:126-133 exits above somaxconn; servers.md §2.4"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--listen",), short=("-l",))
SOCKETS = Option(long=("--http", "--http-socket", "--socket", "--uwsgi-socket", "--https"), short=("-s",))


INI = Option(long=("--ini",))
# the ini keys read: `listen` and the socket options SOCKETS names
INI_SOCKETS = ("http", "http-socket", "socket", "uwsgi-socket", "https")


def _ini(launch: Launch):
    """`listen` and the socket options in the [uwsgi] section of the ini
    file `--ini` names (or a bare `*.ini` argument), when the input
    provides it: ({key: (value, Word)}, assumption).  A relative path is
    opened from the working directory (the container's workingDir)."""
    found = find_option(launch.words, INI)
    path = found[0] if found else next((w.text for w in launch.words if w.text.endswith(".ini") and not w.text.startswith("-")), None)
    if path is None:
        return {}, None
    wanted = "uwsgi"
    file, colon, section_asked = path.rpartition(":")
    if colon and "/" not in section_asked:
        path, wanted = file, section_asked or wanted
    read, assumption = config_file(launch, path, "listen")
    if read is None:
        return {}, assumption
    text, locate = read
    result = {}
    for section, key, value, number, column in parsed(launch, _ini_settings, text):
        if section == wanted:
            # later lines win, as uWSGI reads them in order
            result["socket" if key in INI_SOCKETS else key] = (value, Word(value, locate(number, column)))
    return result, assumption


def _ini_settings(text: str):
    """(section, key, value, line, column) of each `listen` and socket
    option of an ini file, in order."""
    out = []
    section = None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section is not None and not stripped.startswith((";", "#")):
            key, sep, value = stripped.partition("=")
            if not sep:
                key, sep, value = stripped.partition(":")
            key = key.strip()
            if sep and (key == "listen" or key in INI_SOCKETS):
                out.append((section, key, value.strip(), number, len(line) - len(line.lstrip()) + 1))
    return out


def listeners(launch: Launch) -> List[Listener]:
    found = find_option(launch.words, BACKLOG)
    origin, location, explicit, backlog = f"default listen {DEFAULT_BACKLOG}", launch.started_at, False, DEFAULT_BACKLOG
    ini, assumption = _ini(launch)
    listen = ini.get("listen")
    if listen is not None and parse_int(listen[0]) is not None:
        backlog = parse_int(listen[0])
        origin, location, explicit = f"listen = {backlog} (ini)", listen[1].location, True
    if found is not None and parse_int(found[0]) is not None:
        backlog = parse_int(found[0])
        origin, location, explicit = f"--listen {backlog}", found[1].location, True
        assumption = None  # the command line wins over the file
    elif "UWSGI_LISTEN" in launch.env and parse_int(launch.env["UWSGI_LISTEN"].text) is not None:
        word = launch.env["UWSGI_LISTEN"]
        backlog = parse_int(word.text)
        origin, location, explicit = f"UWSGI_LISTEN={backlog}", word.location, True
        assumption = None
    socket = find_option(launch.words, SOCKETS) or ini.get("socket")
    address, port = "*", None
    if socket is not None:
        host, _, port_text = socket[0].rpartition(":")
        address = host or "*"
        port = parse_int(port_text)
    return [Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, above_somaxconn="refuse", assumption=assumption)]

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
"""

from __future__ import annotations

from typing import List

from linter.servers import Launch, Listener, Option, Word, find_option, parse_int

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


def _ini_listen(launch: Launch):
    """`listen` in the [uwsgi] section of the ini file `--ini` names (or a
    bare `*.ini` argument), when the input provides it: (value, Word)."""
    found = find_option(launch.words, INI)
    path = found[0] if found else next((w.text for w in launch.words if w.text.endswith(".ini") and not w.text.startswith("-")), None)
    if path is None:
        return None
    read = launch.read(path)
    if read is None:
        return None
    text, locate = read
    section, result = None, None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
        elif section == "uwsgi" and not stripped.startswith((";", "#")):
            key, sep, value = stripped.partition("=")
            if not sep:
                key, sep, value = stripped.partition(":")
            if sep and key.strip() == "listen":
                # later lines win, as uWSGI reads them in order
                result = (value.strip(), Word(value.strip(), locate(number, len(line) - len(line.lstrip()) + 1)))
    return result


def listeners(launch: Launch) -> List[Listener]:
    found = find_option(launch.words, BACKLOG)
    origin, location, explicit, backlog = f"default listen {DEFAULT_BACKLOG}", launch.started_at, False, DEFAULT_BACKLOG
    ini = _ini_listen(launch)
    if ini is not None and parse_int(ini[0]) is not None:
        backlog = parse_int(ini[0])
        origin, location, explicit = f"listen = {backlog} (ini)", ini[1].location, True
    if found is not None and parse_int(found[0]) is not None:
        backlog = parse_int(found[0])
        origin, location, explicit = f"--listen {backlog}", found[1].location, True
    elif "UWSGI_LISTEN" in launch.env and parse_int(launch.env["UWSGI_LISTEN"].text) is not None:
        word = launch.env["UWSGI_LISTEN"]
        backlog = parse_int(word.text)
        origin, location, explicit = f"UWSGI_LISTEN={backlog}", word.location, True
    socket = find_option(launch.words, SOCKETS)
    address, port = "*", None
    if socket is not None:
        host, _, port_text = socket[0].rpartition(":")
        address = host or "*"
        port = parse_int(port_text)
    return [Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, above_somaxconn="refuse")]

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

from somaxlint.servers import Launch, Listener, Word, config_file, parse_int, parsed

NAME = "uwsgi"
TITLE = "uWSGI"
IMAGES = ()  # no official image: recognised by its command
COMMANDS = ("uwsgi",)
DEFAULT_BACKLOG = 100
DEFAULT_PORT = None
KNOB = "listen (`--listen N`, `-l N`, `listen = N` in the ini file, or UWSGI_LISTEN)"
SOURCE = "core/init.c:124 uwsgi.listen_queue = 100; core/socket.c:126-133 exits above somaxconn; servers.md §2.4"
STARTUP_WARNING = ""

# the options read: `listen` and the socket options, by the key uWSGI gives
# them (`-l` is listen, `-s` socket); each socket option adds a socket
KEYS = ("listen", "socket", "uwsgi-socket", "http-socket", "https-socket", "http", "https")
SHORT = {"-l": "listen", "-s": "socket"}
# the HTTP(S) router: a socket of its own with the same listen queue, in
# front of the workers' uwsgi socket (127.0.0.1 on a port the kernel picks,
# when no socket option names one) -- measured with Debian's uWSGI 2.0.21
ROUTERS = ("http", "https")


def _ini(launch: Launch, path: str):
    """The `listen` and socket options of the section `path` names
    (`file.ini:section`, else [uwsgi]), in order: [(key, value, Word)],
    and the assumption the listeners rest on when the file is not in the
    input.  A relative path is opened from the working directory."""
    wanted = "uwsgi"
    file, colon, section_asked = path.rpartition(":")
    if colon and "/" not in section_asked:
        path, wanted = file, section_asked or wanted
    read, assumption = config_file(launch, path, "listen")
    if read is None:
        return [], assumption
    text, locate = read
    return [
        (key, value, Word(value, locate(number, column)))
        for section, key, value, number, column in parsed(launch, _ini_settings, text)
        if section == wanted
    ], assumption


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
            if sep and key in KEYS:
                out.append((section, key, value.strip(), number, len(line) - len(line.lstrip()) + 1))
    return out


def _sequence(launch: Launch):
    """The options as uWSGI applies them: the environment's UWSGI_<NAME>
    first (parse_sys_envs, before the command line), then the command line
    in order, an `--ini` (or a bare `*.ini` argument) read where it stands
    -- so a later `listen` wins, wherever it comes from (measured: an ini's
    `listen` beats UWSGI_LISTEN, and a `--listen` before the `--ini`).
    Returns [(key, value, Word, source: "env", "cli" or "file")] and the
    assumption an unread ini leaves."""
    out = []
    for name, word in launch.env.items():
        if name.startswith("UWSGI_"):
            key = name[len("UWSGI_"):].lower().replace("_", "-")
            if key in KEYS:
                out.append((key, word.text, word, "env"))
    assumption = None
    words = launch.words
    i = 0
    while i < len(words):
        text = words[i].text
        key = value = word = None
        if text.startswith("--"):
            name, eq, rest = text[2:].partition("=")
            if eq:
                key, value, word = name, rest, words[i]
            elif i + 1 < len(words):
                key, value, word = name, words[i + 1].text, words[i + 1]
                i += 1 if name in KEYS or name == "ini" else 0
        elif text in SHORT and i + 1 < len(words):
            key, value, word = SHORT[text], words[i + 1].text, words[i + 1]
            i += 1
        elif text.endswith(".ini") and not text.startswith("-"):
            key, value, word = "ini", text, words[i]
        if key == "ini":
            entries, said = _ini(launch, value)
            assumption = assumption or said
            out.extend((k, v, w, "file") for k, v, w in entries)
        elif key in KEYS:
            out.append((key, value, word, "cli"))
        i += 1
    return out, assumption


def listeners(launch: Launch) -> List[Listener]:
    sequence, assumption = _sequence(launch)
    origin, location, explicit, backlog = f"default listen {DEFAULT_BACKLOG}", launch.started_at, False, DEFAULT_BACKLOG
    said = assumption
    for key, value, word, source in sequence:
        if key == "listen" and parse_int(value) is not None:
            backlog = parse_int(value)
            origin = {"file": f"listen = {backlog} (ini)", "env": f"UWSGI_LISTEN={backlog}", "cli": f"--listen {backlog}"}[source]
            location, explicit = word.location, True
            said = assumption if source == "file" else None  # a value given outside the file does not rest on it
    sockets = [(key, value, word) for key, value, word, _ in sequence if key != "listen"]
    out = []
    for key, value, word in sockets:
        if key in ROUTERS:
            value = value.split(",")[0]  # `--https addr,cert,key`
        out.extend(_socket(value.strip(), backlog, origin, location, explicit, said, word))
    if any(key in ROUTERS for key, _, _ in sockets) and all(key in ROUTERS for key, _, _ in sockets):
        # the workers' uwsgi socket the router forwards to
        out.append(Listener(NAME, "127.0.0.1", None, backlog, f"{origin} (the workers' socket behind the HTTP router, on a port the kernel picks)",
                            location, explicit, KNOB, above_somaxconn="refuse", assumption=said, serves=False))
    if not out:
        out.append(Listener(NAME, "*", None, backlog, origin, location, explicit, KNOB, above_somaxconn="refuse", assumption=said))
    return out


def _socket(value: str, backlog, origin, location, explicit, said, word) -> List[Listener]:
    if not value or value.startswith("="):
        return []  # `=N`: a socket handed over by file descriptor
    if ":" not in value or value.startswith("@"):
        # a path (or an abstract name): a Unix socket, with the same queue
        return [Listener(NAME, value, None, backlog, origin, location, explicit, KNOB, above_somaxconn="refuse", assumption=said,
                         written=f"unix:{value}", bound_at=word.location, family="unix")]
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"  # `:8000` binds every IPv4 address (measured)
    return [Listener(NAME, host, parse_int(port_text), backlog, origin, location, explicit, KNOB, above_somaxconn="refuse", assumption=said,
                     bound_at=word.location)]

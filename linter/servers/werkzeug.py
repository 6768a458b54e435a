"""Werkzeug's development server, as `flask run` starts it: listen(128),
which no option or variable changes.

Sources (../shared/facts/servers-2.md "Werkzeug / `flask run`", checked
against Werkzeug 3.1.9 and Flask 3.1.3 from PyPI): `LISTEN_QUEUE = 128`
(werkzeug/serving.py:82) and `BaseWSGIServer.request_queue_size =
LISTEN_QUEUE` (serving.py:712), the class `make_server()` instantiates
(ThreadedWSGIServer and ForkingWSGIServer derive from it); socketserver's
`server_activate()` calls `self.socket.listen(self.request_queue_size)`.
`flask run` (flask/cli.py:891-892 `run_command`): `--host`/`-h`, default
127.0.0.1, `--port`/`-p`, default 5000; the group's `auto_envvar_prefix
"FLASK"` (flask/cli.py:585) makes FLASK_RUN_HOST and FLASK_RUN_PORT the
same options, which the command line overrides.  Older releases ask
for the same 128 (read in the PyPI wheels: serving.py `LISTEN_QUEUE = 128`
and `request_queue_size = LISTEN_QUEUE` in Werkzeug 0.16.1 at lines
105/675, 1.0.1 at 98/714, 2.0.3 at 72/663, 2.3.8 at 73/697; none was
run).  The address family is
`select_address_family()` (serving.py:659-666): a host with ":" is AF_INET6
(no IPV6_V6ONLY set: with the namespace's net.ipv6.bindv6only 0 one
dual-stack socket), `unix://PATH` a UNIX socket, anything else AF_INET,
resolved with getaddrinfo (`localhost`: 127.0.0.1).  The flask group's
own options before `run`: `--app`/`-A`, `--env-file`/`-e` (values),
`--debug`/`--no-debug`.  Any other subcommand (`flask db upgrade`, `flask
shell`) listens on nothing.

Measured (Python 3.11.7, Werkzeug 3.1.9, a fresh network namespace,
somaxconn 4096, `ss -lntH`): `flask --app app run` -> `127.0.0.1:5000`
Send-Q 128; `--host :: -p 5001` -> one socket `*:5001` (dual-stack) 128;
`--host 0.0.0.0 --reload` -> one socket `0.0.0.0:5002` 128, bound once by
the reloader's parent and inherited by the child (WERKZEUG_SERVER_FD,
serving.py:1092-1109: the child does not listen again); FLASK_RUN_HOST/
FLASK_RUN_PORT with `python -m flask` -> 0.0.0.0:5010; `-h 127.0.0.1 -p
5011` over those variables -> 127.0.0.1:5011; `--host=localhost --debug`
-> 127.0.0.1:5012; `--host unix://app.sock` under somaxconn 100 -> a UNIX
socket at $PWD/app.sock, Send-Q 100 (`ss -lxH`; by hand, the kernel suite
compares TCP ports).  The kernel cases are tests/kernel/servers_werkzeug.py.

What the input cannot show: flask loads `.flaskenv` and `.env` from the
working directory (and `--env-file`) when python-dotenv is installed, which
may set FLASK_RUN_HOST/FLASK_RUN_PORT; a listener whose host or port is
not on the command line or in the environment rests on that.  The backlog
is the code's only (`werkzeug.serving.BaseWSGIServer.request_queue_size =
N` before the server starts; LISTEN_QUEUE is read once, when the class is
defined): Werkzeug in an application's own `app.run()` (`python app.py`)
is code, which somaxlint does not read.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Option, Word, find_option, parse_int, resolve

NAME = "werkzeug"
TITLE = "Werkzeug (flask run)"
LONG_TITLE = "Werkzeug development server (flask run)"
IMAGES = ()
COMMANDS = ("flask",)
DEFAULT_BACKLOG = 128
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
KNOB = "none on the command line: werkzeug.serving.BaseWSGIServer.request_queue_size in the code"
SOURCE = "werkzeug/serving.py:82 LISTEN_QUEUE = 128, :712 request_queue_size = LISTEN_QUEUE; servers-2.md"
STARTUP_WARNING = ""

HOST = Option(long=("--host",), short=("-h",))
PORT = Option(long=("--port",), short=("-p",))
# the flask group's options that take a value (flask/cli.py FlaskGroup)
GROUP_VALUED = ("--app", "-A", "--env-file", "-e")
DOTENV_ASSUMPTION = (
    "no .flaskenv or .env in the working directory sets FLASK_RUN_HOST or FLASK_RUN_PORT "
    "(flask run loads them when python-dotenv is installed; the image's files are not in the input)"
)


def _run_words(words: List[Word]) -> Optional[List[Word]]:
    """The words after `run`, past the group's options; None for another
    subcommand (or none: `flask --help`)."""
    i = 0
    while i < len(words):
        text = words[i].text
        if text in GROUP_VALUED:
            i += 2
            continue
        if text.startswith("-"):
            i += 1
            continue
        return words[i + 1:] if text == "run" else None
    return None


def _address(host: str) -> Tuple[str, int, Optional[str]]:
    """(address, sockets, written) of a --host as Werkzeug binds it."""
    if host.startswith("unix://"):
        return host[len("unix://"):], 1, host
    if ":" in host:
        # AF_INET6 without IPV6_V6ONLY: one socket for IPv6 and IPv4 when
        # "::" (measured); another IPv6 address: that address
        stripped = host.strip("[]")
        return ("*", 1, f"[{stripped}]") if stripped == "::" else (stripped, 1, None)
    if host == "localhost":
        return "127.0.0.1", 1, None
    return host, 1, None


def listeners(launch: Launch) -> List[Listener]:
    words = _run_words(list(launch.words))
    if words is None:
        return []
    assumptions = []
    host_found = find_option(words, HOST)
    port_found = find_option(words, PORT)
    host = host_found[0] if host_found else None
    port_text = port_found[0] if port_found else None
    if host is None and "FLASK_RUN_HOST" in launch.env:
        host = launch.env["FLASK_RUN_HOST"].text
    if port_text is None and "FLASK_RUN_PORT" in launch.env:
        port_text = launch.env["FLASK_RUN_PORT"].text
    if host is None or port_text is None:
        assumptions.append(DOTENV_ASSUMPTION)
    address, sockets, written = _address(host if host is not None else DEFAULT_HOST)
    port = parse_int(port_text) if port_text is not None else DEFAULT_PORT
    family = "inet"
    if written is not None and written.startswith("unix://"):
        # a UNIX socket at that path (a relative one: from the working
        # directory, os.path.abspath in get_sockaddr())
        port, family = None, "unix"
        address, said = resolve(launch, address)
        if said:
            assumptions.append(said)
    elif written is not None and port is not None:
        written = f"{written}:{port}"
    return [
        Listener(
            NAME, address, port, DEFAULT_BACKLOG, f"listen queue {DEFAULT_BACKLOG} (LISTEN_QUEUE, fixed)", launch.started_at, False, KNOB,
            sockets=sockets, written=written, assumption="; ".join(assumptions) or None, family=family,
        )
    ]


def set_backlog(value: int) -> str:
    return (
        f"`flask run` has no option for it: set werkzeug.serving.BaseWSGIServer.request_queue_size = {value} in the "
        f"code before the server starts, or serve the app with a production WSGI server (gunicorn --backlog {value})"
    )


def truncation_advice(requested: int, fits: bool) -> str:
    return (
        f"Raise net.core.somaxconn for the pod to at least {requested}, or serve the app with a production WSGI server "
        "whose backlog is an option (gunicorn --backlog): Werkzeug's development server always asks for 128"
    )

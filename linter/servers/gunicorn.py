"""gunicorn: `--backlog`, default 2048.

Sources (../shared/facts/servers.md §2.5, benoitc/gunicorn @ 65ac1a3a):
`class Backlog(Setting)`: cli `--backlog`, default 2048 (gunicorn/config.py:
696-713); `sock.listen(self.conf.backlog)` gunicorn/sock.py:59; no
somaxconn check. `GUNICORN_CMD_ARGS` is shlex-split into arguments
(gunicorn/config.py:86-87).

Read beyond the sheet, at the same commit: the config file is `-c`/`--config`
(from the command line, else GUNICORN_CMD_ARGS), `PATH`, `file:PATH` or
`python:MODULE`; without one, `gunicorn.conf.py` in the working directory
when it exists (`get_default_config_file()`, gunicorn/config.py:616-621;
Application.load_config(), gunicorn/app/base.py:154-199: the file first,
then GUNICORN_CMD_ARGS, then the command line). A relative path is opened
from the working directory: the container's workingDir (without one, the
image's WORKDIR, which the input does not show: then said as an
assumption). A named file that is not in the input is an assumption too.
"""

from __future__ import annotations

import shlex
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener, Option, Word, config_file, find_option, option_values, parse_int, parsed, resolve

NAME = "gunicorn"
TITLE = "gunicorn"
IMAGES = ()
COMMANDS = ("gunicorn",)
DEFAULT_BACKLOG = 2048
DEFAULT_PORT = 8000
KNOB = "--backlog N (or `backlog = N` in gunicorn.conf.py, or GUNICORN_CMD_ARGS)"
SOURCE = "gunicorn/config.py:696-713 Backlog default 2048; servers.md §2.5"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--backlog",))
BIND = Option(long=("--bind",), short=("-b",))
CONFIG = Option(long=("--config",), short=("-c",))


def _config_backlog(launch: Launch, words):
    """A literal `backlog = N` at the top level of the config file (`-c`,
    else ./gunicorn.conf.py when the input provides it), and the
    assumption the listener rests on when the file is named but not in the
    input.  Read as a syntax tree, never executed."""
    found = find_option(words, CONFIG)
    if found is not None and found[0].startswith("python:"):
        return None, None, []  # a module, not a file
    if found is None:
        # the default file, read only when it exists: when the input does
        # not provide it, it is taken not to exist
        read, assumption = config_file(launch, "gunicorn.conf.py", "backlog")
        if read is None:
            return None, None, []
    else:
        path = found[0][len("file:"):] if found[0].startswith("file:") else found[0]
        read, assumption = config_file(launch, path, "backlog")
        if read is None:
            return None, assumption, []
    text, locate = read
    binds = [Word(value, locate(line, column)) for value, line, column in parsed(launch, _bind_assignment, text)]
    found = parsed(launch, _backlog_assignment, text)
    if found is False:
        return None, None, []  # not Python gunicorn reads
    if found is None:
        return None, assumption, binds
    value, line, column = found
    return Word(value, locate(line, column)), assumption, binds


def _bind_assignment(text: str):
    """The binds of the last literal `bind = "ADDR"` or `bind = ["A", "B"]`
    at the top level of a config file, each (value, line, column); () without
    one or when the file does not parse."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    found = ()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "bind":
            value = node.value
            items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            if all(isinstance(i, ast.Constant) and isinstance(i.value, str) for i in items):
                found = tuple((i.value, i.lineno, i.col_offset + 1) for i in items)
            else:
                found = ()  # computed: not read
    return found


def _backlog_assignment(text: str):
    """(value, line, column) of the last literal `backlog = N` at the top
    level of a config file; None without one; False when the file does not
    parse."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    found = None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "backlog"
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) is int
        ):
            found = (str(node.value.value), node.lineno, node.col_offset + 1)
    return found


def listeners(launch: Launch) -> List[Listener]:
    cli = list(launch.words)
    env_words: List[Word] = []
    env = launch.env.get("GUNICORN_CMD_ARGS")
    if env is not None:
        try:
            env_words = [Word(w, env.location) for w in shlex.split(env.text)]
        except ValueError:
            pass
    # Command-line arguments win over GUNICORN_CMD_ARGS: read first.
    words = env_words + cli
    conf, assumption, file_binds = _config_backlog(launch, words)
    if conf is not None:
        # the config file is read first; the command line overrides it
        words = [Word("--backlog", conf.location), conf] + words
    found = find_option(words, BACKLOG)
    if found is not None and parse_int(found[0]) is not None:
        backlog = parse_int(found[0])
        # from the file: what the file rests on; from the arguments: nothing
        said = assumption if conf is not None and found[1] is conf else None
        origin, location, explicit = f"--backlog {backlog}", found[1].location, True
    else:
        backlog, origin, location, explicit, said = DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False, assumption
    out = []
    for text, word in _binds(launch, cli, env_words, file_binds):
        bound_at = word.location if word is not None else None
        if text.startswith("fd://"):
            continue  # a socket handed over by the process that started it (not a pod's)
        if text.startswith("unix:"):
            path, relative = resolve(launch, text[len("unix://"):] if text.startswith("unix://") else text[len("unix:"):])
            if relative is not None:
                said = f"{said}; {relative}" if said else relative
            out.append(Listener(NAME, path, None, backlog, origin, location, explicit, KNOB, assumption=said, written=f"unix:{path}", bound_at=bound_at, family="unix"))
            continue
        host, port = _address(text)
        if port is None:
            continue  # not a port gunicorn accepts: it exits
        out.append(Listener(NAME, host, port, backlog, origin, location, explicit, KNOB, assumption=said, bound_at=bound_at))
    control = _control_socket(launch, words)
    if control is not None:
        out.append(control)
    return out


def _binds(launch: Launch, cli: List[Word], env_words: List[Word], file_binds: List[Word]):
    """Every `--bind` of the source that sets them -- the command line, else
    GUNICORN_CMD_ARGS, else a literal `bind` of the config file; each
    appends a socket (`action = "append"`, gunicorn/config.py class Bind) --
    else the default: `0.0.0.0:$PORT` when PORT is set, else
    127.0.0.1:8000."""
    for words in (cli, env_words):
        found = option_values(words, BIND)
        if found:
            return found
    if file_binds:
        return [(word.text, word) for word in file_binds]
    port = launch.env.get("PORT")
    if port is not None:
        return [(f"0.0.0.0:{port.text}", port)]
    return [("127.0.0.1:8000", None)]


def _address(netloc: str):
    """(host, port) as gunicorn's util.parse_address reads a TCP bind:
    `[v6]:port`, `host:port`, `host` (port 8000), `tcp://` stripped; the
    empty host binds every IPv4 address."""
    if netloc.startswith("tcp://"):
        netloc = netloc[len("tcp://"):]
    host, port = netloc, str(DEFAULT_PORT)
    if "[" in netloc and "]" in netloc:
        host = netloc.split("]")[0][1:]
        port = (netloc.split("]:") + [str(DEFAULT_PORT)])[1]
    elif ":" in netloc:
        host, port = (netloc.split(":") + [str(DEFAULT_PORT)])[:2]
    elif netloc == "":
        host = "0.0.0.0"
    host = host.lower()
    if host in ("", "0.0.0.0"):
        host = "0.0.0.0"  # Python's bind("") is INADDR_ANY: one IPv4 socket
    elif host == "localhost":
        host = "127.0.0.1"
    return host, parse_int(port)


# gunicorn 25.1.0 and later open a control socket for gunicornc unless
# --no-control-socket: asyncio.start_unix_server() (gunicorn/ctl/server.py),
# whose backlog is asyncio's default 100, at --control-socket, else
# $XDG_RUNTIME_DIR/gunicorn.ctl, else $HOME/.gunicorn/gunicorn.ctl
# (gunicorn/config.py _get_default_control_socket()).
CONTROL_BACKLOG = 100


def _control_socket(launch: Launch, words: List[Word]):
    if any(w.text == "--no-control-socket" for w in words):
        return None
    named = find_option(words, Option(long=("--control-socket",)))
    said = "gunicorn 25.1.0 or later (which opens it): the image does not say which gunicorn it installs"
    if named is not None:
        path = named[0]
    elif launch.env.get("XDG_RUNTIME_DIR") is not None:
        path = launch.env["XDG_RUNTIME_DIR"].text.rstrip("/") + "/gunicorn.ctl"
    else:
        home = launch.env.get("HOME")
        path = (home.text.rstrip("/") if home is not None else "/root") + "/.gunicorn/gunicorn.ctl"
        if home is None:
            said += "; HOME is the image user's, taken to be root's /root"
    return Listener(
        NAME, path, None, CONTROL_BACKLOG, f"control socket (gunicornc; asyncio's backlog {CONTROL_BACKLOG}), not serving traffic",
        launch.started_at, False, "--no-control-socket, or --control-socket PATH", assumption=said, written=f"unix:{path}",
        family="unix", serves=False,
    )

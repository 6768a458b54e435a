"""Hypercorn: `--backlog N`, default 100.

Sources (../shared/facts/servers.md §2.7, pgjones/hypercorn @ 0e2311f1,
0.18.0; read again in hypercorn 0.18.0 as installed from PyPI):
`backlog = 100` (src/hypercorn/config.py:70); CLI `--backlog`
(src/hypercorn/__main__.py:41-43, applied at 240-241); passed to asyncio
`start_server(..., backlog=config.backlog, sock=sock)`
(src/hypercorn/asyncio/run.py:119,133) and trio `sock.listen(config.backlog)`
(src/hypercorn/trio/run.py:55-57,129-131); no somaxconn check.

The sockets: `_bind = ["127.0.0.1:8000"]` (config.py:58); `-b/--bind` is
argparse `action="append"` (__main__.py:44-53) and, when given at all,
replaces the config's list (__main__.py:303-304); `Config._create_sockets()`
(config.py:224-280) makes one socket per bind: `unix:PATH` a unix socket,
`fd://N` an inherited socket (already listening: not reported, its backlog
is its creator's), else `host:port` (brackets removed; no port: 8000), an
AF_INET6 socket when the host has a ":" (one dual-stack socket on Linux's
default bindv6only=0), else AF_INET.  The sockets are made once, before the
workers start, and shared by them (src/hypercorn/run.py:39).
`--insecure-bind` sockets exist only with TLS (certfile and keyfile set,
config.py:200-210); without it they are not opened at all.
`-c/--config` (__main__.py:14-22): a TOML file (`backlog = N`, `bind`,
`insecure_bind`, `certfile`, `keyfile` at the top level: `from_mapping`),
or `file:PATH`, a Python file whose module attributes are the settings
(`from_pyfile` -> `from_object`, config.py:342-420: read here as a syntax
tree, the last top-level literal assignment of each, never executed; one
computed otherwise is said as an assumption), read first; the command line
overrides it.  `python:MODULE` is an importable module, not a file in the
input: the listeners rest on it setting no backlog or bind, said as an
assumption; so does a file not in the input.
argparse's abbreviations (`--back`) are not read.

Measured (hypercorn 0.18.0, `ss -lntH` in a fresh network namespace): no
options -> 127.0.0.1:8000, Send-Q 100; `-b 0.0.0.0:7200 -b [::]:7201 --bind
127.0.0.1 --backlog 300` under somaxconn 1000 -> three sockets, 300 each
(127.0.0.1:8000, 0.0.0.0:7200, and *:7201: one dual-stack socket); a TOML
`bind = ["0.0.0.0:7202"]`, `backlog = 2000` under somaxconn 128 -> 128; the
same file with `--backlog 700 --insecure-bind 0.0.0.0:7203 -b unix:PATH` ->
the unix socket only, 700 (no TLS: no insecure socket); `--workers 2
--bind localhost:7204` -> one socket 127.0.0.1:7204, 100.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Option, Word, config_file, find_option, option_values, parse_int, parsed

NAME = "hypercorn"
TITLE = "Hypercorn"
IMAGES = ()
COMMANDS = ("hypercorn",)
DEFAULT_BACKLOG = 100
DEFAULT_BIND = "127.0.0.1:8000"
DEFAULT_PORT = 8000
KNOB = "--backlog N (or `backlog = N` in the -c config file)"
SOURCE = "hypercorn/config.py:70 backlog = 100; servers.md §2.7"
STARTUP_WARNING = ""

BACKLOG = Option(long=("--backlog",))
BIND = Option(long=("--bind",), short=("-b",))
INSECURE_BIND = Option(long=("--insecure-bind",))
CONFIG = Option(long=("--config",), short=("-c",))
CERTFILE = Option(long=("--certfile",))
KEYFILE = Option(long=("--keyfile",))


# the settings Hypercorn's sockets depend on
_WANTED = ("backlog", "bind", "insecure_bind", "certfile", "keyfile")


def _toml_settings(text: str):
    """{key: (value, line, column)} of the top-level keys Hypercorn's
    sockets depend on; False when the file is not TOML (Hypercorn exits)."""
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except (ValueError, RecursionError):
        return False
    wanted = _WANTED
    where = {}
    import re

    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("["):
            break  # a table: its keys are not the top level
        match = re.match(r"\s*([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*=\s*", line)
        if match:
            key = match.group(1).strip("\"'")
            if key in wanted and key not in where:
                where[key] = (number, match.end() + 1)
    return {key: (data[key],) + where.get(key, (1, 1)) for key in wanted if key in data}


def _python_settings(text: str):
    """{key: (value, line, column)} of the last top-level literal
    assignment of each key a `file:` config sets (`from_pyfile` runs the
    file and takes its module's attributes); a key last assigned something
    else maps to None.  Read as a syntax tree, never executed; False when
    the file does not parse."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in _WANTED:
                    try:
                        value = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                        out[target.id] = None
                        continue
                    out[target.id] = (value, node.value.lineno, node.value.col_offset + 1)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id in _WANTED:
            out[node.target.id] = None
    return out


def _config(launch: Launch, words: List[Word]):
    """The config file's settings ({key: (value, Location)}) and the
    assumption the listeners rest on."""
    found = find_option(words, CONFIG)
    if found is None:
        return {}, None
    path = found[0]
    if path.startswith("python:"):
        return {}, f"-c {path} is a Python module (code, not in the input): assumed to set no backlog or bind"
    python = path.startswith("file:")
    if python:
        path = path[len("file:"):]
    read, assumption = config_file(launch, path, "backlog or bind")
    if read is None:
        return {}, assumption
    text, locate = read
    settings = parsed(launch, _python_settings if python else _toml_settings, text)
    if settings is False:
        return {}, None
    computed = sorted(key for key, value in settings.items() if value is None)
    if computed:
        said = f"{path} computes {', '.join(computed)} (not read): assumed to leave {'them' if len(computed) > 1 else 'it'} at the default"
        assumption = f"{assumption}; {said}" if assumption else said
        settings = {key: value for key, value in settings.items() if value is not None}
    return {key: (value, locate(line, column)) for key, (value, line, column) in settings.items()}, assumption


def _socket(bind: str) -> Optional[Tuple[str, Optional[int], Optional[str]]]:
    """(address, port, written) of one bind; None for an inherited fd."""
    if bind.startswith("unix:"):
        return bind[5:], None, bind
    if bind.startswith("fd://"):
        return None
    bare = bind.replace("[", "").replace("]", "")
    host, _, port_text = bare.rpartition(":")
    port = parse_int(port_text) if host else None
    if port is None:
        host, port = bare, DEFAULT_PORT
    if ":" in host:
        # an AF_INET6 socket; "::" is dual-stack (one socket, every address)
        return ("*" if host == "::" else host), port, (f"[{host}]:{port}" if host == "::" else None)
    return host, port, None


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    settings, assumption = _config(launch, words)

    found = find_option(words, BACKLOG)
    if found is not None and parse_int(found[0]) is not None:
        backlog = parse_int(found[0])
        origin, location, explicit, said = f"--backlog {backlog}", found[1].location, True, None
    elif "backlog" in settings and type(settings["backlog"][0]) is int:
        backlog = settings["backlog"][0]
        origin, location, explicit, said = f"backlog = {backlog}", settings["backlog"][1], True, assumption
    else:
        backlog = DEFAULT_BACKLOG
        origin, location, explicit, said = f"default backlog {DEFAULT_BACKLOG}", launch.started_at, False, assumption

    def from_config(key: str) -> List[Tuple[str, Optional[object]]]:
        if key not in settings:
            return []
        value, where = settings[key]
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return [(v, where) for v in values if isinstance(v, str)]

    binds = [(v, w.location) for v, w in option_values(words, BIND)] or from_config("bind") or [(DEFAULT_BIND, None)]
    tls = (find_option(words, CERTFILE) is not None or "certfile" in settings) and (
        find_option(words, KEYFILE) is not None or "keyfile" in settings
    )
    if tls:
        binds += [(v, w.location) for v, w in option_values(words, INSECURE_BIND)] or from_config("insecure_bind")
    out: List[Listener] = []
    seen = set()
    for bind, where in binds:
        sock = _socket(bind)
        if sock is None or sock in seen:
            continue
        seen.add(sock)
        address, port, written = sock
        out.append(
            Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, assumption=said, written=written, bound_at=where)
        )
    return out


def set_backlog(value: int) -> str:
    return f"set Hypercorn's backlog to {value} (`--backlog {value}`, or `backlog = {value}` in its TOML config)"

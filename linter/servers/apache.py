"""Apache httpd: every `Listen` socket gets the one global `ListenBacklog`,
default 511.

Sources (../shared/facts/servers.md §2.9, apache/httpd @ 0cb68044 and
2.4.x): `#define DEFAULT_LISTENBACKLOG 511` include/mpm_common.h:55-64;
`ap_listenbacklog = DEFAULT_LISTENBACKLOG;` server/listen.c:990 (2.4.x
:810); `ap_set_listenbacklog()` server/listen.c:1175-1194: GLOBAL_ONLY,
`b < 1` is the error "ListenBacklog must be > 0", else `ap_listenbacklog =
b` (so a later directive replaces an earlier one); used by
`apr_socket_listen(s, ap_listenbacklog)` (:204, 2.4.x :181). No somaxconn
check: the kernel truncates silently (docs mpm_common.xml:380-402). The
official image's `httpd-foreground` runs `httpd -DFOREGROUND "$@"`, and its
httpd.conf sets no ListenBacklog (docker-library/httpd @ 9b63b37c).

Read beyond the sheet: the official image is built with
`--prefix=/usr/local/apache2` and edits
`$HTTPD_PREFIX/conf/httpd.conf` (docker-library/httpd @ 9b63b37c,
2.4/Dockerfile:6,182,205), the main config read when the command names
none with `-f`; `Listen [IP-address:]port [protocol] [options=...]`,
GLOBAL_ONLY, `*` for every address (`ap_set_listener()`,
server/listen.c:1071-1120 @ 0cb68044).

What is read: the main config (`-f`, else the official image's path) when
the input provides it -- no listeners otherwise, not a guess -- and the
files it includes with `Include`/`IncludeOptional` when the argument is a
literal path (no wildcard) that is absolute or relative to a `ServerRoot`
(or `-d`) already known, and the input provides that file. Other includes
are not followed: a `ListenBacklog` only there is not seen. A `Listen`
inside a container (`<IfModule>`, `<IfDefine>`, ...) may not apply and is
skipped; a `ListenBacklog` there, a non-literal value, or `-c`/`-C`
directives naming Listen make the backlog unknown: no listeners. The
`apache2` commands (Debian's layout) are read only through `-f`.
"""

from __future__ import annotations

import posixpath
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.findings import Location
from somaxlint.records import replace
from somaxlint.servers import Launch, Listener, Option, Refusal, find_option, image_reference, parse_int, parsed

NAME = "apache"
TITLE = "Apache httpd"
# httpd's official image, and the PHP images whose other tags than -fpm
# (and -cli) run Debian's apache2 (``DEBIAN_LAYOUT``)
IMAGES = ("httpd", "php", "wordpress", "nextcloud", "drupal", "matomo")
COMMANDS = ("httpd", "apache2", "httpd-foreground", "apache2-foreground")
DEFAULT_BACKLOG = 511
DEFAULT_PORT = None  # the ports are the config's `Listen` directives
KNOB = "ListenBacklog N (main server config)"
SOURCE = "include/mpm_common.h:63 DEFAULT_LISTENBACKLOG 511; server/listen.c:1175-1194 ap_set_listenbacklog(); servers.md §2.9"
STARTUP_WARNING = ""
# No listener read means the configuration that defines them is not in the
# input (or not literal): said as unresolved (SMX018), never silent.
EMPTY_MEANS_UNREAD = True

IMAGE_CONFIG = "/usr/local/apache2/conf/httpd.conf"

# The php image's Apache variants (`php:8.3-apache`; docker-library/php
# apache-Dockerfile-block-1: Debian's apache2 package, `CMD
# ["apache2-foreground"]`) and the images built on them -- wordpress,
# nextcloud, drupal, matomo: every tag but -fpm (and wordpress's cli), see
# servers/php_fpm.py -- run Debian's apache2: ServerRoot /etc/apache2, main
# config apache2.conf, whose `Include ports.conf` has the Listens.  Their
# Dockerfiles change neither file's Listen nor ListenBacklog, so when the
# input does not provide them, the package's own apply (Debian 12's
# apache2 2.4, tests/test_real_servers.py compares them with the installed
# package): `Listen 80`, and 443 only under ssl_module or mod_gnutls, which
# these images do not enable.
DEBIAN_LAYOUT = ("php", "wordpress", "nextcloud", "drupal", "matomo")
DEBIAN_ROOT = "/etc/apache2"
DEBIAN_CONFIG = "/etc/apache2/apache2.conf"
DEBIAN_BUILT_IN = {
    "/etc/apache2/apache2.conf": "Include ports.conf\n",
    "/etc/apache2/ports.conf": (
        "# If you just change the port or add more ports here, you will likely also\n"
        "# have to change the VirtualHost statement in\n"
        "# /etc/apache2/sites-enabled/000-default.conf\n"
        "\n"
        "Listen 80\n"
        "\n"
        "<IfModule ssl_module>\n"
        "\tListen 443\n"
        "</IfModule>\n"
        "\n"
        "<IfModule mod_gnutls.c>\n"
        "\tListen 443\n"
        "</IfModule>\n"
    ),
}


def _image(image: str) -> Tuple[str, str]:
    """(repository, tag) of an image reference (no tag: "latest")."""
    _registry, path, tag = image_reference(image)
    return path.rsplit("/", 1)[-1], tag or "latest"


def runs_image(image: str) -> bool:
    """Whether the image, run with its own command, is Apache httpd: httpd,
    php's -apache tags, and the tags of the images built on php that are
    neither -fpm nor -cli."""
    repository, tag = _image(image)
    if repository == "httpd":
        return True
    parts = tag.split("-")
    if repository == "php":
        return "apache" in parts
    return "fpm" not in parts and "cli" not in parts and tag != "cli"


def _debian_layout(launch: Launch) -> bool:
    """Whether the launch is one of the Debian-layout images run with its
    own command (not a `-f` httpd of its own)."""
    return not launch.command and _image(launch.image)[0] in DEBIAN_LAYOUT
CONFIG = Option(short=("-f",))
SERVER_ROOT = Option(short=("-d",))
MAX_FILES = 64

_UNKNOWN = "unknown"


# httpd.conf is parsed by hand: its syntax is line-based (one directive a
# line, `#` only at the start of a line, a trailing backslash continues the
# line, `<Name ...>`/`</Name>` containers), and the PyPI package
# `apacheconfig` (0.3.2) returns plain dictionaries without line or column
# numbers, which every finding needs; it also follows Perl Config::General's
# rules rather than httpd's.
class _State:
    def __init__(self, launch: Launch, server_root: Optional[str]):
        self.launch = launch
        self.server_root = server_root
        self.backlog: Optional[Tuple[object, Location, str]] = None
        self.listens: List[Tuple[str, Location]] = []
        self.seen: set = set()
        # the image's own files, read where the input has none
        self.built_in: dict = {}
        self.from_image: set = set()
        # what httpd refuses (server/listen.c): (its message, where)
        self.refusals: List[Tuple[str, Location]] = []


# Options that make httpd test the config or print information and exit.
_NOT_SERVING = frozenset(("-t", "-v", "-V", "-S", "-M", "-L", "-l", "-h", "-?"))


def listeners(launch: Launch) -> List[Listener]:
    words = launch.words
    if any(w.text in _NOT_SERVING for w in words):
        return []
    for i, word in enumerate(words):
        # `-C`/`-c "directive"`: applied before/after the config files
        text = word.text
        value = words[i + 1].text if text in ("-c", "-C") and i + 1 < len(words) else text[2:] if text[:2] in ("-c", "-C") else ""
        if "listen" in value.lower():
            return []
    state = _state(launch)
    if state is None or state.refusals:
        return []  # not read; or httpd refuses it and exits (``refusals``)
    if state.backlog is None:
        backlog, origin, set_at = DEFAULT_BACKLOG, f"default ListenBacklog {DEFAULT_BACKLOG}", None
    else:
        backlog, set_at, origin = state.backlog
        if backlog == _UNKNOWN or backlog < 1:
            return []  # unknown, or httpd refuses the config ("must be > 0")
    out = []
    for spec, where in state.listens:
        address, port = _address(spec)
        location = set_at if set_at is not None else where
        listener = Listener(NAME, address, port, backlog, origin, location, set_at is not None, KNOB)
        if state.from_image:
            listener = replace(listener, assumption=(
                f"{', '.join(sorted(state.from_image))} of image {launch.image} (Debian's apache2 package, which its "
                "Dockerfile leaves as it is) is not in the input: its own is assumed"
            ))
        out.append(listener)
    return out


def _state(launch: Launch) -> Optional[_State]:
    """The configuration read as httpd reads it, None when the input does
    not hold it."""
    words = launch.words
    root = find_option(words, SERVER_ROOT)
    debian = _debian_layout(launch)
    path = DEBIAN_CONFIG if debian and not find_option(words, CONFIG) else _main_config(words, root)
    if not path.startswith("/"):
        return None  # relative to a compiled-in ServerRoot this image may not share
    state = _State(launch, root[0] if root else (DEBIAN_ROOT if debian else None))
    if debian:
        state.built_in = DEBIAN_BUILT_IN
    if not _read(state, path, conditional=False, depth=0):
        return None  # the main config is not in the input
    return state


def refusals(launch: Launch) -> List[Refusal]:
    """What httpd refuses in the configuration (server/listen.c): a
    ListenBacklog below 1, two Listen of one address and port, Listen or
    ListenBacklog inside <VirtualHost>; httpd prints "AH00526: Syntax error
    on line N of FILE:" and the message, and exits."""
    words = launch.words
    if any(w.text in _NOT_SERVING for w in words):
        return []
    state = _state(launch)
    if state is None:
        return []
    return [Refusal(NAME, message, where) for message, where in state.refusals]


def config_paths(launch: Launch) -> List[str]:
    """The main configuration file the launch loads (`-f`, relative to
    `-d`, else the official image's), for an unresolved entry (SMX018)."""
    words = launch.words
    if any(w.text in _NOT_SERVING for w in words):
        return []
    path = _main_config(words, find_option(words, SERVER_ROOT))
    # a relative path is relative to the compiled-in ServerRoot: as written
    return [posixpath.normpath(path) if path.startswith("/") else path]


def _main_config(words, root) -> str:
    """`-f` (relative to `-d`), else the official image's httpd.conf;
    relative when neither says where ServerRoot is."""
    found = find_option(words, CONFIG)
    path = found[0] if found else IMAGE_CONFIG
    if not path.startswith("/") and root is not None:
        path = posixpath.join(root[0], path)
    return path


def _read(state: _State, path: str, conditional: bool, depth: int) -> bool:
    path = posixpath.normpath(path)
    if path in state.seen or len(state.seen) >= MAX_FILES or depth > 8:
        return False
    found = state.launch.read(path)
    if found is None and path in state.built_in:
        at = state.launch.started_at  # (the image: where its own files come from)
        found = (state.built_in[path], lambda line, column: at)
        state.from_image.add(path)
    if found is None:
        return False
    state.seen.add(path)
    text, locate = found
    for directive, args, number, column, in_container, in_vhost in parsed(state.launch, _directives, text):
        inside = conditional or in_container
        if directive in ("listen", "listenbacklog") and in_vhost:
            # GLOBAL_ONLY (ap_check_cmd_context): httpd refuses the file
            name = "Listen" if directive == "listen" else "ListenBacklog"
            state.refusals.append((f"{name} cannot occur within <VirtualHost> section", locate(number, column)))
            continue
        if directive == "serverroot" and args and not inside:
            state.server_root = args[0]
        elif directive == "listen" and args and not inside:
            if any(_address(spec) == _address(args[0]) for spec, _ in state.listens):
                state.refusals.append(("Cannot define multiple Listeners on the same IP:port", locate(number, column)))
            state.listens.append((args[0], locate(number, column)))
        elif directive == "listenbacklog" and args:
            number_value = parse_int(args[0])
            value = _UNKNOWN if inside or number_value is None else number_value
            if not inside and number_value is not None and number_value < 1:
                state.refusals.append(("ListenBacklog must be > 0", locate(number, column)))
            state.backlog = (value, locate(number, column), f"ListenBacklog {args[0]}")
        elif directive in ("include", "includeoptional") and args:
            target = args[0]
            if any(c in target for c in "*?[") or "${" in target:
                continue  # a wildcard or variable: not followed
            if not target.startswith("/"):
                if not state.server_root:
                    continue
                target = posixpath.join(state.server_root, target)
            _read(state, target, inside, depth + 1)
    return True


# the directives ``_read`` acts on
_READ = frozenset(("serverroot", "listen", "listenbacklog", "include", "includeoptional"))


def _directives(text: str) -> List[Tuple[str, List[str], int, int, bool, bool]]:
    """(directive, arguments, line, column, inside a container, inside a
    <VirtualHost>) of each directive of ``_READ`` in an httpd.conf, in
    order."""
    out = []
    containers: List[str] = []
    for number, words in _lines(text):
        name, column = words[0]
        if name.startswith("</"):
            if containers:
                containers.pop()
            continue
        if name.startswith("<"):
            containers.append(name[1:].rstrip(">").lower())
            continue
        directive = name.lower()
        if directive in _READ:
            out.append((directive, [w for w, _ in words[1:]], number, column, bool(containers), "virtualhost" in containers))
    return out


def _lines(text: str):
    """(line number, [(word, column)]) of each directive line, joining
    backslash continuations (columns then count on the first line).  A
    continued line is built in a list of its characters and joined once:
    a new string per continuation costs the square of a long run of them."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i].rstrip("\r")
        if line.endswith("\\") and i + 1 < len(lines):
            chars = list(line)
            while chars and chars[-1] == "\\" and i + 1 < len(lines):
                chars.pop()  # the backslash; the next line takes its place
                i += 1
                chars.extend(lines[i].rstrip("\r"))
            line = "".join(chars)
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        words = _words(line)
        if words:
            yield number, words


def _words(line: str) -> List[Tuple[str, int]]:
    """Words as httpd's ap_getword_conf() splits them: whitespace, with
    double or single quotes grouping."""
    out = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        start = i
        if line[i] in "\"'":
            quote = line[i]
            i += 1
            word = []
            while i < n and line[i] != quote:
                if line[i] == "\\" and i + 1 < n and line[i + 1] == quote:
                    i += 1
                word.append(line[i])
                i += 1
            i += 1
            out.append(("".join(word), start + 1))
        else:
            while i < n and line[i] not in " \t":
                i += 1
            out.append((line[start:i], start + 1))
    return out


def _address(spec: str) -> Tuple[str, Optional[int]]:
    """`80`, `0.0.0.0:8080`, `[::]:80`, `*:80` -> (address, port)."""
    host, _, port_text = spec.rpartition(":")
    port = parse_int(port_text)
    if port is None or ":" in host and not (host.startswith("[") and host.endswith("]")):
        return spec, None  # a variable, or not an address:port httpd accepts: as written
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # `[::1]:80`: the address is ::1, as the kernel shows it
    return (host if host not in ("", "*") else "*"), port

"""HAProxy: each `bind` of a frontend/listen section passes
`listener_backlog()` to listen(): the bind's `backlog`, else the
frontend's `backlog`, else the bind's `maxconn`, else the frontend's
`maxconn`, which is the global `maxconn` when the frontend sets none.

Sources (../shared/facts/servers.md §2.10, haproxy/haproxy @ 50872daa):
`listener_backlog()` src/listener.c:1303-1322 ("It uses the listener's,
otherwise the frontend's backlog, otherwise the listener's maxconn,
otherwise the frontend's maxconn, otherwise 1024"), used by
`listen(fd, listener_backlog(listener))` for TCP and UNIX stream sockets
(src/proto_tcp.c:846, src/proto_uxst.c:220); `proxy_adjust_all_maxconn()`
sets a frontend's maxconn to global.maxconn when it is 0, before binding
(src/proxy.c:4255-4268, src/haproxy.c:2426,2436,3653,3668), so the 1024
fallback is practically unreachable. `backlog` and `maxconn` may be set
in defaults, frontend and listen sections (doc/configuration.txt:6301-6325,
9648-9676; bind `backlog`: "If unspecified or 0, the frontend's backlog is
used instead", :17167-17169); global `maxconn` and the command line's
`-n`, which "takes the precedence over the maxconn value set in the
global section" (:3911-3931). The official image runs
`haproxy -f /usr/local/etc/haproxy/haproxy.cfg` and ships no config
(docker-library/haproxy @ ec437dd2, 3.2/Dockerfile:105-115).

HAProxy Technologies' images (Docker Hub haproxytech/haproxy-alpine,
haproxytech/haproxy-debian, haproxytech/haproxy-ubuntu; the haproxytech
Helm chart's default) start the same way: `ENTRYPOINT
["/docker-entrypoint.sh"]`, `CMD ["haproxy", "-f",
"/usr/local/etc/haproxy/haproxy.cfg"]`, and the entrypoint prepends
`haproxy` to a first argument starting with `-` (`[ "${1#-}" != "$1" ]`)
(haproxytech/haproxy-docker-alpine @ ef641455, -debian @ d34a176d,
-ubuntu @ 3438b9b8: 3.2/Dockerfile:109-110 (alpine), :119-120 (debian,
ubuntu), 3.2/docker-entrypoint.sh:4-7). Unlike the official image they
copy a haproxy.cfg of their own to that path (3.2/Dockerfile:104/114),
which is not in the input: without a mounted one the listeners are
unresolved (SMX018), as for the official image.

Read beyond the sheet, at the same commit: a proxy takes its initial
settings from "the latest [defaults section] that appears before" it, or
the one named after `from` (doc/configuration.txt:5911-5948;
`curproxy->maxconn = defproxy->maxconn; curproxy->backlog =
defproxy->backlog;` src/proxy.c:3359-3360); section keywords are those
registered with REGISTER_CONFIG_SECTION (src/cfgparse.c:3184-3193 and the
modules).

Not encoded: when neither backlog nor maxconn is set anywhere, global
maxconn is computed at start-up from the container's file-descriptor
limit (src/limits.c:115-187); its value in a pod is inferred on the sheet,
not known from the manifest, so such binds give no listener rather than a
guess. Likewise no listener when the config file is not readable from
the input, when a value is not a literal integer, set twice with
different values, or set inside a `.if` block, or when the command line
adds files the module does not read (`--`, a directory).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Tuple

from somaxlint.findings import Location
from somaxlint.records import record, field
from somaxlint.servers import Launch, Listener, parse_int, parsed

NAME = "haproxy"
TITLE = "HAProxy"
# image_repository() keeps the last path component: haproxytech/haproxy-alpine
# is "haproxy-alpine"
IMAGES = ("haproxy", "haproxy-alpine", "haproxy-debian", "haproxy-ubuntu")
COMMANDS = ("haproxy",)
RECOGNISED_BY = "image haproxy, haproxytech/haproxy-alpine, haproxytech/haproxy-debian, haproxytech/haproxy-ubuntu; command haproxy"
# No fixed number: the frontend's maxconn (global maxconn when unset).
DEFAULT_BACKLOG = "maxconn"
DEFAULT_PORT = None
KNOB = "backlog N (in the frontend, listen or defaults section, or `bind ... backlog N`)"
SOURCE = "src/listener.c:1303-1322 listener_backlog(); src/proxy.c:4267-4268 frontend maxconn = global maxconn; servers.md §2.10"
STARTUP_WARNING = ""
# No listener read means the configuration that defines them is not in the
# input (or not literal): said as unresolved (SMX018), never silent.
EMPTY_MEANS_UNREAD = True

IMAGE_CONFIG = "/usr/local/etc/haproxy/haproxy.cfg"  # the official image's CMD

# Every section keyword (src/cfgparse.c:3184-3193 and the modules'
# REGISTER_CONFIG_SECTION / cfg_register_section; "program" from older
# releases): a line starting with one of them ends the previous section.
SECTIONS = frozenset(
    (
        "global", "defaults", "frontend", "listen", "backend", "userlist", "peers", "mailers",
        "resolvers", "cache", "program", "http-errors", "ring", "log-forward", "log-profile",
        "crt-store", "traces", "acme", "fcgi-app", "namespace_list", "healthcheck",
        "spoe-agent", "spoe-group", "spoe-message",
    )
)
# Address families that do not listen() on a stream socket (QUIC and other
# datagram sockets, inherited descriptors, reverse HTTP).
_NOT_LISTENING = ("udp", "udp4", "udp6", "quic", "quic4", "quic6", "uxdg", "fd", "sockpair", "rhttp")

_UNKNOWN = "unknown"  # a setting whose value the input does not settle


@record
class _Setting:
    value: object  # int, or _UNKNOWN
    location: Location
    origin: str


@record
class _Bind:
    addresses: str
    location: Location
    backlog: Optional[_Setting]
    maxconn: Optional[_Setting]
    conditional: bool


@record
class _Section:
    kind: str
    name: str
    defaults: Optional["_Section"] = None
    settings: Dict[str, Optional[_Setting]] = field(default_factory=dict)
    binds: List[_Bind] = field(default_factory=list)
    disabled: bool = False


def listeners(launch: Launch) -> List[Listener]:
    paths = _config_paths(launch)
    if not paths:
        return []
    files = []
    for path in paths:
        found = launch.read(path)
        if found is None:
            return []  # not a guess: the config is not in the input
        files.append(found)
    global_maxconn, proxies = _parse([(parsed(launch, _read_lines, text), locate) for text, locate in files])
    command_line = _dash_n(launch)
    if command_line is not None:
        global_maxconn = command_line
    out = []
    for proxy in proxies:
        defaults = proxy.defaults
        if proxy.disabled or (defaults is not None and defaults.disabled):
            continue
        front_backlog = _inherited(proxy, "backlog")
        front_maxconn = _inherited(proxy, "maxconn")
        for bind in proxy.binds:
            if bind.conditional:
                continue  # a `.if` block: the socket may not exist
            chosen = _first_set(bind.backlog, front_backlog, bind.maxconn, front_maxconn, global_maxconn)
            if chosen is None or chosen.value == _UNKNOWN:
                continue
            for address, port in _addresses(bind.addresses):
                out.append(Listener(NAME, address, port, chosen.value, chosen.origin, chosen.location, True, KNOB, bound_at=bind.location))
    return out


def config_paths(launch: Launch) -> List[str]:
    """The configuration files the launch loads, for an unresolved entry
    (SMX018) when no listener could be read."""
    return _config_paths(launch)


def _config_paths(launch: Launch) -> List[str]:
    """The files `-f` names, in order; the image's own command when the
    container gives no arguments."""
    words = [w.text for w in launch.words]
    if not words:
        return [IMAGE_CONFIG]
    if any(w in ("-c", "-v", "-vv") for w in words):
        return []  # checks the config or prints the version: listens on nothing
    if "--" in words:
        return []  # a list of further files/directories: not read
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-f"]


def _dash_n(launch: Launch) -> Optional[_Setting]:
    found = None
    for i, word in enumerate(launch.words[:-1]):
        if word.text == "-n":
            value = launch.words[i + 1]
            number = parse_int(value.text)
            found = _Setting(number if number is not None else _UNKNOWN, value.location, f"-n {value.text} (global maxconn)")
    if found is not None and found.value == 0:
        return None  # `-n 0` leaves the config's value (cfg_maxconn > 0 only)
    return found


def _inherited(proxy: _Section, key: str) -> Optional[_Setting]:
    own = proxy.settings.get(key)
    if own is not None:
        return own
    defaults = proxy.defaults
    return _defaults_setting(defaults, key) if defaults is not None else None


def _defaults_setting(section: _Section, key: str, depth: int = 0) -> Optional[_Setting]:
    own = section.settings.get(key)
    if own is not None or section.defaults is None or depth > 32:
        return own
    return _defaults_setting(section.defaults, key, depth + 1)


def _first_set(*settings: Optional[_Setting]) -> Optional[_Setting]:
    """listener_backlog()'s order; 0 means "not set" at every level."""
    for setting in settings:
        if setting is not None and setting.value != 0:
            return setting
    return None


def _set(store: Dict[str, Optional[_Setting]], key: str, new: _Setting, conditional: bool) -> None:
    """Record a setting.  Which of two different values wins is not on the
    facts sheet, nor whether a `.if` block applies: both leave it unknown."""
    old = store.get(key)
    if old is not None and old.value == _UNKNOWN:
        return
    if conditional or (old is not None and old.value != new.value):
        store[key] = _Setting(_UNKNOWN, new.location, new.origin)
    elif old is None:
        store[key] = new
    # the same value again: keep the first place it is said


# haproxy.cfg is parsed by hand: it is line-based (a keyword and its
# arguments a line; a section starts with its keyword at any indentation
# and lasts until the next; `#` comments; quotes and backslash escapes), and
# every finding needs the line and column of the word that set the value.
# pyhaproxy (0.3.7, 2019), the PyPI parser for this format, builds objects
# without positions and knows only six section kinds.
def _read_lines(text: str) -> List[Tuple[int, List[Tuple[str, int]]]]:
    """(line number, words) of the lines of a haproxy.cfg that ``_parse``
    reads: section keywords, `.if` blocks and the settings it looks at (a
    file of thousands of `server` lines gives a handful)."""
    out = []
    for number, line in enumerate(text.split("\n"), start=1):
        words = _words(line)
        if words and (words[0][0] in _READ or words[0][0] in SECTIONS or words[0][0].startswith(".")):
            out.append((number, words))
    return out


# the keywords ``_parse`` reads inside a section
_READ = frozenset(("maxconn", "backlog", "disabled", "bind"))


def _parse(files: List[Tuple[List[Tuple[int, List[Tuple[str, int]]]], Callable[[int, int], Location]]]):
    """(global maxconn setting, frontend/listen sections in order), from
    each file's lines (``_read_lines``) and how to locate them."""
    global_settings: Dict[str, Optional[_Setting]] = {}
    proxies: List[_Section] = []
    named_defaults: Dict[str, _Section] = {}
    last_defaults: Optional[_Section] = None
    for lines, locate in files:
        section: Optional[_Section] = None
        depth = 0  # nesting of .if blocks
        for number, words in lines:
            keyword, column = words[0]
            if keyword == ".if":
                depth += 1
                continue
            if keyword == ".endif":
                depth = max(0, depth - 1)
                continue
            if keyword.startswith("."):
                continue  # .elif, .else, .diag, .notice, ...
            args = [w for w, _ in words[1:]]
            if keyword in SECTIONS:
                name = args[0] if args and args[0] != "from" else ""
                section = _Section(keyword, name)
                parent = last_defaults
                if "from" in args and args.index("from") + 1 < len(args):
                    parent = named_defaults.get(args[args.index("from") + 1])
                if keyword == "defaults":
                    section.defaults = parent if "from" in args else None
                    last_defaults = section
                    if name:
                        named_defaults[name] = section
                elif keyword in ("frontend", "listen"):
                    section.defaults = parent
                    proxies.append(section)
                continue
            if section is None:
                continue
            here = locate(number, column)
            conditional = depth > 0
            if section.kind == "global" and keyword == "maxconn" and args:
                _set(global_settings, "maxconn", _setting(args[0], here, f"global maxconn {args[0]}"), conditional)
            elif section.kind in ("defaults", "frontend", "listen") and keyword in ("backlog", "maxconn") and args:
                where = f"{section.kind} {section.name}".rstrip()
                _set(section.settings, keyword, _setting(args[0], here, f"{keyword} {args[0]} ({where})"), conditional)
            elif section.kind in ("defaults", "frontend", "listen") and keyword == "disabled":
                section.disabled = section.disabled or not conditional
            elif section.kind in ("frontend", "listen") and keyword == "bind" and args:
                options: Dict[str, Optional[_Setting]] = {}
                for i, (word, col) in enumerate(words[2:-1], start=2):
                    if word in ("backlog", "maxconn"):
                        value = words[i + 1][0]
                        _set(options, word, _setting(value, locate(number, col), f"bind {word} {value}"), False)
                section.binds.append(_Bind(args[0], here, options.get("backlog"), options.get("maxconn"), conditional))
    return global_settings.get("maxconn"), proxies


def _setting(text: str, location: Location, origin: str) -> _Setting:
    number = parse_int(text)
    return _Setting(number if number is not None else _UNKNOWN, location, origin)


def _words(line: str) -> List[Tuple[str, int]]:
    """The line's words with their 1-based columns: whitespace separates
    them, `#` outside quotes starts a comment, quotes group, a backslash
    escapes the next character (haproxy.cfg's line syntax)."""
    out: List[Tuple[str, int]] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t\r":
            i += 1
        if i >= n or line[i] == "#":
            break
        start, word, quote = i, [], None
        while i < n:
            c = line[i]
            if quote:
                if c == quote:
                    quote = None
                elif c == "\\" and quote == '"' and i + 1 < n:
                    i += 1
                    word.append(line[i])
                else:
                    word.append(c)
            elif c in "'\"":
                quote = c
            elif c == "\\" and i + 1 < n:
                i += 1
                word.append(line[i])
            elif c in " \t\r" or c == "#":
                break
            else:
                word.append(c)
            i += 1
        out.append(("".join(word), start + 1))
    return out


def _addresses(spec: str) -> List[Tuple[str, Optional[int]]]:
    """(address, port) for each comma-separated address of a bind line;
    UNIX sockets have no port, port ranges and variables are kept as
    written in the address."""
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        family, at, rest = item.partition("@")
        if not at:
            family, rest = "", item
        if family in _NOT_LISTENING:
            continue
        if family in ("unix", "abns", "abnsz", "uxst") or rest.startswith("/"):
            out.append((item, None))
            continue
        host, colon, port_text = rest.rpartition(":")
        host = host if host not in ("", "*") else "*"
        port = parse_int(port_text) if colon else None
        if port is not None:
            out.append((host, port))
        else:  # a port range ("8000-8010"), a variable: as written
            out.append((f"{host}:{port_text}" if colon else item, None))
    return out

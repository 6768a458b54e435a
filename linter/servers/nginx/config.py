"""nginx configurations as they will run: includes resolved inside the
container's filesystem (or under the lint root for standalone files), then
every ``listen`` turned into the sockets nginx opens.

Includes are resolved here, never by crossplane, and never against the
host: an include that leaves the input is recorded as a problem, not read.
"""

from __future__ import annotations

import os
import posixpath
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Tuple

from somaxlint import facts
from somaxlint.discover import RootFS, decode_lenient, display_path
from somaxlint.load.nginx_text import MAX_BLOCK_DEPTH, Directive, NginxError, parse_nginx
from somaxlint.model.filesystem import ContainerFS
from somaxlint.model.sources import TextSource
from somaxlint.records import record, field, replace

# Files nginx configs include that never define listeners; not finding them
# in the input is not worth a word.
HARMLESS_INCLUDES = {
    "mime.types", "fastcgi_params", "fastcgi.conf", "scgi_params", "uwsgi_params",
    "proxy_params", "koi-utf", "koi-win", "win-utf",
}


@record
class IncludeProblem:
    directive: Directive
    message: str


@record
class ParsedText:
    directives: List[Directive]
    errors: List[NginxError]
    # how deep its blocks nest (``block_depth``), once asked
    depth: Optional[int] = None


def block_depth(parsed: ParsedText) -> int:
    """How deep the blocks of a parsed file nest (`http {}` alone: 1)."""
    if parsed.depth is None:
        deepest = 0
        todo = [(d, 1) for d in parsed.directives if d.block is not None]
        while todo:
            d, level = todo.pop()
            deepest = max(deepest, level)
            todo.extend((inner, level + 1) for inner in d.block if inner.block is not None)
        parsed.depth = deepest
    return parsed.depth


class ParseCache:
    """Each TextSource is parsed once, whatever includes or mounts it."""

    def __init__(self):
        self._parsed: Dict[int, ParsedText] = {}
        self._by_text: Dict[str, ParsedText] = {}
        self.sources: Dict[int, TextSource] = {}

    def get(self, source: TextSource, preparsed: Optional[Tuple[List[Directive], List[NginxError]]] = None) -> ParsedText:
        key = id(source)
        parsed = self._parsed.get(key)
        if parsed is None:
            if preparsed is not None:
                directives, errors = preparsed
            elif source.text in self._by_text:
                # the same text again (an image's built-in config in every
                # container, dev and prod copies of one ConfigMap): parsed
                # once, its directives copied (positions are the text's own)
                template = self._by_text[source.text]
                directives, errors = _clone(template.directives), list(template.errors)
            else:
                directives, errors = parse_nginx(source.text)
            _attach(directives, source)
            parsed = ParsedText(directives, errors)
            self._parsed[key] = parsed
            self.sources[key] = source
            if preparsed is None:  # (a file the loader parsed is its own)
                self._by_text.setdefault(source.text, parsed)
        return parsed

    def all(self):
        for key, parsed in self._parsed.items():
            yield self.sources[key], parsed


def _clone(directives: List[Directive]) -> List[Directive]:
    return [
        Directive(d.name, d.args, d.line, d.column, _clone(d.block) if d.block is not None else None)
        for d in directives
    ]


def _attach(directives: List[Directive], source: TextSource) -> None:
    stack = list(directives)
    while stack:
        d = stack.pop()
        d.source = source
        if d.block:
            stack.extend(d.block)


@record
class ResolvedConfig:
    """A main config with every include spliced in place."""

    main: TextSource
    main_path: str
    directives: List[Directive]
    problems: List[IncludeProblem] = field(default_factory=list)
    included: List[TextSource] = field(default_factory=list)


class Opener:
    """How a config's include paths are looked up: (path -> source) and
    (pattern -> paths), plus why a path is not available."""

    def __init__(
        self,
        lookup: Callable,
        glob: Callable,
        why_missing: Callable,
        prefix: str,
        opaque: Callable = lambda path: None,
        unlisted: Callable = lambda pattern: (),
    ):
        self.lookup = lookup
        self.glob = glob
        self.why_missing = why_missing
        self.prefix = prefix
        # path -> why its content is unknown (a mount whose source is not
        # in the input), else None: an empty glob there is not "no files"
        self.opaque = opaque
        # pattern (after ``glob``) -> what its expansion did not look
        # into: symlinks out of the lint root, an exhausted entry budget
        self.unlisted = unlisted


def container_opener(fs: ContainerFS, main_path: str) -> Opener:
    def lookup(path):
        mounted = fs.get(path)
        return mounted.source if mounted else None

    def why_missing(path):
        reason = fs.opaque_reason(path)
        if reason:
            return f"it is in a mount whose content is not in the input ({reason})"
        return "no mount of the container provides it"

    return Opener(lookup, fs.glob, why_missing, posixpath.dirname(main_path), fs.opaque_reason)


def conf_prefix(rootfs: RootFS, path: str) -> str:
    """The directory standing for /etc/nginx for a standalone file: the
    nearest directory above it (inside the lint root) holding nginx.conf,
    so that conf.d/*.conf snippets resolve their includes the way the main
    config's directory would; else the file's own directory."""
    directory = os.path.dirname(path)
    while rootfs.inside(directory):
        if rootfs.isfile(os.path.join(directory, "nginx.conf")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return os.path.dirname(path)


def root_opener(rootfs: RootFS, main_dir: str, cwd: str, sources: Dict[str, TextSource], max_files: int) -> Opener:
    """Standalone files: ``main_dir`` stands for /etc/nginx, so relative
    includes and absolute ones under /etc/nginx/ resolve against it.  Any
    other path is not part of the input, and nothing outside the lint roots
    is read (or even listed)."""
    prefix = "/etc/nginx"

    def to_local(path):
        if path == prefix or path.startswith(prefix + "/"):
            return os.path.join(main_dir, path[len(prefix) + 1 :])
        return None

    def lookup(path):
        local = to_local(path)
        if local is None or not rootfs.isfile(local):
            return None
        real = rootfs.realpath(local)  # (isfile said it has one, inside the root)
        source = sources.get(real)
        if source is None:
            try:
                text = decode_lenient(rootfs.read(real))
            except (OSError, ValueError) as exc:
                unreadable[local] = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                return None
            shown = display_path(real, cwd)
            source = TextSource(shown, text, shown)
            sources[real] = source
        return source

    notes: Dict[str, Tuple[str, ...]] = {}
    # files there that could not be read (too large, not a regular file):
    # the include names why, not "no such file"
    unreadable: Dict[str, str] = {}

    def glob(pattern):
        """Matching paths in glob(3)'s order, or None when the pattern
        points outside the lint root (then nothing there is even listed).
        Directories are listed only under the root, one level at a time: a
        symlink on the way that leads out is named, never entered."""
        local = to_local(pattern)
        if local is None:
            return None
        static = local
        while any(ch in static for ch in "*?["):
            static = os.path.dirname(static)
        if not rootfs.inside(static):
            return None
        found = rootfs.expand(local, max_files)
        said = []
        if found.escapes:
            more = f" (and {len(found.escapes) - 1} more)" if len(found.escapes) > 1 else ""
            said.append(
                f"the pattern reaches {display_path(found.escapes[0], cwd)}{more}, a symlink that leads outside "
                "the lint root: nothing there is listed or read"
            )
        if found.exhausted:
            said.append(
                f"the pattern makes somaxlint list more than {rootfs.max_entries} directory entries; it was not expanded"
            )
        notes[pattern] = tuple(said)
        return [
            posixpath.join(prefix, os.path.relpath(match, main_dir).replace(os.sep, "/"))
            for match in found.matches
        ]

    def why_missing(path):
        local = to_local(path)
        if local is None or not rootfs.inside(local):
            return "the path is outside the lint root and is not read"
        if local in unreadable:
            return f"the file cannot be read: {unreadable[local]}"
        return "no such file under the lint root"

    return Opener(lookup, glob, why_missing, prefix, unlisted=lambda pattern: notes.get(pattern, ()))


def resolve(
    main: TextSource,
    main_path: str,
    opener: Opener,
    cache: ParseCache,
    max_files: int,
    max_depth: int,
    preparsed=None,
) -> ResolvedConfig:
    config = ResolvedConfig(main, main_path, [])
    parsed = cache.get(main, preparsed)
    config.directives = _Resolver(config, opener, cache, max_files, max_depth).expand(parsed.directives, (id(main),))
    return config


class _Resolver:
    """The include expansion of one config.  A class, not two nested
    functions calling each other: those would form a reference cycle that
    keeps the config alive after the run (the collector is off).

    The walk keeps its own stack: a chain of includes as deep as
    ``max_depth`` allows, each file nesting its blocks, is deeper than
    Python's, and a file parsed deep in a recursion would fail at whatever
    depth the stack had left."""

    __slots__ = ("config", "opener", "cache", "max_files", "max_depth", "budget")

    def __init__(self, config: ResolvedConfig, opener: Opener, cache: ParseCache, max_files: int, max_depth: int):
        self.config = config
        self.opener = opener
        self.cache = cache
        self.max_files = max_files
        self.max_depth = max_depth
        self.budget = max_files

    def expand(self, directives: List[Directive], stack: Tuple[int, ...]) -> List[Directive]:
        """``directives`` with every include spliced in place and every
        block copied with its own spliced; ``stack``: the ids of the
        sources of the include chain (the main config first)."""
        config, opener, max_files, max_depth = self.config, self.opener, self.max_files, self.max_depth
        chain = set(stack)  # the sources being expanded, outermost first
        out: List[Directive] = []
        # (directives left, where they go, how deep in blocks they are, the
        # source whose expansion they end, or None) and (an include, its
        # paths left, where they go, how deep in blocks it is)
        todo: list = [(_DIRECTIVES, iter(directives), out, 0, None)]
        while todo:
            frame = todo[-1]
            if frame[0] is _DIRECTIVES:
                _, left, into, level, ends = frame
                d = next(left, None)
                if d is None:
                    todo.pop()
                    if ends is not None:
                        chain.discard(ends)
                elif d.name == "include" and d.block is None and len(d.args) == 1:
                    todo.append((_PATHS, d, iter(self.paths(d)), into, level))
                elif d.block is not None:
                    block: List[Directive] = []
                    into.append(Directive(d.name, d.args, d.line, d.column, block, d.source))
                    todo.append((_DIRECTIVES, iter(d.block), block, level + 1, None))
                else:
                    into.append(d)
                continue
            _, d, left, into, level = frame
            path = next(left, None)
            if path is None:
                todo.pop()
                continue
            source = opener.lookup(path)
            if source is None:
                why = opener.why_missing(path)
                if why and posixpath.basename(path) not in HARMLESS_INCLUDES:
                    config.problems.append(IncludeProblem(d, why))
                continue
            if id(source) in chain:
                config.problems.append(IncludeProblem(d, "include cycle: the file includes itself (directly or through other files)"))
                continue
            if len(chain) >= max_depth:
                config.problems.append(IncludeProblem(d, f"includes nested deeper than {max_depth} levels"))
                continue
            self.budget -= 1
            if self.budget < 0:
                config.problems.append(IncludeProblem(d, f"more than {max_files} included files; the rest were not read"))
                todo.pop()
                continue
            parsed = self.cache.get(source)
            if level + block_depth(parsed) > MAX_BLOCK_DEPTH:
                # (each file is bounded when it is parsed; the blocks an
                # include is in add to those of the file it includes)
                config.problems.append(
                    IncludeProblem(d, f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels with those this include is in")
                )
                self.budget += 1
                continue
            config.included.append(source)
            chain.add(id(source))
            todo.append((_DIRECTIVES, iter(parsed.directives), into, level, id(source)))
        return out

    def paths(self, d: Directive) -> List[str]:
        """The paths an include names (a pattern's matches, within the
        budget), saying what it cannot read."""
        config, opener, max_files = self.config, self.opener, self.max_files
        pattern = d.args[0]
        if not pattern.startswith("/"):
            pattern = posixpath.join(opener.prefix, pattern)
        pattern = posixpath.normpath(pattern)
        if not any(ch in pattern for ch in "*?["):
            return [pattern]
        paths = opener.glob(pattern)
        if paths is None:
            config.problems.append(IncludeProblem(d, opener.why_missing(pattern)))
            return []
        for note in opener.unlisted(pattern):
            config.problems.append(IncludeProblem(d, note))
        if not paths and opener.opaque(pattern):
            config.problems.append(IncludeProblem(d, opener.why_missing(pattern)))
            return []
        if len(paths) > self.budget:
            config.problems.append(
                IncludeProblem(d, f"the pattern matches more than {max_files} files; only the first were read")
            )
            paths = paths[: max(self.budget, 0)]
        return paths


# the two kinds of frame of _Resolver.expand's stack
_DIRECTIVES, _PATHS = "directives", "paths"


# --------------------------------------------------------------------------
# listen -> sockets
# --------------------------------------------------------------------------


@record
class Listen:
    directive: Directive
    module: str  # http, stream, mail
    family: str  # inet, inet6, unix
    address: str
    port: Optional[int]
    wildcard: bool
    options: Dict[str, Optional[str]]
    udp: bool
    backlog_raw: Optional[str] = None
    backlog: Optional[int] = None  # what nginx passes to listen(), None: default
    backlog_error: Optional[str] = None
    implicit: bool = False  # a server without `listen`: nginx's default
    # a host name as written (`listen localhost:8080`), resolved by nginx at
    # start-up into one listen per address (``resolve_names``)
    name: Optional[str] = None
    # what the address rests on when the input cannot settle it (a name only
    # DNS resolves)
    assumption: Optional[str] = None
    # which `server` block of the configuration holds it (nginx refuses one
    # http server listening twice on an address)
    server: int = 0

    @property
    def default_server(self) -> bool:
        """`default_server` (or its old spelling `default`): the http server
        for requests no server_name matches."""
        return "default_server" in self.options or "default" in self.options

    @property
    def mapped(self) -> Optional[str]:
        """The IPv4 address of an IPv4-mapped IPv6 address
        (`[::ffff:127.0.0.1]` -> 127.0.0.1), else None."""
        if self.family != "inet6" or "ffff" not in self.address.lower():
            return None  # (the mapped prefix is written ::ffff: in any spelling)
        import ipaddress  # only IPv4-mapped listens need it

        try:
            v4 = ipaddress.IPv6Address(self.address).ipv4_mapped
        except ValueError:
            return None
        return str(v4) if v4 is not None else None

    @property
    def sockaddr(self) -> Tuple:
        """What nginx compares to tell two listens apart (ngx_cmp_sockaddr:
        family, address, port; a UNIX socket's path), and TCP from UDP."""
        return (self.family, self.address, self.port, self.udp)

    @property
    def dual_stack(self) -> bool:
        """`listen [::]:80 ipv6only=off`: one socket for IPv6 and IPv4
        (nginx's default is ipv6only=on)."""
        return self.family == "inet6" and self.wildcard and self.options.get("ipv6only") == "off"

    @property
    def sets_socket_options(self) -> bool:
        return any(name in facts.NGINX_SOCKET_OPTIONS for name in self.options)

    @property
    def key(self) -> Tuple:
        return (self.module, self.family, self.address, self.port)

    @property
    def address_port(self) -> str:
        if self.family == "unix":
            return self.address
        if self.family == "inet6":
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


@record
class Socket:
    """One listening socket as the kernel sees it (``count`` copies with
    reuseport: one per worker process)."""

    module: str
    family: str
    address: str
    port: Optional[int]
    listens: List[Listen]
    owner: Optional[Listen]  # the listen whose options configure the socket
    count: Optional[int] = 1

    @property
    def requested_backlog(self) -> int:
        if self.owner is not None and self.owner.backlog is not None:
            return self.owner.backlog
        return facts.NGINX_DEFAULT_BACKLOG

    @property
    def backlog_directive(self) -> Optional[Directive]:
        if self.owner is not None and self.owner.backlog is not None:
            return self.owner.directive
        return None

    @property
    def directive(self) -> Directive:
        return (self.owner or self.listens[0]).directive

    @property
    def address_port(self) -> str:
        return (self.owner or self.listens[0]).address_port

    @property
    def wildcard(self) -> bool:
        return self.listens[0].wildcard

    @property
    def dual_stack(self) -> bool:
        return any(l.dual_stack for l in self.listens)

    @property
    def reuseport(self) -> bool:
        return self.owner is not None and "reuseport" in self.owner.options

    @property
    def ipv6only(self) -> bool:
        """IPV6_V6ONLY as nginx sets it on an IPv6 socket: on unless the
        listen that configures the socket says `ipv6only=off`
        (ngx_http_core_listen: lsopt.ipv6only = 1)."""
        return self.family == "inet6" and not (self.owner is not None and self.owner.options.get("ipv6only") == "off")

    @property
    def mapped(self) -> Optional[str]:
        """The IPv4 address of an IPv4-mapped IPv6 socket address, else None."""
        return (self.owner or self.listens[0]).mapped

    @property
    def ipv4(self) -> Optional[str]:
        """The IPv4 address the socket takes on its port (0.0.0.0: all of
        them), else None: an IPv4 socket's own; a dual-stack wildcard's
        0.0.0.0; an IPv4-mapped address's IPv4 address when the socket is
        not IPv6-only (Linux binds such a socket to the IPv4 address)."""
        if self.family == "inet":
            return self.address
        if self.dual_stack:
            return "0.0.0.0"
        if self.mapped is not None and not self.ipv6only:
            return self.mapped
        return None

    @property
    def ipv6(self) -> Optional[str]:
        """The IPv6 address (not IPv4-mapped) the socket takes, else None."""
        return self.address if self.family == "inet6" and self.mapped is None else None

    @property
    def assumption(self) -> Optional[str]:
        return next((l.assumption for l in self.listens if l.assumption), None)

    @property
    def ss_local(self) -> Optional[str]:
        """Local and peer address as `ss -lntH` prints them (iproute2: IPv6
        in brackets, a dual-stack wildcard as `*`); None for UNIX sockets
        and addresses only DNS knows."""
        if self.family == "unix" or self.assumption:
            return None
        if self.dual_stack:
            return f"*:{self.port} *:*"
        if self.mapped is not None and not self.ipv6only:
            # Linux keeps IPV6_V6ONLY off only for a mapped address (a
            # specific IPv6 address makes the socket IPv6-only), and ss
            # prints such a socket's peer as `*:*` (tests/kernel)
            return f"[::ffff:{self.mapped}]:{self.port} *:*"
        if self.family == "inet6":
            return f"[{self.address}]:{self.port} [::]:*"
        return f"{self.address}:{self.port} 0.0.0.0:*"


def parse_backlog(raw: str) -> Tuple[Optional[int], Optional[str]]:
    """nginx's reading of ``backlog=N``: ngx_atoi (digits only, 64-bit)
    stored into an ``int``; NGX_ERROR (-1) and 0 are refused."""
    if not (raw.isascii() and raw.isdigit()):
        return None, f'invalid backlog "backlog={raw}"'
    if len(raw.lstrip("0")) > 19:
        # beyond ngx_atoi's 64-bit range (and Python's int-string limit)
        return None, f'invalid backlog "backlog={raw[:24]}..."'
    value = int(raw)
    if value > 2**63 - 1:
        return None, f'invalid backlog "backlog={raw}"'
    as_int = value & 0xFFFFFFFF
    if as_int >= 2**31:
        as_int -= 2**32
    if as_int in (0, -1):
        return None, f'invalid backlog "backlog={raw}"'
    return as_int, None


def parse_listen(d: Directive, module: str, default_port: int) -> Optional[Listen]:
    if not d.args:
        return None
    target = d.args[0]
    options: Dict[str, Optional[str]] = {}
    for arg in d.args[1:]:
        name, sep, value = arg.partition("=")
        options[name] = value if sep else None
    udp = "udp" in options or "quic" in options
    if target.startswith("unix:"):
        listen = Listen(d, module, "unix", target, None, False, options, udp)
    elif target.startswith("["):
        end = target.find("]")
        if end < 0:
            return None
        address = target[1:end]
        rest = target[end + 1 :]
        port = _port(rest[1:]) if rest.startswith(":") else default_port
        if port is None:
            return None
        wildcard = address in ("::", "0:0:0:0:0:0:0:0")
        listen = Listen(d, module, "inet6", address, port, wildcard, options, udp)
    else:
        if target.isascii() and target.isdigit():
            host, port = "*", _port(target)
        elif ":" in target:
            host, _, port_text = target.rpartition(":")
            port = _port(port_text)
        else:
            host, port = target, default_port
        if port is None:
            return None
        if host in ("*", "0.0.0.0"):
            host = "0.0.0.0"
        listen = Listen(d, module, "inet", host, port, host == "0.0.0.0", options, udp)
    if "backlog" in options:
        listen.backlog_raw = options["backlog"] or ""
        listen.backlog, listen.backlog_error = parse_backlog(listen.backlog_raw)
    return listen


def _port(text: str) -> Optional[int]:
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0")
    if len(digits) > 5:
        return None  # (never converted: a long one costs its square)
    port = int(digits or "0")
    return port if 0 < port <= 65535 else None


# The pod's /etc/hosts as the kubelet writes it (kubernetes
# pkg/kubelet/kubelet_pods.go managedHostsFileContent): these entries, then
# the pod's own IP under its hostname, then `hostAliases`
# (hostsEntriesFromHostAliases).  A hostNetwork pod gets the node's file
# instead, plus hostAliases.  glibc's getaddrinfo returns every address of
# a name in the file, and nginx listens on each (ngx_http_core_listen ->
# ngx_parse_url -> one ngx_http_add_listen per address): `listen
# localhost:8080` opens 127.0.0.1:8080 and [::1]:8080 (tests/kernel).
KUBELET_HOSTS = (
    ("127.0.0.1", ("localhost",)),
    ("::1", ("localhost", "ip6-localhost", "ip6-loopback")),
    ("fe00::0", ("ip6-localnet",)),
    ("fe00::0", ("ip6-mcastprefix",)),
    ("fe00::1", ("ip6-allnodes",)),
    ("fe00::2", ("ip6-allrouters",)),
)


@record
class Hosts:
    """Names nginx may resolve, with their addresses in file order."""

    names: Dict[str, List[str]]
    # why a name not in ``names`` is unknown (DNS, or the node's own file)
    elsewhere: str = "resolved by DNS when nginx starts"


def pod_hosts(host_aliases=(), host_network: bool = False) -> Hosts:
    """``host_aliases``: (ip, [hostnames]) pairs of the pod spec."""
    names: Dict[str, List[str]] = {}
    entries = [] if host_network else list(KUBELET_HOSTS)
    entries += [(ip, tuple(hostnames)) for ip, hostnames in host_aliases]
    for address, hostnames in entries:
        for hostname in hostnames:
            known = names.setdefault(hostname.lower(), [])
            if address not in known:
                known.append(address)
    elsewhere = "in the node's /etc/hosts (a hostNetwork pod), else resolved by DNS" if host_network else "resolved by DNS when nginx starts"
    return Hosts(names, elsewhere)


def is_ip_address(text: str) -> bool:
    """Whether ``text`` is an address, not a host name, as
    ``ipaddress.ip_address`` tells them apart.  A dotted quad is checked
    here: importing ``ipaddress`` was a twentieth of a commit's run."""
    parts = text.split(".")
    if len(parts) == 4 and ":" not in text:
        return all(p.isascii() and p.isdigit() and len(p) <= 3 and (p == "0" or p[0] != "0") and int(p) <= 255 for p in parts)
    if ":" not in text:
        return False  # neither a dotted quad nor IPv6
    import ipaddress

    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def resolve_names(listens: List[Listen], hosts: Hosts) -> List[Listen]:
    """One listen per address of each host name; a name the hosts file does
    not hold stays one listen with an assumption (its addresses are not in
    the input)."""
    out = []
    for listen in listens:
        host = listen.address
        if listen.family != "inet" or listen.wildcard or listen.implicit or is_ip_address(host):
            out.append(listen)
            continue
        addresses = hosts.names.get(host.lower())
        if not addresses:
            listen.name = host
            listen.assumption = f"the host name {host} in `listen` is {hosts.elsewhere}: its addresses are not in the input"
            out.append(listen)
            continue
        for address in addresses:
            family = "inet6" if ":" in address else "inet"
            wildcard = address in ("0.0.0.0", "::")
            out.append(replace(listen, family=family, address=address, wildcard=wildcard, name=host))
    return out


def bind_conflicts(sockets: List[Socket]) -> List[Tuple[Socket, Socket]]:
    """Pairs (socket, other) of sockets nginx cannot both open.

    TCP: the same port on overlapping addresses -- the same address (in two
    modules: http and stream do not share sockets), a wildcard and an
    address of its family, or an IPv4 address and an IPv6 socket that takes
    IPv4 too (a dual-stack `[::]` with ipv6only=off, an IPv4-mapped
    `[::ffff:a.b.c.d]` with ipv6only=off) -- unless both set SO_REUSEPORT.
    nginx sets SO_REUSEADDR, which lets Linux bind a second socket only
    while the first is not listening; nginx listens on each socket as it
    opens it, so the second bind() fails with EADDRINUSE and nginx exits
    (inet_csk_bind_conflict; checked in tests/kernel).

    UNIX: one path bound by two sockets (the same path in two modules, each
    of which opens its own): the second bind() finds the file and fails
    with EADDRINUSE (unix_bind; tests/kernel), SO_REUSEPORT or not.

    ``socket`` is the one the finding is about: the specific address beside
    a wildcard, else the later one in the config.

    The pairs are found by port and address, never by comparing every two
    sockets: a socket overlaps those of its port with the same address or
    a wildcard one (of IPv6; of IPv4, which a dual-stack or mapped IPv6
    socket may take), so each pair is reached from a socket of it without
    reuseport, whose every partner is a pair reported.  In the order the
    comparison of every two sockets gave them."""
    out = []
    tcp = [s for s in sockets if s.family != "unix"]
    pairs = set()  # (i, j) in ``tcp``, i < j
    by_port: Dict[Optional[int], List[int]] = {}
    for i, socket in enumerate(tcp):
        by_port.setdefault(socket.port, []).append(i)
    for indexes in by_port.values():
        for side in ("ipv6", "ipv4"):
            # the sockets of this port that take an address of this side,
            # by the address; those that take every address
            by_address: Dict[str, List[int]] = {}
            every: List[int] = []
            for i in indexes:
                address = getattr(tcp[i], side)
                if address is None:
                    continue
                by_address.setdefault(address, []).append(i)
                if (tcp[i].wildcard if side == "ipv6" else address == "0.0.0.0"):
                    every.append(i)
            if not by_address:
                continue
            for address, same in by_address.items():
                for i in same:
                    if tcp[i].reuseport:
                        continue  # its pairs are reached from the other side
                    if tcp[i].wildcard if side == "ipv6" else address == "0.0.0.0":
                        partners = [j for group in by_address.values() for j in group]
                    else:
                        partners = same + every
                    for j in partners:
                        if j != i:
                            pairs.add((i, j) if i < j else (j, i))
    for i, j in sorted(pairs):
        a, b = tcp[i], tcp[j]
        if a.wildcard != b.wildcard and a.family == b.family:
            specific, wildcard = (b, a) if a.wildcard else (a, b)
            out.append((specific, wildcard))
        else:
            first, second = sorted((a, b), key=_position)
            out.append((second, first))
    unix = [s for s in sockets if s.family == "unix"]
    by_path: Dict[str, List[int]] = {}
    for i, socket in enumerate(unix):
        by_path.setdefault(unix_path(socket.address), []).append(i)
    # (every two sockets of a path, in the order of the first of them)
    for i, j in sorted((same[x], same[y]) for same in by_path.values() if len(same) > 1 for x in range(len(same)) for y in range(x + 1, len(same))):
        first, second = sorted((unix[i], unix[j]), key=_position)
        out.append((second, first))
    return out


def unix_path(address: str) -> str:
    """The file a `unix:` address names, as the kernel resolves it (two
    spellings of one path bind one file)."""
    return posixpath.normpath(address[len("unix:") :])


def _position(socket: Socket):
    d = socket.directive
    return (d.source.display if d.source else "", d.line, d.column)


def _overlap(a: Socket, b: Socket) -> bool:
    if a.ipv6 is not None and b.ipv6 is not None and (a.ipv6 == b.ipv6 or a.wildcard or b.wildcard):
        return True
    v4a, v4b = a.ipv4, b.ipv4
    return v4a is not None and v4b is not None and (v4a == v4b or "0.0.0.0" in (v4a, v4b))


# --------------------------------------------------------------------------
# What nginx refuses: duplicates at `nginx -t`, sockets it cannot open
# --------------------------------------------------------------------------


@record
class Duplicate:
    """A listen nginx refuses while reading the configuration (so `nginx -t`
    too) because it repeats an earlier one."""

    kind: str  # "pair", "listen", "default" or "options" (see ``duplicate_listens``)
    listen: Listen
    earlier: Listen

    @property
    def message(self) -> str:
        """nginx's own words (src/stream/ngx_stream_core_module.c and
        src/mail/ngx_mail_core_module.c ngx_*_core_listen; src/http/ngx_http.c
        ngx_http_add_server and ngx_http_add_addresses; nginx 1.22.1)."""
        address = self.earlier.address_port
        if self.kind == "pair":
            return f'duplicate "{self.listen.address_port}" address and port pair'
        if self.kind == "listen":
            return f"a duplicate listen {address}"
        if self.kind == "default":
            return f"a duplicate default server for {address}"
        return f"duplicate listen options for {address}"


def duplicate_listens(listens: List[Listen], stream_virtual_servers: bool) -> List[Duplicate]:
    """The listens nginx refuses as duplicates of an earlier one, in order:

    * "pair": a mail listen on the address (or UNIX path) of an earlier one
      -- the mail module has no virtual servers -- and the same for stream
      before nginx 1.25.5 (``stream_virtual_servers`` False): `duplicate
      "127.0.0.1:8000" address and port pair`;
    * "listen": one http server listening twice on one address (also when
      a host name resolves to it): `a duplicate listen 127.0.0.1:8000`;
    * "default": `default_server` on one address in two http servers: `a
      duplicate default server for 127.0.0.1:8000`;
    * "options": socket options on two listens of one address (SMX008's):
      `duplicate listen options for 127.0.0.1:8000`.

    Addresses are compared as nginx compares them (ngx_cmp_sockaddr): a
    wildcard and a specific address are different addresses here."""
    out: List[Duplicate] = []
    pairs: Dict[Tuple, Listen] = {}
    in_server: Dict[Tuple, Listen] = {}
    defaults: Dict[Tuple, Listen] = {}
    options: Dict[Tuple, Listen] = {}
    for listen in listens:
        if listen.implicit:
            continue
        key = listen.sockaddr
        if listen.module == "mail" or (listen.module == "stream" and not stream_virtual_servers):
            earlier = pairs.setdefault((listen.module, key), listen)
            if earlier is not listen:
                out.append(Duplicate("pair", listen, earlier))
        elif listen.module == "http":
            earlier = in_server.setdefault((key, listen.server), listen)
            if earlier is not listen:
                out.append(Duplicate("listen", listen, earlier))
            if listen.default_server:
                earlier = defaults.setdefault(key, listen)
                if earlier is not listen and earlier.server != listen.server:
                    out.append(Duplicate("default", listen, earlier))
        if listen.sets_socket_options:
            earlier = options.setdefault(listen.key, listen)
            if earlier is not listen:
                out.append(Duplicate("options", listen, earlier))
    return out


@record
class StartFailure:
    """A socket nginx cannot open by itself: nginx logs ``message`` and
    exits.  ``certain``: on every kernel the input allows; else only
    ``condition``, for the reason ``assumption`` gives."""

    socket: Socket
    message: str
    why: str
    fix: str
    at_test: bool  # `nginx -t` fails too (it binds, but sets no SO_REUSEPORT)
    certain: bool = True
    condition: Optional[str] = None  # when it fails, if not ``certain``
    assumption: Optional[str] = None  # why that is not known


def start_failures(sockets: List[Socket], workers: Optional[int], kernel: Optional[Tuple[int, int, int]]) -> List[StartFailure]:
    """The sockets nginx cannot open on Linux whatever else it listens on:

    * an IPv4-mapped address (`[::ffff:127.0.0.1]`) on an IPv6-only socket
      (nginx's default ipv6only=on): bind() fails with EINVAL, also at
      `nginx -t` (net/ipv6/af_inet6.c __inet6_bind: "Binding to v4-mapped
      address on a v6-only socket makes no sense"; tests/kernel).  A mapped
      address without socket options beside an IPv6 wildcard shares the
      wildcard's socket and is never bound;
    * `reuseport` on a UNIX socket: Linux refuses SO_REUSEPORT on anything
      but an inet socket with EOPNOTSUPP since "net: restrict SO_REUSEPORT
      to inet sockets" (commit 5b0af621c3f6, Linux 6.13, in the stable
      kernels of January 2025; tests/kernel).  Older kernels accept and
      ignore it, and then the copy of the socket nginx makes for each
      further worker (ngx_clone_listening, src/core/ngx_connection.c)
      binds the same path: EADDRINUSE.  So nginx fails on every kernel
      with more than one worker, and with one worker on the newer kernels
      only."""
    from somaxlint.facts import REUSEPORT_INET_ONLY

    out = []
    for socket in sockets:
        if socket.family == "unix" and socket.reuseport:
            several = workers is not None and workers > 1
            new_kernel = kernel is not None and kernel >= REUSEPORT_INET_ONLY
            out.append(
                StartFailure(
                    socket,
                    f"setsockopt(SO_REUSEPORT) {socket.address_port} failed (95: Operation not supported)",
                    "reuseport on a UNIX socket: Linux refuses SO_REUSEPORT on it (EOPNOTSUPP) since 6.13 and the "
                    "stable kernels of January 2025"
                    + (
                        f"; older kernels ignore it, and then each of the {workers} workers' copies of the socket "
                        "binds the same path (EADDRINUSE)"
                        if several
                        else ""
                    ),
                    "Drop reuseport from this listen: SO_REUSEPORT is for TCP and UDP sockets",
                    at_test=False,
                    certain=several or new_kernel,
                    condition=None
                    if several or new_kernel
                    else "if the node's kernel refuses SO_REUSEPORT on UNIX sockets (Linux 6.13 or later, or an older "
                    "kernel with the fix of CVE-2024-57903)",
                    assumption=None
                    if several or new_kernel
                    else (
                        "the node's kernel is not known: set `kernel` in the configuration"
                        if kernel is None
                        else f"Linux {'.'.join(map(str, kernel))} may carry the fix (stable kernels got it in January 2025)"
                    ),
                )
            )
        elif socket.family == "inet6" and socket.mapped is not None and socket.ipv6only:
            out.append(
                StartFailure(
                    socket,
                    f"bind() to {socket.address_port} failed (22: Invalid argument)",
                    f"{socket.address_port} is an IPv4-mapped address and the socket is IPv6-only (nginx's default "
                    "ipv6only=on): Linux refuses to bind it (EINVAL)",
                    f"Listen on {socket.mapped}:{socket.port} instead, or add ipv6only=off to this listen",
                    at_test=True,
                )
            )
    return out


@record
class ListenSet:
    listens: List[Listen]
    sockets: List[Socket]
    worker_processes: Optional[int]


def collect_listens(directives: List[Directive], run_as_root: bool, hosts: Optional[Hosts] = None) -> ListenSet:
    listens: List[Listen] = []
    workers: Optional[int] = 1
    for d in directives:
        if d.name == "worker_processes" and d.args:
            # (ngx_atoi refuses more than 19 digits: never converted)
            workers = int(d.args[0]) if d.args[0].isascii() and d.args[0].isdigit() and len(d.args[0].lstrip("0")) <= 19 else None
    default_port = facts.NGINX_DEFAULT_PORT_ROOT if run_as_root else facts.NGINX_DEFAULT_PORT_NONROOT

    count = 0

    def servers(block, module):
        nonlocal count
        for d in block or ():
            if d.name == "server" and d.block is not None:
                count += 1
                found = False
                for inner in d.block:
                    if inner.name == "listen":
                        listen = parse_listen(inner, module, 80 if module == "http" else 0)
                        if listen is not None:
                            listen.server = count
                            listens.append(listen)
                            found = True
                if not found and module == "http":
                    implicit = Listen(d, module, "inet", "0.0.0.0", default_port, True, {}, False, implicit=True, server=count)
                    listens.append(implicit)

    top_level_server = False
    for d in directives:
        if d.name in ("http", "stream", "mail") and d.block is not None:
            servers(d.block, d.name)
        elif d.name == "server" and d.block is not None:
            top_level_server = True
    if top_level_server:
        # A file of server blocks meant for inclusion in http {} (conf.d).
        servers(directives, "http")
    listens = resolve_names(listens, hosts or pod_hosts())
    sockets = group_sockets([l for l in listens if not l.udp], workers)
    return ListenSet(listens, sockets, workers)


def group_sockets(listens: List[Listen], workers: Optional[int]) -> List[Socket]:
    """The sockets nginx opens (ngx_http_init_listening and its stream/mail
    twins): listens are grouped per port and family; when a wildcard
    address is present, specific addresses share its socket unless they
    carry socket options (which imply ``bind``)."""
    by_port: Dict[Tuple, List[Listen]] = {}
    unix: Dict[Tuple, List[Listen]] = {}
    for listen in listens:
        if listen.family == "unix":
            unix.setdefault((listen.module, listen.address), []).append(listen)
        else:
            by_port.setdefault((listen.module, listen.family, listen.port), []).append(listen)

    sockets: List[Socket] = []

    def make(group: List[Listen]) -> Socket:
        owner = next((l for l in group if l.sets_socket_options), None)
        first = group[0]
        count: Optional[int] = 1
        if owner is not None and "reuseport" in owner.options:
            count = workers
        return Socket(first.module, first.family, first.address, first.port, group, owner, count)

    for (module, family, port), group in by_port.items():
        by_address: Dict[str, List[Listen]] = {}
        for listen in group:
            by_address.setdefault(listen.address, []).append(listen)
        wildcard = next((a for a, ls in by_address.items() if ls[0].wildcard), None)
        if wildcard is None:
            for address_group in by_address.values():
                sockets.append(make(address_group))
            continue
        folded = list(by_address[wildcard])
        for address, address_group in by_address.items():
            if address == wildcard:
                continue
            if any(l.sets_socket_options for l in address_group):
                sockets.append(make(address_group))
            else:
                folded.extend(address_group)
        sockets.append(make(folded))
    for group in unix.values():
        sockets.append(make(group))
    sockets.sort(key=lambda s: (s.directive.source.display if s.directive.source else "", s.directive.line, s.directive.column, s.address, s.port or 0))
    return sockets

"""nginx configurations as they will run: includes resolved inside the
container's filesystem (or under the lint root for standalone files), then
every ``listen`` turned into the sockets nginx opens.

Includes are resolved here, never by crossplane, and never against the
host: an include that leaves the input is recorded as a problem, not read.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from somaxlint import facts
from somaxlint.discover import RootFS, decode_lenient, display_path
from somaxlint.load.nginx_text import Directive, NginxError, parse_nginx
from somaxlint.model.filesystem import ContainerFS
from somaxlint.model.sources import TextSource

# Files nginx configs include that never define listeners; not finding them
# in the input is not worth a word.
HARMLESS_INCLUDES = {
    "mime.types", "fastcgi_params", "fastcgi.conf", "scgi_params", "uwsgi_params",
    "proxy_params", "koi-utf", "koi-win", "win-utf",
}


@dataclass
class IncludeProblem:
    directive: Directive
    message: str


@dataclass
class ParsedText:
    directives: List[Directive]
    errors: List[NginxError]


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
            elif not source.exact and source.text in self._by_text:
                # image built-ins: same text for every container
                template = self._by_text[source.text]
                directives, errors = _clone(template.directives), list(template.errors)
            else:
                directives, errors = parse_nginx(source.text)
            _attach(directives, source)
            parsed = ParsedText(directives, errors)
            self._parsed[key] = parsed
            self.sources[key] = source
            if not source.exact:
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


@dataclass
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
        real = os.path.realpath(local)
        source = sources.get(real)
        if source is None:
            try:
                text = decode_lenient(rootfs.read(real))
            except (OSError, ValueError):
                return None
            shown = display_path(real, cwd)
            source = TextSource(shown, text, shown)
            sources[real] = source
        return source

    notes: Dict[str, Tuple[str, ...]] = {}

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
    keeps the config alive after the run (the collector is off)."""

    __slots__ = ("config", "opener", "cache", "max_files", "max_depth", "budget")

    def __init__(self, config: ResolvedConfig, opener: Opener, cache: ParseCache, max_files: int, max_depth: int):
        self.config = config
        self.opener = opener
        self.cache = cache
        self.max_files = max_files
        self.max_depth = max_depth
        self.budget = max_files

    def expand(self, directives: List[Directive], stack: Tuple[int, ...]) -> List[Directive]:
        out: List[Directive] = []
        for d in directives:
            if d.name == "include" and d.block is None and len(d.args) == 1:
                out.extend(self.include(d, stack))
                continue
            if d.block is not None:
                copy = Directive(d.name, d.args, d.line, d.column, self.expand(d.block, stack), d.source)
                out.append(copy)
            else:
                out.append(d)
        return out

    def include(self, d: Directive, stack) -> List[Directive]:
        config, opener, max_files, max_depth = self.config, self.opener, self.max_files, self.max_depth
        pattern = d.args[0]
        if not pattern.startswith("/"):
            pattern = posixpath.join(opener.prefix, pattern)
        pattern = posixpath.normpath(pattern)
        if any(ch in pattern for ch in "*?["):
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
        else:
            paths = [pattern]
        out: List[Directive] = []
        for path in paths:
            source = opener.lookup(path)
            if source is None:
                why = opener.why_missing(path)
                if why and posixpath.basename(path) not in HARMLESS_INCLUDES:
                    config.problems.append(IncludeProblem(d, why))
                continue
            if id(source) in stack:
                config.problems.append(IncludeProblem(d, "include cycle: the file includes itself (directly or through other files)"))
                continue
            if len(stack) >= max_depth:
                config.problems.append(IncludeProblem(d, f"includes nested deeper than {max_depth} levels"))
                continue
            self.budget -= 1
            if self.budget < 0:
                config.problems.append(IncludeProblem(d, f"more than {max_files} included files; the rest were not read"))
                break
            config.included.append(source)
            parsed = self.cache.get(source)
            out.extend(self.expand(parsed.directives, stack + (id(source),)))
        return out


# --------------------------------------------------------------------------
# listen -> sockets
# --------------------------------------------------------------------------


@dataclass
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


@dataclass
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
    port = int(text)
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


@dataclass
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


def resolve_names(listens: List[Listen], hosts: Hosts) -> List[Listen]:
    """One listen per address of each host name; a name the hosts file does
    not hold stays one listen with an assumption (its addresses are not in
    the input)."""
    import ipaddress

    out = []
    for listen in listens:
        host = listen.address
        if listen.family != "inet" or listen.wildcard or listen.implicit:
            out.append(listen)
            continue
        try:
            ipaddress.ip_address(host)
            out.append(listen)
            continue
        except ValueError:
            pass
        addresses = hosts.names.get(host.lower())
        if not addresses:
            listen.name = host
            listen.assumption = f"the host name {host} in `listen` is {hosts.elsewhere}: its addresses are not in the input"
            out.append(listen)
            continue
        for address in addresses:
            family = "inet6" if ":" in address else "inet"
            wildcard = address in ("0.0.0.0", "::")
            copy = Listen(
                listen.directive, listen.module, family, address, listen.port, wildcard, listen.options, listen.udp,
                listen.backlog_raw, listen.backlog, listen.backlog_error, listen.implicit, name=host,
            )
            out.append(copy)
    return out


def bind_conflicts(sockets: List[Socket]) -> List[Tuple[Socket, Socket]]:
    """Pairs (socket, other) of TCP sockets nginx cannot both open: the same
    port on overlapping addresses -- the same address (in two modules: http
    and stream do not share sockets), a wildcard and an address of its
    family, or a dual-stack `[::]` (ipv6only=off) and any IPv4 address --
    unless both set SO_REUSEPORT.  nginx sets SO_REUSEADDR, which lets
    Linux bind a second socket only while the first is not listening;
    nginx listens on each socket as it opens it, so the second bind()
    fails with EADDRINUSE and nginx exits (inet_csk_bind_conflict; checked
    in tests/kernel).  ``socket`` is the one the finding is about: the
    specific address beside a wildcard, else the later one in the config."""
    out = []
    tcp = [s for s in sockets if s.family != "unix"]
    for i, a in enumerate(tcp):
        for b in tcp[i + 1 :]:
            if a.port != b.port or (a.reuseport and b.reuseport) or not _overlap(a, b):
                continue
            if a.wildcard != b.wildcard and a.family == b.family:
                specific, wildcard = (b, a) if a.wildcard else (a, b)
                out.append((specific, wildcard))
            else:
                first, second = sorted((a, b), key=_position)
                out.append((second, first))
    return out


def _position(socket: Socket):
    d = socket.directive
    return (d.source.display if d.source else "", d.line, d.column)


def _overlap(a: Socket, b: Socket) -> bool:
    if a.family == b.family:
        return a.address == b.address or a.wildcard or b.wildcard
    v6 = a if a.family == "inet6" else b
    return v6.dual_stack


@dataclass
class ListenSet:
    listens: List[Listen]
    sockets: List[Socket]
    worker_processes: Optional[int]


def collect_listens(directives: List[Directive], run_as_root: bool, hosts: Optional[Hosts] = None) -> ListenSet:
    listens: List[Listen] = []
    workers: Optional[int] = 1
    for d in directives:
        if d.name == "worker_processes" and d.args:
            workers = int(d.args[0]) if d.args[0].isascii() and d.args[0].isdigit() else None
    default_port = facts.NGINX_DEFAULT_PORT_ROOT if run_as_root else facts.NGINX_DEFAULT_PORT_NONROOT

    def servers(block, module):
        for d in block or ():
            if d.name == "server" and d.block is not None:
                found = False
                for inner in d.block:
                    if inner.name == "listen":
                        listen = parse_listen(inner, module, 80 if module == "http" else 0)
                        if listen is not None:
                            listens.append(listen)
                            found = True
                if not found and module == "http":
                    implicit = Listen(d, module, "inet", "0.0.0.0", default_port, True, {}, False, implicit=True)
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

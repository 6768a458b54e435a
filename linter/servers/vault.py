"""Vault: a Go server, so the accept queue of its API and cluster
listeners is the namespace's somaxconn.

Sources: Go's `net.Listen` passes `listenerBacklog()`, read once per
process from /proc/sys/net/core/somaxconn (src/net/sock_linux.go
`maxListenerBacklog()`; ../shared/facts/servers.md §2.12; servers-2.md
lists Vault as "inferred" from the Go rule).  hashicorp/vault
command/server/listener_tcp.go `tcpListenerFactory()`: the address
defaults to "127.0.0.1:8200", and "If they've passed 0.0.0.0, we only want
to bind on IPv4 rather than golang's dual stack default" (`tcp4` for an
address starting "0.0.0.0:"; any other address, "[::]:8200" too, is Go's
`tcp`: one dual-stack socket for an unspecified address), then
`net.Listen(bindProto, addr)` -- no backlog option.  command/server.go
`InitListeners()`: unless `disable_clustering`, every tcp listener has a
cluster address, its `cluster_address` or the API address's IP with port
+ 1; vault/core.go `unsealInternal()` calls `startClusterListener()`, so
that socket is opened once Vault is unsealed (said as an assumption: an
uninitialised or sealed Vault has only its API socket).  `-dev`
(and the other -dev-* flags, server.go `Run()`): the dev config's
listener, 127.0.0.1:8200 or `-dev-listen-address`, merged with the
`-config` files' listeners.

Settings read: `vault server` with `-config=PATH` (repeatable; a file, or a
directory of .hcl/.json files: a directory cannot be listed from the
input, so its files are read from the names a chart mounts there -- the
keys of a ConfigMap mounted at it are found when named `*.hcl`/`*.json`
below -- and the rest said as an assumption), HCL or JSON `listener "tcp"
{ address, cluster_address }` and the top-level `disable_clustering`.
The official image's entrypoint (hashicorp/vault @ 1d04c5e2
.release/docker/docker-entrypoint.sh) turns `server ...` into `vault server
-config=/vault/config -dev-root-token-id=... -dev-listen-address=
${VAULT_DEV_LISTEN_ADDRESS:-0.0.0.0:8200} ...`, writes
VAULT_LOCAL_CONFIG into /vault/config/local.json, and its CMD is
`server -dev`: a bare image is a dev server on 0.0.0.0:8200 (IPv4 only)
and 0.0.0.0:8201.  Not measured: no Vault binary could be run here
(NOT_KERNEL_CHECKED); the cluster listener's socket (vault/cluster, not
read) is taken to be Go's net.Listen too.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

from somaxlint.records import replace
from somaxlint.servers import Launch, Listener, Word, config_file, parse_int, parsed
from somaxlint.servers.traefik import follows

NAME = "vault"
TITLE = "Vault"
IMAGES = ("vault",)
COMMANDS = ("vault",)
ENTRYPOINT_SUBCOMMANDS = {"vault": ("server",)}
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = 8200
KNOB = "none: the queue is net.core.somaxconn (Go's net.Listen)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); vault command/server/listener_tcp.go tcpListenerFactory()"
STARTUP_WARNING = ""
NOT_KERNEL_CHECKED = (
    "Vault is not packaged in Debian, PyPI or npm (HashiCorp's own apt repository is not reachable): its listeners "
    "are Go's net.Listen (command/server/listener_tcp.go tcpListenerFactory()), whose backlog is src/net/"
    "sock_linux.go maxListenerBacklog(), the class the traefik kernel cases measure"
)

DEV_FLAGS = ("-dev", "-dev-ha", "-dev-transactional", "-dev-leased-kv", "-dev-auto-seal", "-dev-kv-v1", "-dev-no-kv", "-dev-tls", "-dev-consul")
DEFAULT_ADDRESS = "127.0.0.1:8200"
IMAGE_CONFIG_DIR = "/vault/config"
IMAGE_DEV_LISTEN = "0.0.0.0:8200"
# files a chart or an operator mounts into a config directory (a directory
# cannot be listed from the input): vault-helm's ConfigMap key, the image's
# VAULT_LOCAL_CONFIG file, and the usual names
DIRECTORY_FILES = ("extraconfig-from-values.hcl", "config.hcl", "vault.hcl", "server.hcl", "vault.json", "config.json", "local.json")
# the file the vault-helm chart's server command writes (`cp
# /vault/config/extraconfig-from-values.hcl /tmp/storageconfig.hcl`, then a
# sed of HOST_IP/POD_IP...; templates/_helpers.tpl:226-246 `vault.args`) -> its source
CHART_COPIES = {"/tmp/storageconfig.hcl": "/vault/config/extraconfig-from-values.hcl"}
UNSEALED = "the cluster listener is opened once Vault is unsealed (vault/core.go unsealInternal())"


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    if not launch.command:
        # the image's entrypoint (see the docstring)
        if not words:
            words = [Word("server", launch.started_at), Word("-dev", launch.started_at)]
        if words[0].text != "server":
            return []
        dev_listen = launch.env.get("VAULT_DEV_LISTEN_ADDRESS")
        words = [words[0], Word(f"-config={IMAGE_CONFIG_DIR}", launch.started_at),
                 Word(f"-dev-listen-address={dev_listen.text if dev_listen else IMAGE_DEV_LISTEN}",
                      dev_listen.location if dev_listen else launch.started_at)] + words[1:]
    if not words or words[0].text != "server":
        return []  # a client command (vault status, vault operator ...)
    flags = _flags(words[1:])
    dev = any(name in DEV_FLAGS and value in (None, "true", "1") for name, value, _ in flags)
    configs = [(value, word) for name, value, word in flags if name == "-config" and value]
    dev_listen = [(value, word) for name, value, word in flags if name == "-dev-listen-address" and value]
    entries: List[Tuple[Dict[str, Any], Any, str]] = []  # listener body, locate, where
    notes: List[str] = []
    disable_clustering = None
    if dev:
        address, word = dev_listen[-1] if dev_listen else (DEFAULT_ADDRESS, None)
        entries.append(({"address": (address, None, None)}, None, word.location if word else launch.started_at))
    for path, word in configs:
        for text, locate, said in _config_texts(launch, path):
            if said:
                notes.append(said)
            if text is None:
                continue
            tree = parsed(launch, _parse, text)
            if tree is None:
                notes.append(f"{path}: not parsed as HCL or JSON")
                continue
            for body in _blocks(tree, "listener", "tcp"):
                entries.append((body, locate, word.location))
            flag = _scalar(tree, "disable_clustering")
            if flag is not None:
                disable_clustering = flag[0].lower() in ("true", "1")
    if not configs and not dev:
        return []  # "Must specify at least one config path using -config": Vault exits
    if launch.env.get("VAULT_LOCAL_CONFIG") is not None and any(p.rstrip("/") == IMAGE_CONFIG_DIR for p, _ in configs):
        # the entrypoint writes it into /vault/config/local.json
        word = launch.env["VAULT_LOCAL_CONFIG"]
        tree = _parse(word.text)
        if tree is None:
            notes.append("VAULT_LOCAL_CONFIG: not parsed as HCL or JSON")
        for body in _blocks(tree or [], "listener", "tcp"):
            entries.append((body, None, word.location))
        flag = _scalar(tree, "disable_clustering")
        if flag is not None:
            disable_clustering = flag[0].lower() in ("true", "1")
    if launch.env.get("VAULT_LOCAL_CONFIG") is not None:
        written = f"{IMAGE_CONFIG_DIR} is not in the input"
        notes = [f"besides local.json (VAULT_LOCAL_CONFIG), the files of {IMAGE_CONFIG_DIR} are not in the input: assumed "
                 "to define no listener" if n.startswith(written) else n for n in notes]
    out: List[Listener] = []
    base = follows(NAME, launch)
    note = "; ".join(dict.fromkeys(notes)) or None
    seen = set()
    for body, locate, fallback in entries:
        value = body.get("address")
        text = value[0] if value else DEFAULT_ADDRESS
        where = locate(value[1], value[2]) if value and locate and value[1] else fallback
        api = _socket(text, api=True)
        if api is None:
            continue
        host, port, address, unknown = api
        for listener in _listener(base, address, port, where, f"listener \"tcp\" address {text}", note, unknown):
            if (listener.address, listener.port) not in seen:
                seen.add((listener.address, listener.port))
                out.append(listener)
        if disable_clustering:
            continue
        cluster = body.get("cluster_address")
        if cluster:
            found = _socket(cluster[0], api=False)
            cwhere = locate(cluster[1], cluster[2]) if locate and cluster[1] else fallback
            written = f"cluster_address {cluster[0]}"
        else:
            found = (host, port + 1, _address(host, api=False), unknown) if port else None
            cwhere, written = where, f"cluster address {host or '*'}:{port + 1}, the API port + 1" if port else ""
        if found is None:
            continue
        _, cport, caddress, cunknown = found
        said = "; ".join(x for x in (note, UNSEALED) if x)
        for listener in _listener(base, caddress, cport, cwhere, written, said, cunknown):
            if (listener.address, listener.port) not in seen:
                seen.add((listener.address, listener.port))
                out.append(listener)
    return out or [replace(base, assumption=note or "no tcp listener in the configuration somaxlint reads")]


def set_backlog(value: int) -> str:
    return f"raise net.core.somaxconn for the pod to {value}: Vault (Go) has no backlog setting"


def _listener(base, address, port, where, written, note, unknown) -> List[Listener]:
    said = note
    if unknown:
        said = "; ".join(x for x in (note, f"the address {unknown} is a template or name resolved at start-up") if x)
    return [replace(base, address=address, port=port, location=where, bound_at=where, explicit=True,
                    origin=f"backlog = net.core.somaxconn (Go's net.Listen reads it at start-up; {written})",
                    assumption=said)]


def _socket(text: str, api: bool):
    """(host, port, the address the socket has, what is unknown) of a
    listener address, None when it has no port."""
    host, colon, port_text = text.rpartition(":")
    port = parse_int(port_text) if colon else None
    if port is None or port <= 0:
        return None
    unknown = text if "{{" in host or (host and not any(c in host for c in ".:") and host != "localhost") else None
    return host, port, _address(host, api), unknown


def _address(host: str, api: bool) -> str:
    """The API listener's "0.0.0.0" is IPv4 only (`tcp4`); an unspecified
    address otherwise is one Go dual-stack socket ("*")."""
    bare = host.strip("[]")
    if api and bare == "0.0.0.0":
        return "0.0.0.0"
    if bare in ("", "0.0.0.0", "::"):
        return "*"
    return "127.0.0.1" if bare == "localhost" else bare


def _flags(words: List[Word]) -> List[Tuple[str, Optional[str], Word]]:
    """(name with one dash, value or None, word) of Go-style flags
    (`-x=v`, `--x=v`, `-x v` for the flags that take a value)."""
    out = []
    i = 0
    while i < len(words):
        text = words[i].text
        if not text.startswith("-") or text in ("-", "--"):
            i += 1
            continue
        name, eq, value = text.lstrip("-").partition("=")
        name = "-" + name
        if eq:
            out.append((name, value, words[i]))
        elif name in ("-config", "-dev-listen-address", "-config-file", "-config-dir", "-client", "-bind",
                      "-http-port", "-https-port", "-dns-port", "-grpc-port", "-grpc-tls-port", "-serf-lan-port",
                      "-serf-wan-port", "-server-port", "-serf-lan-bind", "-serf-wan-bind", "-hcl", "-data-dir",
                      "-dev-root-token-id", "-config-format", "-advertise", "-node", "-datacenter", "-retry-join",
                      "-join", "-bootstrap-expect", "-domain", "-encrypt", "-log-level", "-ui-content-path") and i + 1 < len(words):
            out.append((name, words[i + 1].text, words[i + 1]))
            i += 1
        else:
            out.append((name, None, words[i]))
        i += 1
    return out


def _config_texts(launch: Launch, path: str, names=None):
    """(text, locate, what is assumed) of the file ``path`` names, or of
    the files of the directory it names (see the docstring)."""
    found, said = config_file(launch, path, "listener")
    if found is not None:
        return [(found[0], found[1], said)]
    copied = CHART_COPIES.get(path)
    if copied is not None:
        source, _ = config_file(launch, copied, "listener")
        if source is not None:
            return [(source[0], source[1], f"{path} is written at start-up: read as the copy of {copied} the vault-helm "
                                           "chart's command makes (its sed of HOST_IP aside)")]
    out = []
    directory = path.rstrip("/")
    # the input's files there, in name order as the server reads a config
    # directory (*.hcl and *.json), besides the names an image or chart uses
    given = [p.rsplit("/", 1)[-1] for p in launch.listed(directory) if p.endswith((".hcl", ".json"))]
    for name in sorted(set(names or DIRECTORY_FILES) | set(given)):
        inside, _ = config_file(launch, directory + "/" + name, "listener")
        if inside is not None:
            out.append((inside[0], inside[1], None))
    if out and launch.covered(directory):
        return out  # a volume on the directory: its files are the input's, all read
    if out:
        return out + [(None, None, f"other files of the directory {path} are not known (a directory is not listed): "
                                   "assumed to define no further listener")]
    return [(None, None, f"{path} is not in the input (a file or directory mounted from elsewhere or written at run "
                         "time): assumed to define no listener")]


# ---------------------------------------------------------------- HCL/JSON
#
# A tree is a list of (key, value, line, column); a value is a scalar
# (text, line, column), a list of values ("list", [...]) or a tree (a
# block or object).  `listener "tcp" { }` is listener -> tcp -> body, as
# its JSON form {"listener": {"tcp": {...}}} is.


# blocks nested deeper than this are not read (the file is then not a
# configuration somaxlint reads, said as for any unreadable file)
MAX_DEPTH = 64


def _parse(text: str):
    try:
        return _Parser(text).tree()
    except (ValueError, IndexError):
        pass
    try:
        value = json.loads(text)
        if _deeper_than(value, MAX_DEPTH):
            return None
        return _from_json(value, text)
    except (ValueError, RecursionError):
        return None


def _deeper_than(value, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _from_json(value, text: str, start: int = 0):
    """A JSON document as a tree, each key and value located at its first
    occurrence after the key that holds it (0, 0 when not found: the
    reader then falls back to where the file is named)."""
    if isinstance(value, dict):
        out, cursor = [], start
        for k, v in value.items():
            quoted = json.dumps(k)
            at = text.find(quoted, cursor)
            if at < 0:
                at = cursor
            out.append((str(k), _from_json(v, text, at + len(quoted)), *_position(text, at + 1)))
            cursor = at + 1
        return out
    if isinstance(value, list):
        return ("list", [_from_json(v, text, start) for v in value])
    if isinstance(value, bool):
        needle, scalar = ("true", "true") if value else ("false", "false")
    elif isinstance(value, str):
        needle, scalar = json.dumps(value), value
    else:
        needle, scalar = json.dumps(value), str(value)
    at = text.find(needle, start)
    if at < 0:
        return (scalar, 0, 0)
    return (scalar, *_position(text, at + (1 if isinstance(value, str) else 0)))


def _position(text: str, at: int) -> Tuple[int, int]:
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


class _Parser:
    def __init__(self, text: str):
        self.tokens = list(_tokens(text))
        self.i = 0

    def tree(self):
        if self.tokens and self.tokens[0][0] == "{" and self.tokens[0][3] == "punct":
            self.i = 1
            out = self.body("}")
            return out
        return self.body(None)

    def body(self, end):
        self.depth = getattr(self, "depth", 0) + 1
        if self.depth > MAX_DEPTH:
            raise ValueError("nested too deep")
        try:
            return self._body(end)
        finally:
            self.depth -= 1

    def _body(self, end):
        out = []
        while self.i < len(self.tokens):
            text, line, column, kind = self.tokens[self.i]
            if kind == "punct" and text == end:
                self.i += 1
                return out
            if kind == "punct" and text == ",":
                self.i += 1
                continue
            if kind == "punct":
                raise ValueError(text)
            self.i += 1
            labels = []
            while self.tokens[self.i][3] == "string" and self.tokens[self.i + 1][0] != "=" and self.tokens[self.i + 1][0] != ":":
                labels.append(self.tokens[self.i][0])
                self.i += 1
            nxt = self.tokens[self.i][0]
            if nxt in ("=", ":"):
                self.i += 1
                value = self.value()
            elif nxt == "{":
                self.i += 1
                value = self.body("}")
            else:
                raise ValueError(nxt)
            for label in reversed(labels):
                value = [(label, value, line, column)]
            out.append((text, value, line, column))
        if end is not None:
            raise ValueError("unclosed")
        return out

    def value(self):
        text, line, column, kind = self.tokens[self.i]
        self.i += 1
        if kind == "punct" and text == "{":
            return self.body("}")
        if kind == "punct" and text == "[":
            self.depth = getattr(self, "depth", 0) + 1
            if self.depth > MAX_DEPTH:
                raise ValueError("nested too deep")
            items = []
            while self.tokens[self.i][0] != "]" or self.tokens[self.i][3] != "punct":
                if self.tokens[self.i][0] == "," and self.tokens[self.i][3] == "punct":
                    self.i += 1
                    continue
                items.append(self.value())
            self.i += 1
            self.depth -= 1
            return ("list", items)
        if kind == "punct":
            raise ValueError(text)
        return (text, line, column)


def _tokens(text: str):
    """(text, line, column, kind) of HCL's tokens; comments (#, //, /* */)
    dropped; a string's column is its first character's."""
    line, column, i, n = 1, 1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line, column, i = line + 1, 1, i + 1
            continue
        if ch in " \t\r":
            i, column = i + 1, column + 1
            continue
        if ch == "#" or text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            chunk = text[i:end]
            line += chunk.count("\n")
            column = len(chunk) - chunk.rfind("\n") if "\n" in chunk else column + len(chunk)
            i = end
            continue
        if ch in "{}[]=,:":
            yield ch, line, column, "punct"
            i, column = i + 1, column + 1
            continue
        if ch == '"':
            j = i + 1
            out = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    out.append(text[j + 1])
                    j += 2
                    continue
                if text[j] == "\n":
                    raise ValueError("newline in string")
                out.append(text[j])
                j += 1
            yield "".join(out), line, column + 1, "string"
            column += j + 1 - i
            i = j + 1
            continue
        if text.startswith("<<", i):
            raise ValueError("heredoc")
        j = i
        while j < n and text[j] not in " \t\r\n{}[]=,:#\"":
            j += 1
        yield text[i:j], line, column, "word"
        column += j - i
        i = j


def _blocks(tree, *path):
    """The bodies at ``path`` (`listener`, `tcp`): every listener "tcp"
    block, also JSON's lists of them."""
    found = [tree]
    for key in path:
        nxt = []
        for node in found:
            for item in _items(node):
                if isinstance(item, list):
                    nxt.extend(v for k, v, _l, _c in item if k == key)
        found = nxt
    return [dict((k, v) for k, v, _l, _c in body if isinstance(v, tuple) and v[0] != "list")
            for node in found for body in _items(node) if isinstance(body, list)]


def _items(node):
    if isinstance(node, tuple) and node and node[0] == "list":
        out = []
        for v in node[1]:
            out.extend(_items(v))
        return out
    return [node]


def _scalar(tree, key):
    """The last top-level scalar ``key`` = value: (text, line, column)."""
    found = None
    for k, v, _l, _c in tree or []:
        if k == key and isinstance(v, tuple) and v[0] != "list":
            found = v
    return found

"""Envoy (and Istio's sidecar and gateways): each static listener of the
bootstrap passes its `tcp_backlog_size` to listen(); without it, -1, so
its queue is the namespace's somaxconn.

Sources (../shared/facts/servers.md §2.11): `#define
ENVOY_TCP_BACKLOG_SIZE -1` on Linux (envoy/common/platform.h @ 759db7f3:
"default listen backlog size to net.core.somaxconn");
api/envoy/config/listener/v3/listener.proto @ 00e5a41c
`google.protobuf.UInt32Value tcp_backlog_size = 24` ("The maximum length a
tcp listener's pending connections queue can grow to. If no value is
provided net.core.somaxconn will be used on Linux"), read as
`PROTOBUF_GET_WRAPPED_OR_DEFAULT(config, tcp_backlog_size,
ENVOY_TCP_BACKLOG_SIZE)`; an explicit value is clamped silently by the
kernel. Istio never sets it (no `tcp_backlog_size` outside tests at
86c9f01), so sidecars (15001, 15006) and gateways follow the pod's
somaxconn; pilot-agent takes none of Envoy's bootstrap options (its
`proxy` flags, pilot/cmd/pilot-agent/app/cmd.go) and writes the bootstrap
itself, so an Istio container keeps the single "follows" listener.

Read beyond the sheet (through the code index; commits not pinned): the
bootstrap is `-c`/`--config-path <file>`, and `--config-yaml <yaml>` is
merged over it with `bootstrap.MergeFrom()` (source/server/server.cc
`loadBootstrapConfig()`; a repeated field such as
`static_resources.listeners` is appended to). A file ending in `.yaml` /
`.yml` is YAML, `.pb` / `.pb_text` a binary / text protobuf (not read
here: the listener then rests on an assumption), anything else JSON
(`MessageUtil::loadFromFile()`), which is read as YAML. Field names may be
spelled as in the proto or in lowerCamelCase (the protobuf JSON mapping).
The official images run `envoy -c /etc/envoy/envoy.yaml`
(ci/Dockerfile-envoy @ 019f458b, whose configs/envoyproxy_io_proxy.yaml
listens on 10000 without `tcp_backlog_size`; ci/docker-entrypoint.sh
prepends `envoy` to arguments that start with `-`); a mount over that path
is read. The bootstrap is parsed with the linter's positioned YAML loader
(somaxlint.load.yaml_stream, libyaml through ruamel.yaml: exact line and
column of every key and value, no object construction, bounded depth).

What is listed: one listener per address (`address` and each
`additional_addresses[]`) of each static listener with a `socket_address`:
`tcp_backlog_size: N` gives N at the value's exact position; without it the
listener follows somaxconn, located at its `address`. A value that is not a
literal integer (a template, a string, even a quoted number, which
Envoy's JSON conversion may accept: not checked) is treated as unset,
with an assumption saying so; a file that parses only in part (an
unquoted `{{ }}`) is read as far as it parses, each of its listeners with
that as an assumption. IPv6 addresses are shown in brackets. Not TCP queues, so not listed: `pipe`
(UNIX socket) and `envoy_internal_address` addresses, `protocol: UDP`,
internal and API listeners. A bootstrap with no static listeners (LDS/xDS,
`dynamic_resources`) keeps the single "follows" listener at the command;
so does a bootstrap the input does not provide, with an assumption naming
it. Not modelled: listeners added over LDS next to static ones, the admin
listener (always somaxconn), and one socket per worker thread with
`enable_reuse_port` (each queue has the same size).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Tuple

from somaxlint.findings import Location
from somaxlint.records import replace
from somaxlint.servers import Launch, Listener, Option, find_option, parsed
from somaxlint.servers.traefik import follows

NAME = "envoy"
TITLE = "Envoy"
IMAGES = ("envoy", "envoy-distroless", "proxyv2")
COMMANDS = ("envoy", "pilot-agent")
# Istio's proxyv2 image: ENTRYPOINT ["/usr/local/bin/pilot-agent"]
# (istio/istio pilot/docker/Dockerfile.proxyv2), so an injected sidecar's
# `args: [proxy, sidecar, ...]` (and a gateway's `proxy router`) run Envoy.
ENTRYPOINT_SUBCOMMANDS = {"proxyv2": ("proxy",)}


# (container name, image) that an admission webhook turns into this
# server: Istio's gateway chart writes the container `istio-proxy` with
# `image: auto`, which the injection webhook replaces by proxyv2 running
# `proxy router` (istio/istio manifests/charts/gateway/templates/
# deployment.yaml: '"auto" will be populated at runtime by the mutating
# webhook'; the gateway injection template).
INJECTED_AS = (("istio-proxy", "auto"),)
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = None
KNOB = "tcp_backlog_size on the listener (default: net.core.somaxconn)"
SOURCE = "envoy/common/platform.h ENVOY_TCP_BACKLOG_SIZE -1 (Linux); servers.md §2.11"
STARTUP_WARNING = ""

CONFIG_PATH = Option(long=("--config-path",), short=("-c",))
CONFIG_YAML = Option(long=("--config-yaml",))
# The official images' CMD (ci/Dockerfile-envoy: envoy, envoy-distroless).
IMAGE_CONFIG = "/etc/envoy/envoy.yaml"
IMAGE_CONFIG_IMAGES = ("envoy", "envoy-distroless")

DEFAULT_WHY = "Envoy's default listen backlog is -1 on Linux"
UINT32_MAX = 2**32 - 1

if TYPE_CHECKING:
    Locate = Callable[[int, int], Location]


def listeners(launch: Launch) -> List[Listener]:
    path_found = find_option(launch.words, CONFIG_PATH)
    yaml_found = find_option(launch.words, CONFIG_YAML)
    path = path_found[0] if path_found else None
    if path is None and yaml_found is None:
        if launch.words or _image_repository(launch.image) not in IMAGE_CONFIG_IMAGES:
            # pilot-agent (Istio), or an Envoy started without a bootstrap
            return [follows(NAME, launch, DEFAULT_WHY)]
        if launch.read(IMAGE_CONFIG) is None:
            return [follows(NAME, launch, DEFAULT_WHY)]  # the image's own bootstrap
        path = IMAGE_CONFIG
    out: List[Listener] = []
    statics = 0
    if path is not None:
        found = launch.read(path)
        if found is None:
            return [_unread(launch, f"{path} is not in the input (written at run time or mounted from elsewhere)")] + _inline(launch, yaml_found)[0]
        if path.lower().endswith((".pb", ".pb_text")):
            return [_unread(launch, f"{path} is a protobuf bootstrap, which somaxlint does not read")] + _inline(launch, yaml_found)[0]
        text, locate = found
        read, count, problem = _bootstrap(parsed(launch, _load, text), locate, path)
        if problem is not None:
            return [_unread(launch, problem)] + _inline(launch, yaml_found)[0]
        out += read
        statics += count
    inline, count = _inline(launch, yaml_found)
    out += inline
    statics += count
    if not statics:
        # LDS/xDS only (Istio, Contour, Envoy Gateway): nothing to read
        return [follows(NAME, launch, DEFAULT_WHY)]
    return out


def _inline(launch: Launch, yaml_found) -> Tuple[List[Listener], int]:
    """The listeners of `--config-yaml` (appended to the file's), located
    at the option's value: positions inside an argv string are not mapped."""
    if yaml_found is None:
        return [], 0
    text, word = yaml_found
    here = replace(word.location, approximate=True)
    read, count, problem = _bootstrap(parsed(launch, _load, text), lambda line, column: here, "--config-yaml")
    if problem is not None:
        return [_unread(launch, problem)], 1
    return read, count


def _unread(launch: Launch, why: str) -> Listener:
    return replace(follows(NAME, launch, DEFAULT_WHY), assumption=f"{why}: assumed to set no tcp_backlog_size")


def _load(text: str):
    """A bootstrap's documents and errors (positioned YAML): read, never
    changed, by every launch that loads the text."""
    from somaxlint.load.yaml_stream import load_yaml

    return load_yaml(text)


def _bootstrap(loaded, locate: Locate, label: str) -> Tuple[List[Listener], int, Optional[str]]:
    """(listeners, number of static listeners, why the text is not read),
    from the bootstrap's documents and errors (``_load``)."""
    from somaxlint.load.positioned import YMap, YSeq

    documents, errors = loaded
    root = documents[0].root if documents else None
    if not isinstance(root, YMap):
        if errors:
            return [], 0, f"{label} is not valid YAML (line {errors[0].line}: {errors[0].message})"
        return [], 0, f"{label} is not a bootstrap mapping"
    # A document that parses only in part (an unrendered `{{ }}` template):
    # what it says is read, with the error as an assumption.
    broken = f"{label} is not valid YAML as written (line {errors[0].line}: {errors[0].message})" if errors else None
    static = _field(root, "static_resources")[1]
    entries = _field(static, "listeners")[1] if isinstance(static, YMap) else None
    if not isinstance(entries, YSeq):
        return [], 0, None
    out: List[Listener] = []
    for entry in entries:
        if isinstance(entry, YMap):
            out += _listener(entry, locate, label, broken)
    return out, len(entries), None


def _listener(node, locate: Locate, label: str, broken: Optional[str]) -> List[Listener]:
    from somaxlint.load.positioned import YMap, YSeq

    if _field(node, "internal_listener")[0] or _field(node, "api_listener")[0]:
        return []  # no socket
    name = _field(node, "name")[1]
    name = name if isinstance(name, str) and name else None
    called = f"listener {name}" if name else "a listener"
    addresses = []  # (Address mapping, where its `address` key is)
    key, address = _field(node, "address")
    if isinstance(address, YMap):
        addresses.append((address, locate(*node.kpos[key][:2])))
    extra = _field(node, "additional_addresses")[1]
    if isinstance(extra, YSeq):
        for item in extra:
            key, address = _field(item, "address") if isinstance(item, YMap) else (None, None)
            if isinstance(address, YMap):
                addresses.append((address, locate(*item.kpos[key][:2])))
    key, value = _field(node, "tcp_backlog_size")
    explicit = key is not None and isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= UINT32_MAX
    out = []
    for address, where in addresses:
        socket = _field(address, "socket_address")[1]
        if not isinstance(socket, YMap):
            continue  # pipe (a UNIX socket), envoy_internal_address: no TCP queue
        protocol = _field(socket, "protocol")[1]
        if protocol in ("UDP", 1):
            continue
        host = _field(socket, "address")[1]
        port = _field(socket, "port_value")[1]
        host = str(host) if isinstance(host, (str, int)) and not isinstance(host, bool) else "*"
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host  # IPv6, as nginx's are shown
        port = port if isinstance(port, int) and not isinstance(port, bool) else None
        if explicit:
            origin = f"tcp_backlog_size {value} ({called})"
            here = locate(*node.vpos[key][:2])
            out.append(Listener(NAME, host, port, value, origin, here, True, KNOB, assumption=broken))
        elif key is not None:
            shown = repr(value) if isinstance(value, str) else _describe(value)
            assumption = (
                f"tcp_backlog_size of {called} in {label} is {shown}, not a literal integer: treated as unset, so the "
                f"queue is net.core.somaxconn (a value given at run time is not checked)"
            )
            origin = f"backlog = net.core.somaxconn ({called} sets tcp_backlog_size to a value that is not literal)"
            here = locate(*node.vpos[key][:2])
            out.append(Listener(NAME, host, port, -1, origin, here, False, KNOB, above_somaxconn="follows", assumption=assumption))
        else:
            origin = f"backlog = net.core.somaxconn ({called} sets no tcp_backlog_size; {DEFAULT_WHY})"
            out.append(Listener(NAME, host, port, -1, origin, where, False, KNOB, above_somaxconn="follows", assumption=broken))
    return out


def _field(node, name: str):
    """(key, value) of a proto field in a mapping, spelled as in the proto
    or in lowerCamelCase; (None, None) when absent."""
    if not isinstance(node, dict):
        return None, None
    head, *rest = name.split("_")
    for key in (name, head + "".join(part.capitalize() for part in rest)):
        if key in node:
            return key, node[key]
    return None, None


def _describe(value) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)  # out of the UInt32 range
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _image_repository(image: str) -> str:
    from somaxlint.servers import image_repository

    return image_repository(image)

"""etcd: a Go server, so the accept queue of every URL it listens on is the
namespace's somaxconn.

Sources: Go's `net.Listen` passes `listenerBacklog()`, read once per process
from /proc/sys/net/core/somaxconn (src/net/sock_linux.go
`maxListenerBacklog()`; ../shared/facts/servers.md §2.12; servers-2.md lists
etcd as "Go default, inferred").  etcd opens one listener per URL of
`--listen-client-urls` (default `http://localhost:2379`),
`--listen-peer-urls` (default `http://localhost:2380`),
`--listen-metrics-urls` (default none) and, from 3.5,
`--listen-client-http-urls` (server/embed/etcd.go `configurePeerListeners`,
`configureClientListeners`: `transport.NewListener` -> `net.Listen`), with no
backlog option.  Flags are Go `flag` words (`-x v`, `--x=v`; a later one wins);
each may be given in the environment as ETCD_<NAME> (pkg/flags
`SetFlagsFromEnv`), used only when the command line does not set it; a
config file (`--config-file`, ETCD_CONFIG_FILE: YAML with the flags' names as
keys) replaces both (etcdmain/config.go `configFromFile`).

Measured with Debian's etcd-server 3.4.23 in a network namespace with
somaxconn 1000 (`ss -lntH`): no options -> `127.0.0.1:2379` and
`127.0.0.1:2380`, Send-Q 1000 each (`localhost` resolves to 127.0.0.1, one
socket: Go listens on one address of a name); `http://0.0.0.0:2379` -> one
dual-stack socket `*:2379` (Go opens an IPv6 socket for the IPv4 wildcard);
`--listen-metrics-urls=http://127.0.0.1:2381` -> a socket; with
`--config-file` the command line's `--listen-client-urls` was ignored (etcd
logs "Other configuration command line flags and environment variables will
be ignored"); an ETCD_LISTEN_PEER_URLS beside `--listen-peer-urls` made etcd
exit ("conflicting environment variable ... is shadowed by corresponding
command-line flag"): the command line's value is then read, with that said.
Kernel cases: tests/kernel/servers_etcd.py.

Images: quay.io/coreos/etcd and gcr.io/etcd-development/etcd run `etcd` as
their CMD (etcd-io/etcd @c34dc7ee Dockerfile: `CMD ["/usr/local/bin/etcd"]`,
no ENTRYPOINT: arguments replace it), registry.k8s.io/etcd is run
by the control plane's static pod with its command; bitnami/etcd's run.sh
(not in the input) starts etcd with ETCD_* from etcd-env.sh, which defaults
ETCD_LISTEN_CLIENT_URLS to http://0.0.0.0:2379 and leaves
ETCD_LISTEN_PEER_URLS empty (bitnami/containers @417913f6
bitnami/etcd/3.5/debian-12/rootfs/opt/bitnami/scripts/etcd-env.sh).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.records import replace
from somaxlint.servers import Launch, Listener, Option, config_file, find_option, image_reference, parsed
from somaxlint.servers.traefik import follows

NAME = "etcd"
TITLE = "etcd"
IMAGES = ("etcd",)
COMMANDS = ("etcd",)
# the images' CMD is etcd itself: arguments replace it, none is prepended to
ENTRYPOINT_PREPENDS = {"etcd": ()}
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = 2379
KNOB = "none: the queue is net.core.somaxconn (Go's net.Listen)"
SOURCE = "Go src/net/sock_linux.go maxListenerBacklog(); etcd embed/etcd.go configureClientListeners (net.Listen); servers.md §2.12"
STARTUP_WARNING = ""

# (flag, etcd's default), in the order etcd opens them
URL_FLAGS = (
    ("listen-peer-urls", "http://localhost:2380"),
    ("listen-client-urls", "http://localhost:2379"),
    ("listen-client-http-urls", ""),
    ("listen-metrics-urls", ""),
)
BITNAMI_DEFAULTS = {"listen-client-urls": "http://0.0.0.0:2379"}
BITNAMI_SOURCE = "bitnami/etcd's etcd-env.sh default"


def listeners(launch: Launch) -> List[Listener]:
    """One listener per URL etcd listens on (client, peer, metrics)."""
    settings, assumption = _settings(launch)
    out = []
    seen = set()
    for flag, default in URL_FLAGS:
        value, location, origin, said = settings.get(flag, (default, launch.started_at, f"etcd's default --{flag}", None))
        for url in (u.strip() for u in value.split(",")):
            if not url or url in seen:
                continue
            seen.add(url)
            address, port, note = _socket(url)
            if address is None:
                continue
            notes = "; ".join(n for n in (assumption, said, note) if n)
            listener = follows(NAME, launch)
            out.append(replace(
                listener, address=address, port=port, location=location, bound_at=location, written=url,
                origin=f"backlog = net.core.somaxconn (Go's net.Listen reads it at start-up; {origin} {url})",
                explicit=False, assumption=notes or None,
            ))
    return out or [follows(NAME, launch)]


def set_backlog(value: int) -> str:
    return f"raise net.core.somaxconn for the pod to {value}: etcd has no backlog option (Go's net.Listen passes somaxconn)"


def _settings(launch: Launch) -> Tuple[Dict[str, tuple], Optional[str]]:
    """flag -> (value, location, where it comes from, what it rests on),
    and what every listener rests on."""
    words = launch.words
    found = find_option(words, Option(long=("--config-file", "-config-file")))
    where = None
    if found is not None:
        path, word = found
        where = (path, word.location, f"--config-file {path}")
    elif "ETCD_CONFIG_FILE" in launch.env and launch.env["ETCD_CONFIG_FILE"].text:
        word = launch.env["ETCD_CONFIG_FILE"]
        where = (word.text, word.location, f"ETCD_CONFIG_FILE={word.text}")
    if where is not None:
        # the file replaces the command line and the environment
        path, location, named = where
        read, said = config_file(launch, path, "listen URLs")
        out = {}
        if read is not None:
            text, locate = read
            for key, (value, line, column) in parsed(launch, _yaml_keys, text).items():
                if key in dict(URL_FLAGS):
                    out[key] = (value, locate(line, column), f"{key} in {path}", None)
        return out, said
    out = {}
    for flag, _default in URL_FLAGS:
        hit = find_option(words, Option(long=("--" + flag, "-" + flag)))
        env_name = "ETCD_" + flag.upper().replace("-", "_")
        env = launch.env.get(env_name)
        if hit is not None:
            said = None
            if env is not None and env.text:
                said = f"{env_name} is set beside --{flag}: etcd refuses to start with both (\"conflicting environment variable\"); the command line's value is read"
            out[flag] = (hit[0], hit[1].location, f"--{flag}", said)
        elif env is not None and env.text:
            out[flag] = (env.text, env.location, env_name, None)
    assumption = None
    if not launch.command and image_reference(launch.image)[1].rpartition("/")[0] == "bitnami":
        for flag, value in BITNAMI_DEFAULTS.items():
            if flag not in out:
                out[flag] = (value, launch.started_at, BITNAMI_SOURCE + f" ETCD_{flag.upper().replace('-', '_')}", None)
        assumption = "bitnami/etcd's run.sh (not in the input) starts etcd with the ETCD_* its etcd-env.sh defaults"
    return out, assumption


def _socket(url: str) -> Tuple[Optional[str], Optional[int], Optional[str]]:
    """(address, port, what it rests on) of a listen URL; (None, ..) for one
    that is not TCP."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None, None, None
    if scheme.lower() in ("unix", "unixs"):
        return None, None, None  # a unix socket named by the URL's host: no TCP port
    hostport = rest.split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if not port.isdigit():
        return None, None, None
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        return "*", int(port), None  # Go: one dual-stack socket
    if host == "localhost":
        return "127.0.0.1", int(port), None  # measured: Go listens on one address of a name
    if ":" not in host and not all(c in "0123456789." for c in host):
        return host, int(port), f"{url} names a host: etcd listens on one address it resolves to at start-up, which the input does not show"
    return host, int(port), None


def _yaml_keys(text: str) -> Dict[str, Tuple[str, int, int]]:
    """Top-level `key: value` lines of etcd's flat YAML config: key ->
    (value, line, column of the value)."""
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line[0] in " \t#-":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        stripped = value.strip()
        if " #" in stripped:
            stripped = stripped.split(" #", 1)[0].rstrip()
        column = line.index(stripped, len(key) + 1) + 1 if stripped else len(key) + 2
        if stripped[:1] in "'\"" and stripped[-1:] == stripped[:1] and len(stripped) > 1:
            stripped = stripped[1:-1]
            column += 1
        out[key.strip()] = (stripped, number, column)
    return out

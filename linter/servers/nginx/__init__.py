"""nginx (and OpenResty, and images built on the official one).

Unlike the servers configured through their argv and environment, nginx
reads a tree of files: the main config named by `-c` (else the image's
own), and every file it includes, resolved inside the container's
filesystem as the input builds it.  So this module is a package:

* here: which containers run nginx, with which main config, and how its
  sockets become the model's listeners;
* ``config``: include resolution and `listen` -> sockets;
* ``templates``: the official image's envsubst of `templates/*.template`;
* ``instances``: the nginx processes of the input (in containers, in
  standalone files, in ConfigMaps no container mounts).

Sources: NGX_LISTEN_BACKLOG 511 (src/os/unix/ngx_linux_config.h), and the
image facts in ``somaxlint.facts`` (docker-nginx, docker-openresty), all in
../shared/facts/listen-queues.md.
"""

from __future__ import annotations

import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional

from somaxlint import facts
from somaxlint.load.positioned import YMap, as_seq
from somaxlint.patterns import LazyPattern
from somaxlint.servers import Listener, image_repository

NAME = "nginx"
TITLE = "nginx"
LONG_TITLE = "nginx (also OpenResty and images built on the official one)"
IMAGES = ("nginx", "nginx-unprivileged", "nginx-plus", "openresty", "nginx-alpine")
# Command words that start nginx: the official image also ships
# `nginx-debug` (the same binary built with --with-debug).
COMMANDS = ("nginx", "nginx-debug", "openresty")
RECOGNISED_BY = (
    "image nginx, nginx-unprivileged, nginx-plus(-rN), openresty, nginx-alpine; command nginx, nginx-debug, "
    "openresty (-c FILE); any image with files mounted under /etc/nginx"
)
DEFAULT_BACKLOG = facts.NGINX_DEFAULT_BACKLOG
KNOB = "listen ... backlog=N;"
SOURCE = "NGX_LISTEN_BACKLOG 511 (src/os/unix/ngx_linux_config.h); listen-queues.md"
STARTUP_WARNING = ""

_IMAGE = re.compile(r"^(nginx|nginx-unprivileged|nginx-plus|nginx-plus-r\d+|openresty|nginx-alpine)$")

# Bitnami's nginx image keeps its configuration under /opt/bitnami (its
# server blocks in conf/server_blocks/); somaxlint does not model that
# image's built-in main config, so such a container is unresolved unless
# the main config itself is mounted.
BITNAMI_MAIN_CONF = "/opt/bitnami/nginx/conf/nginx.conf"


# Findings word nginx's backlog as nginx's own documentation does (see
# somaxlint.servers.phrase for the defaults).


def phrase(listener: Listener) -> str:
    return listener.origin if listener.explicit else f"nginx's {listener.origin}"


def set_backlog(value: int) -> str:
    """The fix, where the listener is located: its `listen`."""
    return f"add backlog={value} (or the size you need) to this listen"


def truncation_advice(requested: int, fits: bool) -> str:
    if fits:
        return (
            f"Raise net.core.somaxconn for the pod to at least {requested} and keep the backlog at the queue size "
            "you need: both knobs limit it"
        )
    return "Set backlog= to the queue size you need and raise net.core.somaxconn for the pod to at least that: both knobs limit it"


def is_ingress_controller(image: str) -> bool:
    """An ingress-nginx controller image: it runs nginx with a config it
    renders itself from a Go template (a `/etc/nginx/template` mount is
    that template, not an nginx config), with backlog=somaxconn (SMX012)."""
    name = image.split("@", 1)[0].rsplit(":", 1)[0] if "/" in image else image.split("@", 1)[0]
    return name.endswith("ingress-nginx/controller") or name.endswith("nginx-ingress-controller") or "/ingress-nginx/controller" in name


def main_config(container) -> Optional[str]:
    """The main config path if the container runs stock nginx, else None
    (worked out once per container: ``Container.once``)."""
    return container.once("nginx.main_config", _main_config)


def _main_config(container) -> Optional[str]:
    from somaxlint.model.shell import parse_commands

    if is_ingress_controller(container.image):
        return None
    argv = container.command + container.args
    image_is_nginx = bool(_IMAGE.match(image_repository(container.image)))
    main = None
    mentions = False
    for command in parse_commands(argv) if argv else []:
        words = command.words
        for i, word in enumerate(words):
            if word.rsplit("/", 1)[-1] in COMMANDS:
                mentions = True
                rest = words[i + 1 :]
                for j, arg in enumerate(rest):
                    if arg == "-c" and j + 1 < len(rest):
                        main = rest[j + 1]
                    elif arg.startswith("-c") and len(arg) > 2 and arg[2] == "/":
                        main = arg[2:]
                break
    if not mentions:
        if not image_is_nginx and not mounts_config(container):
            return None
        command = container.command
        if command and not command[0].endswith("docker-entrypoint.sh") and not mounts_config(container):
            # The image's nginx entrypoint was replaced, and nothing says the
            # replacement runs nginx.  (A wrapper script that mounts files
            # under /etc/nginx, an auto-reloader, does.)
            return None
    if main is None:
        repo = image_repository(container.image)
        if repo == "openresty":
            main = facts.OPENRESTY_IMAGE_MAIN_CONF
        elif is_bitnami(container):
            main = BITNAMI_MAIN_CONF
        else:
            main = facts.NGINX_IMAGE_MAIN_CONF
    return main


def is_bitnami(container) -> bool:
    name = container.image.split("@", 1)[0].rsplit(":", 1)[0]
    return "/bitnami/" in "/" + name or name.startswith("bitnami/")


def mounts_config(container) -> bool:
    """An image the linter does not know (nginxdemos/hello, a company's
    own build) that gets files mounted under /etc/nginx runs nginx."""
    for mount in as_seq(container.node.get("volumeMounts")):
        path = mount.get("mountPath") if isinstance(mount, YMap) else None
        if isinstance(path, str) and (path == "/etc/nginx" or path.startswith("/etc/nginx/")):
            return True
    return False


def image_files(container) -> Dict[str, str]:
    """The files the container's image ships that the model reads (its main
    config and default server), keyed by their path in the container."""
    repo = image_repository(container.image)
    if is_bitnami(container):
        return {}
    if repo == "nginx" or (not _IMAGE.match(repo) and mounts_config(container)):
        # Unknown nginx-based images: modelled on the official image, whose
        # main config includes /etc/nginx/conf.d/*.conf.
        return facts.NGINX_IMAGE_FILES
    if repo == "openresty":
        return facts.OPENRESTY_IMAGE_FILES
    if repo == "nginx-unprivileged":
        files = dict(facts.NGINX_IMAGE_FILES)
        files["/etc/nginx/conf.d/default.conf"] = files["/etc/nginx/conf.d/default.conf"].replace("listen       80;", "listen       8080;")
        return files
    return {}


def renders_templates(container) -> bool:
    """The official image's entrypoint renders /etc/nginx/templates (see
    ``templates``) unless the command replaces it."""
    return image_repository(container.image) in ("nginx", "nginx-unprivileged") and not container.command


def hosts_of(workload):
    """The /etc/hosts nginx resolves `listen` host names with, as the
    kubelet writes it for ``workload``'s pods (``config.pod_hosts``)."""
    from somaxlint.servers.nginx.config import pod_hosts

    aliases = []
    for alias in as_seq(workload.pod_spec.get("hostAliases")):
        if isinstance(alias, YMap) and isinstance(alias.get("ip"), str):
            names = [n for n in as_seq(alias.get("hostnames")) if isinstance(n, str)]
            aliases.append((alias["ip"], names))
    return pod_hosts(aliases, workload.host_network)


# Stream virtual servers: before 1.25.5 two stream `listen`s on one address
# and port are refused (`duplicate "0.0.0.0:8090" address and port pair`,
# checked with Debian's nginx 1.22.1 in tests/kernel); nginx CHANGES,
# "Changes with nginx 1.25.5 16 Apr 2024: Feature: virtual servers in the
# stream module".
STREAM_VIRTUAL_SERVERS = (1, 25, 5)

REUSEPORT_INET_ONLY = facts.REUSEPORT_INET_ONLY

# (at most 9 digits a part: a tag of thousands of digits is no version,
# and converting one would cost time quadratic in its length)
_TAG_VERSION = LazyPattern(r"^v?(\d{1,9})\.(\d{1,9})(?!\d)(?:\.(\d{1,9})(?!\d))?")


def version_of(container, settings) -> tuple:
    """(version, how it is known) of the nginx a container runs: its image
    tag (a tag without the patch level, `nginx:1.25`, follows that line's
    newest release), else `nginx.version` of the configuration, else
    (None, why) -- a current nginx is then assumed."""
    if container is not None:
        ref = container.image.split("@", 1)[0]
        tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else ""
        match = _TAG_VERSION.match(tag)
        if match and image_repository(container.image) in IMAGES:
            patch = int(match.group(3)) if match.group(3) is not None else 999
            return (int(match.group(1)), int(match.group(2)), patch), f"image {container.image}"
    if settings.nginx_version is not None:
        return settings.nginx_version, "nginx.version in the configuration"
    where = f"image {container.image} does not say" if container is not None else "a standalone file"
    return None, f"the nginx version is not known ({where}; set nginx.version): a current nginx is assumed"


def runs_as_root(container) -> bool:
    uid = container.run_as_user
    if uid is not None:
        return uid == 0
    return image_repository(container.image) != "nginx-unprivileged"


_KEY = LazyPattern(r"nginx|\.conf$")
# `^[ \t]*`, not `^\s*`: with MULTILINE, \s* from every line start over a
# run of blank lines is quadratic.
_BLOCK = LazyPattern(r"^[ \t]*(server|http|stream|events|upstream)\s*\{", re.M)


def looks_like_config(key: str, text: str) -> bool:
    """A ConfigMap key that holds an nginx config of its own."""
    if key.endswith((".tmpl", ".template", ".j2", ".tpl")):
        return False  # a template of a config, not one (envsubst, Go, Jinja)
    return bool(_KEY.search(key)) and bool(_BLOCK.search(text))


def describe_backlog(socket) -> str:
    """What nginx passes to listen() for ``socket``, and why."""
    owner = socket.owner
    if owner is None or owner.backlog is None:
        return f"default backlog {facts.NGINX_DEFAULT_BACKLOG}"
    if owner.backlog < 0:
        return (
            f"backlog={owner.backlog_raw} (stored in nginx's int as {owner.backlog}, which the kernel "
            "reads as unsigned: as large as allowed)"
        )
    if str(owner.backlog) != owner.backlog_raw:
        return f"backlog={owner.backlog_raw} (nginx keeps {owner.backlog} after its int conversion)"
    return f"backlog={owner.backlog}"


def listeners(sockets) -> List[Listener]:
    """The model's listeners for nginx's sockets (``config.group_sockets``),
    each located at its `backlog=` when set, else at its `listen`."""
    out = []
    for socket in sockets:
        directive = socket.backlog_directive or socket.directive
        source = directive.source
        out.append(
            Listener(
                server=NAME,
                address=socket.address,
                port=socket.port,
                requested_backlog=socket.requested_backlog,
                origin=describe_backlog(socket),
                location=source.locate(directive.line, directive.column),
                explicit=socket.backlog_directive is not None,
                knob=KNOB,
                sockets=socket.count,
                assumption=socket.assumption,
                section=socket.module,
                written=socket.address_port,
                helm_source=source.helm_source,
            )
        )
    return out

"""Stage 3: the model -- workloads, their network namespaces, the nginx
configs their containers load, and every listening socket.

Rules read this and nothing else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from linter import facts
from linter.discover import RootFS
from linter.findings import Location, Related, internal_error
from linter.load import LoadedFile
from linter.load.positioned import YMap, as_map, as_seq
from linter.model import shape
from linter.model.late_writes import late_writes
from linter.model.filesystem import MountedFile, SourceCache, add_image_files, build_fs
from linter.model.netns import NetNamespace, Somaxconn, build_namespace, kernel_default, tuning_sources
from linter.model.nginx import (
    ListenSet,
    ParseCache,
    ResolvedConfig,
    Socket,
    collect_listens,
    conf_prefix,
    container_opener,
    resolve,
    root_opener,
)
from linter.model.objects import Container, Inventory, K8sObject, Workload, collect
from linter.model.shell import parse_commands
from linter.model.sources import TextSource
from linter.settings import Settings


@dataclass
class ServerInstance:
    """One nginx process: where it runs, which config it loads, what it
    listens on, and the namespace's somaxconn."""

    config: ResolvedConfig
    listen_set: ListenSet
    somaxconn: Somaxconn
    workload: Optional[Workload] = None
    container: Optional[Container] = None
    main_via: Tuple[Related, ...] = ()  # how the main config reached the container
    # which of several equally near objects this instance was evaluated
    # against ("ConfigMap default/nginx-conf from apps/a/cm.yaml"), if any
    variant: Optional[str] = None

    @property
    def sockets(self) -> List[Socket]:
        return self.listen_set.sockets


@dataclass
class Ambiguity:
    """A reference that two or more equally near objects could satisfy."""

    workload: Workload
    kind: str
    name: str
    location: Location  # where the name is written
    candidates: Tuple[K8sObject, ...]


@dataclass
class Unresolved:
    """A container that runs a server whose configuration the input does
    not show: it still appears in `explain`, with the reason."""

    workload: Workload
    container: Container
    server: str  # "nginx"
    path: str  # the config path inside the container
    reason: str
    location: Location  # the mount, else the container
    related: Tuple[Related, ...] = ()


@dataclass
class Model:
    settings: Settings
    files: List[LoadedFile]
    inventory: Inventory
    namespaces: List[NetNamespace] = field(default_factory=list)
    servers: List[ServerInstance] = field(default_factory=list)
    parse_cache: ParseCache = field(default_factory=ParseCache)
    default_somaxconn: Optional[Somaxconn] = None
    # servers of other kinds (linter.servers), one per container that runs one
    processes: List["ServerProcess"] = field(default_factory=list)
    ambiguities: List[Ambiguity] = field(default_factory=list)
    # charts and kustomizations that did not render: (location, message,
    # severity "error" for broken input or "info" for a missing tool)
    unit_problems: List[Tuple[Location, str, str]] = field(default_factory=list)
    # rendered-stream location -> the source file's (set once rendering is
    # known; reports and explain show only source locations)
    relocate: Callable[[Location], Location] = lambda location: location
    unresolved: List[Unresolved] = field(default_factory=list)
    # fields of the wrong type, as (location, message): see model.shape
    problems: List[Tuple[Location, str]] = field(default_factory=list)


# --------------------------------------------------------------------------
# Which containers run nginx, with which main config
# --------------------------------------------------------------------------

_NGINX_IMAGE = re.compile(r"^(nginx|nginx-unprivileged|nginx-plus|nginx-plus-r\d+|openresty|nginx-alpine)$")


# Command words that start nginx: the official image also ships
# `nginx-debug` (the same binary built with --with-debug).
NGINX_COMMANDS = ("nginx", "nginx-debug", "openresty")


def image_repository(image: str) -> str:
    """``registry:5000/org/nginx:1.25@sha256:..`` -> ``nginx``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def is_ingress_controller(image: str) -> bool:
    """An ingress-nginx controller image: it runs nginx with a config it
    renders itself from a Go template (a `/etc/nginx/template` mount is
    that template, not an nginx config), with backlog=somaxconn (SMX012)."""
    name = image.split("@", 1)[0].rsplit(":", 1)[0] if "/" in image else image.split("@", 1)[0]
    return name.endswith("ingress-nginx/controller") or name.endswith("nginx-ingress-controller") or "/ingress-nginx/controller" in name


def nginx_main_path(container: Container) -> Optional[str]:
    """The main config path if the container runs stock nginx, else None."""
    if is_ingress_controller(container.image):
        return None
    argv = container.command + container.args
    image_is_nginx = bool(_NGINX_IMAGE.match(image_repository(container.image)))
    main = None
    mentions = False
    for command in parse_commands(argv) if argv else []:
        words = command.words
        for i, word in enumerate(words):
            if word.rsplit("/", 1)[-1] in NGINX_COMMANDS:
                mentions = True
                rest = words[i + 1 :]
                for j, arg in enumerate(rest):
                    if arg == "-c" and j + 1 < len(rest):
                        main = rest[j + 1]
                    elif arg.startswith("-c") and len(arg) > 2 and arg[2] == "/":
                        main = arg[2:]
                break
    if not mentions:
        if not image_is_nginx and not _mounts_nginx_config(container):
            return None
        command = container.command
        if command and not command[0].endswith("docker-entrypoint.sh") and not _mounts_nginx_config(container):
            # The image's nginx entrypoint was replaced, and nothing says the
            # replacement runs nginx.  (A wrapper script that mounts files
            # under /etc/nginx, an auto-reloader, does.)
            return None
    if main is None:
        repo = image_repository(container.image)
        if repo == "openresty":
            main = facts.OPENRESTY_IMAGE_MAIN_CONF
        elif _is_bitnami(container):
            main = BITNAMI_MAIN_CONF
        else:
            main = facts.NGINX_IMAGE_MAIN_CONF
    return main


# Bitnami's nginx image keeps its configuration under /opt/bitnami (its
# server blocks in conf/server_blocks/); somaxlint does not model that
# image's built-in main config, so such a container is unresolved unless
# the main config itself is mounted.
BITNAMI_MAIN_CONF = "/opt/bitnami/nginx/conf/nginx.conf"


def _is_bitnami(container: Container) -> bool:
    name = container.image.split("@", 1)[0].rsplit(":", 1)[0]
    return "/bitnami/" in "/" + name or name.startswith("bitnami/")





def _mounts_nginx_config(container: Container) -> bool:
    """An image the linter does not know (nginxdemos/hello, a company's
    own build) that gets files mounted under /etc/nginx runs nginx."""
    for mount in as_seq(container.node.get("volumeMounts")):
        path = mount.get("mountPath") if isinstance(mount, YMap) else None
        if isinstance(path, str) and (path == "/etc/nginx" or path.startswith("/etc/nginx/")):
            return True
    return False


def _image_files(container: Container) -> Dict[str, str]:
    repo = image_repository(container.image)
    if _is_bitnami(container):
        return {}
    if repo == "nginx" or (not _NGINX_IMAGE.match(repo) and _mounts_nginx_config(container)):
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


def _runs_as_root(container: Container) -> bool:
    uid = container.run_as_user
    if uid is not None:
        return uid == 0
    return image_repository(container.image) != "nginx-unprivileged"


# --------------------------------------------------------------------------


_NGINX_KEY = re.compile(r"nginx|\.conf$")
_NGINX_BLOCK = re.compile(r"^\s*(server|http|stream|events|upstream)\s*\{", re.M)


def _looks_like_embedded_nginx(key: str, text: str) -> bool:
    if key.endswith((".tmpl", ".template", ".j2", ".tpl")):
        return False  # a template of a config, not one (envsubst, Go, Jinja)
    return bool(_NGINX_KEY.search(key)) and bool(_NGINX_BLOCK.search(text))


def build_model(files: List[LoadedFile], settings: Settings, roots: List[str], cwd: str) -> Model:
    inv = collect(files)
    model = Model(settings, files, inv)
    model.default_somaxconn = kernel_default(settings)
    tuning = tuning_sources(inv, settings)
    sources = SourceCache()
    # TextSources already linted inside a container.  Held, not their ids:
    # an id can be reused once its object is gone.
    used: set = set()

    for obj in inv.objects:
        if obj.file.errors:
            continue  # the parse error says what is wrong; no echo of it
        model.problems.extend(shape.object_problems(obj))
    for workload in inv.workloads:
        try:
            _model_workload(model, workload, tuning, sources, used)
        except Exception as exc:  # one odd object must not stop the others
            model.problems.append((workload.obj.location, internal_error(exc, "object")))

    for stage in (lambda: _standalone_files(model, files, roots, cwd, used), lambda: _unmounted_config_maps(model, sources, used)):
        try:
            stage()
        except Exception as exc:  # never lose what the other stages found
            model.problems.append((Location("<somaxlint>"), internal_error(exc, "object")))
    return model


# At most this many combinations of equally near objects are evaluated for
# one workload; beyond it the first candidates are used and the ambiguity
# finding says so.
MAX_VARIANTS = 8


def _model_workload(model: Model, workload: Workload, tuning, sources: SourceCache, used: set) -> None:
    settings = model.settings
    if not workload.obj.file.errors:  # a parse error already says what is wrong
        model.problems.extend(shape.pod_problems(workload))
    netns = build_namespace(workload, settings, tuning, model.inventory.scope)
    netns.late_writes = late_writes(workload, lambda c: nginx_main_path(c) is not None)
    model.namespaces.append(netns)
    from linter.model.processes import server_processes

    scope = model.inventory.scope

    def candidates(kind, name):
        return scope.candidates(kind, workload.namespace, name, workload.obj)

    def fs_for(container):
        def nearest(kind, name, where):
            found = candidates(kind, name)
            if len(found) > 1 and not any(a.workload is workload and (a.kind, a.name) == (kind, name) for a in model.ambiguities):
                # Said (SMX017), and the first is read: servers other than
                # nginx are not evaluated per candidate.
                model.ambiguities.append(Ambiguity(workload, kind, name, where, tuple(found)))
            return found[0] if found else None

        fs = build_fs(container, nearest, sources)
        used.update(m.source for m in fs.files.values())
        return fs

    from linter.model.processes import unread

    for process in server_processes(workload, netns.somaxconn, fs_for):
        model.processes.append(process)
        if unread(process):
            container = process.container
            model.unresolved.append(
                Unresolved(
                    workload, container, process.module.NAME, "(its configuration)",
                    f"{process.module.TITLE}'s listeners are defined in a configuration the input does not show "
                    "(not mounted from the input, or values that are not literal)",
                    container.location, (),
                )
            )
    for container in workload.containers + [c for c in workload.init_containers if c.sidecar]:
        main_path = nginx_main_path(container)
        if main_path is None:
            if container.node.get("volumeMounts"):
                # What is mounted into another container (a controller's Go
                # template, an app's config) is that container's business:
                # never linted as a standalone nginx file.
                fs_for(container)
            continue
        # First pass: every reference to its nearest object, recording the
        # ones that stay ambiguous.
        ambiguous: Dict[Tuple[str, str], Tuple[Location, List[K8sObject]]] = {}

        def first(kind, name, where):
            found = candidates(kind, name)
            if len(found) > 1:
                ambiguous.setdefault((kind, name), (where, found))
            return found[0] if found else None

        _model_container(model, workload, container, main_path, netns, sources, used, first, None)
        if not ambiguous:
            continue
        for (kind, name), (where, found) in sorted(ambiguous.items()):
            model.ambiguities.append(Ambiguity(workload, kind, name, where, tuple(found)))
        # Drop the first pass's instance and evaluate every combination.
        model.servers = [s for s in model.servers if s.container is not container]
        model.unresolved = [u for u in model.unresolved if u.container is not container]
        combos: List[Dict[Tuple[str, str], K8sObject]] = [{}]
        for key, (_, found) in sorted(ambiguous.items()):
            combos = [{**c, key: o} for c in combos for o in found][:MAX_VARIANTS]
        for combo in combos:
            label = "; ".join(
                f"{k[0]} {workload.namespace or 'default'}/{k[1]} from {o.display}" for k, o in sorted(combo.items())
            )

            def pick(kind, name, where, combo=combo):
                if (kind, name) in combo:
                    return combo[(kind, name)]
                found = candidates(kind, name)
                return found[0] if found else None

            _model_container(model, workload, container, main_path, netns, sources, used, pick, label)


def _model_container(model, workload, container, main_path, netns, sources, used, choose, variant) -> None:
    settings = model.settings
    cache = model.parse_cache
    fs = build_fs(container, choose, sources)
    add_image_files(fs, container, _image_files(container))
    if image_repository(container.image) in ("nginx", "nginx-unprivileged") and not container.command:
        _render_templates(fs, container)
    # Anything mounted into an nginx container is that container's
    # business, loaded or not: never linted again on its own.
    used.update(m.source for m in fs.files.values())
    mounted = fs.get(main_path)
    if mounted is None:
        model.unresolved.append(_unresolved(workload, container, main_path, fs))
        return
    config = resolve(
        mounted.source,
        main_path,
        container_opener(fs, main_path),
        cache,
        settings.max_include_files,
        settings.max_include_depth,
    )
    used.add(mounted.source)
    used.update(config.included)
    if _has_parse_errors(config, cache):
        return  # nginx will not start; SMX000 says why
    listen_set = collect_listens(config.directives, _runs_as_root(container))
    built_in = [p for p in config.problems if p.directive.source.label.startswith("built-in ")]
    if not listen_set.sockets and built_in:
        # Nothing to check, because the image's own config includes a mount
        # whose content the input does not show (conf.d from a ConfigMap
        # elsewhere): unresolved, not "no listeners".  (An include the user
        # wrote is SMX013's, at that include.)
        model.unresolved.append(_unresolved_include(workload, container, fs, built_in[0]))
        return
    model.servers.append(
        ServerInstance(config, listen_set, netns.somaxconn, workload, container, mounted.via, variant)
    )


def _unresolved_include(workload: Workload, container: Container, fs, problem) -> Unresolved:
    pattern = problem.directive.args[0] if problem.directive.args else ""
    reason = fs.opaque_reason(pattern) or problem.message
    gap = _unresolved(workload, container, pattern, fs)
    gap.reason = reason
    return gap


_ENV_REFERENCE = re.compile(r"\$(\{)?(\w+)(?(1)\})")


def _render_templates(fs, container: Container) -> None:
    """The official image's entrypoint (docker-nginx
    entrypoint/20-envsubst-on-templates.sh @ 2f4acce0) renders every
    `$NGINX_ENVSUBST_TEMPLATE_DIR/**/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX`
    (defaults /etc/nginx/templates, .template) into
    `$NGINX_ENVSUBST_OUTPUT_DIR` (default /etc/nginx/conf.d), replacing
    `$VAR`/`${VAR}` (names starting with $NGINX_ENVSUBST_FILTER) by the
    variable's value when it is defined and leaving it as written when not.
    Values come from the container's literal `env`; a reference whose value
    the input does not show makes that output unknown (said, not guessed)."""
    literal, unknown_names, any_unknown = {}, set(), False
    for item in as_seq(container.node.get("env")):
        if isinstance(item, YMap) and isinstance(item.get("name"), str):
            if isinstance(item.get("value"), (str, int)) and not isinstance(item.get("value"), bool):
                literal[item["name"]] = str(item["value"])
            else:
                unknown_names.add(item["name"])  # valueFrom
    if container.node.get("envFrom"):
        any_unknown = True  # any name may be defined by the ConfigMap/Secret
    template_dir = os.path.normpath(literal.get("NGINX_ENVSUBST_TEMPLATE_DIR", "/etc/nginx/templates"))
    suffix = literal.get("NGINX_ENVSUBST_TEMPLATE_SUFFIX", ".template")
    output_dir = os.path.normpath(literal.get("NGINX_ENVSUBST_OUTPUT_DIR", "/etc/nginx/conf.d"))
    prefix = literal.get("NGINX_ENVSUBST_FILTER", "")
    for path, mounted in sorted(fs.files.items()):
        if not path.startswith(template_dir + "/") or not path.endswith(suffix):
            continue
        out_path = os.path.join(output_dir, path[len(template_dir) + 1 : len(path) - len(suffix)])
        source = mounted.source
        unknown = []

        def substitute(match, source=source, unknown=unknown):
            name = match.group(2)
            if not name.startswith(prefix):
                return match.group(0)
            if name in literal:
                return literal[name]
            if name in unknown_names or any_unknown:
                unknown.append(name)
            return match.group(0)

        text = _ENV_REFERENCE.sub(substitute, source.text)
        if unknown:
            # The rendered file replaces the image's own (conf.d/default.conf)
            # and its content is unknown: the include of the output directory
            # says so (SMX018 when nothing else defines a listener).
            fs.files.pop(out_path, None)
            fs.opaque[output_dir] = (
                f"rendered by the nginx image's envsubst from {source.label} with ${unknown[0]}, whose value the input does not show"
            )
            continue
        exact = source.exact and all("\n" not in literal[n] for n in literal)
        rendered = TextSource(
            source.display, text, f"{source.label} (rendered to {out_path} by the image's envsubst)",
            line0=source.line0, col0=source.col0, exact=exact, anchor=source.anchor, helm_source=source.helm_source,
        )
        fs.files[out_path] = MountedFile(rendered, mounted.via)


def _unresolved(workload: Workload, container: Container, path: str, fs) -> Unresolved:
    """Why the main config is not known, located at the mount that should
    hold it (or the container, when nothing is mounted there)."""
    reason = fs.opaque_reason(path)
    location = container.location
    related: Tuple[Related, ...] = ()
    mount = _mount_for(container, path)
    if mount is not None:
        location = workload.obj.at(mount.pos)
        related = (Related(container.location, container.label),)
    if reason is None:
        image = container.image or "?"
        reason = f"{path} is not mounted and is not a file of image {image} that somaxlint knows"
    return Unresolved(workload, container, "nginx", path, reason, location, related)


def _mount_for(container: Container, path: str):
    best = None
    for mount in as_seq(container.node.get("volumeMounts")):
        mount_path = mount.get("mountPath") if isinstance(mount, YMap) else None
        if not isinstance(mount_path, str) or not mount_path.startswith("/"):
            continue
        mount_path = os.path.normpath(mount_path)
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            if best is None or len(mount_path) > len(best[0]):
                best = (mount_path, mount)
    return best[1] if best else None


def _standalone_files(model: Model, files: List[LoadedFile], roots: List[str], cwd: str, used: set) -> None:
    settings = model.settings
    cache = model.parse_cache
    rootfs = RootFS(roots, settings.max_file_bytes)
    by_real: Dict[str, TextSource] = {}
    nginx_files = [f for f in files if f.kind == "nginx" and f.not_applicable is None and f.directives is not None]
    preparsed = {}
    for f in nginx_files:
        source = TextSource(f.input.display, f.text or "", f.input.display)
        cache.get(source, (f.directives, []))  # errors are the loaded file's own
        preparsed[f.input.path] = source
        if f.input.path != "-":
            by_real[f.input.path] = source
    resolved = []
    included_ids = set()
    reach = {}
    for f in nginx_files:
        source = preparsed[f.input.path]
        main_dir = cwd if f.input.path == "-" else conf_prefix(rootfs, f.input.path)
        opener = root_opener(rootfs, main_dir, cwd, by_real, settings.max_include_files)
        config = resolve(source, "/etc/nginx/nginx.conf", opener, cache, settings.max_include_files, settings.max_include_depth)
        resolved.append((f, source, config))
        reach[id(source)] = {id(s) for s in config.included}
        included_ids.update(id(s) for s in config.included if s is not source)
    # Roots: files no other file includes.  Files reachable only through an
    # include cycle have no such root; each of them is then a root too.
    roots = {id(source) for f, source, config in resolved if id(source) not in included_ids}
    covered = set(roots)
    for root in roots:
        covered |= reach[root]
    for f, source, config in resolved:
        if id(source) not in roots and id(source) in covered:
            continue  # linted as part of the file that includes it
        if f.errors or _has_parse_errors(config, cache):
            continue  # nginx will not start; SMX000 says why
        link = _linked_workload(model, f.input.path)
        if link is None:
            listen_set = collect_listens(config.directives, run_as_root=True)
            model.servers.append(ServerInstance(config, listen_set, model.default_somaxconn))
            continue
        netns, container = link
        # The configuration names the file this container loads: it is not
        # unresolved after all.
        model.unresolved = [u for u in model.unresolved if u.container is not container]
        listen_set = collect_listens(config.directives, container is None or _runs_as_root(container))
        model.servers.append(ServerInstance(config, listen_set, netns.somaxconn, netns.workload, container))


def _linked_workload(model: Model, real_path: str):
    """`servers:` in the configuration: this standalone file runs in that
    workload's container, so it gets that pod's namespace."""
    import fnmatch

    for link in model.settings.servers:
        if not fnmatch.fnmatchcase(real_path, os.path.realpath(link.path)) and not fnmatch.fnmatchcase(real_path, link.path):
            continue
        for netns in model.namespaces:
            if netns.workload.ref != link.workload:
                continue
            containers = [c for c in netns.workload.containers if link.container in (None, c.name)]
            container = containers[0] if containers else None
            return netns, container
    return None


def _unmounted_config_maps(model: Model, sources: SourceCache, used: set) -> None:
    """nginx configs kept in ConfigMaps that no nginx container of the input
    mounts are still checked, against the default namespace."""
    for obj in model.inventory.of_kind("ConfigMap"):
        if obj.shadowed:
            continue  # never deployed: SMX016 says so
        data = as_map(obj.root.get("data"))
        if data is None:
            continue
        for key, value in data.items():
            if not isinstance(key, str) or not isinstance(value, str):
                continue
            if not _looks_like_embedded_nginx(key, value):
                continue
            source = sources.for_key(obj, data, key, value, "ConfigMap")
            if source in used:
                continue
            config = resolve(
                source,
                "/etc/nginx/" + key,
                _no_includes(),
                model.parse_cache,
                model.settings.max_include_files,
                model.settings.max_include_depth,
            )
            if _has_parse_errors(config, model.parse_cache):
                continue
            listen_set = collect_listens(config.directives, run_as_root=True)
            model.servers.append(ServerInstance(config, listen_set, model.default_somaxconn))


def _has_parse_errors(config: ResolvedConfig, cache: ParseCache) -> bool:
    return any(cache.get(source).errors for source in [config.main] + config.included)


def _no_includes():
    from linter.model.nginx import Opener

    return Opener(lambda path: None, lambda pattern: [], lambda path: None, "/etc/nginx")


def effective_backlog(socket: Socket, somaxconn: Somaxconn) -> Optional[int]:
    """The accept-queue limit `ss -lnt` shows as Send-Q, under the assumed
    somaxconn; None when the namespace's somaxconn is unknown."""
    if somaxconn.assumed is None:
        return None
    return facts.kernel_clamp(socket.requested_backlog, somaxconn.assumed)


def describe_backlog(socket: Socket) -> str:
    owner = socket.owner
    if owner is None or owner.backlog is None:
        return f"nginx's default backlog {facts.NGINX_DEFAULT_BACKLOG}"
    if owner.backlog < 0:
        return (
            f"backlog={owner.backlog_raw} (stored in nginx's int as {owner.backlog}, which the kernel "
            "reads as unsigned: as large as allowed)"
        )
    if str(owner.backlog) != owner.backlog_raw:
        return f"backlog={owner.backlog_raw} (nginx keeps {owner.backlog} after its int conversion)"
    return f"backlog={owner.backlog}"


def server_label(server: ServerInstance) -> str:
    if server.workload is None:
        return f"standalone config {server.config.main.label}"
    label = f"container {server.container.name!r} of {workload_label(server.workload)}"
    if server.variant:
        label += f" (evaluated with {server.variant}: see SMX017)"
    return label


def workload_label(workload: Workload) -> str:
    """The workload and, for rendered input, the unit it was rendered in:
    the same Deployment rendered with two values sets is two workloads."""
    unit = workload.obj.file.unit
    return f"{workload.ref} in {unit}" if unit and unit != "standard input" else workload.ref

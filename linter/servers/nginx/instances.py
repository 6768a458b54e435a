"""The nginx processes of the input: in the containers that run nginx (its
main config resolved through the container's mounts and the image's own
files), in standalone nginx files (linked to a workload by `servers:` in
the configuration, else run against the default namespace), and in
ConfigMaps that hold an nginx config no container mounts.
"""

from __future__ import annotations

import fnmatch
import os
from functools import cached_property
from itertools import islice
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.discover import RootFS
from somaxlint.findings import Location, Related, internal_error
from somaxlint.load import LoadedFile
from somaxlint.load.positioned import YMap, as_map, as_seq
from somaxlint.model.environment import container_env
from somaxlint.model.filesystem import SourceCache, add_image_files, build_fs
from somaxlint.model.objects import Container, K8sObject, Workload
from somaxlint.model.processes import ServerProcess, Unresolved
from somaxlint.model.sources import TextSource
from somaxlint.records import record, field
from somaxlint.servers import nginx
from somaxlint.servers.nginx import hosts_of, image_files, looks_like_config, renders_templates, runs_as_root
from somaxlint.servers.nginx.config import (
    Duplicate,
    ListenSet,
    Opener,
    ParseCache,
    ResolvedConfig,
    Socket,
    StartFailure,
    bind_conflicts,
    collect_listens,
    conf_prefix,
    container_opener,
    duplicate_listens,
    resolve,
    root_opener,
    start_failures,
)
from somaxlint.servers.nginx.templates import render_templates


@record
class NginxServer(ServerProcess):
    """One nginx process, with the configuration it loads (the nginx rules
    read its directives; every other rule reads ``listeners``)."""

    config: Optional[ResolvedConfig] = None
    listen_set: Optional[ListenSet] = None
    # (major, minor, patch) when known, and how it is known (or why not)
    version: Optional[Tuple[int, int, int]] = None
    version_source: str = ""
    # the node's kernel when the configuration names it (`kernel`)
    kernel: Optional[Tuple[int, int, int]] = None
    # the nginx binary that runs it (``build.Build``: version, modules), and
    # what it refuses while reading the configuration (``refusals``: SMX024)
    build: object = None
    refusals: list = field(default_factory=list)

    @classmethod
    def of(cls, config, listen_set, somaxconn, workload=None, container=None, main_via=(), variant=None, settings=None, container_main=False) -> "NginxServer":
        version, how = nginx.version_of(container, settings) if settings is not None else (None, "")
        build, refused = _refusals(config, container, version, how, container_main)
        _never_listens(listen_set, refused)
        listeners = nginx.listeners(listen_set.sockets)
        kernel = settings.kernel if settings is not None else None
        return cls(nginx, workload, container, somaxconn, listeners, tuple(main_via), variant, config, listen_set, version, how, kernel, build, refused)

    @property
    def sockets(self) -> List[Socket]:
        return self.listen_set.sockets

    @cached_property
    def bind_conflicts(self) -> List[Tuple[Socket, Socket]]:
        """The sockets nginx cannot open side by side (``config.bind_conflicts``),
        worked out once for SMX015 and `explain` alike."""
        return bind_conflicts(self.sockets)

    @cached_property
    def duplicates(self) -> List[Duplicate]:
        """The listens nginx refuses as duplicates (``config.duplicate_listens``):
        stream ones only before nginx 1.25.5 (when the version is not known,
        a current nginx, with stream virtual servers, is assumed)."""
        virtual = self.version is None or self.version >= nginx.STREAM_VIRTUAL_SERVERS
        return duplicate_listens(self.listen_set.listens, stream_virtual_servers=virtual)

    @cached_property
    def start_failures(self) -> List[StartFailure]:
        """The sockets nginx cannot open by itself (``config.start_failures``)."""
        return start_failures(self.sockets, self.listen_set.worker_processes, self.kernel)


def _refusals(config, container, version, how, container_main):
    """(the build, what it refuses in ``config``): a failure of this check
    costs the check, never the server's listeners."""
    from somaxlint.findings import internal_error
    from somaxlint.servers.nginx.build import build_of
    from somaxlint.servers.nginx.refusals import Refusal, refusals

    build = None
    try:
        build = build_of(container, version, how)
        return build, refusals(config, build, container_main)
    except Exception as exc:  # a bug of the check: said (SMX024), not a crash
        return build, [Refusal("internal", internal_error(exc, "nginx configuration"), "", "", False)]


def _never_listens(listen_set: ListenSet, refused) -> None:
    """An nginx that refuses its configuration opens no socket: every
    listener's numbers are what nginx would get once it starts, an
    assumption the backlog findings (SMX001 and the others then warnings)
    and `explain` carry (its `ss_line` is then null: nothing listens)."""
    first = next((r for r in refused if r.certain), None)
    if first is None:
        return
    note = f"nginx starts, which it does not: it refuses this configuration ({first.message}; SMX024) and never opens this socket"
    for listen in listen_set.listens:
        listen.assumption = f"{note}; {listen.assumption}" if listen.assumption else note


def add_container(model, workload, container, main_path: str, netns, sources, used: set, candidates) -> None:
    """The nginx process of ``container`` (main config ``main_path``), once
    per combination of equally near objects its references may reach."""
    from somaxlint.model.scope import MAX_VARIANTS, Ambiguity

    # First pass: every reference to its nearest object, recording the
    # ones that stay ambiguous.
    ambiguous: Dict[Tuple[str, str], Tuple[Location, List[K8sObject]]] = {}

    def first(kind, name, where):
        found = candidates(kind, name)
        if len(found) > 1:
            ambiguous.setdefault((kind, name), (where, found))
        return found[0] if found else None

    # (the first pass only appends: what it added is past these)
    servers, unresolved = len(model.servers), len(model.unresolved)
    _model_container(model, workload, container, main_path, netns, sources, used, first, None)
    if not ambiguous:
        return
    for (kind, name), (where, found) in sorted(ambiguous.items()):
        model.ambiguities.append(Ambiguity(workload, kind, name, where, tuple(found)))
    # Drop the first pass's instance and evaluate every combination (the
    # first MAX_VARIANTS: a name a thousand objects share costs eight).
    model.servers[servers:] = [s for s in model.servers[servers:] if not (s.kind == "nginx" and s.container is container)]
    model.unresolved[unresolved:] = [u for u in model.unresolved[unresolved:] if not (u.server == "nginx" and u.container is container)]
    combos: List[Dict[Tuple[str, str], K8sObject]] = [{}]
    for key, (_, found) in sorted(ambiguous.items()):
        combos = list(islice(({**c, key: o} for c in combos for o in found), MAX_VARIANTS))
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


# Files included into the configurations of nginx containers, over a run:
# n pods each including n mounted files are n² listeners, so past this many
# the remaining containers are reported unresolved (SMX018) instead.
MAX_INCLUDES_PER_RUN = 50_000


def _model_container(model, workload, container, main_path, netns, sources, used, choose, variant) -> None:
    settings = model.settings
    cache = model.parse_cache
    fs = build_fs(container, choose, sources)
    add_image_files(fs, container, image_files(container))
    if renders_templates(container):
        render_templates(fs, container, container_env(container, choose))
    # Anything mounted into an nginx container is that container's
    # business, loaded or not: never linted again on its own.
    used.add_files(fs.files)
    mounted = fs.get(main_path)
    if mounted is None:
        model.unresolved.append(_unresolved(workload, container, main_path, fs))
        return
    if model.nginx_included >= MAX_INCLUDES_PER_RUN:
        gap = _unresolved(workload, container, main_path, fs)
        gap.reason = (
            f"not modelled: the nginx containers before it already include {MAX_INCLUDES_PER_RUN} files, the bound on one "
            "run (many pods including many mounted files cost their product); lint fewer workloads at once"
        )
        model.unresolved.append(gap)
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
    model.nginx_included += len(config.included)
    if _has_parse_errors(config, cache):
        return  # nginx will not start; SMX000 says why
    listen_set = collect_listens(config.directives, runs_as_root(container), hosts_of(workload))
    built_in = [p for p in config.problems if p.directive.source.label.startswith("built-in ")]
    if not listen_set.sockets and built_in:
        # Nothing to check, because the image's own config includes a mount
        # whose content the input does not show (conf.d from a ConfigMap
        # elsewhere): unresolved, not "no listeners".  (An include the user
        # wrote is SMX013's, at that include.)
        model.unresolved.append(_unresolved_include(workload, container, fs, built_in[0]))
        return
    model.servers.append(NginxServer.of(config, listen_set, netns.somaxconn_for(container), workload, container, mounted.via, variant, settings, container_main=True))


def _unresolved_include(workload: Workload, container: Container, fs, problem) -> Unresolved:
    pattern = problem.directive.args[0] if problem.directive.args else ""
    reason = fs.opaque_reason(pattern) or problem.message
    gap = _unresolved(workload, container, pattern, fs)
    gap.reason = reason
    return gap


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


def add_standalone_files(model, files: List[LoadedFile], roots: List[str], cwd: str, used: set) -> None:
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
        if f.input.path != "-" or f.input.stands_for:
            by_real[f.input.stands_for or f.input.path] = source
    resolved = []
    included_ids = set()
    reach = {}
    for f in nginx_files:
        source = preparsed[f.input.path]
        try:
            named = f.input.stands_for or f.input.path
            main_dir = cwd if named == "-" else conf_prefix(rootfs, named)
            opener = root_opener(rootfs, main_dir, cwd, by_real, settings.max_include_files)
            config = resolve(source, "/etc/nginx/nginx.conf", opener, cache, settings.max_include_files, settings.max_include_depth)
        except Exception as exc:  # one file's failure must not cost the others theirs
            model.problems.append((Location(f.input.display, 1, 1), internal_error(exc, "file")))
            continue
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
        try:
            _add_standalone(model, f, config)
        except Exception as exc:  # one file's failure must not cost the others theirs
            model.problems.append((Location(f.input.display, 1, 1), internal_error(exc, "file")))


def _add_standalone(model, f, config) -> None:
    """The nginx process of one standalone file: in the workload the
    configuration's `servers:` links it to, else in the default namespace."""
    settings = model.settings
    link = _linked_workload(model, f.input.path)
    if link is None:
        listen_set = collect_listens(config.directives, run_as_root=True)
        model.servers.append(NginxServer.of(config, listen_set, model.default_somaxconn, settings=model.settings))
        return
    netns, container = link
    # The configuration names the file this container loads: it is not
    # unresolved after all.
    model.unresolved = [u for u in model.unresolved if u.container is not container]
    listen_set = collect_listens(config.directives, container is None or runs_as_root(container), hosts_of(netns.workload))
    model.servers.append(NginxServer.of(config, listen_set, netns.somaxconn_for(container), netns.workload, container, settings=settings))


def _linked_workload(model, real_path: str):
    """`servers:` in the configuration: this standalone file runs in that
    workload's container, so it gets that pod's namespace."""

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


def add_unmounted_config_maps(model, sources: SourceCache, used: set) -> None:
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
            if not looks_like_config(key, value):
                continue
            try:
                _add_config_map_key(model, sources, used, obj, data, key, value)
            except Exception as exc:  # one key's failure must not cost the others theirs
                model.problems.append((obj.value_loc(data, key), internal_error(exc, "config")))


def _add_config_map_key(model, sources: SourceCache, used: set, obj, data, key: str, value: str) -> None:
    source = sources.for_key(obj, data, key, value, "ConfigMap")
    if source in used:
        return
    settings = model.settings
    config = resolve(source, "/etc/nginx/" + key, _no_includes(), model.parse_cache, settings.max_include_files, settings.max_include_depth)
    if _has_parse_errors(config, model.parse_cache):
        return
    listen_set = collect_listens(config.directives, run_as_root=True)
    model.servers.append(NginxServer.of(config, listen_set, model.default_somaxconn, settings=settings))


def _has_parse_errors(config: ResolvedConfig, cache: ParseCache) -> bool:
    return any(cache.get(source).errors for source in [config.main] + config.included)


def _no_includes():
    return Opener(lambda path: None, lambda pattern: [], lambda path: None, "/etc/nginx")


"""Stage 3: the model -- workloads, their network namespaces, the servers
their containers run (nginx and every kind of ``somaxlint.servers``), and
every listening socket.

Rules read this and nothing else.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Tuple

from somaxlint.findings import Location, internal_error
from somaxlint.load import LoadedFile
from somaxlint.load.positioned import as_map, as_seq
from somaxlint.model import shape
from somaxlint.model.filesystem import SourceCache, UsedSources, build_fs
from somaxlint.model.late_writes import late_writes
from somaxlint.model.netns import NetNamespace, Somaxconn, argv_location, build_namespace, kernel_default, tuning_sources
from somaxlint.model.objects import Inventory, K8sObject, Workload, collect, workload_label  # noqa: F401 (the rules' import)
from somaxlint.model.scope import MAX_VARIANTS, Ambiguity  # noqa: F401
from somaxlint.model.processes import ServerProcess, Unresolved, server_processes, unread, unread_config
from somaxlint.records import record, field
from somaxlint.servers import nginx
from somaxlint.settings import Settings

if TYPE_CHECKING:
    from somaxlint.servers.nginx.config import ParseCache


@record
class Model:
    settings: Settings
    files: List[LoadedFile]
    inventory: Inventory
    namespaces: List[NetNamespace] = field(default_factory=list)
    # every server process of every kind; rules read their listeners
    servers: List[ServerProcess] = field(default_factory=list)
    # every nginx file parsed once, whatever includes or mounts it
    parse_cache: "ParseCache" = field(default_factory=lambda: _parse_cache())
    default_somaxconn: Optional[Somaxconn] = None
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
    # files included into nginx containers' configurations so far (bounded:
    # servers.nginx.instances.MAX_INCLUDES_PER_RUN)
    nginx_included: int = 0
    # the other servers' config texts, each parsed once (servers.parsed)
    server_parses: dict = field(default_factory=dict)
    # in a run of several projects (``merge_models``): (the configuration
    # that governs it, shown, or None for the run's, the project's model)
    governed: list = field(default_factory=list)
    # listeners of a pod's containers that cannot bind beside another's
    # (``model.pod_ports``: SMX026)
    port_conflicts: list = field(default_factory=list)

    @property
    def nginx_servers(self):
        """The nginx processes, for the rules about nginx's own directives."""
        return [s for s in self.servers if s.kind == "nginx"]


def merge_models(models: List["Model"], settings: Settings, files: List[LoadedFile], relocator=None) -> "Model":
    """One model of several projects' (``somaxlint.projects``), for what
    reads the run as a whole: explain, the suppressions, the summary.
    Each project's rules ran on its own model."""
    inventory = Inventory()
    merged = Model(settings, files, inventory)
    for model in models:
        inventory.objects.extend(model.inventory.objects)
        inventory.workloads.extend(model.inventory.workloads)
        inventory.network_attachments.extend(model.inventory.network_attachments)
        inventory.unplaced.extend(model.inventory.unplaced)
        inventory.workload_refs.extend(model.inventory.workload_refs)
        inventory.cni_configs.extend(model.inventory.cni_configs)
        merged.namespaces.extend(model.namespaces)
        merged.servers.extend(model.servers)
        merged.ambiguities.extend(model.ambiguities)
        merged.unit_problems.extend(model.unit_problems)
        merged.unresolved.extend(model.unresolved)
        merged.problems.extend(model.problems)
        merged.port_conflicts.extend(model.port_conflicts)
    if relocator is not None:
        merged.relocate = lambda location: relocator.location(location)[0]
    return merged


def _parse_cache():
    from somaxlint.servers.nginx.config import ParseCache

    return ParseCache()


def build_model(files: List[LoadedFile], settings: Settings, roots: List[str], cwd: str) -> Model:
    inv = collect(files)
    model = Model(settings, files, inv)
    model.default_somaxconn = kernel_default(settings)
    tuning = tuning_sources(inv, settings)
    sources = SourceCache()
    # TextSources already linted inside a container.  Held, not their ids:
    # an id can be reused once its object is gone.
    used = UsedSources()

    for obj in inv.objects:
        if obj.file.errors:
            continue  # the parse error says what is wrong; no echo of it
        model.problems.extend(shape.object_problems(obj))
    for workload in inv.workloads:
        try:
            _model_workload(model, workload, tuning, sources, used)
        except Exception as exc:  # one odd object must not stop the others
            model.problems.append((workload.obj.location, internal_error(exc, "object")))

    _workload_refs(inv)
    from somaxlint.servers.nginx.instances import add_standalone_files, add_unmounted_config_maps

    for stage in (lambda: add_standalone_files(model, files, roots, cwd, used), lambda: add_unmounted_config_maps(model, sources, used)):
        try:
            stage()
        except Exception as exc:  # never lose what the other stages found
            model.problems.append((Location("<somaxlint>"), internal_error(exc, "object")))
    from somaxlint.model.pod_ports import pod_port_conflicts

    try:
        model.port_conflicts = pod_port_conflicts(model.servers)
    except Exception as exc:  # never lose what the other stages found
        model.problems.append((Location("<somaxlint>"), internal_error(exc, "object")))
    return model


def _workload_refs(inv: Inventory) -> None:
    """A Rollout's workloadRef: its pods are the named workload's, checked
    there; one the input does not hold is said (SMX025)."""
    from somaxlint.model.objects import Unplaced

    held = {(w.obj.kind, w.obj.namespace or "default", w.obj.name) for w in inv.workloads} if inv.workload_refs else set()
    for obj, node, kind, name in inv.workload_refs:
        if (kind, obj.namespace or "default", name) not in held:
            ref = f"{kind}/{obj.namespace or 'default'}/{name}"
            inv.unplaced.append(Unplaced(obj, ("spec", "workloadRef"), node, f"its pods are those of {ref} (spec.workloadRef), which is not in the input"))


def _model_workload(model: Model, workload: Workload, tuning, sources: SourceCache, used: UsedSources) -> None:
    settings = model.settings
    if not workload.obj.file.errors:  # a parse error already says what is wrong
        model.problems.extend(shape.pod_problems(workload))
    netns = build_namespace(workload, settings, tuning, model.inventory.scope)
    netns.late_writes = late_writes(workload, lambda c: nginx.main_config(c) is not None)
    model.namespaces.append(netns)
    scope = model.inventory.scope
    # this workload's ambiguities are the ones appended from here on (a
    # scan of every workload's would cost their square)
    own = len(model.ambiguities)

    def candidates(kind, name):
        return scope.candidates(kind, workload.namespace, name, workload.obj)

    def nearest(kind, name, where):
        found = candidates(kind, name)
        if len(found) > 1 and not any((a.kind, a.name) == (kind, name) for a in model.ambiguities[own:]):
            # Said (SMX017), and the first is read: servers other than
            # nginx are not evaluated per candidate.
            model.ambiguities.append(Ambiguity(workload, kind, name, where, tuple(found)))
        return found[0] if found else None

    def fs_for(container):
        fs = build_fs(container, nearest, sources)
        used.add_files(fs.files)
        return fs

    first = len(model.servers)
    for process in server_processes(workload, netns.somaxconn_for, fs_for, nearest, model.server_parses):
        model.servers.append(process)
        if unread(process):
            container = process.container
            model.unresolved.append(
                Unresolved(
                    workload, container, process.module.NAME, unread_config(process),
                    f"{process.module.TITLE}'s listeners are defined in a configuration the input does not show "
                    "(not mounted from the input, or values that are not literal)",
                    container.location, (),
                )
            )
    from somaxlint.servers.nginx.instances import add_container

    running = {id(p.container) for p in model.servers[first:]}
    for container in workload.containers + [c for c in workload.init_containers if c.sidecar]:
        main_path = nginx.main_config(container)
        if main_path is None and id(container) not in running:
            unknown = image_not_given(container)
            if unknown:
                at = workload.obj.value_loc(container.node, "image") if "image" in container.node.kpos else container.location
                model.unresolved.append(Unresolved(workload, container, None, None, unknown, at, ()))
            else:
                unknown = command_not_followed(container)
                if unknown:
                    model.unresolved.append(Unresolved(workload, container, None, None, unknown, argv_location(container, 0), ()))
        if main_path is None:
            if container.node.get("volumeMounts"):
                # What is mounted into another container (a controller's Go
                # template, an app's config) is that container's business:
                # never linted as a standalone nginx file.
                fs_for(container)
            continue
        try:
            add_container(model, workload, container, main_path, netns, sources, used, candidates)
        except Exception as exc:  # one container's failure must not cost its siblings theirs
            model.problems.append((container.location, internal_error(exc, "container")))


def _serving(container) -> bool:
    """The container declares a port or a network probe."""
    node = container.node
    probes = [as_map(node.get(k)) for k in ("readinessProbe", "livenessProbe", "startupProbe")]
    return bool(as_seq(node.get("ports"))) or any(
        p is not None and (p.get("httpGet") is not None or p.get("tcpSocket") is not None or p.get("grpc") is not None) for p in probes
    )


def command_not_followed(container) -> Optional[str]:
    """Why a serving container whose image is a known server's, but whose
    command somaxlint does not follow to that server (a chart's
    `/scripts/setup.sh`), has no listener: said, never silence.  None when
    the image is no server's, or the container runs its image's command."""
    argv = container.command + container.args
    if not argv or not _serving(container):
        return None
    from somaxlint.servers import LAUNCHED, image_repository

    repository = image_repository(container.image)
    named = [name for name, (_commands, images, _injected) in LAUNCHED.items() if repository in images]
    if not named:
        return None
    shown = " ".join(argv)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return (
        f"it runs `{shown}` in image {container.image} ({' or '.join(named)}), a command somaxlint does not follow to the "
        "server: whether and how it starts it is not in the input, so its listeners and their backlog are not known"
    )


def image_not_given(container) -> Optional[str]:
    """Why the server a serving container runs cannot be known from its
    image, or None: the image is blank (an OpenShift image trigger writes
    it at deploy time) or a parameter no renderer filled (`${IMAGE}` of a
    Template, an envsubst placeholder).  Only a container that declares a
    port or a network probe counts as serving."""
    image = container.image.strip()
    if image and "${" not in image and not image.startswith("$"):
        return None
    node = container.node
    probes = [as_map(node.get(k)) for k in ("readinessProbe", "livenessProbe", "startupProbe")]
    if not as_seq(node.get("ports")) and not any(p is not None and (p.get("httpGet") is not None or p.get("tcpSocket") is not None or p.get("grpc") is not None) for p in probes):
        return None
    if not image:
        return ("its image is not given in the input (blank: an image trigger or the deploying tool sets it), "
                "so the server it runs and its backlog are not known")
    return f"its image {image!r} is a parameter the input does not fill, so the server it runs and its backlog are not known"



"""Kubernetes documents -> objects, workloads and containers.

Wrong types never crash this stage: a field of the wrong shape is treated
as absent here, and the loader or a rule reports it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from functools import cached_property

from somaxlint.facts import CONTAINER_KEYS, NO_POD_KINDS, POD_SPEC_PATHS
from somaxlint.findings import Location
from somaxlint.load import LoadedFile
from somaxlint.load.positioned import YMap, YSeq, as_map, as_seq, get_path
from somaxlint.records import record, field

if TYPE_CHECKING:
    from somaxlint.model.scope import Scope


@record
class K8sObject:
    kind: str
    api_version: str
    name: str
    namespace: Optional[str]
    root: YMap
    file: LoadedFile
    doc_index: int
    helm_source: Optional[str] = None
    # a later object of the same kind/namespace/name in the same file or
    # unit replaces this one (what `kubectl apply` keeps)
    shadowed: bool = False

    @property
    def display(self) -> str:
        return self.file.input.display

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace or 'default'}/{self.name}"

    def at(self, pos) -> Location:
        return Location(self.display, pos[0], pos[1])

    def key_loc(self, node: YMap, key) -> Location:
        """Location of ``key`` in ``node``; the node itself when absent."""
        if isinstance(node, YMap) and key in node.kpos:
            return self.at(node.kpos[key])
        return self.at(node.pos if isinstance(node, (YMap, YSeq)) else self.root.pos)

    def value_loc(self, node: YMap, key) -> Location:
        if isinstance(node, YMap) and key in node.vpos:
            return self.at(node.vpos[key])
        return self.key_loc(node, key)

    def item_loc(self, seq: YSeq, index: int) -> Location:
        if isinstance(seq, YSeq) and index < len(seq.ipos):
            return self.at(seq.ipos[index])
        return self.at(self.root.pos)

    @property
    def location(self) -> Location:
        return self.key_loc(self.root, "kind")


@record
class Container:
    workload: "Workload"
    node: YMap
    index: int
    init: bool

    @property
    def name(self) -> str:
        name = self.node.get("name")
        return name if isinstance(name, str) else f"#{self.index}"

    @property
    def image(self) -> str:
        image = self.node.get("image")
        return image if isinstance(image, str) else ""

    @property
    def command(self) -> List[str]:
        return [str(x) for x in as_seq(self.node.get("command")) if isinstance(x, (str, int, float))]

    @property
    def args(self) -> List[str]:
        return [str(x) for x in as_seq(self.node.get("args")) if isinstance(x, (str, int, float))]

    @cached_property
    def _memo(self) -> dict:
        # (not a field: equality and ``repr`` ignore it)
        return {}

    def once(self, key: str, compute):
        """``compute(self)``, worked out once per container and kept under
        ``key``: for what later stages derive from the container's node
        alone (``servers.nginx.main_config``, ``model.netns.server_start``),
        which the model asks for at several of its steps."""
        memo = self._memo
        if key not in memo:
            memo[key] = compute(self)
        return memo[key]

    @property
    def sidecar(self) -> bool:
        """An init container with restartPolicy Always keeps running beside
        the app containers (native sidecar)."""
        return self.init and self.node.get("restartPolicy") == "Always"

    @property
    def privileged(self) -> bool:
        return get_path(self.node, "securityContext", "privileged") is True

    @property
    def run_as_user(self) -> Optional[int]:
        for ctx in (get_path(self.node, "securityContext"), get_path(self.workload.pod_spec, "securityContext")):
            uid = get_path(ctx, "runAsUser")
            if isinstance(uid, int) and not isinstance(uid, bool):
                return uid
        return None

    @property
    def location(self) -> Location:
        # At its name: the mapping's start is whatever key comes first, and
        # kustomize re-sorts keys (a rendered `- args:` would map back to
        # the source's `args:`, not to the container).
        if "name" in self.node.kpos:
            return self.workload.obj.key_loc(self.node, "name")
        return self.workload.obj.at(self.node.pos)

    @property
    def label(self) -> str:
        kind = "init container" if self.init else "container"
        return f"{kind} {self.name!r} of {self.workload.ref}"


@record
class Workload:
    obj: K8sObject
    pod_spec: YMap
    containers: List[Container] = field(default_factory=list)
    init_containers: List[Container] = field(default_factory=list)
    # the path from the object to its PodSpec (POD_SPEC_PATHS for the
    # known kinds; found by shape in any other)
    path: Tuple = ()
    # which of the object's pod templates, when it holds several
    # ("spec.templates[1].template.spec"), else None
    part: Optional[str] = None

    @property
    def ref(self) -> str:
        return f"{self.obj.ref} ({self.part})" if self.part else self.obj.ref

    @property
    def spec_path(self) -> str:
        """The PodSpec's path as people write it: ``spec.template.spec``."""
        return path_text(self.path)

    @property
    def namespace(self) -> Optional[str]:
        return self.obj.namespace

    @property
    def host_network(self) -> bool:
        return self.pod_spec.get("hostNetwork") is True

    @property
    def annotations(self) -> YMap:
        """Pod template annotations (where CNI network selections live)."""
        node = as_map(_follow(self.obj.root, self.path[:-1] + ("metadata", "annotations")))
        return node if node is not None else YMap()


@record
class Unplaced:
    """A container somaxlint found in an object but in no pod template it
    can place (an Argo Workflow step, a Tekton step, a Rollout's
    workloadRef to a Deployment the input does not hold): listed and said,
    never dropped silently."""

    obj: K8sObject
    path: Tuple
    node: YMap  # the container's mapping, or the workloadRef
    reason: str

    @property
    def location(self) -> Location:
        if "image" in self.node.kpos:
            return self.obj.key_loc(self.node, "image")
        return self.obj.at(self.node.pos)

    @property
    def image(self) -> str:
        image = self.node.get("image")
        return image if isinstance(image, str) else ""


def path_text(path: Tuple) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _follow(node, path: Tuple):
    for step in path:
        if isinstance(step, int):
            node = node[step] if isinstance(node, YSeq) and step < len(node) else None
        elif isinstance(node, YMap):
            node = node.get(step)
        else:
            return None
    return node


@record
class Inventory:
    """Every Kubernetes object of the input, indexed the ways the model needs."""

    objects: List[K8sObject] = field(default_factory=list)
    workloads: List[Workload] = field(default_factory=list)
    network_attachments: List[K8sObject] = field(default_factory=list)
    # containers in no pod template somaxlint can place
    unplaced: List["Unplaced"] = field(default_factory=list)
    # (Rollout, its workloadRef node, kind, name): runs that workload's pods
    workload_refs: List[Tuple] = field(default_factory=list)
    # CNI network configurations (JSON files with "plugins" or "type")
    cni_configs: List[Tuple[LoadedFile, YMap]] = field(default_factory=list)
    scope: Optional["Scope"] = None

    def of_kind(self, kind: str) -> List[K8sObject]:
        return [o for o in self.objects if o.kind == kind]


def _is_k8s(root) -> bool:
    return (
        isinstance(root, YMap)
        and isinstance(root.get("apiVersion"), str)
        and isinstance(root.get("kind"), str)
    )


def _contents(f: LoadedFile):
    """(document, root, is_cni_config) for every CNI configuration and
    every Kubernetes object of a YAML or JSON file."""
    if f.kind not in ("yaml", "json"):
        return
    for doc in f.documents:
        root = doc.root
        if f.kind == "json" and isinstance(root, YMap) and not _is_k8s(root):
            if "plugins" in root or "type" in root:
                yield doc, root, True
            continue
        items = [root]
        # kind: List, and kubectl's typed lists (DeploymentList, ...)
        if _is_k8s(root) and root["kind"].endswith("List") and isinstance(root.get("items"), YSeq):
            items = list(as_seq(root.get("items")))
        # an OpenShift Template holds the objects it instantiates (their
        # `${PARAMETER}`s as written)
        elif _is_k8s(root) and root["kind"] == "Template" and isinstance(root.get("objects"), YSeq):
            items = [root] + list(as_seq(root.get("objects")))
        for item in items:
            if _is_k8s(item):
                yield doc, item, False


def collect(files: List[LoadedFile]) -> Inventory:
    inv = Inventory()
    for f in files:
        for doc, root, cni in _contents(f):
            if cni:
                inv.cni_configs.append((f, root))
                continue
            helm = f.helm_sources[doc.index] if doc.index < len(f.helm_sources) else None
            _add(inv, _object(root, f, doc.index, helm))
    from somaxlint.model.scope import Scope

    inv.scope = Scope(inv.objects)
    return inv


def object_keys(f: LoadedFile):
    """((kind, namespace, name) of every object, holds a CNI
    configuration): what ``somaxlint.relations`` knows a file by, read as
    ``collect`` reads it."""
    keys = []
    cni = False
    for _doc, root, is_cni in _contents(f):
        if is_cni:
            cni = True
            continue
        keys.append(_identity(root))
    return keys, cni


def _identity(root: YMap) -> Tuple[str, Optional[str], str]:
    """(kind, namespace or None, name) as references resolve them."""
    meta = as_map(root.get("metadata")) or YMap()
    name, namespace = meta.get("name"), meta.get("namespace")
    return root["kind"], namespace if isinstance(namespace, str) else None, name if isinstance(name, str) else "<unnamed>"


def _object(root: YMap, f: LoadedFile, index: int, helm: Optional[str]) -> K8sObject:
    kind, namespace, name = _identity(root)
    return K8sObject(
        kind=kind,
        api_version=root["apiVersion"],
        name=name,
        namespace=namespace,
        root=root,
        file=f,
        doc_index=index,
        helm_source=helm,
    )


def _add(inv: Inventory, obj: K8sObject) -> None:
    inv.objects.append(obj)
    kind = obj.kind
    if kind == "NetworkAttachmentDefinition":
        inv.network_attachments.append(obj)
        return
    if kind in POD_SPEC_PATHS:
        path = POD_SPEC_PATHS[kind]
        spec = as_map(get_path(obj.root, *path))
        if spec is not None:
            _workload(inv, obj, spec, path, None)
        elif kind == "Rollout":
            _workload_ref(inv, obj)
        return
    if kind == "Template" or (kind in NO_POD_KINDS and _builtin(obj.api_version)):
        return
    specs, lone = pod_templates(obj.root)
    for path, spec in specs:
        _workload(inv, obj, spec, path, path_text(path) if len(specs) > 1 else None)
    for path, node in lone:
        inv.unplaced.append(Unplaced(obj, path, node, f"it is at {path_text(path)}, outside any pod template (no `containers` list holds it): the pod it runs in is made by {obj.kind}'s controller"))


def _builtin(api_version: str) -> bool:
    """Whether ``api_version`` is one of Kubernetes' own groups (``v1``,
    ``apps/v1``, ``networking.k8s.io/v1``): a Knative ``Service``
    (``serving.knative.dev/v1``) is not a core Service."""
    group = api_version.rpartition("/")[0]
    return not group or "." not in group or group.endswith(".k8s.io")


def _workload(inv: Inventory, obj: K8sObject, spec: YMap, path: Tuple, part: Optional[str]) -> None:
    workload = Workload(obj, spec, path=tuple(path), part=part)
    for index, node in enumerate(as_seq(spec.get("initContainers"))):
        if isinstance(node, YMap):
            workload.init_containers.append(Container(workload, node, index, init=True))
    for index, node in enumerate(as_seq(spec.get("containers"))):
        if isinstance(node, YMap):
            workload.containers.append(Container(workload, node, index, init=False))
    inv.workloads.append(workload)


def _workload_ref(inv: Inventory, obj: K8sObject) -> None:
    """An Argo Rollout without a template of its own runs the pods of the
    workload its ``spec.workloadRef`` names: they are that workload's, and
    are checked there; a reference the input does not resolve is said."""
    ref = as_map(get_path(obj.root, "spec", "workloadRef"))
    if ref is None:
        return
    kind, name = ref.get("kind"), ref.get("name")
    inv.workload_refs.append((obj, ref, kind if isinstance(kind, str) else "Deployment", name if isinstance(name, str) else ""))


def pod_templates(root: YMap) -> Tuple[List[Tuple[Tuple, YMap]], List[Tuple[Tuple, YMap]]]:
    """(the PodSpecs under ``root`` found by their shape -- a mapping whose
    `containers` is a list holding a mapping with a string `image` --, the
    containers outside any of them -- a mapping with a string `image` and
    a key only containers have), each with its path.  Each node is visited
    once (aliases share nodes), ``metadata`` and ``status`` are not
    searched, nor is a PodSpec found."""
    specs: List[Tuple[Tuple, YMap]] = []
    lone: List[Tuple[Tuple, YMap]] = []
    seen = set()
    stack: List[Tuple[object, Tuple]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, YMap):
            containers = node.get("containers")
            if isinstance(containers, YSeq) and any(isinstance(c, YMap) and isinstance(c.get("image"), str) for c in containers):
                specs.append((path, node))
                continue
            if path and isinstance(node.get("image"), str) and any(k in node for k in CONTAINER_KEYS):
                lone.append((path, node))
                continue
            for key in reversed(list(node)):
                value = node[key]
                if isinstance(value, (YMap, YSeq)) and not (not path and key in ("metadata", "status")):
                    stack.append((value, path + (key,)))
        elif isinstance(node, YSeq):
            for index in range(len(node) - 1, -1, -1):
                value = node[index]
                if isinstance(value, (YMap, YSeq)):
                    stack.append((value, path + (index,)))
    return specs, lone  # in document order (the stack is filled in reverse)


def workload_label(workload: Workload) -> str:
    """The workload and, for rendered input, the unit it was rendered in:
    the same Deployment rendered with two values sets is two workloads."""
    unit = workload.obj.file.unit
    return f"{workload.ref} in {unit}" if unit and unit != "standard input" else workload.ref

"""The kernel settings of each pod's network namespace, with provenance.

Order of application, as a pod starts (facts sheet A1, A2, B1, B2):

1. a fresh namespace starts at the kernel's defaults (never the node's);
2. the CNI ``tuning`` plugin writes its ``sysctl`` map while the pod's
   network is set up, and the runtime applies ``securityContext.sysctls``
   when the sandbox starts -- which of the two runs last is unconfirmed, so
   when both set a key differently both values stay possible;
3. privileged init containers run, in order, before any app container.

A ``hostNetwork`` pod has no namespace of its own: it sees the node's values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from linter import facts
from linter.findings import Location
from linter.load.positioned import YMap, YSeq, as_map, as_seq
from linter.load.yaml_stream import load_yaml
from linter.model.objects import Container, Inventory, K8sObject, Workload
from linter.model.shell import normalize_sysctl_name, sysctl_writes
from linter.model.sources import scalar_source
from linter.settings import Settings

SOMAXCONN = "net.core.somaxconn"

POD_SYSCTLS = "pod securityContext.sysctls"
INIT_CONTAINER = "init container"
CNI_TUNING = "CNI tuning plugin"
NODE = "node"
KERNEL_DEFAULT = "kernel default"


@dataclass
class SysctlSetting:
    """One write of one sysctl, where it was written and how."""

    name: str
    raw: str
    how: str  # one of the constants above
    location: Optional[Location]
    detail: str  # a phrase for messages: "securityContext.sysctls of Deployment/x/y"
    applies: bool = True
    note: Optional[str] = None  # why it does not apply
    container: Optional[Container] = None
    order: int = 0
    # where the value itself is (pod sysctls: the `value` key), and the
    # value exactly as written when it is not a string (`value: 1024`)
    value_location: Optional[Location] = None
    raw_value: object = None
    raw_name: str = ""  # as written (Pod Security compares names literally)

    def __post_init__(self):
        if not self.raw_name:
            self.raw_name = self.name

    def int_value(self) -> Optional[int]:
        text = self.raw.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        return None


@dataclass
class Somaxconn:
    """The namespace's net.core.somaxconn: the possible values (the first is
    the one assumed when the input does not decide), where it came from, and
    the assumption when there is one.  ``values`` is empty when unknown."""

    values: Tuple[int, ...]
    setting: Optional[SysctlSetting]
    assumption: Optional[str] = None
    # where each of ``values`` comes from, when they differ in origin
    origins: Tuple[SysctlSetting, ...] = ()

    def setting_for(self, value: int) -> Optional[SysctlSetting]:
        for candidate, origin in zip(self.values, self.origins):
            if candidate == value:
                return origin
        return self.setting

    @property
    def assumed(self) -> Optional[int]:
        return self.values[0] if self.values else None

    @property
    def raised(self) -> bool:
        return self.setting is not None and self.setting.how != KERNEL_DEFAULT

    def describe(self) -> str:
        if self.setting is None:
            return "unknown"
        return self.setting.detail


@dataclass
class NetNamespace:
    workload: Workload
    host: bool
    settings: List[SysctlSetting] = field(default_factory=list)  # every write, in order
    somaxconn: Somaxconn = None  # type: ignore[assignment]
    # writes that may come after listen(): see model.late_writes
    late_writes: list = field(default_factory=list)

    def last(self, name: str) -> Optional[SysctlSetting]:
        for setting in reversed(self.settings):
            if setting.name == name and setting.applies:
                return setting
        return None


def _valid_somaxconn(raw: str) -> Optional[int]:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= facts.SOMAXCONN_MAX else None


def kernel_default(settings: Settings) -> Somaxconn:
    if settings.kernel is not None:
        value = facts.default_somaxconn(settings.kernel)
        setting = SysctlSetting(
            SOMAXCONN,
            str(value),
            KERNEL_DEFAULT,
            None,
            f"the kernel default for a new network namespace on Linux {settings.kernel_text}: SOMAXCONN {value}",
        )
        return Somaxconn((value,), setting)
    setting = SysctlSetting(
        SOMAXCONN,
        str(facts.SOMAXCONN_NEW),
        KERNEL_DEFAULT,
        None,
        "the kernel default for a new network namespace: SOMAXCONN, 4096 from Linux 5.4 and 128 before",
    )
    return Somaxconn(
        (facts.SOMAXCONN_NEW, facts.SOMAXCONN_OLD),
        setting,
        assumption="the node kernel is unknown: assumed Linux 5.4 or later (somaxconn 4096); "
        "before 5.4 it is 128. Set `kernel` in .somaxlint.yaml or pass --kernel",
    )


def argv_location(container: Container, argv_index: int) -> Location:
    """Where element ``argv_index`` of command + args is written."""
    obj = container.workload.obj
    command = as_seq(container.node.get("command"))
    if argv_index < len(command):
        return obj.item_loc(command, argv_index)
    args = as_seq(container.node.get("args"))
    index = argv_index - len(command)
    if 0 <= index < len(args):
        return obj.item_loc(args, index)
    return container.location


def pod_sysctls(workload: Workload) -> List[SysctlSetting]:
    obj = workload.obj
    ctx = as_map(workload.pod_spec.get("securityContext"))
    out = []
    if ctx is None:
        return out
    for index, item in enumerate(as_seq(ctx.get("sysctls"))):
        if not isinstance(item, YMap) or not isinstance(item.get("name"), str):
            continue
        value = item.get("value")
        raw = value if isinstance(value, str) else ("" if value is None else str(value))
        location = obj.key_loc(item, "name")
        out.append(
            SysctlSetting(
                normalize_sysctl_name(item["name"]),
                raw,
                POD_SYSCTLS,
                location,
                f"securityContext.sysctls of {workload.ref}",
                order=index,
                value_location=obj.value_loc(item, "value") if "value" in item else location,
                raw_value=value,
                raw_name=item["name"],
            )
        )
    return out


def init_container_writes(workload: Workload) -> List[SysctlSetting]:
    out = []
    for container in workload.init_containers:
        if container.sidecar:
            continue  # runs beside the app containers, not before them
        for write in sysctl_writes(container.command + container.args):
            setting = SysctlSetting(
                write.name,
                write.value,
                INIT_CONTAINER,
                argv_location(container, write.argv_index),
                f"{container.label} (`sysctl`/`/proc/sys` write)",
                container=container,
                order=write.statement,
                value_location=argv_location(container, write.argv_index),
                raw_value=write.value,
            )
            if not container.privileged:
                setting.applies = False
                setting.note = "the container is not privileged, so /proc/sys is read-only and the write fails"
            out.append(setting)
    return out


# --------------------------------------------------------------------------
# CNI tuning
# --------------------------------------------------------------------------


@dataclass
class TuningSource:
    """A CNI configuration that contains the tuning plugin."""

    sysctls: List[SysctlSetting]
    nad: Optional[K8sObject] = None  # None: a conflist file, applies to every pod


def _tuning_settings(conf: YMap, locate, detail: str) -> List[SysctlSetting]:
    plugins = as_seq(conf.get("plugins")) if "plugins" in conf else YSeq()
    if not plugins and conf.get("type") == "tuning":
        plugins = [conf]
    out = []
    for plugin in plugins:
        if not isinstance(plugin, YMap) or plugin.get("type") != "tuning":
            continue
        sysctl = as_map(plugin.get("sysctl"))
        if sysctl is None:
            continue
        for key, value in sysctl.items():
            if not isinstance(key, str):
                continue
            out.append(
                SysctlSetting(
                    normalize_sysctl_name(key),
                    value if isinstance(value, str) else str(value),
                    CNI_TUNING,
                    locate(sysctl.kpos.get(key)),
                    detail,
                    value_location=locate(sysctl.vpos.get(key)),
                    raw_value=value,
                )
            )
    return out


def tuning_sources(inv: Inventory, settings: Settings) -> List[TuningSource]:
    sources = []
    for loaded, conf in inv.cni_configs:
        # A conflist is the pods' network only when the configuration says
        # so: Podman, Docker and CNI test files live in repositories too.
        if loaded.input.path not in settings.cni_default:
            continue
        display = loaded.input.display

        def locate(pos, display=display):
            return Location(display, pos[0], pos[1]) if pos else Location(display)

        found = _tuning_settings(conf, locate, f"the CNI tuning plugin in {display} (the pods' network: cni.default)")
        if found:
            sources.append(TuningSource(found))
    for nad in inv.network_attachments:
        spec = as_map(nad.root.get("spec"))
        config = spec.get("config") if spec else None
        if not isinstance(config, str):
            continue
        try:
            json.loads(config)
        except ValueError:
            continue  # reported by the unparsable-input rule
        documents, errors = load_yaml(config)
        if errors or not documents or not isinstance(documents[0].root, YMap):
            continue
        text_source = scalar_source(
            nad.display, nad.file.text, config, spec.vpos["config"], spec.kpos["config"][1], "NetworkAttachmentDefinition config"
        )

        def locate(pos, ts=text_source):
            return ts.locate(pos[0], pos[1]) if pos else ts.locate(1, 1)

        found = _tuning_settings(
            documents[0].root, locate, f"the CNI tuning plugin of NetworkAttachmentDefinition {nad.namespace or 'default'}/{nad.name}"
        )
        if found:
            sources.append(TuningSource(found, nad))
    return sources


def _selected_networks(workload: Workload) -> List[Tuple[Optional[str], str, dict]]:
    """(namespace, name, cni-args) of each network the pod asks Multus for."""
    out = []
    annotations = workload.annotations
    for key in ("k8s.v1.cni.cncf.io/networks", "v1.multus-cni.io/default-network"):
        value = annotations.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                continue
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    args = item.get("cni-args") if isinstance(item.get("cni-args"), dict) else {}
                    out.append((item.get("namespace"), item["name"], args))
        else:
            for part in text.split(","):
                part = part.strip().split("@", 1)[0]
                if not part:
                    continue
                ns, _, name = part.rpartition("/")
                out.append((ns or None, name, {}))
    return out


def _tuning_for(workload: Workload, sources: List[TuningSource], scope=None) -> List[SysctlSetting]:
    out = []
    selected = _selected_networks(workload)
    for source in sources:
        if source.nad is None:
            out.extend(source.sysctls)
            continue
        for ns, name, cni_args in selected:
            if name != source.nad.name:
                continue
            if (ns or workload.namespace) not in (None, source.nad.namespace) and source.nad.namespace is not None:
                continue
            # The NetworkAttachmentDefinition deployed with the pod (its
            # unit, else the nearest file), not any copy of that name.
            if scope is not None and source.nad not in scope.candidates(
                "NetworkAttachmentDefinition", ns or workload.namespace, name, workload.obj
            ):
                continue
            out.extend(source.sysctls)
            overrides = cni_args.get("sysctl") if isinstance(cni_args.get("sysctl"), dict) else {}
            for key, value in overrides.items():
                out.append(
                    SysctlSetting(
                        normalize_sysctl_name(str(key)),
                        str(value),
                        CNI_TUNING,
                        workload.obj.key_loc(workload.annotations, "k8s.v1.cni.cncf.io/networks"),
                        f"cni-args of the network selection in {workload.ref}",
                    )
                )
    return out


# --------------------------------------------------------------------------


def build_namespace(workload: Workload, settings: Settings, tuning: List[TuningSource], scope=None) -> NetNamespace:
    host = workload.host_network
    ns = NetNamespace(workload, host)
    if host:
        node_value = settings.node_sysctls.get(SOMAXCONN)
        # Pod sysctls are refused for hostNetwork pods (the API server since
        # 1.29, the kubelet and runc before that).
        for setting in pod_sysctls(workload):
            setting.applies = False
            setting.note = "net.* sysctls are rejected for hostNetwork pods"
            ns.settings.append(setting)
        if node_value is not None and _valid_somaxconn(str(node_value)) is not None:
            base = SysctlSetting(
                SOMAXCONN,
                str(node_value),
                NODE,
                None,
                f"the node's value from node.sysctls in {settings.config_path or 'the configuration'} (hostNetwork pod)",
            )
            ns.somaxconn = Somaxconn((_valid_somaxconn(str(node_value)),), base)
        else:
            ns.somaxconn = Somaxconn(
                (),
                None,
                assumption="hostNetwork pod: it uses the node's net.core.somaxconn, which the input does not "
                "give (set node.sysctls in .somaxlint.yaml)",
            )
    else:
        ns.somaxconn = kernel_default(settings)
        cni = _tuning_for(workload, tuning, scope)
        pod = pod_sysctls(workload)
        ns.settings.extend(cni)
        ns.settings.extend(pod)
        _resolve_sandbox(ns, cni, pod)
    init_writes = init_container_writes(workload)
    ns.settings.extend(init_writes)
    for setting in init_writes:
        if setting.name != SOMAXCONN or not setting.applies:
            continue
        value = _valid_somaxconn(setting.raw)
        if value is None:
            setting.applies = False
            setting.note = "the kernel rejects this value (EINVAL), so the write fails"
            continue
        ns.somaxconn = Somaxconn((value,), setting)
    return ns


def _resolve_sandbox(ns: NetNamespace, cni: List[SysctlSetting], pod: List[SysctlSetting]) -> None:
    def last_valid(settings):
        chosen = None
        for setting in settings:
            if setting.name != SOMAXCONN:
                continue
            if _valid_somaxconn(setting.raw) is None:
                setting.applies = False
                setting.note = "the kernel rejects this value (EINVAL), so the write fails"
                continue
            chosen = setting
        return chosen

    from_cni = last_valid(cni)
    from_pod = last_valid(pod)
    if from_cni and from_pod:
        a, b = _valid_somaxconn(from_pod.raw), _valid_somaxconn(from_cni.raw)
        if a == b:
            ns.somaxconn = Somaxconn((a,), from_pod)
        else:
            ns.somaxconn = Somaxconn(
                (a, b),
                from_pod,
                assumption=f"both {from_pod.detail} ({a}) and {from_cni.detail} ({b}) set net.core.somaxconn; "
                "which one is applied last is not documented, so either value is possible",
                origins=(from_pod, from_cni),
            )
    elif from_pod or from_cni:
        chosen = from_pod or from_cni
        ns.somaxconn = Somaxconn((_valid_somaxconn(chosen.raw),), chosen)


def somaxconn_related(setting: Optional[SysctlSetting]):
    """The Related fact for where a namespace's somaxconn was set, if any."""
    from linter.findings import Related

    if setting is None or setting.location is None:
        return ()
    return (Related(setting.location, f"net.core.somaxconn = {setting.raw.strip()} ({setting.how})"),)

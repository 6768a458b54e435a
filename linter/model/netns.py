"""The kernel settings of each pod's network namespace, with provenance.

Order of application, as a pod starts (facts sheet A1, A2, B1, B2):

1. a fresh namespace starts at the kernel's defaults (never the node's);
2. the CNI ``tuning`` plugin writes its ``sysctl`` map while the pod's
   network is set up, and the runtime applies ``securityContext.sysctls``
   when the sandbox starts -- which of the two runs last is unconfirmed, so
   when both set a key differently both values stay possible;
3. privileged init containers run, in order, before any app container;
4. a privileged server container may write a sysctl in its own command
   before the statement that starts its server (`sysctl -w ... && exec
   nginx`): its own listen() sees the new value, while the pod's other
   servers race it (``late_writes``).

Every value goes through ``somaxlint.model.sysctl_value``: the kernel's own
grammar (base 0, blanks, a second number, refusals), on the kernel(s) the
run allows.  A refused write leaves the value unchanged.

A ``hostNetwork`` pod has no namespace of its own: it sees the node's values.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint import facts
from somaxlint.findings import Location
from somaxlint.load.positioned import YMap, YSeq, as_map, as_seq
from somaxlint.load.yaml_stream import load_yaml
from somaxlint.model.objects import Container, Inventory, K8sObject, Workload
from somaxlint.model.shell import SysctlWrite, normalize_sysctl_name, parse_commands, sysctl_writes
from somaxlint.model.sources import scalar_source
from somaxlint.model.sysctl_value import RAW, SYSCTL_TOOL, Reading, describe, kernel_reads, written_data
from somaxlint.records import record, field, replace
from somaxlint.settings import Settings

SOMAXCONN = "net.core.somaxconn"

POD_SYSCTLS = "pod securityContext.sysctls"
INIT_CONTAINER = "init container"
CNI_TUNING = "CNI tuning plugin"
NODE = "node"
KERNEL_DEFAULT = "kernel default"
# the server's own container, in its command before the server starts
SERVER_CONTAINER = "server container"


@record
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
    # exactly what reaches /proc/sys (runc and CNI tuning: the value as-is;
    # `sysctl -w`: stripped, with a newline; echo: with a newline)
    data: Optional[str] = None
    # how the kernel(s) of the run read ``data`` (None: not modelled)
    reading: Optional[Reading] = None

    def __post_init__(self):
        if not self.raw_name:
            self.raw_name = self.name
        if self.data is None:
            self.data = self.raw

    def int_value(self) -> Optional[int]:
        """The value the kernel stores (the assumed kernel's), if any."""
        if self.reading is not None:
            return self.reading.value
        text = self.raw.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        return None


@record
class Somaxconn:
    """The namespace's net.core.somaxconn: the possible values (the first is
    the one assumed when the input does not decide), where it came from, and
    the assumption when there is one.  ``values`` is empty when unknown."""

    values: Tuple[int, ...]
    setting: Optional[SysctlSetting]
    assumption: Optional[str] = None
    # where each of ``values`` comes from, when they differ in origin
    origins: Tuple[SysctlSetting, ...] = ()
    # SOMAXCONN of each kernel the run allows: what a fresh namespace starts at
    defaults: Tuple[int, ...] = ()

    def setting_for(self, value: int) -> Optional[SysctlSetting]:
        for candidate, origin in zip(self.values, self.origins):
            if candidate == value:
                return origin
        return self.setting

    @property
    def assumed(self) -> Optional[int]:
        return self.values[0] if self.values else None

    @property
    def set_explicitly(self) -> bool:
        return self.setting is not None and self.setting.how != KERNEL_DEFAULT

    @property
    def raised(self) -> bool:
        """Strictly above the kernel default, whichever value applies and
        on every kernel the run allows."""
        if not self.set_explicitly or not self.values:
            return False
        defaults = self.defaults or (facts.SOMAXCONN_NEW, facts.SOMAXCONN_OLD)
        return min(self.values) > max(defaults)

    @property
    def lowered(self) -> bool:
        """Below the kernel default for some value and kernel the run allows."""
        if not self.set_explicitly or not self.values:
            return False
        defaults = self.defaults or (facts.SOMAXCONN_NEW, facts.SOMAXCONN_OLD)
        return min(self.values) < max(defaults)

    def describe(self) -> str:
        if self.setting is None:
            return "unknown"
        return self.setting.detail


@record
class NetNamespace:
    workload: Workload
    host: bool
    settings: List[SysctlSetting] = field(default_factory=list)  # every write, in order
    somaxconn: Somaxconn = None  # type: ignore[assignment]
    # writes that may come after listen(): see model.late_writes
    late_writes: list = field(default_factory=list)
    # before the server containers' own writes, and what each writing
    # container's own listen() sees (``somaxconn_for``)
    before_own_writes: Optional[Somaxconn] = None
    by_container: Dict[str, Somaxconn] = field(default_factory=dict)

    def somaxconn_for(self, container: Optional[Container]) -> Somaxconn:
        """The somaxconn ``container``'s server listens with: its own writes
        before its server starts count; another container's do not (they
        race it: SMX007)."""
        if container is None:
            return self.somaxconn
        if container.name in self.by_container:
            return self.by_container[container.name]
        if self.by_container and self.before_own_writes is not None:
            return self.somaxconn  # racing the writers: every value possible
        return self.somaxconn

    def last(self, name: str) -> Optional[SysctlSetting]:
        for setting in reversed(self.settings):
            if setting.name == name and setting.applies:
                return setting
        return None


def kernel_defaults(settings: Settings) -> Tuple[int, ...]:
    """SOMAXCONN of a fresh namespace on each kernel the run allows."""
    if settings.kernel is not None:
        return (facts.default_somaxconn(settings.kernel),)
    return (facts.SOMAXCONN_NEW, facts.SOMAXCONN_OLD)


def kernel_default(settings: Settings) -> Somaxconn:
    defaults = kernel_defaults(settings)
    if settings.kernel is not None:
        value = defaults[0]
        setting = SysctlSetting(
            SOMAXCONN,
            str(value),
            KERNEL_DEFAULT,
            None,
            f"the kernel default for a new network namespace on Linux {settings.kernel_text}: SOMAXCONN {value}",
        )
        return Somaxconn((value,), setting, origins=(setting,), defaults=defaults)
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
        origins=(setting, setting),
        defaults=defaults,
    )


def read_setting(setting: SysctlSetting, settings: Settings) -> SysctlSetting:
    """Read ``setting``'s data as the run's kernel(s) do; a write every
    possible kernel refuses (or an empty one) does not apply."""
    setting.reading = kernel_reads(setting.name, setting.data or "", settings.kernel, settings.kernel_text)
    reading = setting.reading
    if reading is None or not setting.applies:
        return setting
    if reading.refused:
        setting.applies = False
        setting.note = f"the kernel refuses this value ({reading.first.errno}: {reading.first.note}), so the write fails and the value is unchanged"
    elif reading.empty:
        setting.applies = False
        setting.note = "an empty value: nothing is written, so nothing changes"
    return setting


def proc_sys_writable(container: Container) -> Optional[str]:
    """Why ``container`` cannot write /proc/sys, or None when it can: the
    runtime mounts /proc/sys read-only unless the container is privileged
    (the decision SMX011 reports)."""
    if container.privileged:
        return None
    return "the container is not privileged, so /proc/sys is read-only and the write fails"


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
                data=written_data(raw, RAW),  # runc writes the string as-is
            )
        )
    return out


def init_container_writes(workload: Workload) -> List[SysctlSetting]:
    out = []
    for container in workload.init_containers:
        if container.sidecar:
            continue  # runs beside the app containers, not before them
        for write in sysctl_writes(container.command + container.args):
            out.append(_container_write(container, write, INIT_CONTAINER, f"{container.label} (`sysctl`/`/proc/sys` write)"))
    return out


def _container_write(container: Container, write, how: str, detail: str) -> SysctlSetting:
    """A write in a container's command, which applies only where the
    container can write /proc/sys."""
    setting = SysctlSetting(
        write.name,
        write.value,
        how,
        argv_location(container, write.argv_index),
        detail,
        container=container,
        order=write.statement,
        value_location=argv_location(container, write.argv_index),
        raw_value=write.value,
        data=write.data,
    )
    blocked = proc_sys_writable(container)
    if blocked:
        setting.applies = False
        setting.note = blocked
    return setting


# --------------------------------------------------------------------------
# The server's own container: writes before the server starts
# --------------------------------------------------------------------------


def server_start(container: Container) -> Tuple[Optional[int], Optional[str]]:
    """(the statement of the container's command that starts its server,
    the server's title).  Statement -1: the container runs a server the
    image starts (no statement of the command names it); (None, None): no
    server somaxlint knows.  nginx is recognised by
    ``somaxlint.servers.nginx.main_config``, the other servers by their
    ``COMMANDS`` (also ``python -m gunicorn``), as ``model.processes``
    finds a launch.  Worked out once per container (``Container.once``)."""
    return container.once("netns.server_start", _server_start)


def _server_start(container: Container) -> Tuple[Optional[int], Optional[str]]:
    from somaxlint.servers import image_repository, launched_by, nginx, program_names

    argv = container.command + container.args
    commands = parse_commands(argv) if argv else []
    repository = image_repository(container.image)
    kinds = []
    if nginx.main_config(container) is not None:
        kinds.append((nginx.COMMANDS, nginx.TITLE, nginx.IMAGES))
    for module in launched_by(program_names(commands), repository, container):
        kinds.append((module.COMMANDS, module.TITLE, module.IMAGES))
    for command in commands:
        words = command.words
        for i, word in enumerate(words):
            base = word.rsplit("/", 1)[-1]
            for names, title, _ in kinds:
                if base in names or (word == "-m" and i + 1 < len(words) and words[i + 1] in names):
                    return command.statement, title
    for names, title, images in kinds:
        if title == nginx.TITLE or (repository in images and not container.command):
            return -1, title  # started by the image's entrypoint
    return None, None


def own_writes(container: Container) -> List[Tuple[SysctlWrite, str]]:
    """The container's sysctl writes that run, in its own command, before
    the statement that starts its server (not in the background): its own
    listen() comes after them.  Each with the server's title."""
    start, title = server_start(container)
    if start is None or start < 0:
        return []
    argv = container.command + container.args
    return [(w, title) for w in sysctl_writes(argv) if w.statement < start and not w.background]


def server_container_writes(workload: Workload) -> List[SysctlSetting]:
    out = []
    for container in workload.containers + [c for c in workload.init_containers if c.sidecar]:
        for write, title in own_writes(container):
            out.append(_container_write(container, write, SERVER_CONTAINER, f"{container.label}, in its command before {title} starts"))
    return out


# --------------------------------------------------------------------------
# CNI tuning
# --------------------------------------------------------------------------


@record
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
        import json  # NetworkAttachmentDefinitions only

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
            import json  # a Multus annotation's JSON list

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
    defaults = kernel_defaults(settings)
    if host:
        node_value = settings.node_sysctls.get(SOMAXCONN)
        # Pod sysctls are refused for hostNetwork pods (the API server since
        # 1.29, the kubelet and runc before that).
        for setting in pod_sysctls(workload):
            setting.applies = False
            setting.note = "net.* sysctls are rejected for hostNetwork pods"
            read_setting(setting, settings)
            ns.settings.append(setting)
        base = None
        if node_value is not None:
            # the node's value as sysctl.conf / `sysctl -w` would set it
            base = SysctlSetting(
                SOMAXCONN,
                str(node_value),
                NODE,
                None,
                f"the node's value from node.sysctls in {settings.config_path or 'the configuration'} (hostNetwork pod)",
                data=written_data(str(node_value), SYSCTL_TOOL),
            )
            read_setting(base, settings)
        if base is not None and base.applies and base.reading is not None:
            state = _apply([], base, settings)
            ns.somaxconn = _somaxconn(state, [], defaults)
        else:
            ns.somaxconn = Somaxconn(
                (),
                None,
                assumption="hostNetwork pod: it uses the node's net.core.somaxconn, which the input does not "
                "give (set node.sysctls in .somaxlint.yaml)",
                defaults=defaults,
            )
    else:
        base = kernel_default(settings)
        cni = [read_setting(s, settings) for s in _tuning_for(workload, tuning, scope)]
        pod = [read_setting(s, settings) for s in pod_sysctls(workload)]
        ns.settings.extend(cni)
        ns.settings.extend(pod)
        state = list(zip(base.values, base.origins))
        assumptions = [base.assumption] if base.assumption else []
        state, assumptions = _resolve_sandbox(state, assumptions, cni, pod, settings)
        ns.somaxconn = _somaxconn(state, assumptions, defaults)
    init_writes = [read_setting(s, settings) for s in init_container_writes(workload)]
    ns.settings.extend(init_writes)
    own = [read_setting(s, settings) for s in server_container_writes(workload)]
    ns.settings.extend(own)
    # init containers, in order (also in a hostNetwork pod: there they
    # write the node's value, which may make an unknown value known)
    state = list(zip(ns.somaxconn.values, ns.somaxconn.origins or (ns.somaxconn.setting,) * len(ns.somaxconn.values)))
    assumptions = [ns.somaxconn.assumption] if ns.somaxconn.assumption else []
    for setting in init_writes:
        state, assumptions = _apply_noted(state, assumptions, setting, settings)
    if state:
        ns.somaxconn = _somaxconn(state, assumptions, defaults)
    ns.before_own_writes = ns.somaxconn
    ns.somaxconn, ns.by_container = _own_writes(ns.somaxconn, own, workload, settings, defaults)
    return ns


if TYPE_CHECKING:
    State = List[Tuple[int, SysctlSetting]]


def _stored(value: int, settings: Settings) -> int:
    """The value as the model holds it: on a kernel whose accept-queue
    limit is 16 bits (before 4.1), a value above 65535 (or negative) that
    the sysctl accepted wraps in listen() -- ``facts.Backlog16``."""
    kernel = settings.kernel
    if kernel is not None and kernel[:2] < facts.BACKLOG_U32_SINCE and not 0 <= value <= 65535:
        return facts.Backlog16(value)
    return value


def _apply(state: State, setting: SysctlSetting, settings: Settings) -> State:
    """The possible values after ``setting`` is written (a refused outcome
    keeps every value that was possible before)."""
    if setting.name != SOMAXCONN or not setting.applies or setting.reading is None:
        return state
    out: State = []
    for outcome in setting.reading.outcomes:
        if outcome.values:
            candidates = [(_stored(outcome.values[0], settings), setting)]
        else:
            candidates = list(state)
        for candidate in candidates:
            if all(candidate[0] != v for v, _ in out):
                out.append(candidate)
    return out


def _apply_noted(state: State, assumptions: List[str], setting: SysctlSetting, settings: Settings):
    after = _apply(state, setting, settings)
    if setting.name == SOMAXCONN and setting.applies and setting.reading is not None and not setting.reading.certain:
        assumptions = assumptions + [
            f"{setting.detail} writes net.core.somaxconn={setting.raw.strip()}: the kernel {describe(setting.reading)}"
        ]
    return after, assumptions


def _somaxconn(state: State, assumptions: List[str], defaults: Tuple[int, ...]) -> Somaxconn:
    if not state:
        return Somaxconn((), None, defaults=defaults)
    values = tuple(v for v, _ in state)
    origins = tuple(_with_change(o, v, defaults) for v, o in state)
    # an assumption only while more than one value remains possible
    assumption = "; ".join(dict.fromkeys(a for a in assumptions if a)) if len(values) > 1 else None
    return Somaxconn(values, origins[0], assumption=assumption or None, origins=origins, defaults=defaults)


def _with_change(setting: SysctlSetting, value: int, defaults: Tuple[int, ...]) -> SysctlSetting:
    """The origin as findings name it: a setting that lowers the namespace
    below the kernel default says so (a copy: ``ns.settings`` keep their
    own wording)."""
    if setting is None or setting.how == KERNEL_DEFAULT or ", which lowers it from" in setting.detail:
        return setting
    above = [d for d in defaults if value < d]
    if not above:
        return setting
    if len(above) == len(defaults):
        which = f"the kernel default {above[0]}" if len(defaults) == 1 else "the kernel default (4096 from Linux 5.4, 128 before)"
        phrase = f"which lowers it from {which}"
    else:
        phrase = f"which lowers it from the kernel default {above[0]} on Linux 5.4 or later"
    return replace(setting, detail=f"{setting.detail}, {phrase}")


def _resolve_sandbox(state: State, assumptions: List[str], cni: List[SysctlSetting], pod: List[SysctlSetting], settings: Settings):
    def run(first, second):
        current, notes = list(state), list(assumptions)
        for setting in first + second:
            current, notes = _apply_noted(current, notes, setting, settings)
        return current, notes

    sets_cni = [s for s in cni if s.name == SOMAXCONN and s.applies]
    sets_pod = [s for s in pod if s.name == SOMAXCONN and s.applies]
    if not (sets_cni and sets_pod):
        return run(cni, pod)
    # which of the two is applied last is not documented: both orders
    pod_last, notes_a = run(cni, pod)
    cni_last, notes_b = run(pod, cni)
    merged = list(pod_last)
    for candidate in cni_last:
        if all(candidate[0] != v for v, _ in merged):
            merged.append(candidate)
    notes = list(dict.fromkeys(notes_a + notes_b))
    if len(merged) > len(pod_last):
        a, b = pod_last[0], cni_last[0]
        notes = [n for n in notes if n not in assumptions] + [
            f"both {a[1].detail} ({a[0]}) and {b[1].detail} ({b[0]}) set net.core.somaxconn; "
            "which one is applied last is not documented, so either value is possible"
        ]
    return merged, notes


def _own_writes(before: Somaxconn, own: List[SysctlSetting], workload: Workload, settings: Settings, defaults):
    """The namespace's somaxconn once the server containers' own writes
    (before their servers start) have run, and each container's view."""
    writers: Dict[str, List[SysctlSetting]] = {}
    for setting in own:
        if setting.name == SOMAXCONN and setting.applies and setting.container is not None:
            writers.setdefault(setting.container.name, []).append(setting)
    if not writers:
        return before, {}
    base_state = list(zip(before.values, before.origins or (before.setting,) * len(before.values)))
    base_notes = [before.assumption] if before.assumption else []
    views: Dict[str, Somaxconn] = {}
    for name, writes in writers.items():
        state, notes = base_state, []
        for setting in writes:
            state, notes = _apply_noted(state, notes, setting, settings)
        if not state:
            views[name] = before  # still unknown (a hostNetwork pod without node.sysctls)
            continue
        views[name] = _somaxconn(state, notes if len(state) > 1 else [], defaults)
        if len(state) > 1 and not views[name].assumption:
            views[name] = replace(views[name], assumption=before.assumption)
    running = workload.containers + [c for c in workload.init_containers if c.sidecar]
    others = [c for c in running if c.name not in writers and server_start(c)[0] is not None]
    if len(writers) == 1 and not others:
        return next(iter(views.values())), views
    # several servers share the namespace and race the writes: any value
    merged: State = []
    for view in [before] + list(views.values()):
        for value, origin in zip(view.values, view.origins or (view.setting,) * len(view.values)):
            if all(value != v for v, _ in merged):
                merged.append((value, origin))
    if not merged:
        return before, views
    names = ", ".join(repr(n) for n in writers)
    note = (
        f"container(s) {names} write net.core.somaxconn in their own command before their server starts; "
        "the pod's other servers start at the same time and may listen before or after that write (SMX007)"
    )
    return _somaxconn(merged, base_notes + [note], defaults), views


def somaxconn_related(setting: Optional[SysctlSetting]):
    """The Related fact for where a namespace's somaxconn was set, if any."""
    from somaxlint.findings import Related

    if setting is None or setting.location is None:
        return ()
    shown = setting.raw.strip()
    if setting.reading is not None and setting.reading.value is not None and str(setting.reading.value) != shown:
        shown = f"{shown} (read as {setting.reading.value})"
    return (Related(setting.location, f"net.core.somaxconn = {shown} ({setting.how})"),)

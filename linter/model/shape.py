"""Wrong types where the model reads Kubernetes fields.

The API server refuses such objects (`cannot unmarshal string into Go
struct field ...`); the model treats the field as absent and this module
says where and why, so the problem is reported instead of crashing or
vanishing.  Only fields the linter reads are checked: it is no schema
validator.  (Sysctl values are the invalid-sysctl-value rule's business.)
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Tuple

from somaxlint.findings import Location
from somaxlint.load.positioned import YMap, YSeq
from somaxlint.model.objects import K8sObject, Workload

if TYPE_CHECKING:
    Problem = Tuple[Location, str]

_TYPE_NAMES = {YMap: "a mapping", YSeq: "a list", str: "a string", bool: "a boolean"}


def _describe(value) -> str:
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YSeq):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def _check(obj: K8sObject, node: YMap, key: str, expected: type, path: str, out: List[Problem]) -> bool:
    """True when ``node[key]`` is present and of the expected type."""
    if key not in node:
        return False
    value = node[key]
    if expected is str and isinstance(value, str):
        return True
    if expected is bool and isinstance(value, bool):
        return True
    if expected in (YMap, YSeq) and isinstance(value, expected):
        return True
    if value is None and expected in (YMap, YSeq):
        return False  # `key:` with nothing: the API server reads it as absent
    out.append(
        (
            obj.value_loc(node, key),
            f"invalid Kubernetes object: {path}.{key} must be {_TYPE_NAMES[expected]}, not {_describe(value)}",
        )
    )
    return False


def _check_items(obj, seq: YSeq, path: str, out: List[Problem]) -> List[Tuple[int, YMap]]:
    maps = []
    for index, item in enumerate(seq):
        if isinstance(item, YMap):
            maps.append((index, item))
        else:
            out.append((obj.item_loc(seq, index), f"invalid Kubernetes object: {path}[{index}] must be a mapping, not {_describe(item)}"))
    return maps


def pod_problems(workload: Workload) -> List[Problem]:
    obj = workload.obj
    spec = workload.pod_spec
    out: List[Problem] = []
    base = workload.spec_path
    if _check(obj, spec, "securityContext", YMap, base, out):
        ctx = spec["securityContext"]
        if _check(obj, ctx, "sysctls", YSeq, f"{base}.securityContext", out):
            for index, item in _check_items(obj, ctx["sysctls"], f"{base}.securityContext.sysctls", out):
                _check(obj, item, "name", str, f"{base}.securityContext.sysctls[{index}]", out)
    _check(obj, spec, "hostNetwork", bool, base, out)
    if _check(obj, spec, "volumes", YSeq, base, out):
        for index, volume in _check_items(obj, spec["volumes"], f"{base}.volumes", out):
            where = f"{base}.volumes[{index}]"
            _check(obj, volume, "name", str, where, out)
            for kind in ("configMap", "secret", "projected"):
                if _check(obj, volume, kind, YMap, where, out):
                    source = volume[kind]
                    if _check(obj, source, "items", YSeq, f"{where}.{kind}", out):
                        _check_items(obj, source["items"], f"{where}.{kind}.items", out)
                    if kind == "projected" and _check(obj, source, "sources", YSeq, f"{where}.projected", out):
                        _check_items(obj, source["sources"], f"{where}.projected.sources", out)
    for key in ("containers", "initContainers"):
        if key in spec and not isinstance(spec[key], YSeq):
            _check(obj, spec, key, YSeq, base, out)
            continue
        if key in spec:
            _check_items(obj, spec[key], f"{base}.{key}", out)
    for container in workload.init_containers + workload.containers:
        where = f"{base}.{'initContainers' if container.init else 'containers'}[{container.index}]"
        node = container.node
        _check(obj, node, "name", str, where, out)
        _check(obj, node, "image", str, where, out)
        for key in ("command", "args"):
            if _check(obj, node, key, YSeq, where, out):
                for index, word in enumerate(node[key]):
                    if not isinstance(word, str):
                        out.append(
                            (obj.item_loc(node[key], index), f"invalid Kubernetes object: {where}.{key}[{index}] must be a string, not {_describe(word)}")
                        )
        if _check(obj, node, "volumeMounts", YSeq, where, out):
            for index, mount in _check_items(obj, node["volumeMounts"], f"{where}.volumeMounts", out):
                for field in ("name", "mountPath", "subPath"):
                    _check(obj, mount, field, str, f"{where}.volumeMounts[{index}]", out)
        if _check(obj, node, "securityContext", YMap, where, out):
            _check(obj, node["securityContext"], "privileged", bool, f"{where}.securityContext", out)
    return out


def object_problems(obj: K8sObject) -> List[Problem]:
    out: List[Problem] = []
    _check(obj, obj.root, "metadata", YMap, obj.kind, out)
    if obj.kind in ("ConfigMap", "Secret"):
        for section in ("data", "stringData"):
            if _check(obj, obj.root, section, YMap, obj.kind, out):
                data = obj.root[section]
                for key, value in data.items():
                    if not isinstance(value, str) and value is not None:
                        out.append(
                            (obj.value_loc(data, key), f"invalid Kubernetes object: {obj.kind} {section}.{key} must be a string, not {_describe(value)}")
                        )
    return out

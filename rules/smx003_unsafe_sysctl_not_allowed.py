"""A pod sets a sysctl the kubelet will refuse: not in the safe set, and
not in the kubelet's `allowedUnsafeSysctls`.

## What it does
Checks every `securityContext.sysctls` entry against the kubelet's safe
set for the configured Kubernetes version (and, for kernel-gated entries,
the configured kernel; an unknown version is taken to be a current one),
then against `allowedUnsafeSysctls` -- from a
KubeletConfiguration in the input, or `kubelet.allowedUnsafeSysctls` in the
configuration. It is an error when the allow-list is known and does not
cover the sysctl, and a warning naming the assumption when it is unknown.
`net.core.somaxconn` is unsafe in every Kubernetes version.

## Why it matters
The pod is scheduled normally, then the kubelet rejects it: status
`Failed`, reason `SysctlForbidden`, `forbidden sysctl: "net.core.somaxconn"
not allowlisted`. A Deployment keeps creating replacement pods.

## Example
```yaml
spec:
  securityContext:
    sysctls:
      - name: net.core.somaxconn     # unsafe: needs the kubelet's allow-list
        value: "4096"
```

## How to fix
Allow it on every node that may run the pod (kubelet
`--allowed-unsafe-sysctls` / KubeletConfiguration `allowedUnsafeSysctls`),
and say so in `.somaxlint.yaml` (`kubelet.allowedUnsafeSysctls`); or set
it through the CNI tuning plugin, which is node configuration and needs no
allow-list.
"""

from __future__ import annotations

from somaxlint import facts
from somaxlint.findings import Finding, Related
from somaxlint.load.positioned import YSeq
from somaxlint.model.netns import POD_SYSCTLS

CODE = "SMX003"
NAME = "unsafe-sysctl-not-allowed"
SEVERITY = "error"
SUMMARY = "A pod sets a sysctl that is neither safe nor allowed by the kubelet"


def _allow_list(model):
    """(patterns, where they came from, location) or (None, ...) when unknown."""
    for obj in model.inventory.objects:
        if obj.kind == "KubeletConfiguration":
            value = obj.root.get("allowedUnsafeSysctls")
            patterns = [p for p in value if isinstance(p, str)] if isinstance(value, YSeq) else []
            where = obj.key_loc(obj.root, "allowedUnsafeSysctls") if "allowedUnsafeSysctls" in obj.root else obj.location
            return patterns, f"the KubeletConfiguration in {obj.display}", where
    settings = model.settings
    if settings.allowed_unsafe_sysctls is not None:
        return settings.allowed_unsafe_sysctls, settings.allowed_unsafe_source, None
    return None, None, None


def _version(v):
    return f"{v[0]}.{v[1]}"


def check(model):
    patterns, source, source_location = _allow_list(model)
    settings = model.settings
    for ns in model.namespaces:
        if ns.host:
            continue  # hostNetwork: refused for another reason (SMX005)
        for setting in ns.settings:
            if setting.how != POD_SYSCTLS:
                continue
            name = setting.name
            safe = facts.safe_in(name, settings.kubernetes, settings.kernel)
            if safe:
                continue
            if patterns is not None and any(facts.matches_pattern(name, p) for p in patterns):
                continue
            related = (Related(source_location, f"allowedUnsafeSysctls ({source})"),) if source_location else ()
            since = next(((s, k) for n, s, k in facts.SAFE_SYSCTLS if n == name), None)
            versions = ""
            if since is not None:
                # safe in newer versions than the configured ones
                versions = f" before Kubernetes {_version(since[0])}" + (f" or on Linux before {_version(since[1])}" if since[1] else "")
            if patterns is None:
                condition = (
                    f"{name} is not in {facts.SAFE_SYSCTLS_SOURCE}{versions}"
                    + "; the kubelet's allowedUnsafeSysctls is unknown (assumed not to allow it: set "
                    "kubelet.allowedUnsafeSysctls in .somaxlint.yaml)"
                )
                severity = "warning"
            else:
                condition = f"{name} is not in {facts.SAFE_SYSCTLS_SOURCE}{versions} and {source} does not allow it"
                severity = SEVERITY
            yield Finding(
                CODE,
                NAME,
                severity,
                f"{condition}: the kubelet rejects pods of {ns.workload.ref} with SysctlForbidden "
                f"(forbidden sysctl: \"{name}\" not allowlisted)",
                setting.location,
                related=related,
                assumptions=(condition,) if severity == "warning" else (),
                subject=f"{ns.workload.ref}|{name}",
                helm_source=ns.workload.obj.helm_source,
                objects=(ns.workload.ref,),
            )

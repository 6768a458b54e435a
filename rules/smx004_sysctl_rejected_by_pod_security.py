"""The pod's Namespace enforces Pod Security `baseline` or `restricted`,
and the pod sets a sysctl outside that policy's list, or writes sysctls
from a privileged init container.

## What it does
For Namespaces in the input labelled `pod-security.kubernetes.io/enforce:
baseline` or `restricted` (with `enforce-version`, or `latest`), checks
each workload in them: every `securityContext.sysctls` name must be in the
policy version's allowed list, compared literally as Pod Security
Admission does (so `net/ipv4/tcp_syncookies` is refused even though the
kubelet would accept it); and a privileged init container (the usual way
to write `net.core.somaxconn`) is refused by baseline.

## Why it matters
Admission rejects the pod (`forbidden sysctls`, `privileged`): for a
Deployment, the ReplicaSet never gets its pods. `net.core.somaxconn` is
forbidden under baseline and restricted in every policy version.

## Example
```yaml
kind: Namespace
metadata:
  name: web
  labels:
    pod-security.kubernetes.io/enforce: baseline
---
kind: Deployment   # in namespace web
spec:
  template:
    spec:
      securityContext:
        sysctls: [{name: net.core.somaxconn, value: "4096"}]   # forbidden
```

## How to fix
Raise somaxconn through the CNI tuning plugin (node configuration, not
part of the pod), or run the workload in a namespace whose policy allows
it (`privileged`), after review.
"""

from __future__ import annotations

from somaxlint import facts
from somaxlint.findings import Finding, Related
from somaxlint.load.positioned import as_map
from somaxlint.model.netns import INIT_CONTAINER, POD_SYSCTLS

CODE = "SMX004"
NAME = "sysctl-rejected-by-pod-security"
SEVERITY = "error"
SUMMARY = "Pod Security baseline/restricted in the pod's Namespace rejects its sysctls"

ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"


def _policy(namespace_obj):
    labels = as_map((as_map(namespace_obj.root.get("metadata")) or {}).get("labels"))
    if labels is None or labels.get(ENFORCE) not in ("baseline", "restricted"):
        return None
    version_text = labels.get(ENFORCE_VERSION)
    version = None
    if isinstance(version_text, str) and version_text != "latest":
        parts = version_text.lstrip("v").split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit() and len(parts[0]) + len(parts[1]) <= 18:
            version = (int(parts[0]), int(parts[1]))
    label = f"{labels[ENFORCE]}" + (f" {version_text}" if isinstance(version_text, str) else " (latest)")
    return labels[ENFORCE], version, label, namespace_obj.key_loc(labels, ENFORCE)


def check(model):
    scope = model.inventory.scope
    for ns in model.namespaces:
        workload = ns.workload
        # The Namespace deployed with the workload (same unit, else the
        # nearest file); equally near copies each decide for themselves.
        found = scope.candidates("Namespace", None, workload.namespace or "default", workload.obj)
        for target in found:
            yield from _check_against(ns, workload, target)


def _check_against(ns, workload, target):
    policy = _policy(target)
    if policy is None:
        return
    level, version, label, label_location = policy
    allowed = facts.psa_allowed(version)
    related = (Related(label_location, f"Namespace {target.name} enforces Pod Security {label}"),)
    written = set()
    for setting in ns.settings:
        if setting.how == POD_SYSCTLS and setting.raw_name not in allowed:
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"Pod Security {label} in Namespace {target.name} forbids sysctl {setting.raw_name!r}: "
                f"admission rejects pods of {workload.ref} (forbidden sysctls)",
                setting.location,
                related=related,
                subject=f"{workload.ref}|{setting.raw_name}",
                helm_source=workload.obj.helm_source,
                objects=(workload.ref,),
            )
        elif setting.how == INIT_CONTAINER and setting.container is not None and setting.container.privileged:
            container = setting.container
            if container.name in written:
                continue
            written.add(container.name)
            node = as_map(container.node.get("securityContext"))
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"{container.label} runs privileged to write sysctls, which Pod Security {label} in Namespace "
                f"{target.name} forbids: admission rejects the pod",
                workload.obj.key_loc(node, "privileged"),
                related=related,
                subject=f"{workload.ref}|{container.name}|privileged",
                helm_source=workload.obj.helm_source,
                objects=(workload.ref,),
            )

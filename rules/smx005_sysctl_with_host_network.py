"""A `hostNetwork: true` pod sets `net.*` sysctls: they are refused.

## What it does
Reports every `net.*` entry of `securityContext.sysctls` in a pod that
uses the host's network namespace.

## Why it matters
The API server rejects such pods since Kubernetes 1.29 (`may not be
specified when 'hostNetwork' is true`); before that the kubelet refused
them (`SysctlForbidden`, `not allowed with host net enabled`) and runc
refused to write them into the host namespace. A hostNetwork pod has no
network namespace of its own: the node's tuning is what applies to it.

## Example
```yaml
spec:
  hostNetwork: true
  securityContext:
    sysctls:
      - name: net.core.somaxconn   # refused: tune the node instead
        value: "4096"
```

## How to fix
Remove the sysctl and tune the node (and tell somaxlint the node's value
with `node.sysctls` in `.somaxlint.yaml`), or drop `hostNetwork`.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related
from somaxlint.model.netns import POD_SYSCTLS

CODE = "SMX005"
NAME = "sysctl-with-host-network"
SEVERITY = "error"
SUMMARY = "A hostNetwork pod sets net.* sysctls, which are refused"


def check(model):
    for ns in model.namespaces:
        if not ns.host:
            continue
        workload = ns.workload
        host_location = workload.obj.key_loc(workload.pod_spec, "hostNetwork")
        for setting in ns.settings:
            if setting.how != POD_SYSCTLS or not setting.name.startswith("net."):
                continue
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"{workload.ref} uses hostNetwork, so sysctl {setting.name} is refused (the API server since "
                "Kubernetes 1.29, the kubelet and runc before); the pod runs in the node's network namespace, "
                "whose own tuning applies: set it on the node instead",
                setting.location,
                related=(Related(host_location, "hostNetwork: true"),),
                subject=f"{workload.ref}|{setting.name}",
                helm_source=workload.obj.helm_source,
                objects=(workload.ref,),
            )

"""An init container writes `/proc/sys` or runs `sysctl -w` without
`privileged: true`: the write fails.

## What it does
Finds `sysctl -w key=value`, `sysctl key=value`, `echo v > /proc/sys/...`
and `... | tee /proc/sys/...` in init containers (also inside `sh -c`
scripts) whose `securityContext.privileged` is not `true` -- and the same
writes in a server container's own command before the statement that
starts its server (`sysctl -w net.core.somaxconn=4096 && exec nginx ...`),
which take effect only when that container is privileged.

## Why it matters
Container runtimes mount `/proc/sys` read-only in unprivileged
containers: the write fails, the init container exits with an error (or,
with `|| true`, silently does nothing) and the namespace keeps the kernel
default -- the very value the init container was meant to raise.

## Example
```yaml
initContainers:
  - name: sysctl
    image: busybox
    command: ["sysctl", "-w", "net.core.somaxconn=4096"]   # not privileged
```

## How to fix
Add `securityContext: {privileged: true}` to the init container, or,
better, set the sysctl through pod `securityContext.sysctls` or the CNI
tuning plugin.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related
from somaxlint.model.netns import INIT_CONTAINER, SERVER_CONTAINER, proc_sys_writable

CODE = "SMX011"
NAME = "init-sysctl-unprivileged"
SEVERITY = "error"
SUMMARY = "An unprivileged init container writes sysctls: the write fails"


def check(model):
    for ns in model.namespaces:
        for setting in ns.settings:
            if setting.how not in (INIT_CONTAINER, SERVER_CONTAINER) or setting.applies or setting.container is None:
                continue
            if proc_sys_writable(setting.container) is None:
                continue  # refused for its value, not its privileges (SMX010)
            container = setting.container
            where = "" if setting.how == INIT_CONTAINER else " before its server starts"
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"{container.label} writes {setting.name}={setting.raw.strip()}{where} but is not privileged: /proc/sys is "
                "read-only there, so the write fails and the namespace keeps its value. Add "
                "securityContext.privileged: true, or use pod sysctls or the CNI tuning plugin",
                setting.location,
                related=(Related(container.location, container.label),),
                subject=f"{ns.workload.ref}|{container.name}|{setting.name}",
                helm_source=ns.workload.obj.helm_source,
                objects=(ns.workload.ref,),
            )

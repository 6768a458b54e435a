"""A listen-time sysctl is written after the server may already have
called `listen()`, so existing listeners never see it.

## What it does
Reports writes of `net.core.somaxconn` (and `net.ipv4.tcp_max_syn_backlog`)
made by a container `postStart` hook, by the server container's own
command after the statement that starts nginx, or by a sidecar (another
regular container, or an init container with `restartPolicy: Always`).
Writes in the server's own command after nginx starts are certain errors;
hooks and sidecars race the server and are warnings.

## Why it matters
`listen()` clamps the backlog to somaxconn once, when it is called;
changing the sysctl later does not resize an existing accept queue (only a
new `listen()`, such as an nginx reload, picks it up). Pod sysctls and
init containers run before the app containers start; these do not.

## Example
```yaml
containers:
  - name: nginx
    image: nginx
    command: ["sh", "-c", "nginx && sysctl -w net.core.somaxconn=4096 && sleep infinity"]
```

## How to fix
Set the sysctl before the server starts: pod `securityContext.sysctls`, a
privileged init container (not a sidecar), or the CNI tuning plugin.
"""

from __future__ import annotations

from linter.findings import Finding, Related
from linter.model.late_writes import AFTER_SERVER

CODE = "SMX007"
NAME = "sysctl-applied-after-listen"
SEVERITY = "error"
SUMMARY = "A listen-time sysctl is written after the server may already be listening"


def check(model):
    for ns in model.namespaces:
        for late in ns.late_writes:
            when = {
                AFTER_SERVER: "after the statement that starts nginx",
            }.get(late.kind, f"by a {late.kind}, which runs beside the server")
            yield Finding(
                CODE,
                NAME,
                SEVERITY if late.certain else "warning",
                f"{late.name}={late.value} is written {when} in {late.container.label}: listen() "
                f"{'has' if late.certain else 'may have'} already run, and an existing listener keeps the backlog "
                "it got then. Set it before the server starts (pod sysctls, an init container, or the CNI tuning plugin)",
                late.location,
                related=(Related(late.container.location, late.container.label),),
                subject=f"{ns.workload.ref}|{late.container.name}|{late.kind}|{late.name}",
                helm_source=ns.workload.obj.helm_source,
                objects=(ns.workload.ref,),
            )

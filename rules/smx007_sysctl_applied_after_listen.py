"""A listen-time sysctl is written after the server may already have
called `listen()`, so existing listeners never see it.

## What it does
Reports writes of `net.core.somaxconn` (and `net.ipv4.tcp_max_syn_backlog`)
made by a container `postStart` hook, by the server container's own
command after the statement that starts its server (nginx, Redis, any
server of `somaxlint servers`) or before it but in the background (`&`),
or by a sidecar (another regular container, or an init container with
`restartPolicy: Always`) -- which includes another server container's own
write before *its* server starts: the pod's other servers start at the same
time. Writes in the server's own command after the server starts are
certain errors; hooks, background commands and sidecars race the server and
are warnings.

A privileged server container that writes the sysctl in its own command
*before* the statement that starts its server (`sysctl -w
net.core.somaxconn=4096 && exec nginx -g 'daemon off;'`) is not reported:
its own listen() comes after the write, and somaxlint models it.

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

from somaxlint.findings import Finding, Related
from somaxlint.model.late_writes import AFTER_SERVER, BACKGROUND, BESIDE_OTHER_SERVERS

CODE = "SMX007"
NAME = "sysctl-applied-after-listen"
SEVERITY = "error"
SUMMARY = "A listen-time sysctl is written after the server may already be listening"


def check(model):
    for ns in model.namespaces:
        for late in ns.late_writes:
            if late.kind == AFTER_SERVER:
                when = f"after the statement that starts {late.server}"
            elif late.kind == BACKGROUND:
                when = f"in the background, beside the statement that starts {late.server}"
            elif late.kind == BESIDE_OTHER_SERVERS:
                names = ", ".join(repr(c.name) for c in late.others)
                when = (
                    f"before {late.server} starts in its own container, but the servers of container(s) {names} "
                    "start at the same time"
                )
            else:
                when = f"by a {late.kind}, which runs beside the server"
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

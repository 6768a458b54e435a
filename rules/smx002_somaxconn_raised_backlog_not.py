"""net.core.somaxconn was raised for the pod, but nginx still asks for its
default backlog of 511, so the tuning never reaches the listener.

## What it does
For every socket nginx opens without `backlog=`, in a network namespace
whose `net.core.somaxconn` was raised above the kernel default (pod
sysctls, a privileged init container, the server container's own command
before the server starts, the CNI tuning plugin, or the node for
`hostNetwork` pods), reports that the accept queue stays at nginx's
default 511. An explicit `backlog=` below somaxconn is taken as a choice
and not reported.

Raised means strictly above the kernel default on every kernel the run
allows (4096 from Linux 5.4, 128 before; both when the kernel is unknown):
a pod that *lowers* somaxconn (`"1024"` on Linux 5.15) is not this rule's
case -- when the lower value truncates a listener, SMX001 says so and names
the setting that lowered it.

The same holds for every server of `somaxlint servers` with a numeric
default (Redis's 511, memcached's 1024, gunicorn's 2048, Tomcat's 100,
...): the message then names that server's own knob.

## Why it matters
This is the incident's second trap: somaxconn was raised to 8096, yet
`ss -lnt` still showed `Send-Q 511` and the queue still overflowed. nginx
does not pass somaxconn to `listen()`; it passes its own backlog, 511 by
default on Linux. Both knobs must be raised together.

## Example
```nginx
# the pod sets net.core.somaxconn=8096
server {
    listen 80;            # listen(fd, 511): the queue stays at 511
}
```

## How to fix
Set `backlog=` on the `listen` to the queue size you want (at most the
namespace's somaxconn), e.g. `listen 80 backlog=8096;`. nginx accepts
socket options on one `listen` per address:port.
"""

from __future__ import annotations

from somaxlint.servers import listener_fix

CODE = "SMX002"
NAME = "somaxconn-raised-backlog-not"
SEVERITY = "warning"
SUMMARY = "somaxconn was raised, but the server still asks for its default backlog (nginx 511, Redis 511, ...)"


def check(model):
    """Every listener left at its server's numeric default (a server whose
    queue follows somaxconn needs nothing)."""
    from somaxlint.model.processes import process_finding, verdict

    this = (CODE, NAME, SEVERITY)
    for server in model.servers:
        somaxconn = server.somaxconn
        if not somaxconn.raised or not somaxconn.values:
            continue
        lowest = min(somaxconn.values)
        module = server.module
        for listener in server.listeners:
            if not listener.serves:
                continue  # a control socket or admin endpoint: listed by explain only
            if listener.explicit or listener.above_somaxconn == "follows" or listener.requested_backlog >= lowest:
                continue
            v = verdict(server, [lowest], listener, limit=lowest)
            v.certain = True  # raised in every possible order: the default is what limits
            fix = listener_fix(module, listener, lowest)
            default = max(somaxconn.defaults) if somaxconn.defaults else None
            above = f" from the kernel default {default}" if default is not None and len(somaxconn.defaults) == 1 else ""
            message = (
                f"net.core.somaxconn is raised to {lowest}{above} ({somaxconn.setting.detail}), but {module.TITLE} listens on "
                f"{listener.address_port} with its {listener.origin} in {server.label}: the accept queue stays at "
                f"{listener.requested_backlog} (ss -lnt Send-Q). {fix[:1].upper()}{fix[1:]}"
            )
            yield process_finding(this, server, listener, v, message, listener.address_port, {"somaxconn": lowest})

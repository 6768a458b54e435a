"""A server refuses to start because its listen queue exceeds somaxconn.

## What it does
uWSGI compares its listen queue (`--listen`, `-l`, `listen =` in the ini
file, `UWSGI_LISTEN`; default 100) with `/proc/sys/net/core/somaxconn` of
its network namespace when it creates each socket and, when the queue is
strictly larger, logs "Listen queue size is greater than the system max
net.core.somaxconn (N)." and exits with status 1 (`create_server_socket()`,
core/socket.c:126-133; `uwsgi_nuclear_blast()`, core/uwsgi.c:1436-1451).
This rule reports that case: the container exits at every start and the
pod crash-loops. It is a warning when it holds only on older kernels.

## Why it matters
Unlike the silent truncation of SMX001, this one takes the service down:
`CrashLoopBackOff` on the first deploy to a node whose pods get
somaxconn 128, or after someone raises `--listen`.

## Example
```yaml
command: ["uwsgi", "--http", ":8080", "--listen", "1024", "--module", "app"]
# pod somaxconn 128 (Linux before 5.4): uWSGI exits
```

## How to fix
Raise `net.core.somaxconn` for the pod to at least the listen queue (pod
`securityContext.sysctls`, the CNI tuning plugin, or a privileged init
container), or lower `--listen` to at most the namespace's somaxconn.
"""

from __future__ import annotations

from somaxlint.model import workload_label

CODE = "SMX020"
NAME = "server-refuses-to-start"
SEVERITY = "error"
SUMMARY = "A server exits at start-up because its listen queue exceeds somaxconn (uWSGI): the pod crash-loops"


def check(model):
    from somaxlint.model.processes import condition as when, process_finding, verdict

    this = (CODE, NAME, SEVERITY)
    for process in model.servers:
        somaxconn = process.somaxconn
        if not somaxconn.values:
            continue
        module = process.module
        for listener in process.listeners:
            if not listener.serves:
                continue  # a control socket or admin endpoint: listed by explain only
            if listener.above_somaxconn != "refuse":
                continue
            refusing = [v for v in somaxconn.values if listener.requested_backlog > v]
            if not refusing:
                continue
            v = verdict(process, refusing, listener)
            condition = "" if len(refusing) == len(somaxconn.values) else when(model.settings, somaxconn)
            message = (
                f"{module.TITLE} {listener.origin} is greater than net.core.somaxconn {v.limit} "
                f"({v.setting.detail if v.setting else 'unknown'}){condition}: {module.TITLE} logs \"Listen queue size is "
                f"greater than the system max net.core.somaxconn ({v.limit}).\" and exits, so container "
                f"{process.container.name!r} of {workload_label(process.workload)} crash-loops. Raise net.core.somaxconn "
                f"for the pod to at least {listener.requested_backlog}, or lower {module.KNOB} to at most {v.limit}"
            )
            extra = {"requested_backlog": listener.requested_backlog, "somaxconn": v.limit}
            yield process_finding(this, process, listener, v, message, listener.address_port, extra)

"""net.core.somaxconn was raised for the pod, but nginx still asks for its
default backlog of 511, so the tuning never reaches the listener.

## What it does
For every socket nginx opens without `backlog=`, in a network namespace
whose `net.core.somaxconn` was raised above the kernel default (pod
sysctls, a privileged init container, the CNI tuning plugin, or the node
for `hostNetwork` pods), reports that the accept queue stays at nginx's
default 511. An explicit `backlog=` below somaxconn is taken as a choice
and not reported.

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

from linter import facts
from linter.findings import Finding
from linter.model import server_label
from linter.model.netns import somaxconn_related

CODE = "SMX002"
NAME = "somaxconn-raised-backlog-not"
SEVERITY = "warning"
SUMMARY = "somaxconn was raised, but the server still asks for its default backlog (nginx 511, Redis 511, ...)"


def check(model):
    yield from _nginx(model)
    yield from _other_servers(model)


def _other_servers(model):
    """The same for every server of linter.servers that keeps a numeric
    default (a server whose queue follows somaxconn needs nothing)."""
    from linter.model.processes import process_finding, verdict

    this = (CODE, NAME, SEVERITY)
    for process in model.processes:
        somaxconn = process.somaxconn
        if not somaxconn.raised or not somaxconn.values:
            continue
        lowest = min(somaxconn.values)
        module = process.module
        for listener in process.listeners:
            if listener.explicit or listener.above_somaxconn == "follows" or listener.requested_backlog >= lowest:
                continue
            v = verdict(process, [lowest], listener, limit=lowest)
            v.certain = True  # raised in every possible order: the default is what limits
            message = (
                f"net.core.somaxconn is raised to {lowest} ({somaxconn.setting.detail}), but {module.TITLE} listens on "
                f"{listener.address_port} with its {listener.origin} in container {process.container.name!r} of "
                f"{process.workload.ref}: the accept queue stays at {listener.requested_backlog} (ss -lnt Send-Q). "
                f"Set {module.TITLE}'s {module.KNOB} to {lowest} (or the size you need)"
            )
            yield process_finding(this, process, listener, v, message, listener.address_port, {"somaxconn": lowest})


def _nginx(model):
    for server in model.servers:
        somaxconn = server.somaxconn
        if not somaxconn.raised or not somaxconn.values:
            continue
        lowest = min(somaxconn.values)
        for socket in server.sockets:
            if socket.backlog_directive is not None or facts.NGINX_DEFAULT_BACKLOG >= lowest:
                continue
            setting = somaxconn.setting
            directive = socket.directive
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"net.core.somaxconn is raised to {lowest} ({setting.detail}), but nginx listens on "
                f"{socket.address_port} with its default backlog {facts.NGINX_DEFAULT_BACKLOG} in {server_label(server)}: "
                f"the accept queue stays at {facts.NGINX_DEFAULT_BACKLOG} (ss -lnt Send-Q). Add backlog={lowest} "
                "(or the size you need) to this listen",
                directive.source.locate(directive.line, directive.column),
                related=somaxconn_related(setting) + server.main_via,
                subject=f"{server.workload.ref if server.workload else server.config.main.label}|{socket.module}|{socket.address_port}",
                helm_source=directive.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )

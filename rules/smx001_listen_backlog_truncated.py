"""A listen backlog is silently truncated by the pod network namespace's
`net.core.somaxconn`.

## What it does
For every socket an nginx container (or a standalone nginx config) listens
on, compares the backlog nginx passes to `listen()` -- `backlog=N`, or
nginx's default 511 -- and likewise for every other server somaxlint knows
(`somaxlint servers`: Redis's `tcp-backlog`, memcached's `-b`, gunicorn's
and uvicorn's `--backlog`, ...) with `net.core.somaxconn` of the network namespace
the socket lives in, worked out from the pod's sysctls, privileged init
containers, the CNI tuning plugin, or the kernel's default for a new
namespace (never the node's value, unless the pod uses `hostNetwork`).

It is an error when the truncation is certain from the files, and a warning
when it depends on something the files do not say (the node's kernel: the
default is 4096 from Linux 5.4 and 128 before); the message names the
assumption and the configuration key that settles it.

## Why it matters
`listen(fd, backlog)` sets the accept queue to `min(backlog, somaxconn)`
without any error. When the application falls behind, the queue fills at
the truncated size and the kernel drops new SYNs: clients hang and
retransmit while `TcpExtListenOverflows` climbs. A fresh pod namespace
starts at the kernel default, whatever the node was tuned to.

## Example
```yaml
# nginx.conf mounted from a ConfigMap; the pod sets no sysctl,
# the nodes run Linux 4.19: somaxconn 128
server {
    listen 80;            # nginx's default backlog 511 -> 128
}
```

## How to fix
Raise both knobs together: `net.core.somaxconn` for the pod (through
`securityContext.sysctls`, an unsafe sysctl the kubelet must allow; or the
CNI tuning plugin; or a privileged init container) to at least the
backlog, and `backlog=` on the `listen` to the queue you want. Raising only
one leaves the other as the limit.
"""

from __future__ import annotations

from linter import facts
from linter.findings import Finding, Related
from linter.model import describe_backlog, server_label, workload_label
from linter.model.netns import somaxconn_related

CODE = "SMX001"
NAME = "listen-backlog-truncated"
SEVERITY = "error"
SUMMARY = "A listen backlog is silently truncated by the namespace's net.core.somaxconn"


def check(model):
    yield from _nginx(model)
    yield from _other_servers(model)


def _other_servers(model):
    """Listeners of the servers in linter.servers (uWSGI, which refuses to
    start instead of truncating, is SMX020's)."""
    from linter.model.processes import process_finding, verdict

    this = (CODE, NAME, SEVERITY)
    for process in model.processes:
        somaxconn = process.somaxconn
        if not somaxconn.values:
            continue
        module = process.module
        for listener in process.listeners:
            if listener.above_somaxconn != "truncate":
                continue
            requested = listener.requested_backlog & facts.UINT_MAX
            truncating = [v for v in somaxconn.values if requested > v]
            if not truncating:
                continue
            v = verdict(process, truncating, listener)
            effective = facts.kernel_clamp(listener.requested_backlog, v.limit)
            condition = ""
            if not v.certain and somaxconn.setting and len(truncating) != len(somaxconn.values):
                condition = " if the node kernel is older than Linux 5.4" if somaxconn.setting.how == "kernel default" else " under one of the possible orders"
            warning = getattr(module, "STARTUP_WARNING", "")
            said = (" " + warning.format(backlog=listener.requested_backlog, somaxconn=v.limit) + ".") if warning else ""
            message = (
                f"{module.TITLE} {listener.origin} on {listener.address_port} is truncated to {effective}{condition} by "
                f"net.core.somaxconn {v.limit} ({v.setting.detail if v.setting else 'unknown'}) in container "
                f"{process.container.name!r} of {workload_label(process.workload)}; the accept queue holds at most "
                f"{effective + 1} connections and further SYNs are dropped.{said} Raise net.core.somaxconn for the pod "
                f"to at least {requested}, and set {module.TITLE}'s {module.KNOB} to the queue you need: both knobs limit it"
            )
            extra = {"requested_backlog": listener.requested_backlog, "somaxconn": v.limit, "effective_backlog": effective}
            yield process_finding(this, process, listener, v, message, listener.address_port, extra)


def _nginx(model):
    for server in model.servers:
        somaxconn = server.somaxconn
        if not somaxconn.values:
            continue
        for socket in server.sockets:
            requested = socket.requested_backlog & facts.UINT_MAX
            truncating = [v for v in somaxconn.values if requested > v]
            if not truncating:
                continue
            certain = len(truncating) == len(somaxconn.values)
            limit = somaxconn.assumed if somaxconn.assumed in truncating else truncating[0]
            effective = facts.kernel_clamp(socket.requested_backlog, limit)
            directive = socket.backlog_directive or socket.directive
            location = directive.source.locate(directive.line, directive.column)
            setting = somaxconn.setting_for(limit)
            related = list(somaxconn_related(setting))
            related.extend(server.main_via)
            if server.container is not None:
                related.append(Related(server.container.location, server.container.label))
            assumptions = (somaxconn.assumption,) if somaxconn.assumption and not certain else ()
            condition = ""
            if not certain:
                condition = " if the node kernel is older than Linux 5.4" if somaxconn.setting.how == "kernel default" else " under one of the possible orders"
            queue = effective + 1
            if requested > facts.SOMAXCONN_MAX:
                advice = (
                    "Set backlog= to the queue size you need and raise net.core.somaxconn for the pod to at least "
                    "that: both knobs limit it"
                )
            else:
                advice = (
                    f"Raise net.core.somaxconn for the pod to at least {requested} and keep the backlog at the queue "
                    "size you need: both knobs limit it"
                )
            message = (
                f"{describe_backlog(socket)} on {socket.address_port} is truncated to {effective}{condition} by "
                f"net.core.somaxconn {limit} ({setting.detail if setting else 'unknown'}) in {server_label(server)}; "
                f"the accept queue holds at most {queue} connections and further SYNs are dropped. {advice}"
            )
            if assumptions:
                message += f" (assumption: {assumptions[0]})"
            yield Finding(
                CODE,
                NAME,
                SEVERITY if certain else "warning",
                message,
                location,
                related=tuple(related),
                assumptions=assumptions,
                subject="|".join(
                    (
                        server.workload.ref if server.workload else server.config.main.label,
                        server.container.name if server.container else "",
                        socket.module,
                        socket.address_port,
                    )
                ),
                helm_source=directive.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
                extra={"requested_backlog": socket.requested_backlog, "somaxconn": limit, "effective_backlog": effective},
            )

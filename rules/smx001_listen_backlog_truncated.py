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

from somaxlint import facts
from somaxlint.servers import phrase, truncation_advice

CODE = "SMX001"
NAME = "listen-backlog-truncated"
SEVERITY = "error"
SUMMARY = "A listen backlog is silently truncated by the namespace's net.core.somaxconn"


def check(model):
    """Every listener of every server (uWSGI, which refuses to start
    instead of truncating, is SMX020's; a queue that follows somaxconn,
    SMX021's)."""
    from somaxlint.model.processes import condition as when, process_finding, verdict

    this = (CODE, NAME, SEVERITY)
    for server in model.servers:
        somaxconn = server.somaxconn
        if not somaxconn.values:
            continue
        module = server.module
        for listener in server.listeners:
            if not listener.serves:
                continue  # a control socket or admin endpoint: listed by explain only
            if listener.above_somaxconn != "truncate":
                continue
            requested = listener.requested_backlog & facts.UINT_MAX
            truncating = [v for v in somaxconn.values if requested > v]
            if not truncating:
                continue
            v = verdict(server, truncating, listener)
            effective = facts.kernel_clamp(listener.requested_backlog, v.limit)
            condition = ""
            if not v.certain and somaxconn.setting and len(truncating) != len(somaxconn.values):
                condition = when(model.settings, somaxconn)
            warning = module.STARTUP_WARNING
            said = (" " + warning.format(backlog=listener.requested_backlog, somaxconn=v.limit) + ".") if warning else ""
            # beyond the largest somaxconn, the backlog itself must come down
            advice = truncation_advice(module, requested, fits=requested <= facts.SOMAXCONN_MAX)
            message = (
                f"{phrase(module, listener)} on {listener.address_port} is truncated to {effective}{condition} by "
                f"net.core.somaxconn {v.limit} ({v.setting.detail if v.setting else 'unknown'}) in {server.label}; "
                f"the accept queue holds at most {effective + 1} connections and further {_refused(listener)}.{said} {advice}"
            )
            extra = {"requested_backlog": listener.requested_backlog, "somaxconn": v.limit, "effective_backlog": effective}
            yield process_finding(this, server, listener, v, message, listener.address_port, extra)


def _refused(listener) -> str:
    """What happens to the connections past a full queue."""
    if listener.kind == "unix":
        return "connect() calls wait or fail with EAGAIN"  # a Unix stream socket has no SYN to drop
    return "SYNs are dropped"

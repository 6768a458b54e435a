"""A server whose accept queue *is* somaxconn runs where somaxconn may be 128.

## What it does
Some servers pass `net.core.somaxconn` itself to `listen()`: every Go
server (`net.Listen` reads /proc/sys/net/core/somaxconn once at start-up:
Traefik, Caddy, most operators), Envoy and Istio's sidecars and gateways
(no `tcp_backlog_size`: -1, "use somaxconn"). Their queue cannot be
truncated, and no knob of theirs raises it: the namespace decides. This
rule reports such a server when its pod's somaxconn may be 128, the
kernel default for a new namespace before Linux 5.4 (an error when that is
certain, a warning naming the assumption otherwise). The finding is against
the namespace, not the server. For the ingress-nginx controller see SMX012.

## Why it matters
A proxy in front of other services with an accept queue of 128 drops SYNs
as soon as it falls behind, while everything in its own configuration
looks fine.

## Example
```yaml
containers:
  - name: traefik
    image: traefik:v3.1
# no sysctls; nodes on Linux 4.19: the queue is 128
```

## How to fix
Raise `net.core.somaxconn` for the pod (`securityContext.sysctls`, the CNI
tuning plugin, or a privileged init container) -- for a Go server before
the process starts, since Go reads it once.
"""

from __future__ import annotations

from somaxlint.model import workload_label

CODE = "SMX021"
NAME = "queue-follows-low-somaxconn"
SEVERITY = "error"
SUMMARY = "A server whose accept queue is somaxconn (Go, Envoy) runs where somaxconn may be 128"

# The old kernel default for a new namespace (SOMAXCONN before Linux 5.4).
LOW = 128


def check(model):
    from somaxlint.model.processes import condition as when, process_finding, verdict

    this = (CODE, NAME, SEVERITY)
    for process in model.servers:
        low = [v for v in process.somaxconn.values if v <= LOW]
        if not low:
            continue
        module = process.module
        for listener in process.listeners:
            if not listener.serves:
                continue  # a control socket or admin endpoint: listed by explain only
            if listener.above_somaxconn != "follows":
                continue
            v = verdict(process, low, listener, limit=min(low))
            # the kernel clause only when the kernel is what is uncertain
            condition = "" if len(low) == len(process.somaxconn.values) else when(model.settings, process.somaxconn)
            message = (
                f"{module.TITLE}'s accept queue is net.core.somaxconn ({listener.origin.split('(', 1)[-1].rstrip(')')}), "
                f"which is {v.limit}{condition} in the network namespace of {workload_label(process.workload)} "
                f"({v.setting.detail if v.setting else 'unknown'}): container {process.container.name!r} can hold at most "
                f"{v.limit + 1} connections waiting for accept(). Raise net.core.somaxconn for the pod"
            )
            yield process_finding(this, process, listener, v, message, listener.address_port, {"somaxconn": v.limit})

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

from linter.findings import Finding, Related
from linter.model import workload_label
from linter.model.netns import somaxconn_related

CODE = "SMX021"
NAME = "queue-follows-low-somaxconn"
SEVERITY = "error"
SUMMARY = "A server whose accept queue is somaxconn (Go, Envoy) runs where somaxconn may be 128"

# The old kernel default for a new namespace (SOMAXCONN before Linux 5.4).
LOW = 128


def check(model):
    for process in model.processes:
        somaxconn = process.somaxconn
        low = [v for v in somaxconn.values if v <= LOW]
        if not low:
            continue
        certain = len(low) == len(somaxconn.values)
        limit = min(low)
        setting = somaxconn.setting_for(limit)
        module = process.module
        for listener in process.listeners:
            if listener.above_somaxconn != "follows":
                continue
            related = list(somaxconn_related(setting))
            related.append(Related(process.container.location, process.container.label))
            assumptions = (somaxconn.assumption,) if somaxconn.assumption and not certain else ()
            condition = "" if certain else " if the node kernel is older than Linux 5.4"
            message = (
                f"{module.TITLE}'s accept queue is net.core.somaxconn ({listener.origin.split('(', 1)[-1].rstrip(')')}), "
                f"which is {limit}{condition} in the network namespace of {workload_label(process.workload)} "
                f"({setting.detail if setting else 'unknown'}): container {process.container.name!r} can hold at most "
                f"{limit + 1} connections waiting for accept(). Raise net.core.somaxconn for the pod"
            )
            if assumptions:
                message += f" (assumption: {assumptions[0]})"
            yield Finding(
                CODE,
                NAME,
                SEVERITY if certain else "warning",
                message,
                listener.location,
                related=tuple(related),
                assumptions=assumptions,
                subject="|".join((process.workload.ref, process.container.name, module.NAME)),
                helm_source=process.workload.obj.helm_source,
                objects=(process.workload.ref,),
                extra={"server": module.NAME, "somaxconn": limit},
            )

"""An ingress-nginx controller runs in a namespace whose somaxconn was not
raised: its backlog follows somaxconn, so the kernel default limits all
ingress traffic.

## What it does
Recognises ingress-nginx controller containers by image
(`…/ingress-nginx/controller`, `…/nginx-ingress-controller`) and checks
their network namespace's `net.core.somaxconn`. The controller reads
somaxconn in its own namespace and writes `backlog=<somaxconn>` on its
listeners, or `backlog=511` when somaxconn is below 512. On a kernel
before 5.4 a fresh namespace has 128: every ingress connection queues in
an accept queue of 128 (an error when the kernel is known to be older than
5.4, a warning naming the assumption when it is unknown). From 5.4 the
default 4096 is used and nothing is reported. `hostNetwork` controllers
use the node's value (`node.sysctls`); when that is unknown nothing is
reported.

## Why it matters
The ingress controller is in the path of every request; the incident's
128-connection queue in front of it drops SYNs for the whole cluster as
soon as the controller falls behind.

## Example
```yaml
containers:
  - name: controller
    image: registry.k8s.io/ingress-nginx/controller:v1.9.4
# no sysctls, no init container, nodes on Linux 4.19: somaxconn 128
```

## How to fix
Raise `net.core.somaxconn` for the controller pods (Helm value
`controller.sysctls`, an allowed unsafe sysctl; the CNI tuning plugin; or
the privileged init container of the project's sysctl example).
"""

from __future__ import annotations

from somaxlint import facts
from somaxlint.findings import Finding, Related

CODE = "SMX012"
NAME = "controller-backlog-follows-somaxconn"
SEVERITY = "error"
SUMMARY = "An ingress-nginx controller's backlog follows a somaxconn that was not raised"

# internal/ingress/controller/util.go sysctlSomaxconn(): below 512 -> 511
CONTROLLER_MINIMUM = 512


from somaxlint.servers.nginx import is_ingress_controller as is_controller  # noqa: E402


def check(model):
    for ns in model.namespaces:
        somaxconn = ns.somaxconn
        if somaxconn.raised or not somaxconn.values:
            continue
        for container in ns.workload.containers:
            if not is_controller(container.image):
                continue
            small = [v for v in somaxconn.values if v < CONTROLLER_MINIMUM]
            if not small:
                continue
            certain = len(small) == len(somaxconn.values)
            # a container beside it that raises somaxconn races the
            # controller's read of it (SMX007): which comes first decides
            racing = [w for w in ns.late_writes if w.name == "net.core.somaxconn" and w.container is not container]
            race = None
            if racing:
                w = racing[0]
                race = (
                    f"container '{w.container.name}' writes net.core.somaxconn={w.value} beside the controller; whether "
                    "that comes before the controller reads it is a race (SMX007): this is what the controller gets "
                    "if it reads first"
                )
                certain = False
            value = small[0]
            backlog = facts.kernel_clamp(facts.NGINX_DEFAULT_BACKLOG, value)
            message = (
                f"ingress-nginx controller {container.label} sizes its listen backlog from net.core.somaxconn, which is "
                f"{value} here ({somaxconn.setting.detail}){'' if certain else ' if the node kernel is older than Linux 5.4'}: "
                f"it writes backlog=511 and the kernel cuts it to {backlog}, so every ingress connection waits in a queue "
                f"of {backlog + 1}. Raise net.core.somaxconn for the controller pods"
            )
            assumptions = tuple(a for a in ((somaxconn.assumption if len(small) != len(somaxconn.values) else None), race) if a)
            for assumption in assumptions:
                message += f" (assumption: {assumption})"
            location = ns.workload.obj.value_loc(container.node, "image")
            yield Finding(
                CODE,
                NAME,
                SEVERITY if certain else "warning",
                message,
                location,
                related=(Related(container.location, container.label),),
                assumptions=assumptions,
                subject=f"{ns.workload.ref}|{container.name}",
                helm_source=ns.workload.obj.helm_source,
                objects=(ns.workload.ref,),
            )

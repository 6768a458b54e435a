"""Two containers of one pod listen on the same port: one of them cannot
bind, exits, and the pod crash-loops.

## What it does
Compares the listening sockets of every container of a pod -- nginx,
Redis, Apache, HAProxy and every server somaxlint reads, as each is
configured -- and reports a socket that overlaps one of an earlier
container: the same address and port, or a wildcard (`0.0.0.0`, `::`,
`*`) and any address of its family on the port. The location is the
later container's socket; the earlier one's is related.

## Why it matters
The containers of a pod share one network namespace, so one port. Linux
refuses a second socket on an address and port that another socket of the
namespace listens on (`bind()` fails with `EADDRINUSE`, SO_REUSEADDR or
not; net/ipv4/inet_connection_sock.c), unless both set SO_REUSEPORT. The
server that binds second exits (`bind() to 0.0.0.0:80 failed (98: Address
already in use)`, Redis's `Could not create server TCP listening socket
*:6379: bind: Address already in use`), the kubelet restarts it, and the
pod never gets ready -- a sidecar added on the app's port, two images of
one server in one pod, a port left at the image's default. The kubelet
starts the containers in the order of the spec without waiting, so which
one loses is a race: the later one in the spec is said to, and its
backlog findings become warnings that rest on its winning (`explain`:
its `bind_conflict` names the other, `ss_line` is null).

Not reported: an IPv4 wildcard beside an IPv6 one (they overlap only when
the IPv6 socket is dual-stack, which the listeners do not say), and two
sockets that both set SO_REUSEPORT (nginx's `reuseport`).

## Example
```yaml
containers:
  - name: web
    image: nginx:1.25           # listens on 0.0.0.0:80
  - name: metrics
    image: httpd:2.4            # Listen 80 in its httpd.conf: exits with EADDRINUSE
```

## How to fix
Give each container its own port (and the Service its `targetPort`), or
drop the duplicate server.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX026"
NAME = "pod-port-conflict"
SEVERITY = "error"
SUMMARY = "two containers of one pod listen on one port: the second cannot bind and the pod crash-loops"


def check(model):
    for conflict in model.port_conflicts:
        loser, listener, winner, other = conflict.loser, conflict.listener, conflict.winner, conflict.other
        message = (
            f"container '{loser.container.name}' ({loser.module.TITLE}) listens on {listener.address_port}, and container "
            f"'{winner.container.name}' ({winner.module.TITLE}) of the same pod {loser.workload.ref} on {other.address_port}: "
            "the containers of a pod share one network namespace, so the one that binds second fails with EADDRINUSE, "
            "exits, and the pod crash-loops. Give each container its own port"
        )
        related = (
            Related(other.bound_at or other.location, f"{winner.module.TITLE} of container '{winner.container.name}' listens on {other.address_port}"),
            Related(winner.container.location, winner.container.label),
        ) + loser.related()
        yield Finding(
            CODE, NAME, SEVERITY, message, listener.bound_at or listener.location, related=related,
            subject=f"{loser.owner}|{loser.container.name}|{listener.address_port}|{winner.container.name}",
            helm_source=listener.helm_source, objects=(loser.workload.ref,),
        )

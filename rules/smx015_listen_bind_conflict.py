"""A specific address with socket options shares a port with a wildcard
`listen`: on Linux nginx cannot open both sockets and refuses to start.

## What it does
Finds, per nginx module and address family, a port on which one `listen`
uses the wildcard address (`listen 80;`, `listen [::]:80;`) and another
names a specific address *and* carries a socket option (`backlog=`,
`reuseport`, `bind`, `rcvbuf=`, ...). Socket options imply `bind`, so
nginx opens a separate socket for the specific address; Linux then refuses
the wildcard's `bind()` with `EADDRINUSE` because the specific socket is
already listening, and nginx exits: `bind() to 0.0.0.0:80 failed (98:
Address already in use)`. `nginx -t` does not bind and does not notice.
(When both sockets use `reuseport`, Linux lets both bind.)

## Why it matters
The configuration passes `nginx -t` and fails only when the pod starts:
a crash loop, found in production.

## Example
```nginx
server { listen 8080; }
server { listen 127.0.0.2:8080 backlog=300; }   # nginx fails to start on Linux
```

## How to fix
Put the socket options on the wildcard `listen` (one socket serves every
address on the port), or listen on specific addresses only, or use
different ports.
"""

from __future__ import annotations

from linter.findings import Finding, Related

CODE = "SMX015"
NAME = "listen-bind-conflict"
SEVERITY = "error"
SUMMARY = "A specific address with socket options shares a port with a wildcard listen: nginx cannot start on Linux"


def check(model):
    for server in model.nginx_servers:
        by_port = {}
        for socket in server.sockets:
            if socket.family == "unix":
                continue
            by_port.setdefault((socket.module, socket.family, socket.port), []).append(socket)
        for sockets in by_port.values():
            wildcard = next((s for s in sockets if s.listens[0].wildcard), None)
            if wildcard is None:
                continue
            for socket in sockets:
                if socket is wildcard:
                    continue
                if _reuseport(socket) and _reuseport(wildcard):
                    continue  # SO_REUSEPORT on both lets Linux bind both
                directive = socket.directive
                other = wildcard.directive
                yield Finding(
                    CODE,
                    NAME,
                    SEVERITY,
                    f"listen {socket.address_port} carries socket options, so nginx binds it separately, and the "
                    f"wildcard listen {wildcard.address_port} on the same port then fails on Linux with "
                    "EADDRINUSE (the specific socket is already listening): nginx will not start. Move the options "
                    "to the wildcard listen or drop the wildcard",
                    directive.source.locate(directive.line, directive.column),
                    related=(Related(other.source.locate(other.line, other.column), f"wildcard listen {wildcard.address_port}"),),
                    subject=f"{server.workload.ref if server.workload else server.config.main.label}|{socket.module}|{socket.address_port}",
                    helm_source=directive.source.helm_source,
                    objects=(server.workload.ref,) if server.workload else (),
                )


def _reuseport(socket) -> bool:
    return socket.owner is not None and "reuseport" in socket.owner.options

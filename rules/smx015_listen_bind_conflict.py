"""Two `listen` sockets of one nginx overlap on a port: on Linux nginx
cannot open both and refuses to start.

## What it does
Finds the TCP sockets of one nginx process that the kernel will not let
listen side by side on the same port:

* a specific address with socket options beside a wildcard of its family
  (`listen 80;` and `listen 127.0.0.2:80 backlog=300;`): socket options
  imply `bind`, so nginx opens a separate socket for the specific address;
* a dual-stack wildcard (`listen [::]:80 ipv6only=off;`) beside any IPv4
  socket on the port (`listen 80;`): the IPv6 socket also takes IPv4;
* the same address in two modules (`http` and `stream` both `listen
  8080;`): each module opens its own sockets.

nginx sets SO_REUSEADDR, which lets Linux bind a second socket to an
overlapping address only while the first is not listening; nginx listens
on each socket as it opens it, so the second `bind()` fails with
`EADDRINUSE` and nginx exits: `bind() to 0.0.0.0:80 failed (98: Address
already in use)`. `nginx -t` does not bind and does not notice. When both
sockets set `reuseport`, Linux lets both bind and nginx starts (each is
then a queue of its own). Every case is checked against the kernel in
tests/kernel.

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
different ports; a dual-stack listen replaces the IPv4 wildcard rather
than joining it. Where two sockets on one port are really wanted, set
`reuseport` on both.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX015"
NAME = "listen-bind-conflict"
SEVERITY = "error"
SUMMARY = "Two listen sockets of one nginx overlap on a port (wildcard, dual-stack, http and stream): nginx cannot start on Linux"


def check(model):
    for server in model.nginx_servers:
        for socket, other in server.bind_conflicts:
            directive = socket.directive
            first = other.directive
            if other.wildcard and not socket.wildcard and other.family == socket.family:
                why = (
                    f"listen {socket.address_port} carries socket options, so nginx binds it separately, and the "
                    f"wildcard listen {other.address_port} on the same port"
                )
                fix = "Move the options to the wildcard listen or drop the wildcard"
            elif socket.dual_stack or other.dual_stack:
                dual, v4 = (socket, other) if socket.dual_stack else (other, socket)
                why = (
                    f"listen {dual.address_port} ipv6only=off takes IPv4 too, so it and listen {v4.address_port} "
                    "on the same port overlap: the second socket"
                )
                fix = "Drop the IPv4 listen (the dual-stack socket serves both) or set ipv6only=on"
            else:
                why = (
                    f"listen {socket.address_port} in {socket.module} and listen {other.address_port} in "
                    f"{other.module} are separate sockets on the same address and port: the second"
                )
                fix = "Use different ports, or set reuseport on both"
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"{why} then fails on Linux with EADDRINUSE (the other socket is already listening): nginx will "
                f"not start. {fix}",
                directive.source.locate(directive.line, directive.column),
                related=(Related(first.source.locate(first.line, first.column), f"listen {other.address_port} ({other.module})"),),
                subject=f"{server.owner}|{socket.module}|{socket.address_port}",
                helm_source=directive.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )

"""nginx cannot open a `listen` socket on Linux: two sockets overlap on a
port (or a UNIX path), or the kernel refuses the socket itself; nginx
refuses to start.

## What it does
Finds the sockets of one nginx process that the kernel will not let
listen side by side:

* a specific address with socket options beside a wildcard of its family
  (`listen 80;` and `listen 127.0.0.2:80 backlog=300;`): socket options
  imply `bind`, so nginx opens a separate socket for the specific address;
* a dual-stack wildcard (`listen [::]:80 ipv6only=off;`) beside any IPv4
  socket on the port (`listen 80;`): the IPv6 socket also takes IPv4; so
  does an IPv4-mapped address with `ipv6only=off` (`listen
  [::ffff:127.0.0.1]:80 ipv6only=off;` takes 127.0.0.1:80);
* the same address in two modules (`http` and `stream` both `listen
  8080;`): each module opens its own sockets;
* the same `unix:` path in two modules (`http` and `stream` or `mail`):
  the second socket finds the file the first one bound.

nginx sets SO_REUSEADDR, which lets Linux bind a second TCP socket to an
overlapping address only while the first is not listening; nginx listens
on each socket as it opens it, so the second `bind()` fails with
`EADDRINUSE` and nginx exits: `bind() to 0.0.0.0:80 failed (98: Address
already in use)` (`bind() to unix:/run/app.sock failed (98: Address
already in use)` for a path). `nginx -t` does not notice. When both TCP
sockets set `reuseport`, Linux lets both bind and nginx starts (each is
then a queue of its own).

It also finds the sockets Linux refuses whatever else nginx listens on:

* an IPv4-mapped IPv6 address (`listen [::ffff:127.0.0.1]:8080;`) on a
  socket that is IPv6-only, as nginx makes every IPv6 socket unless the
  listen says `ipv6only=off`: `bind() to [::ffff:127.0.0.1]:8080 failed
  (22: Invalid argument)`, at start-up and at `nginx -t`, which binds too
  (net/ipv6/af_inet6.c `__inet6_bind`: binding a v4-mapped address on a
  v6-only socket is EINVAL). Such an address without socket options beside
  a `[::]` listen on its port shares that socket and is never bound;
* `reuseport` on a `unix:` listen: Linux 6.13, and the stable kernels of
  January 2025, refuse SO_REUSEPORT on a UNIX socket (commit 5b0af621c3f6,
  "net: restrict SO_REUSEPORT to inet sockets"): `setsockopt(SO_REUSEPORT)
  unix:/run/app.sock failed (95: Operation not supported)` at start-up
  (`nginx -t` does not set the option). Older kernels ignore it, and then
  the copy of the socket nginx makes for each further worker
  (`ngx_clone_listening`) binds the same path: EADDRINUSE. So this is an
  error with more than one worker, and with one worker a warning unless
  the configuration's `kernel` is 6.13 or later.

Every message is checked against the kernel with nginx 1.22.1 in
tests/kernel.

## Why it matters
The configuration passes `nginx -t` (all but the IPv4-mapped address) and
fails only when the pod starts: a crash loop, found in production.

## Example
```nginx
server { listen 8080; }
server { listen 127.0.0.2:8080 backlog=300; }   # EADDRINUSE: nginx fails to start on Linux
server { listen [::ffff:10.0.0.5]:8081; }        # EINVAL: an IPv4-mapped address on an IPv6-only socket
server { listen unix:/run/app.sock reuseport; }  # EOPNOTSUPP: SO_REUSEPORT on a UNIX socket
```

## How to fix
Put the socket options on the wildcard `listen` (one socket serves every
address on the port), or listen on specific addresses only, or use
different ports; a dual-stack listen replaces the IPv4 wildcard rather
than joining it. Where two TCP sockets on one port are really wanted, set
`reuseport` on both. Give each module's UNIX socket a path of its own, and
no `reuseport`. Listen on an IPv4 address as IPv4 (`listen
10.0.0.5:8081;`), or add `ipv6only=off` to the mapped one.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX015"
NAME = "listen-bind-conflict"
SEVERITY = "error"
SUMMARY = "nginx cannot open a listen socket on Linux (two overlap on a port or path; an IPv4-mapped IPv6-only or a unix: reuseport socket): it does not start"


def check(model):
    for server in model.nginx_servers:
        for socket, other in server.bind_conflicts:
            directive = socket.directive
            first = other.directive
            if socket.family == "unix":
                why = (
                    f"listen {socket.address_port} in {socket.module} and listen {other.address_port} in "
                    f"{other.module} are separate sockets on one path: the second bind() finds the file the first "
                    "one bound and"
                )
                fix = "Give each module's socket a path of its own"
            elif other.wildcard and not socket.wildcard and other.family == socket.family:
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
            elif socket.family != other.family or (socket.mapped or other.mapped):
                mapped, v4 = (socket, other) if socket.mapped else (other, socket)
                why = (
                    f"listen {mapped.address_port} ipv6only=off binds the IPv4 address {mapped.mapped}, so it and "
                    f"listen {v4.address_port} on the same port overlap: the second socket"
                )
                fix = f"Listen on {mapped.mapped}:{mapped.port} once, or set reuseport on both"
            else:
                why = (
                    f"listen {socket.address_port} in {socket.module} and listen {other.address_port} in "
                    f"{other.module} are separate sockets on the same address and port: the second"
                )
                fix = "Use different ports, or set reuseport on both"
            already = "" if socket.family == "unix" else " (the other socket is already listening)"
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"{why} then fails on Linux with EADDRINUSE{already}: nginx will not start. {fix}",
                directive.source.locate(directive.line, directive.column),
                related=(Related(first.source.locate(first.line, first.column), f"listen {other.address_port} ({other.module})"),),
                subject=f"{server.owner}|{socket.module}|{socket.address_port}",
                helm_source=directive.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )
        for failure in server.start_failures:
            socket = failure.socket
            d = socket.directive
            when = "at start-up and at nginx -t" if failure.at_test else "at start-up (nginx -t does not see it)"
            condition = f" {failure.condition}" if failure.condition else ""
            assumptions = (failure.assumption,) if failure.assumption else ()
            message = (
                f"nginx cannot open listen {socket.address_port}{condition}: {failure.why}. nginx logs "
                f"\"{failure.message}\" and exits {when}, so nothing of this configuration starts. {failure.fix}"
            )
            for assumption in assumptions:
                message += f" (assumption: {assumption})"
            yield Finding(
                CODE,
                NAME,
                SEVERITY if failure.certain else "warning",
                message,
                d.source.locate(d.line, d.column),
                assumptions=assumptions,
                subject=f"{server.owner}|{socket.module}|{socket.address_port}|refused",
                helm_source=d.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )

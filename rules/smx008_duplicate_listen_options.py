"""Socket options on more than one `listen` for the same address:port:
nginx refuses to start.

## What it does
Within one nginx configuration (per module), finds a second `listen` for an
address:port that already has a `listen` with socket options -- `backlog=`,
`reuseport`, `rcvbuf=`, `sndbuf=`, `deferred`, `fastopen=`, `bind`,
`ipv6only=`, `so_keepalive=`, `setfib=`, `accept_filter=`, `multipath` --
when it carries socket options too, even identical ones. `8080` and
`127.0.0.1:8080` are different addresses for this rule, as for nginx.
(`default_server`, `ssl`, `http2`, `proxy_protocol` are not socket options.)

## Why it matters
nginx stops with `[emerg] duplicate listen options for 127.0.0.1:8080`:
the pod crash-loops. It happens easily when `backlog=` is added to every
server block while raising the backlog.

## Example
```nginx
server { listen 80 backlog=4096; server_name a; }
server { listen 80 backlog=4096; server_name b; }   # duplicate listen options
```

## How to fix
Keep the socket options on one `listen` per address:port (any of the
server blocks); the socket they configure serves all of them.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX008"
NAME = "duplicate-listen-options"
SEVERITY = "error"
SUMMARY = "Socket options on more than one listen for the same address:port: nginx refuses to start"


def check(model):
    for server in model.nginx_servers:
        first = {}
        for listen in server.listen_set.listens:
            if listen.implicit or not listen.sets_socket_options:
                continue
            key = listen.key
            if key not in first:
                first[key] = listen
                continue
            earlier = first[key].directive
            d = listen.directive
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"duplicate listen options for {listen.address_port}: socket options are already set by another "
                "listen for this address:port, and nginx refuses to start. Keep them on one listen only",
                d.source.locate(d.line, d.column),
                related=(Related(earlier.source.locate(earlier.line, earlier.column), f"first listen {listen.address_port} with socket options"),),
                subject=f"{d.source.label}|{listen.module}|{listen.address_port}",
                helm_source=d.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )

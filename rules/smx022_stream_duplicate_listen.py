"""Two stream `listen`s share an address and port on an nginx older than
1.25.5, which has no stream virtual servers: nginx refuses to start.

## What it does
For every nginx whose version is known -- from the container's image tag
(`nginx:1.22`, `nginx:1.24.0-alpine`, `openresty/openresty:1.21.4.1`) or
`nginx.version` in the configuration -- and older than 1.25.5, finds two
`listen`s in `stream` servers on the same address and port (after host
names are resolved), or on the same `unix:` path (TCP and UDP listens are
told apart). Such an nginx stops at start-up and at `nginx -t`: `[emerg]
duplicate "0.0.0.0:8090" address and port pair` (`duplicate
"unix:/run/db.sock" address and port pair` for a path;
ngx_stream_core_listen in src/stream/ngx_stream_core_module.c, checked
with nginx 1.22.1 in tests/kernel). nginx 1.25.5 added virtual servers to
the stream module, and from then on the servers share one socket (the
model's answer when the version is not known, which `explain` says). The
mail module never had virtual servers: SMX023 reports its duplicates.

## Why it matters
A stream configuration written for a current nginx and deployed with an
older image (a pinned tag, a distribution's package) crash-loops.

## Example
```nginx
# image nginx:1.22
stream {
    server { listen 5432; proxy_pass db-a:5432; }
    server { listen 5432; proxy_pass db-b:5432; }   # duplicate address and port pair
}
```

## How to fix
Give each stream server its own port, address or path, or run nginx 1.25.5
or later (and route by `server_name`/SNI there).
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX022"
NAME = "stream-duplicate-listen"
SEVERITY = "error"
SUMMARY = "Two stream listens share an address and port (or a unix: path) on an nginx before 1.25.5: nginx refuses to start"


def check(model):
    for server in model.nginx_servers:
        for duplicate in server.duplicates:
            listen = duplicate.listen
            if duplicate.kind != "pair" or listen.module != "stream":
                continue
            earlier = duplicate.earlier.directive
            d = listen.directive
            version = ".".join(str(n) for n in server.version[:2]) if server.version[2] == 999 else ".".join(map(str, server.version))
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f'nginx {version} ({server.version_source}) has no stream virtual servers: a second stream listen on '
                f'{listen.address_port} is refused with "duplicate \\"{listen.address_port}\\" address and port pair", and '
                "nginx will not start. Use another port, address or path for this server, or nginx 1.25.5 or later",
                d.source.locate(d.line, d.column),
                related=(Related(earlier.source.locate(earlier.line, earlier.column), f"first stream listen {listen.address_port}"),),
                subject=f"{server.owner}|stream|{listen.address_port}|{d.line}",
                helm_source=d.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )

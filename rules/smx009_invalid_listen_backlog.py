"""nginx refuses the `backlog=` value of a `listen`.

## What it does
Reports `backlog=` values nginx rejects with `invalid backlog`: `0`,
negative numbers, anything that is not a decimal number, and numbers that
become 0 or -1 once nginx stores them in a C `int` (e.g. 4294967296).

## Why it matters
nginx stops at start-up with `[emerg] invalid backlog "backlog=0"`. A
backlog of -1 -- which would make the kernel use somaxconn -- cannot be
written in nginx.

## Example
```nginx
listen 80 backlog=-1;     # invalid backlog "backlog=-1"
```

## How to fix
Give a positive number: the accept queue you want, no larger than the
pod's `net.core.somaxconn`.
"""

from __future__ import annotations

from somaxlint.findings import Finding

CODE = "SMX009"
NAME = "invalid-listen-backlog"
SEVERITY = "error"
SUMMARY = "nginx refuses the listen backlog= value"


def check(model):
    for server in model.nginx_servers:
        seen = set()
        for listen in server.listen_set.listens:
            # a host name resolving to several addresses is one listen
            # directive: one finding
            if listen.backlog_error is None or id(listen.directive) in seen:
                continue
            seen.add(id(listen.directive))
            d = listen.directive
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"nginx refuses this listen: {listen.backlog_error}; give a positive number of at most the "
                "pod's net.core.somaxconn",
                d.source.locate(d.line, d.column),
                subject=f"{d.source.label}|{listen.module}|{listen.address_port}",
                helm_source=d.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )

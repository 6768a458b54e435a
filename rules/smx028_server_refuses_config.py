"""A server refuses its configuration at start-up and exits.

## What it does
Reports what a server's own configuration check rejects before it
listens, in the server's words, at the line that causes it: for Apache
httpd (server/listen.c), a `ListenBacklog` below 1 ("ListenBacklog must be
> 0"), two `Listen` of one address and port ("Cannot define multiple
Listeners on the same IP:port"), and `Listen` or `ListenBacklog` inside a
`<VirtualHost>` ("Listen cannot occur within <VirtualHost> section"). httpd
prints "AH00526: Syntax error on line N of FILE:" with the message and
exits. Such a server has no listener: nothing else is reported about its
sockets. (nginx's refusals are SMX024's; uWSGI's refusal of a queue above
somaxconn is SMX020's.)

## Why it matters
The container exits at every start and the pod crash-loops, often after a
change meant only to tune the queue.

## Example
```apache
Listen 8080
<VirtualHost *:8080>
    Listen 8443          # refused: Listen is a global directive
</VirtualHost>
```

## How to fix
Do what the message says: a positive `ListenBacklog`, one `Listen` per
address and port, and both directives at the top level of the main
configuration.
"""

from __future__ import annotations

CODE = "SMX028"
NAME = "server-refuses-config"
SEVERITY = "error"
SUMMARY = "A server rejects its configuration at start-up (Apache httpd's Listen and ListenBacklog errors) and exits"


def check(model):
    from somaxlint.findings import Finding

    for process in model.servers:
        for refusal in process.config_refusals:
            module = process.module
            message = (
                f"{module.TITLE} refuses its configuration and exits: \"{refusal.message}\"; {process.label} "
                "crash-loops and listens on nothing"
            )
            yield Finding(
                CODE, NAME, SEVERITY, message, refusal.location,
                related=process.related(),
                subject="|".join((process.owner, process.container.name, module.NAME, refusal.message)),
                objects=(process.workload.ref,) if process.workload else (),
                helm_source=process.workload.obj.helm_source if process.workload else None,
                extra={"server": module.NAME},
            )

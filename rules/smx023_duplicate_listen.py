"""nginx refuses a `listen` that repeats an earlier one: in `mail`, or twice
in one http server, or `default_server` twice on one address.

## What it does
Finds the duplicates nginx rejects while it reads its configuration, on
every nginx version (the stream module's, which depend on the version, are
SMX022's):

* two `listen`s in `mail` servers on the same address and port, or the
  same `unix:` path: the mail module has no virtual servers, so every mail
  listen must be unique (`duplicate "127.0.0.1:8000" address and port
  pair`; ngx_mail_core_listen, src/mail/ngx_mail_core_module.c);
* one http `server` listening twice on one address and port, also when a
  host name resolves to it (`listen localhost:8000;` and `listen
  127.0.0.1:8000;`): `a duplicate listen 127.0.0.1:8000`
  (ngx_http_add_server, src/http/ngx_http.c);
* `default_server` on one address and port in two http servers: `a
  duplicate default server for 127.0.0.1:8000` (ngx_http_add_addresses,
  src/http/ngx_http.c).

Addresses are compared as nginx compares them: `listen 8000` (the
wildcard) and `listen 127.0.0.1:8000` are different addresses here, and
may each have their own default server. Host names are resolved through
the pod's /etc/hosts first. Each message was checked with nginx 1.22.1 in
tests/kernel; nginx stops at start-up and at `nginx -t`.

## Why it matters
The server does not start: the pod crash-loops, and every other server
block of the configuration is down with it.

## Example
```nginx
http {
    server { listen 8080 default_server; server_name a; }
    server { listen 8080 default_server; server_name b; }   # a duplicate default server
    server { listen localhost:8081; listen 127.0.0.1:8081; }  # a duplicate listen
}
mail {
    server { listen 2525; protocol smtp; }
    server { listen 2525; protocol smtp; }   # duplicate "0.0.0.0:2525" address and port pair
}
```

## How to fix
Keep one `listen` per address in each http server (drop the host name or
the address), mark one server per address as `default_server`, and give
each mail server its own port, address or path.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX023"
NAME = "duplicate-listen"
SEVERITY = "error"
SUMMARY = "A listen repeats an earlier one (in mail, twice in one http server, default_server twice): nginx refuses to start"

_ADVICE = {
    "pair": (
        "the mail module has no virtual servers, so each mail listen needs an address and port (or path) of its own",
        "Give this mail server its own port, address or path",
        "first mail listen",
    ),
    "listen": (
        "this http server already listens on {address}",
        "Keep one listen for {address} in this server",
        "first listen {address} of this server",
    ),
    "default": (
        "another http server is already the default server for {address}",
        "Mark one server per address as default_server",
        "first default_server for {address}",
    ),
}


def check(model):
    for server in model.nginx_servers:
        seen = set()
        for duplicate in server.duplicates:
            listen = duplicate.listen
            if duplicate.kind not in _ADVICE or (duplicate.kind == "pair" and listen.module != "mail"):
                continue
            d = listen.directive
            earlier = duplicate.earlier.directive
            # a host name resolving to two addresses, both duplicates: one
            # finding at the directive
            key = (duplicate.kind, id(d))
            if key in seen:
                continue
            seen.add(key)
            address = duplicate.earlier.address_port
            why, fix, label = (text.format(address=address) for text in _ADVICE[duplicate.kind])
            named = f" (the host name {listen.name} resolves to {listen.address})" if listen.name else ""
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"nginx refuses this listen{named}: {why}. It stops with \"{duplicate.message}\" (also at nginx -t), and "
                f"nothing of this configuration starts. {fix}",
                d.source.locate(d.line, d.column),
                related=(Related(earlier.source.locate(earlier.line, earlier.column), f"{label} {address}" if duplicate.kind == "pair" else label),),
                subject=f"{server.owner}|{listen.module}|{duplicate.kind}|{address}|{d.line}",
                helm_source=d.source.helm_source,
                objects=(server.workload.ref,) if server.workload else (),
            )

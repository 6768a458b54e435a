"""nginx refuses to load the configuration: an unknown directive, a
directive outside its contexts, no `events`, an `upstream` without
servers, an undefined variable. It does not start.

## What it does
Reads each nginx configuration as nginx does, with its includes in place,
and reports what nginx stops at while it reads it -- with nginx's own
words, at the directive nginx names:

* `unknown directive "proxy_passs"`: no module built into the image's
  nginx defines the name -- a typo, a directive of a newer (or older)
  nginx than the image's, or one of a module the image lacks or does not
  load (`js_import` on the official image without `load_module
  modules/ngx_http_js_module.so;`, `content_by_lua_block` without the Lua
  module of OpenResty);
* `"server" directive is not allowed here`: a module defines the name,
  but not for this context (a `server` block at the top of a main
  configuration, `content_by_lua_block` in `server`, `proxy_pass` in
  `http`);
* `no "events" section in configuration`: a main configuration without
  `events` (`events {}` is enough);
* `no servers are inside upstream`: an `upstream` block without `server`;
* `unknown "foo" variable`: a directive uses `$foo` and no `set`, `map`,
  `geo`, `split_clients`, regex capture or module defines it.

Which directives exist, where each is allowed and which variables nginx
provides come from the command and variable tables of nginx's sources,
release by release (`tools/nginx_directive_table.py`; ngx_conf_handler in
src/core/ngx_conf_file.c says the first two, ngx_event_init_conf in
src/event/ngx_event.c the third, ngx_http_upstream in
src/http/ngx_http_upstream.c the fourth, ngx_http_variables_init_vars in
src/http/ngx_http_variables.c the fifth). The version is the image tag's
(`nginx:1.22.1`, `openresty/openresty:1.21.4.1`) or `nginx.version`; the
modules are those the image is built with: the official `nginx` and
`nginxinc/nginx-unprivileged` images exactly (their dynamic modules --
njs, geoip, image-filter, xslt -- only once `load_module` loads them),
OpenResty with its Lua modules. It is an error when nginx refuses the
configuration whatever the input leaves open, and a warning that names the
assumption when it rests on what the input does not say (a version the
tag does not give, an upstream NGINX Plus might fill). A directive of a
module the image may have (Lua on an image somaxlint does not know module
by module, njs on a standalone file whose workload is not known) is not
reported: the configuration was written for an nginx that has it. A file
that is not a main configuration (a `conf.d` snippet) is checked in every
context it could be included in, and reported only where nginx refuses it
in all of them.
Each message is compared with `nginx -t` of nginx 1.22.1 in
tests/test_nginx_refusals.py. The backlog findings of a configuration
nginx refuses (SMX001 and others) are then warnings whose assumption is
that nginx starts, and `explain` says so for each of its sockets.

## Why it matters
nginx reads its whole configuration before it opens any socket, and stops
at the first error: the container exits, the pod crash-loops, and every
server of the configuration is down -- a worse outage than any queue
size. A reload with such a configuration is refused too, so the mistake
waits for the next restart.

## Example
```nginx
# mounted as /etc/nginx/nginx.conf of image nginx:1.22.1
server {                      # "server" directive is not allowed here (and no "events" section)
    listen 8080;
    location / {
        proxy_passs http://app;   # unknown directive "proxy_passs"
        add_header X-Id $reqid;   # unknown "reqid" variable
    }
}
```

## How to fix
Correct the directive's name, move it into a context nginx allows it in
(`server` blocks inside `http {}`), add `events {}` to the main
configuration, give each `upstream` a `server`, define the variable
(`set`, `map`) or correct its name, and load the module a directive needs
(`load_module modules/ngx_http_js_module.so;`) or run an image that has
it. Where the image is not one somaxlint knows, tell it which runs the
file (`servers:` in the configuration, or `nginx.version`).
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX024"
NAME = "nginx-refuses-config"
SEVERITY = "error"
SUMMARY = "nginx refuses the configuration (unknown directive, directive not allowed here, no events, empty upstream, unknown variable): it does not start"


def check(model):
    for server in model.nginx_servers:
        config = server.config
        for refusal in server.refusals:
            d = refusal.directive
            if d is not None:
                location = d.source.locate(d.line, d.column)
                helm_source = d.source.helm_source
            else:
                location = config.main.locate(1, 1)
                helm_source = config.main.helm_source
            if refusal.kind == "internal":
                yield Finding(CODE, NAME, "warning", refusal.message, location, subject=f"{server.owner}|internal",
                              helm_source=helm_source, objects=(server.workload.ref,) if server.workload else ())
                continue
            assumptions = (refusal.assumption,) if refusal.assumption and not refusal.certain else ()
            if refusal.certain:
                consequence = "nginx -t fails and nginx does not start, so no server of this configuration is up"
            else:
                consequence = "nginx -t fails and nginx does not start"
            message = f'nginx refuses this configuration with "{refusal.message}": {refusal.why}; {consequence}. {refusal.fix}'
            if d is None and refusal.kind == "events":
                message = f'nginx refuses this main configuration with "{refusal.message}": {refusal.why}; {consequence}. {refusal.fix}'
            for assumption in assumptions:
                message += f" (assumption: {assumption})"
            yield Finding(
                CODE,
                NAME,
                SEVERITY if refusal.certain else "warning",
                message,
                location,
                related=server.related(),
                assumptions=assumptions,
                subject=f"{server.owner}|{refusal.kind}|{refusal.message}",
                helm_source=helm_source,
                objects=(server.workload.ref,) if server.workload else (),
                extra={"nginx_message": refusal.message},
            )

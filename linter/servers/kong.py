"""Kong: OpenResty (nginx) configured through `proxy_listen`,
`admin_listen` and `status_listen`, each a comma-separated list of nginx
`listen` parameters.

Sources (../shared/facts/servers.md §2.25): defaults
(kong/templates/kong_defaults.lua:27-31) `proxy_listen = 0.0.0.0:8000
reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384`,
`admin_listen = 127.0.0.1:8001 reuseport backlog=16384, ...`,
`status_listen = 127.0.0.1:8007 reuseport backlog=16384`; every kong.conf key
can be set as `KONG_<KEY>` (kong/conf_loader/parse.lua:919). An entry
without `backlog=` gets nginx's default 511. kong.conf.default:477-487:
"On Linux, this value is limited by the setting of the
net.core.somaxconn kernel parameter".

Only the three listen keys with a known default are modelled. `reuseport`
opens one socket per worker process (Kong's worker count is not read: one
listener stands for them all, as nginx's rows do with reuseport).
"""

from __future__ import annotations

from typing import List, Optional

from linter.servers import Launch, Listener, parse_int

NAME = "kong"
TITLE = "Kong"
IMAGES = ("kong", "kong-gateway")
COMMANDS = ("kong",)
DEFAULT_BACKLOG = 16384
DEFAULT_PORT = 8000
KNOB = "backlog=N in KONG_PROXY_LISTEN / KONG_ADMIN_LISTEN / KONG_STATUS_LISTEN (proxy_listen ... in kong.conf)"
SOURCE = "kong/templates/kong_defaults.lua:27-31 proxy_listen ... reuseport backlog=16384; servers.md §2.25"
STARTUP_WARNING = ""

NGINX_DEFAULT_BACKLOG = 511

DEFAULTS = {
    "KONG_PROXY_LISTEN": "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
    "KONG_STATUS_LISTEN": "127.0.0.1:8007 reuseport backlog=16384",
}


def listeners(launch: Launch) -> List[Listener]:
    out = []
    for key in ("KONG_PROXY_LISTEN", "KONG_ADMIN_LISTEN", "KONG_STATUS_LISTEN"):
        word = launch.env.get(key)
        if word is not None:
            text, location, explicit = word.text, word.location, True
        elif key in DEFAULTS:
            text, location, explicit = DEFAULTS[key], launch.started_at, False
        else:
            continue  # admin_listen's full default is not in the facts: not guessed
        if text.strip() == "off":
            continue
        for entry in text.split(","):
            listener = _entry(key, entry.strip(), location, explicit)
            if listener is not None:
                out.append(listener)
    return out


def _entry(key: str, entry: str, location, explicit: bool) -> Optional[Listener]:
    parts = entry.split()
    if not parts:
        return None
    host, _, port_text = parts[0].rpartition(":")
    port = parse_int(port_text)
    backlog, origin = NGINX_DEFAULT_BACKLOG, f"{key} {parts[0]} without backlog= (nginx's default {NGINX_DEFAULT_BACKLOG})"
    for flag in parts[1:]:
        if flag.startswith("backlog=") and parse_int(flag[len("backlog="):]) is not None:
            backlog = parse_int(flag[len("backlog="):])
            origin = f"{key} {parts[0]} backlog={backlog}" + ("" if explicit else " (Kong's default)")
    return Listener(NAME, host or "*", port, backlog, origin, location, explicit, KNOB)

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

Only the listen keys with a known default are modelled (admin_listen's is
used only to know whether it is on). `reuseport` opens one socket per
worker process (Kong's worker count is not read: one listener stands for
them all, as nginx's rows do with reuseport).

Read beyond the sheet (Kong/kong @ 22246ef2): `admin_gui_listen = 0.0.0.0:8002,
0.0.0.0:8445 ssl` (kong/templates/kong_defaults.lua:30: no `backlog=`, so
nginx's 511), served by the kong_gui server block only when the role is
traditional or control_plane and both admin_listen and admin_gui_listen
list something (kong/templates/nginx_kong.lua:510-514); likewise the proxy
needs the role traditional or data_plane (:65), the Admin API
traditional or control_plane (:416); `role = traditional` and
`admin_listen = 127.0.0.1:8001 ..., 127.0.0.1:8444 ...` by default
(kong_defaults.lua:203, :29). kong.conf: the file `-c`/`--conf` names
(kong/cmd/start.lua:121), else the first of /etc/kong/kong.conf,
/etc/kong.conf that exists (kong/conf_loader/constants.lua:81-84,
conf_loader/init.lua:229-251) -- read when the input provides it --
`key = value` lines, `#` comments (load_config(), conf_loader/init.lua:127-153);
KONG_<KEY> environment variables win over it (parse.lua:919).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.servers import Launch, Listener, Option, Word, config_file, find_option, parse_int, parsed

NAME = "kong"
TITLE = "Kong"
IMAGES = ("kong", "kong-gateway")
COMMANDS = ("kong",)
DEFAULT_BACKLOG = 16384
DEFAULT_PORT = 8000
KNOB = "backlog=N in KONG_PROXY_LISTEN / KONG_ADMIN_LISTEN / KONG_STATUS_LISTEN / KONG_ADMIN_GUI_LISTEN (proxy_listen ... in kong.conf)"
SOURCE = "kong/templates/kong_defaults.lua:27-31 proxy_listen ... reuseport backlog=16384; servers.md §2.25"
STARTUP_WARNING = ""

NGINX_DEFAULT_BACKLOG = 511

DEFAULTS = {
    "KONG_PROXY_LISTEN": "0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384",
    "KONG_STATUS_LISTEN": "127.0.0.1:8007 reuseport backlog=16384",
    "KONG_ADMIN_GUI_LISTEN": "0.0.0.0:8002, 0.0.0.0:8445 ssl",
}
LISTEN_KEYS = ("KONG_PROXY_LISTEN", "KONG_ADMIN_LISTEN", "KONG_STATUS_LISTEN", "KONG_ADMIN_GUI_LISTEN")
DEFAULT_ROLE = "traditional"
# which roles serve each listener (nginx_kong.lua:65, 416, 510)
ROLES = {
    "KONG_PROXY_LISTEN": ("traditional", "data_plane"),
    "KONG_ADMIN_LISTEN": ("traditional", "control_plane"),
    "KONG_ADMIN_GUI_LISTEN": ("traditional", "control_plane"),
}
CONF = Option(long=("--conf",), short=("-c",))
CONF_PATHS = ("/etc/kong/kong.conf", "/etc/kong.conf")


def listeners(launch: Launch) -> List[Listener]:
    settings, assumption = _conf(launch)
    for key, word in launch.env.items():
        if key.startswith("KONG_"):
            settings[key] = (word, key)  # the environment wins over kong.conf
    role_set = settings.get("KONG_ROLE")
    role = role_set[0].text.strip() if role_set is not None else DEFAULT_ROLE
    admin = settings.get("KONG_ADMIN_LISTEN")
    admin_on = admin is None or admin[0].text.strip() != "off"  # the default lists two
    out = []
    for key in LISTEN_KEYS:
        if role not in ROLES.get(key, (role,)):
            continue
        if key == "KONG_ADMIN_GUI_LISTEN" and not admin_on:
            continue  # the Manager needs the Admin API (nginx_kong.lua:510)
        found = settings.get(key)
        if found is not None:
            text, location, explicit, name = found[0].text, found[0].location, True, found[1]
        elif key in DEFAULTS:
            text, location, explicit, name = DEFAULTS[key], launch.started_at, False, key[len("KONG_"):].lower()
        else:
            continue  # admin_listen's default is not on the facts sheet: not guessed
        if text.strip() == "off":
            continue
        for entry in text.split(","):
            listener = _entry(name, entry.strip(), location, explicit)
            if listener is not None:
                # what the environment sets does not rest on kong.conf
                out.append(listener if found is not None and found[1] == key else _assume(listener, assumption))
    return out


def _assume(listener: Listener, assumption: Optional[str]) -> Listener:
    if assumption is None:
        return listener
    from ..records import replace

    return replace(listener, assumption=assumption)


def _conf(launch: Launch) -> Tuple[Dict[str, Tuple[Word, str]], Optional[str]]:
    """KONG_<KEY> -> (its value in kong.conf, the key as written), when the
    input provides the file, and the assumption the defaults rest on when a
    named file is not in the input."""
    found = find_option(launch.words, CONF)
    if found is not None:
        read, assumption = config_file(launch, found[0], "listen key")
    else:
        read, assumption = None, None
        for path in CONF_PATHS:
            read = launch.read(path)
            if read is not None:
                break
    if read is None:
        return {}, assumption
    text, locate = read
    # (only the keys read are located: a kong.conf of thousands of keys
    # costs each pod the few it reads)
    return _Located(parsed(launch, _conf_keys, text), locate), assumption


class _Located(dict):
    """KONG_<KEY> -> (Word, the key as written): the keys of a kong.conf
    (``_conf_keys``), each located when it is read; a key set here (the
    environment's) is kept as it is."""

    def __init__(self, keys, locate):
        super().__init__()
        self._keys, self._locate = keys, locate

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        found = self._keys.get(key)
        if found is None:
            return default
        value, name, number, column = found
        return (Word(value, self._locate(number, column)), name)

    def __getitem__(self, key):
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key):
        return dict.__contains__(self, key) or key in self._keys


def _conf_keys(text: str) -> Dict[str, Tuple[str, str, int, int]]:
    """KONG_<KEY> -> (value, the key as written, line, column) of each
    `key = value` line of a kong.conf (the last of a key wins)."""
    out: Dict[str, Tuple[str, str, int, int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        key, sep, value = line.partition("=")
        name = key.strip()
        if not sep or not name or name.startswith("#"):
            continue
        value = _strip_comment(value).strip()
        column = len(line) - len(line.lstrip()) + 1
        out["KONG_" + name.upper()] = (value, name, number, column)
    return out


def _strip_comment(value: str) -> str:
    """A trailing `#` comment removed, `\\#` kept as `#` (load_config())."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and value[i + 1:i + 2] == "#":
            out.append("#")
            i += 2
            continue
        if c == "#":
            break
        out.append(c)
        i += 1
    return "".join(out)


def _entry(key: str, entry: str, location, explicit: bool) -> Optional[Listener]:
    """``key``: the setting as written (KONG_PROXY_LISTEN, proxy_listen in
    kong.conf), or the kong.conf name of a default."""
    parts = entry.split()
    if not parts:
        return None
    host, _, port_text = parts[0].rpartition(":")
    port = parse_int(port_text)
    name = key if explicit else f"default {key}"
    backlog, origin = NGINX_DEFAULT_BACKLOG, f"{name} {parts[0]} without backlog= (nginx's default {NGINX_DEFAULT_BACKLOG})"
    for flag in parts[1:]:
        if flag.startswith("backlog=") and parse_int(flag[len("backlog="):]) is not None:
            backlog = parse_int(flag[len("backlog="):])
            origin = f"{key} {parts[0]} backlog={backlog}" if explicit else f"KONG_{key.upper()} {parts[0]} backlog={backlog} (Kong's default)"
    return Listener(NAME, host or "*", port, backlog, origin, location, explicit, KNOB)

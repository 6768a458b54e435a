"""Unicorn: `listen ADDR, backlog: N` in its config file, default 1024.

Sources (../shared/facts/servers.md §2.20, defunkt/unicorn @ e9862718,
v6.1.0+68; the same code in Debian's unicorn 6.0.0): lib/unicorn/
socket_helper.rb DEFAULTS `:backlog => 1024` (:22), passed to
`sock.listen(opt[:backlog])` (:67 UNIX, :92 TCP); lib/unicorn/
configurator.rb `listen(address, options)` (:489) keeps each address's
options (`:backlog`) and documents "Default: 1024 ... with the Linux
kernel, the net.core.somaxconn sysctl defaults to 128, capping this value
to 128"; `expand_addr` (:646) turns `8080`, `"8080"` and `"*:8080"` into
0.0.0.0:8080 and `unix:PATH` into a path.

Which listeners: bin/unicorn (and bin/unicorn_rails) `-l/--listen ADDR`
(repeatable), `-c/--config-file FILE`, `-o/--host HOST` and `-p/--port
PORT` (one listener HOST:PORT, defaults 0.0.0.0 and 8080, added after the
file's by `Configurator#reload`); the config file's `listen` calls are
added to the command line's; an address named twice is one socket with
the options of its `listen` (lib/unicorn/http_server.rb `listen` returns
for a name it has); none at all: DEFAULT_LISTEN 0.0.0.0:8080
(http_server.rb:834, lib/unicorn/const.rb).  The rackup file's first
`#\\` line (config.ru) is parsed as more command-line options
(configurator.rb `parse_rackup_file`): it is the image's, not in the input.

Measured with Debian's unicorn 6.0.0 (ruby 3.1) in a network namespace,
`ss -lnxtH`: `unicorn` alone: 0.0.0.0:8080, Send-Q 1024; `-c unicorn.rb`
with `listen 8081, backlog: 64`, `listen "127.0.0.1:8082", :backlog =>
300`, `listen "/tmp/u.sock", backlog: 20`, `listen "[::]:8083"`:
0.0.0.0:8081 64, 127.0.0.1:8082 300, the UNIX socket 20, `*:8083` 1024 (one
dual-stack socket: no IPV6_V6ONLY unless `ipv6only: true`); adding `-l
0.0.0.0:8081 -l 9000 -p 9100 -o 127.0.0.1`: the same plus 0.0.0.0:9000 and
127.0.0.1:9100 at 1024, and 0.0.0.0:8081 still 64; with somaxconn 128
every TCP socket asking for more shows 128 (the UNIX socket too is capped
by somaxconn).

The config file is Ruby, read as literal calls (puma.py `ruby_calls`):
`listen` at the start of a statement; `ENV.fetch("X", default)` / `ENV["X"]
|| default` from the container's env; `if ENV["X"]` as the env says; a
computed address or backlog, or a call under another condition or a block,
is said as an assumption.
`server.listen(...)` inside `after_fork` (per-worker listeners) is not
read.
"""

from __future__ import annotations

import posixpath
import re

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.servers import Launch, Listener, config_file, parsed, resolve
from somaxlint.servers.puma import frames_run, keyword, ruby_calls, ruby_value, split_args

NAME = "unicorn"
TITLE = "Unicorn"
IMAGES = ()
COMMANDS = ("unicorn", "unicorn_rails")
DEFAULT_BACKLOG = 1024
DEFAULT_HOST, DEFAULT_PORT = "0.0.0.0", 8080
KNOB = "listen backlog (`listen 8080, backlog: N` in the config file, `-c`)"
SOURCE = "unicorn lib/unicorn/socket_helper.rb:22 :backlog => 1024; servers.md §2.20"
STARTUP_WARNING = ""

# options of bin/unicorn and bin/unicorn_rails that take a value
_VALUED = {"-e", "--eval", "-I", "--include", "-r", "--require", "-o", "--host", "-p", "--port", "-E", "--env",
           "-P", "--pid", "-s", "--server", "-l", "--listen", "-c", "--config-file", "--path"}


def set_backlog(value: int) -> str:
    return f"set Unicorn's listen backlog to {value} (`listen ADDR, backlog: {value}` in its config file)"


def expand(address: str, launch: Launch) -> Optional[str]:
    """configurator.rb `expand_addr`: "0.0.0.0:8080", "[::]:8080", a
    path; None for what it cannot bind."""
    address = address.strip()
    if address.startswith("unix:"):
        return resolve(launch, address[len("unix:"):])[0]
    if address.startswith("/"):
        return posixpath.normpath(address)
    m = re.match(r"^(?:\*:)?(\d+)$", address)
    if m is not None:
        return f"0.0.0.0:{int(m.group(1))}"
    m = re.match(r"^\[([0-9a-fA-F:]+)\]$", address) or re.match(r"^((?:\d+\.){3}\d+)$", address)
    if m is not None:
        host = m.group(1)
        return f"[{host}]:80" if ":" in host else f"{host}:80"
    m = re.match(r"^\[([0-9a-fA-F:]+)\]:(\d+)$", address) or re.match(r"^(.*):(\d+)$", address)
    if m is not None:
        host = m.group(1)
        return f"[{host}]:{int(m.group(2))}" if ":" in host else f"{host}:{int(m.group(2))}"
    return None


def listeners(launch: Launch) -> List[Listener]:
    words = list(launch.words)
    named: List[Tuple[str, object, Optional[str]]] = []  # (address, location, assumption)
    host = port = None
    files: List[str] = []
    rackup = None
    i = 0
    while i < len(words):
        text = words[i].text
        name, value, at = text, None, words[i]
        if text.startswith("--") and "=" in text:
            name, _, value = text.partition("=")
        elif text in _VALUED and i + 1 < len(words):
            value, at = words[i + 1].text, words[i + 1]
            i += 1
        elif text.startswith("-") and not text.startswith("--") and len(text) > 2 and text[:2] in _VALUED:
            name, value = text[:2], text[2:]
        elif not text.startswith("-") and rackup is None:
            rackup = text
        i += 1
        if value is None:
            continue
        if name in ("-l", "--listen"):
            named.append((value, at.location, None))
        elif name in ("-c", "--config-file"):
            files = [value]
        elif name in ("-o", "--host"):
            host = (value, at.location)
        elif name in ("-p", "--port") and value.isdigit():
            port = (value, at.location)
    options: Dict[str, Dict[str, Tuple[str, object, Optional[str]]]] = {}
    said: List[str] = []
    for path in files:
        found, relative = config_file(launch, path, "listen")
        if found is None:
            # a config file is named to listen: where, the input does not say
            said.append(f"{path} (-c) is not in the input: its listen calls are not known; taken to set no backlog")
            if not named and host is None and port is None:
                named.append((None, launch.started_at, None))
            continue
        if relative:
            said.append(relative)
        text, locate = found
        for _name, args_text, line, column, under in parsed(launch, _calls, text):
            where = locate(line, column)
            args = split_args(args_text)
            runs, frame_whys = frames_run(under, launch.env, path)
            if not runs:
                continue
            condition = "; ".join(frame_whys) or None
            if not args:
                continue
            value, why = ruby_value(args[0], launch.env)
            whys = [w for w in (why, condition) if w]
            if value is None:
                named.append((None, where, "; ".join(whys)))
                continue
            address = str(value)
            named.append((address, where, "; ".join(whys) or None))
            backlog = keyword(args[1:], "backlog")
            if backlog is not None:
                number, why = ruby_value(backlog, launch.env)
                expanded = expand(address, launch)
                if expanded is not None:
                    entry = options.setdefault(expanded, {})
                    if number is None:
                        entry["backlog"] = ("?", where, why)
                    else:
                        entry["backlog"] = (str(number), where, "; ".join(w for w in (why, condition) if w) or None)
            ipv6only = keyword(args[1:], "ipv6only")
            if ipv6only is not None and expand(address, launch) is not None:
                options.setdefault(expand(address, launch), {})["ipv6only"] = (ipv6only.strip(), where, None)
    if host is not None or port is not None:
        at = (port or host)[1]
        named.append((f"{host[0] if host else DEFAULT_HOST}:{port[0] if port else DEFAULT_PORT}", at, None))
    rackup_said = None
    if not named:
        rackup_said = (
            f"the rackup file's `#\\` option line ({rackup or 'config.ru'} in the working directory, the image's) may name "
            "listeners (-l, -p, -o): assumed to name none"
        )
        named.append((f"{DEFAULT_HOST}:{DEFAULT_PORT}", launch.started_at, None))
    rests = "; ".join(dict.fromkeys(s for s in said + [rackup_said] if s)) or None
    out: List[Listener] = []
    seen = set()
    for address, location, assumption in named:
        expanded = expand(address, launch) if address is not None else None
        key = expanded if expanded is not None else ("?", location)
        if key in seen:
            continue
        seen.add(key)
        opts = options.get(expanded, {}) if expanded is not None else {}
        joined = [s for s in (assumption, rests) if s]
        backlog, origin, explicit, at = DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", False, location
        if "backlog" in opts:
            text, at, why = opts["backlog"]
            if text == "?":
                joined.append(f"{why}: taken as the default {DEFAULT_BACKLOG}")
            elif re.match(r"^[+-]?\d+$", text):
                backlog, origin, explicit = int(text), f"listen backlog {int(text)}", True
                joined += [why] if why else []
        if expanded is None:
            if address is not None:
                joined.append(f"listen address {address!r} is not one Unicorn binds (HOST:PORT, [IPv6]:PORT, a path)")
            out.append(Listener(NAME, "*", None, backlog, origin, at, explicit, KNOB, assumption="; ".join(joined) or None))
            continue
        if expanded.startswith("/"):
            out.append(Listener(NAME, expanded, None, backlog, origin, at, explicit, KNOB, assumption="; ".join(joined) or None,
                                written=f"unix:{expanded}"))
            continue
        host_part, _, port_text = expanded.rpartition(":")
        written = None
        if host_part.startswith("["):
            host_part = host_part[1:-1]
            v6only = opts.get("ipv6only", ("false",))[0] == "true"
            if host_part == "::" and not v6only:
                host_part, written = "*", f"[::]:{port_text}"  # one dual-stack socket (measured)
            else:
                written = f"[{host_part}]:{port_text}"
        elif not re.match(r"^(?:\d+\.){3}\d+$", host_part):
            joined.append(f"host name {host_part} is resolved by Unicorn at start-up (its first IPv4 or IPv6 address)")
        out.append(Listener(NAME, host_part, int(port_text), backlog, origin, at, explicit, KNOB,
                            assumption="; ".join(joined) or None, written=written))
    return out


def _calls(text: str):
    return ruby_calls(text, ("listen",))

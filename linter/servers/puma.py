"""Puma: every bind listens with backlog 1024 unless its URL says
`?backlog=N`.

Sources (../shared/facts/servers.md §2.20, puma/puma @ ff2e2126, v8.0.1+26;
the same lines in Debian's puma 5.6.5): lib/puma/binder.rb `parse()`: TCP
`backlog = params.fetch('backlog', 1024).to_i` (:171), UNIX `backlog =
1024` unless `?backlog=` (`Integer(u)`, :203-217), SSL (:262), passed to
`tcp_server.listen backlog` (:350) / `s.listen backlog` (:383, :432); the
DSL's `ssl_bind host, port, backlog: N` writes `&backlog=N` into the URL
(lib/puma/dsl.rb `ssl_bind_str`).  No somaxconn check: the kernel's min.

Which binds: lib/puma/cli.rb `-b/--bind URI` (repeatable) and `-p/--port
PORT` (a bind on the default host) are the user's options; `-C/--config
PATH` (repeatable; `-` or `--no-config`: none) loads config files, else the
first of config/puma/<environment>.rb and config/puma.rb that exists in the
working directory (lib/puma/configuration.rb `config_files`; environment
`-e`, else APP_ENV, RACK_ENV, RAILS_ENV, else development).  Options are
looked up user options first, then the files' (`UserFileDefaultOptions
#fetch`): any bind on the command line replaces every bind of the files,
and the files' replace the default `tcp://0.0.0.0:9292` (DefaultTCPHost,
DefaultTCPPort).  Puma itself does not read PORT: Rails' generated
config/puma.rb does (`port ENV.fetch("PORT", 3000)`).

Measured with Debian's puma 5.6.5 (ruby 3.1) in a network namespace,
`ss -lnxtH`: `puma` alone: one socket 0.0.0.0:9292, Send-Q 1024; `-p 3000
-b 'tcp://[::]:3001?backlog=50' -b tcp://localhost:3002 -b
'unix:///tmp/p.sock?backlog=33'`: 0.0.0.0:3000 1024, `*:3001` 50 (one
dual-stack socket: Ruby sets no IPV6_V6ONLY), 127.0.0.1:3002 and
[::1]:3002 1024 (`localhost` binds each loopback address, binder.rb
`add_tcp_listener`), the UNIX socket 33; `-C puma.rb` with `port
ENV.fetch("PORT", 3000)` and `bind "tcp://127.0.0.1:4000?backlog=300"`:
both; adding `-p 5000`: only 0.0.0.0:5000 (the command line's binds
replace the file's).

Where the real server and the sheet differ from what was measured: from
Puma 8 (commit d7a907fa, "Use IPv6 (`::`) default", #3847) the default host
of the default bind, of `-p` and of the DSL's `port` is `::` when the pod
has a non-loopback IPv6 address, else 0.0.0.0 -- one socket either way, so
those listeners are "*" with one socket (the image does not show the
bundle's Puma version).

The config file is Ruby: its literal calls are read (`bind "URL"`, `port
N[, HOST]`, `ssl_bind HOST, PORT, {backlog: N}`, `set_default_host`,
`clear_binds!`), `ENV.fetch("X", default)` / `ENV["X"] || default` and
`"#{...}"` interpolations of them from the container's env (else the
default, said as an assumption); a call under `if ENV["X"]` / `unless
ENV["X"]` (or its `else`) runs as the env says (unset when the manifest
does not set it: an assumption); anything else computed, or under another
condition or a block, is an assumption.  `rails server`
(`bin/rails s`) runs Puma through its Rack handler (lib/rack/handler/
puma.rb `config`): `-p`, `-b`, and PORT/BINDING in the environment are user
options (Rails' `user_supplied_options`) that replace config/puma.rb's
binds; without them config/puma.rb's binds (with Rails' host as the
default host: localhost in development, else 0.0.0.0), else Rails'
host:port (PORT, else 3000) -- railties lib/rails/commands/server/
server_command.rb `user_supplied_options`, `host`, `port`, read in the code
index, not run here (no Rails is installed: no kernel case).  `bundle exec`
is skipped (model/shell.py).
Puma's control server (`--control-url`, `activate_control_app`) is not
modelled.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location

from somaxlint.servers import Launch, Listener, config_file, parsed, resolve

NAME = "puma"
TITLE = "Puma"
IMAGES = ()
COMMANDS = ("puma", "rails")
DEFAULT_BACKLOG = 1024
DEFAULT_PORT = 9292
KNOB = "bind backlog (`?backlog=N` on the bind URL: `-b 'tcp://0.0.0.0:3000?backlog=N'`, or `bind` in config/puma.rb)"
SOURCE = "puma lib/puma/binder.rb:171,203,262 backlog 1024; servers.md §2.20"
STARTUP_WARNING = ""

RAILS_PORT = 3000
# puma's options that take a value (lib/puma/cli.rb), so their values are
# not read as binds
_VALUED = {
    "--bind-to-activated-sockets", "--control-url", "--control-token", "--dir", "-e", "--environment", "-I", "--include",
    "--idle-timeout", "--pidfile", "--plugin", "--extra-runtime-dependencies", "-R", "--restart-cmd", "-S", "--state",
    "-t", "--threads", "-w", "--workers", "--tag", "--redirect-stdout", "--redirect-stderr",
}
# rails server's (railties server_command.rb)
_RAILS_VALUED = {"-p", "--port", "-b", "--binding", "-c", "--config", "-e", "--environment", "-u", "--using", "-P", "--pid"}


def set_backlog(value: int) -> str:
    return f"set Puma's bind backlog to {value} (`?backlog={value}` on the bind URL)"


# --------------------------------------------------------------------------
# Ruby configuration files, read as literal calls (shared with unicorn.py)
# --------------------------------------------------------------------------

_OPENS = re.compile(r"^(?:if|unless|case|while|until|begin|def|class|module|for)\b")
_DO = re.compile(r"\bdo(?:\s*\|[^|]*\|)?\s*$")
_MODIFIER = re.compile(r"\s(?:if|unless)\s")
_CALL = re.compile(r"^([a-z_][a-z_0-9]*[!?]?)(?:\s*\(|\s+|$)")


def _strip_comment(line: str) -> str:
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == "\\":
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#":
            return line[:i]
    return line


def _balanced(text: str) -> bool:
    depth, quote = 0, None
    for c in text:
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
    return depth <= 0


def ruby_calls(text: str, names) -> List[Tuple[str, str, int, int, tuple]]:
    """(name, argument text, line, column, enclosing frames) of each call
    of one of ``names`` at the start of a statement, in order; a call
    continued over lines (an open bracket, a trailing comma) is joined.
    Each frame is (line, test): test is (ENV name, taken when set) for an
    `if ENV["X"]` / `unless ENV["X"]` (its `else` the other way round),
    else None (a block, another condition).  Never executed."""
    out = []
    lines = text.split("\n")
    opened: List[Tuple[int, Optional[Tuple[str, bool]]]] = []
    i = 0
    while i < len(lines):
        number = i + 1
        line = lines[i]
        body = _strip_comment(line).strip()
        i += 1
        if not body:
            continue
        if body == "end" or body.startswith("end ") or body.startswith("end."):
            if opened:
                opened.pop()
            continue
        match = _CALL.match(body)
        if match is not None and match.group(1) in names and not re.match(r"^\s*(?:=[^=>~]|\.|\[)", body[match.end(1):]):
            statement = body
            while (not _balanced(statement) or statement.endswith((",", "\\"))) and i < len(lines):
                statement = statement.rstrip("\\") + " " + _strip_comment(lines[i]).strip()
                i += 1
            args = statement[match.end(1):].strip()
            frames = tuple(opened)
            modifier = _MODIFIER.search(" " + args + " ")
            if modifier is not None and _balanced(args[: max(modifier.start() - 1, 0)]):
                condition = args[modifier.start():].strip()
                args = args[: max(modifier.start() - 1, 0)].strip()
                frames += ((number, _env_test(condition)),)
            if args.startswith("(") and args.endswith(")"):
                args = args[1:-1]
            out.append((match.group(1), args, number, len(line) - len(line.lstrip()) + 1, frames))
            continue
        if _OPENS.match(body) or _DO.search(body):
            opened.append((number, _env_test(body) if body.startswith(("if ", "unless ")) else None))
        elif body == "else" and opened and opened[-1][1] is not None:
            name, when_set = opened[-1][1]
            opened[-1] = (opened[-1][0], (name, not when_set))
        elif body.startswith(("elsif", "else", "when")) and opened:
            opened[-1] = (number, None)
    return out


def _env_test(condition: str) -> Optional[Tuple[str, bool]]:
    """`if ENV["X"]` (taken when X is set), `unless ENV["X"]` (when it is
    not), `if ENV.key?("X")`; None for any other condition."""
    m = re.match(r"""^(if|unless)\s+(?:ENV\[\s*['"](\w+)['"]\s*\]|ENV\.key\?\(\s*['"](\w+)['"]\s*\))\s*(?:then)?$""", condition.strip())
    if m is None:
        return None
    return (m.group(2) or m.group(3), m.group(1) == "if")


def frames_run(frames, env, path: str) -> Tuple[bool, List[str]]:
    """Whether a call under ``frames`` runs, as far as the container's env
    shows, and what that rests on."""
    whys = []
    for line, test in frames:
        if test is None:
            whys.append(f"{path}:{line} opens a condition or block: what it encloses is taken to run")
            continue
        name, when_set = test
        word = env.get(name)
        if word is None:
            whys.append(f"{name} is not set in the container's env (the image may set it): {path}:{line} read with it unset")
        if (word is not None) != when_set:
            return False, whys
    return True, whys


def split_args(args: str) -> List[str]:
    """Top-level comma-separated arguments (a trailing `{...}` hash or
    `key: value` pairs each an argument)."""
    out, depth, quote, start = [], 0, None, 0
    for i, c in enumerate(args):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(args[start:i].strip())
            start = i + 1
    if args[start:].strip():
        out.append(args[start:].strip())
    return out


_STRING = re.compile(r"""^(?:'([^'\\]*)'|"([^"\\#]*)")$""")
_INTERPOLATED = re.compile(r'^"((?:[^"\\#]|#\{[^{}"]*\}|#\{[^{}]*\})*)"$')
_INT = re.compile(r"^[+-]?\d[\d_]*$")
_FETCH = re.compile(r"""^ENV\.fetch\(\s*['"](\w+)['"]\s*(?:,\s*(.+?)\s*)?\)(?:\s*\{\s*(.+?)\s*\})?$""")
_INDEX = re.compile(r"""^ENV\[\s*['"](\w+)['"]\s*\](?:\s*\|\|\s*(.+))?$""")


def ruby_value(expr: str, env) -> Tuple[Optional[object], Optional[str]]:
    """A literal string or integer, or one read from the environment
    (``env``: name -> Word, the container's literal env), and what it rests
    on; (None, why) when it is computed."""
    expr = expr.strip()
    for wrap in (r"^Integer\((.+)\)$", r"^\((.+)\)\.to_i$", r"^(.+)\.to_i$", r"^(.+)\.to_s$", r"^String\((.+)\)$"):
        m = re.match(wrap, expr)
        if m is not None and _balanced(m.group(1)):
            value, why = ruby_value(m.group(1), env)
            if value is not None and ("to_i" in wrap or "Integer" in wrap):
                value = _to_i(value)
            return value, why
    m = _STRING.match(expr)
    if m is not None:
        return (m.group(1) if m.group(1) is not None else m.group(2)), None
    m = _INTERPOLATED.match(expr)
    if m is not None:
        # "tcp://#{ENV.fetch('BIND', '0.0.0.0')}:#{ENV.fetch('PORT', 3000)}"
        out, whys = [], []
        for literal, inner in re.findall(r"([^#]*)(?:#\{([^{}]*)\}|$)", m.group(1)):
            out.append(literal)
            if inner:
                value, why = ruby_value(inner, env)
                if value is None:
                    return None, why
                out.append(str(value))
                whys += [why] if why else []
        return "".join(out), "; ".join(whys) or None
    if _INT.match(expr):
        return int(expr.replace("_", "")), None
    m = _FETCH.match(expr) or _INDEX.match(expr)
    if m is not None:
        name = m.group(1)
        default = next((g for g in m.groups()[1:] if g), None)
        word = env.get(name)
        if word is not None:
            return word.text, None
        if default is None:
            return None, f"{name} is not set in the container's env (the image may set it): `{expr}` is not known"
        value, why = ruby_value(default, env)
        if value is None:
            return None, why
        return value, f"{name} is not set in the container's env (the image may set it): `{expr}` read as {value}"
    return None, f"`{expr}` is computed at run time"


def _to_i(value) -> Optional[int]:
    if isinstance(value, int):
        return value
    m = re.match(r"^\s*([+-]?\d+)", str(value))
    return int(m.group(1)) if m else 0


def keyword(args: List[str], key: str) -> Optional[str]:
    """The value of `key: V` / `:key => V` among ``args`` (or inside a
    `{...}` hash argument)."""
    for arg in args:
        inner = arg[1:-1] if arg.startswith("{") and arg.endswith("}") else None
        for part in split_args(inner) if inner is not None else [arg]:
            m = re.match(rf"""^(?:{key}:|:{key}\s*=>|['"]{key}['"]\s*=>)\s*(.+)$""", part.strip())
            if m is not None:
                return m.group(1)
    return None


# --------------------------------------------------------------------------
# Binds
# --------------------------------------------------------------------------

if TYPE_CHECKING:
    # (url, where it is written, assumption it rests on, default host used)
    _Bind = Tuple[str, Location, Optional[str], bool]


def _config_binds(launch: Launch, path: str, text: str, locate, default_host: Optional[str]) -> Tuple[List[_Bind], List[str]]:
    """The binds a config file's literal calls make, in order, and what
    they rest on."""
    binds: List[_Bind] = []
    said: List[str] = []
    host = default_host
    for name, args_text, line, column, under in parsed(launch, _calls, text):
        args = split_args(args_text)
        where = locate(line, column)
        runs, frame_whys = frames_run(under, launch.env, path)
        if not runs:
            continue
        condition = "; ".join(frame_whys) or None
        if name == "clear_binds!":
            binds = []
            continue
        if name == "set_default_host" and args:
            value, why = ruby_value(args[0], launch.env)
            if value is not None:
                host = str(value)
            continue
        values = [ruby_value(a, launch.env) for a in args if not re.match(r"^(?:\w+:|:\w+\s*=>|\{)", a)]
        whys = [w for _, w in values if w] + ([condition] if condition else [])
        if not values:
            continue
        if any(value is None for value, _ in values):
            # computed: Puma binds something there, with the default
            # backlog unless a computed URL asks for another
            why = "; ".join(whys)
            if name == "bind":
                why += f"; the bind at {path}:{line} is not literal: taken to ask for no backlog (Puma's {DEFAULT_BACKLOG})"
            binds.append((None, where, why, values[0][0] is None))
            continue
        if name == "bind":
            binds.append((str(values[0][0]), where, "; ".join(whys) or None, False))
        elif name == "port":
            given = str(values[1][0]) if len(values) > 1 else host
            binds.append((_tcp_url("tcp", given, values[0][0]), where, "; ".join(whys) or None, len(values) < 2 and given is None))
        elif name == "ssl_bind" and len(values) >= 2:
            backlog = keyword(args, "backlog")
            query = ""
            if backlog is not None:
                value, why = ruby_value(backlog, launch.env)
                if value is None:
                    said.append(why)
                    continue
                query = f"?backlog={_to_i(value)}"
                whys += [why] if why else []
            binds.append((_tcp_url("ssl", str(values[0][0]), values[1][0]) + query, where, "; ".join(whys) or None, False))
    return binds, said


def _calls(text: str):
    return ruby_calls(text, ("bind", "port", "ssl_bind", "set_default_host", "clear_binds!"))


def _tcp_url(scheme: str, host: Optional[str], port) -> str:
    if host is None:
        host = "0.0.0.0"  # (the default host; see _listeners_of: "*")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _listeners_of(url: str, location, assumption: Optional[str], default_host: bool) -> List[Listener]:
    """The listeners of one bind URL, as binder.rb `parse` opens them
    (None: a bind the config computes)."""
    if url is None:
        return [Listener(NAME, "*", None, DEFAULT_BACKLOG, f"default backlog {DEFAULT_BACKLOG}", location, False, KNOB, assumption=assumption)]
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
    except ValueError:
        return []
    given = query.get("backlog", [None])[-1]
    scheme = parts.scheme
    if scheme == "unix":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        backlog = DEFAULT_BACKLOG
        if given is not None:
            if not re.match(r"^\s*[+-]?\d+\s*$", given):
                return []  # Integer() raises: Puma does not start
            backlog = int(given)
        return [_listener(path, None, backlog, given is not None, url, location, assumption, written=f"unix://{path}")]
    if scheme not in ("tcp", "ssl"):
        return []
    try:
        port = parts.port
    except ValueError:
        return []
    host = parts.hostname or ""
    backlog = _to_i(given) if given is not None else DEFAULT_BACKLOG
    explicit = given is not None
    if default_host or host in ("::", ""):
        # the default host (0.0.0.0 before Puma 8, `::` from Puma 8 when
        # the pod has IPv6): one socket; `::`: one dual-stack socket
        return [_listener("*", port, backlog, explicit, url, location, assumption)]
    if host == "localhost":
        said = "localhost: Puma listens on each loopback address of the pod (127.0.0.1, and ::1 where it has IPv6)"
        both = f"{assumption}; {said}" if assumption else said
        return [
            _listener("127.0.0.1", port, backlog, explicit, url, location, assumption),
            _listener("::1", port, backlog, explicit, url, location, both, written=f"[::1]:{port}"),
        ]
    return [_listener(host, port, backlog, explicit, url, location, assumption, written=f"[{host}]:{port}" if ":" in host else None)]


def _listener(address, port, backlog, explicit, url, location, assumption, written=None) -> Listener:
    origin = f"bind {url}" if explicit else f"default backlog {DEFAULT_BACKLOG} (bind {url})"
    return Listener(NAME, address, port, backlog, origin, location, explicit, KNOB, assumption=assumption, written=written)


def _options(words, valued) -> List[Tuple[str, str, object]]:
    """(option, value, Word) of each valued option, in order; flags as
    (option, "", Word); operands as ("", text, Word)."""
    out = []
    i = 0
    while i < len(words):
        text = words[i].text
        if text.startswith("--") and "=" in text:
            name, _, value = text.partition("=")
            out.append((name, value, words[i]))
        elif text.startswith("--") or (text.startswith("-") and len(text) == 2):
            if text in valued and i + 1 < len(words):
                out.append((text, words[i + 1].text, words[i + 1]))
                i += 1
            else:
                out.append((text, "", words[i]))
        elif text.startswith("-") and len(text) > 2:
            short = text[:2]
            out.append((short, text[2:], words[i]) if short in valued else (short, "", words[i]))
        else:
            out.append(("", text, words[i]))
        i += 1
    return out


def _environment(launch: Launch, given: Optional[str]) -> Tuple[str, Optional[str]]:
    if given:
        return given, None
    for name in ("APP_ENV", "RACK_ENV", "RAILS_ENV"):
        if name in launch.env and launch.env[name].text:
            return launch.env[name].text, None
    return "development", "no APP_ENV, RACK_ENV or RAILS_ENV in the container's env (the image may set one): environment taken as development"


def _file_binds(launch: Launch, files: List[str], environment: str, env_said: Optional[str], default_host: Optional[str]):
    """The config files' binds, else the default bind, and what they rest on."""
    said: List[str] = []
    binds: List[_Bind] = []
    if files == ["-"]:
        files = []
    elif not files:
        # the first default file that exists; none in the input: the image
        # may have one (a Rails app's config/puma.rb)
        for path in (f"config/puma/{environment}.rb", "config/puma.rb"):
            found, relative = config_file(launch, path, "bind or port")
            if found is not None:
                text, locate = found
                binds, more = _config_binds(launch, path, text, locate, default_host)
                said.extend(([relative] if relative else []) + ([env_said] if env_said and path != "config/puma.rb" else []) + more)
                break
        else:
            said.append(
                "Puma loads config/puma.rb (or config/puma/<environment>.rb) from the working directory when the image has one "
                "(a Rails app does), which the input does not show: assumed to bind nothing"
            )
        files = []
    for path in files:
        found, relative = config_file(launch, path, "bind or port")
        if found is None:
            # a config file is named to bind: where, the input does not say
            absolute, unset = resolve(launch, path)
            read_as = f" (read as {absolute}: the manifest sets no workingDir)" if unset else ""
            binds.append((None, launch.started_at, (
                f"{path}{read_as}, named by -C, is not in the input: its binds are not known; taken to ask for no "
                f"backlog (Puma's default {DEFAULT_BACKLOG})"
            ), True))
            continue
        text, locate = found
        more_binds, more = _config_binds(launch, path, text, locate, default_host)
        binds.extend(more_binds)
        said.extend(([relative] if relative else []) + more)
    return binds, said


def listeners(launch: Launch) -> List[Listener]:
    if launch.command == "rails":
        return _rails(launch)
    options = _options(launch.words, _VALUED | {"-b", "--bind", "-p", "--port", "-C", "--config"})
    user: List[_Bind] = []
    files: List[str] = []
    environment = None
    for name, value, word in options:
        if name in ("-b", "--bind") and value:
            user.append((value, word.location, None, False))
        elif name in ("-p", "--port") and value.isdigit():
            user.append((f"tcp://0.0.0.0:{value}", word.location, None, True))
        elif name in ("-C", "--config") and value:
            files.append(value)
        elif name == "--no-config":
            files.append("-")
        elif name in ("-e", "--environment"):
            environment = value
    if "-" in files:
        files = ["-"]
    if user:
        binds, said = user, []  # the command line's binds replace the files'
    else:
        env, env_said = _environment(launch, environment)
        binds, said = _file_binds(launch, files, env, env_said, None)
        if not binds:
            binds = [(f"tcp://0.0.0.0:{DEFAULT_PORT}", launch.started_at, None, True)]
    return _all(binds, said)


def _all(binds, said: List[str]) -> List[Listener]:
    out: List[Listener] = []
    seen = set()
    rests = "; ".join(dict.fromkeys(s for s in said if s)) or None
    for url, location, assumption, default_host in binds:
        joined = "; ".join(s for s in (assumption, rests) if s) or None
        for listener in _listeners_of(url, location, joined, default_host):
            key = (listener.address, listener.port)
            if key not in seen:
                seen.add(key)
                out.append(listener)
    return out


def _rails(launch: Launch) -> List[Listener]:
    """`rails server`: Puma through its Rack handler, as the module's
    docstring says."""
    words = list(launch.words)
    if not words or words[0].text not in ("server", "s"):
        return []
    options = _options(words[1:], _RAILS_VALUED)
    found: Dict[str, Tuple[str, object]] = {}
    for name, value, word in options:
        key = {"-p": "port", "--port": "port", "-b": "binding", "--binding": "binding", "-e": "environment",
               "--environment": "environment", "-u": "using", "--using": "using"}.get(name)
        if key is not None:
            found[key] = (value, word)
    if "using" in found and found["using"][0] != "puma":
        return []
    said: List[str] = [
        "rails server runs Puma when the app's bundle has it (Rails' generated Gemfile does): taken to be Puma"
    ]
    environment, env_said = _environment(launch, found.get("environment", ("", None))[0] or None)
    if "binding" in found:
        host, host_at = found["binding"][0], found["binding"][1].location
    elif "BINDING" in launch.env:
        host, host_at = launch.env["BINDING"].text, launch.env["BINDING"].location
    else:
        host, host_at = ("localhost" if environment == "development" else "0.0.0.0"), None
        if env_said:
            said.append(env_said.replace("taken as development", "taken as development (Rails binds localhost; 0.0.0.0 in any other)"))
    if "port" in found:
        port, port_at = found["port"][0], found["port"][1].location
    elif "PORT" in launch.env:
        port, port_at = launch.env["PORT"].text, launch.env["PORT"].location
    else:
        port, port_at = str(RAILS_PORT), None
    if not port.isdigit():
        return []
    url = _tcp_url("tcp", host, port)
    if port_at is not None or host_at is not None:
        # user-supplied: they replace config/puma.rb's binds
        return _all([(url, port_at or host_at, None, False)], said)
    binds, more = _file_binds(launch, [], environment, env_said, host)
    if not binds:
        binds = [(url, launch.started_at, None, False)]
    return _all(binds, said + more)

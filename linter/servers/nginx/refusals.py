"""What nginx refuses while it reads a configuration, before it opens a
single socket (so `nginx -t` fails too): SMX024's facts.

nginx looks every directive up in the command tables of the modules built
into it (ngx_conf_handler, src/core/ngx_conf_file.c): a name no module
defines is `unknown directive "x"`; a name some module defines, but for
other contexts only, is `"x" directive is not allowed here`.  After the
whole file is read it also refuses a main configuration without `events`
(`no "events" section in configuration`, ngx_event_init_conf in
src/event/ngx_event.c), an `upstream` block without `server` (`no servers
are inside upstream`, ngx_http_upstream in src/http/ngx_http_upstream.c and
ngx_stream_upstream_add in src/stream/ngx_stream_upstream.c) and a variable
that a directive uses and nothing defines (`unknown "x" variable`,
ngx_http_variables_init_vars in src/http/ngx_http_variables.c and its
stream twin).  These are checked here on the configuration with its
includes spliced in (``config.ResolvedConfig``), against the directive
table generated from nginx's sources (``directive_table``), the contexts
as crossplane names them (``crossplane.analyzer``: its bit masks, whose
values the table uses), and the modules and version of the build that runs
it (``build``).

A refusal is ``certain`` when it holds whatever the input leaves open;
when it depends on a module the image may or may not have, or on a version
the image does not say, it is not, and ``assumption`` says what it rests
on.  Nothing is reported that nginx accepts in some build the input allows,
except under such an assumption.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Optional, Set, Tuple

from somaxlint.patterns import LazyPattern
from somaxlint.records import record, field

# crossplane.analyzer's context bits (the directive table's masks use them;
# crossplane is not imported for them: a commit-time run may never parse)
MAIN = 0x00040000
EVENT = 0x00080000
MAIL_MAIN = 0x00100000
MAIL_SRV = 0x00200000
STREAM_MAIN = 0x00400000
STREAM_SRV = 0x00800000
STREAM_UPS = 0x01000000
HTTP_MAIN = 0x02000000
HTTP_SRV = 0x04000000
HTTP_LOC = 0x08000000
HTTP_UPS = 0x10000000
HTTP_SIF = 0x20000000
HTTP_LIF = 0x40000000
HTTP_LMT = 0x80000000
NGX_CONF_BLOCK = 0x00000100

CONTEXT_NAMES = {
    MAIN: "the main context", EVENT: "events", MAIL_MAIN: "mail", MAIL_SRV: "mail server",
    STREAM_MAIN: "stream", STREAM_SRV: "stream server", STREAM_UPS: "stream upstream", HTTP_MAIN: "http",
    HTTP_SRV: "server", HTTP_LOC: "location", HTTP_UPS: "upstream", HTTP_SIF: "if in server",
    HTTP_LIF: "if in location", HTTP_LMT: "limit_except",
}
# (context, block directive) -> the context inside it; a block not listed
# is not made of directives (map, geo, types, split_clients, charset_map,
# and blocks of modules somaxlint does not know): it is not looked into
_INNER = {
    (MAIN, "events"): EVENT, (MAIN, "http"): HTTP_MAIN, (MAIN, "stream"): STREAM_MAIN, (MAIN, "mail"): MAIL_MAIN,
    (HTTP_MAIN, "server"): HTTP_SRV, (HTTP_MAIN, "upstream"): HTTP_UPS,
    (HTTP_SRV, "location"): HTTP_LOC, (HTTP_SRV, "if"): HTTP_SIF,
    (HTTP_LOC, "location"): HTTP_LOC, (HTTP_LOC, "if"): HTTP_LIF, (HTTP_LOC, "limit_except"): HTTP_LMT,
    (STREAM_MAIN, "server"): STREAM_SRV, (STREAM_MAIN, "upstream"): STREAM_UPS,
    (MAIL_MAIN, "server"): MAIL_SRV,
}
# blocks made of directives, in whatever context they are
_STRUCTURAL = frozenset({"events", "http", "stream", "mail", "server", "location", "if", "limit_except", "upstream"})
_HTTP = frozenset({HTTP_MAIN, HTTP_SRV, HTTP_LOC, HTTP_UPS, HTTP_SIF, HTTP_LIF, HTTP_LMT})
_STREAM = frozenset({STREAM_MAIN, STREAM_SRV, STREAM_UPS})
# where a file that is not a main configuration may be included
SNIPPET_CONTEXTS = (MAIN, EVENT, HTTP_MAIN, HTTP_SRV, HTTP_LOC, HTTP_UPS, STREAM_MAIN, STREAM_SRV, STREAM_UPS, MAIL_MAIN, MAIL_SRV)


@record
class Refusal:
    """One reason nginx refuses the configuration."""

    kind: str  # "unknown", "context", "module", "version", "events", "duplicate", "upstream", "variable"
    message: str  # nginx's own words
    why: str  # what makes nginx say it
    fix: str
    certain: bool
    directive: object = None  # the Directive nginx names (None: the main config)
    assumption: Optional[str] = None
    others: int = 0  # further directives of the same module (kind "module")


# --------------------------------------------------------------------------
# three-valued logic: True, False, None (not known)
# --------------------------------------------------------------------------


def _and(*values):
    if any(v is False for v in values):
        return False
    if all(v is True for v in values):
        return True
    return None


def _best(values):
    """True if any is True, else None if any is None, else False."""
    out = False
    for v in values:
        if v is True:
            return True
        if v is None:
            out = None
    return out


_OPERATORS = (">=", "<=", "==", "&&", "||", ">", "<", "(", ")", "!")


def _tokens(cond: str) -> List[str]:
    """The tokens of a C preprocessor condition: `(`, `)`, `!`, `&&`,
    `||`, `defined(NAME)`, `NAME OP NUMBER` and names (by hand, not a
    regex: a warm run compiles nothing it can do without)."""
    raw: List[str] = []
    i, n = 0, len(cond)
    while i < n:
        ch = cond[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isalnum() or ch == "_":
            start = i
            while i < n and (cond[i].isalnum() or cond[i] == "_"):
                i += 1
            raw.append(cond[start:i])
            continue
        for op in _OPERATORS:
            if cond.startswith(op, i):
                raw.append(op)
                i += len(op)
                break
        else:
            i += 1  # a character a condition of the table never has
    out: List[str] = []
    j = 0
    while j < len(raw):
        t = raw[j]
        if t == "defined" and raw[j + 1 : j + 2] == ["("] and j + 3 < len(raw) and raw[j + 3] == ")":
            out.append(f"defined({raw[j + 2]})")
            j += 4
        elif j + 2 < len(raw) and raw[j + 1] in (">=", "<=", "==", ">", "<") and t[0].isalpha():
            out.append(f"{t} {raw[j + 1]} {raw[j + 2]}")
            j += 3
        else:
            out.append(t)
            j += 1
    return out


def eval_condition(cond: str, macros: Dict[str, bool], version) -> Optional[bool]:
    """The `#if` expression of a table row, three-valued (names not in
    ``macros``: not known)."""
    if not cond:
        return True
    tokens = _tokens(cond)
    pos = [0]

    def atom():
        if pos[0] >= len(tokens):
            return None
        t = tokens[pos[0]]
        pos[0] += 1
        if t == "!":
            v = atom()
            return None if v is None else not v
        if t == "(":
            v = disj()
            if pos[0] < len(tokens) and tokens[pos[0]] == ")":
                pos[0] += 1
            return v
        if t.startswith("defined("):
            return macros.get(t[8:-1])
        parts = t.split(" ")
        if len(parts) == 3 and parts[0] == "nginx_version" and parts[2].isdigit():
            if version is None:
                return None
            number = version[0] * 1000000 + version[1] * 1000 + min(version[2], 999)
            wanted = int(parts[2])
            return {">=": number >= wanted, "<=": number <= wanted, "==": number == wanted, ">": number > wanted, "<": number < wanted}[parts[1]]
        return macros.get(t)

    def conj():
        values = [atom()]
        while pos[0] < len(tokens) and tokens[pos[0]] == "&&":
            pos[0] += 1
            values.append(atom())
        return _and(*values)

    def disj():
        values = [conj()]
        while pos[0] < len(tokens) and tokens[pos[0]] == "||":
            pos[0] += 1
            values.append(conj())
        return _best(values)

    return disj()


def _v(version) -> str:
    return ".".join(str(n) for n in version[:2]) if version[2] == 999 else ".".join(map(str, version))


def version_ok(since, until, version, first) -> Optional[bool]:
    """Whether a release range holds ``version`` (None: a current nginx
    is assumed, which has what is still in the newest release)."""
    if version is None:
        return True if until is None else None
    if until is not None and version >= until:
        return False
    if since is not None and version < since:
        return False
    if since is None and version < first:
        return None  # older than the first release the table reads
    return True


class Table:
    """The directive table seen through one build."""

    def __init__(self, build, loaded: frozenset, main: bool):
        from somaxlint.servers.nginx import directive_table as t

        self.t = t
        self.build = build
        self.loaded = loaded  # modules `load_module` loads (main configs)
        self.main = main
        self.macros = dict(build.macros)
        static = build.static | loaded
        for name, module in (("NGX_HTTP_SSL", "ngx_http_ssl_module"), ("NGX_STREAM_SSL", "ngx_stream_ssl_module"), ("NGX_SSL", "ngx_openssl_module")):
            if module in static:
                self.macros[name] = True
            elif build.exact:
                self.macros[name] = False
        self.static = static
        self.shipped = {m for mods in build.shipped.values() for m in mods}
        self._cache: Dict[Tuple[str, int], tuple] = {}

    def presence(self, module: str) -> Optional[bool]:
        if module in self.static:
            return True
        if module in self.shipped and not self.main:
            return None  # the main configuration (not read here) may load it
        if self.build.exact:
            return False
        return None

    def row_valid(self, row) -> Optional[bool]:
        module, mask, cond, since, until, kind = row
        return _and(
            self.presence(module),
            version_ok(since, until, self.build.version, self.t.FIRST_RELEASE),
            eval_condition(cond, self.macros, self.build.version),
        )

    def rows(self, name: str):
        return self.t.DIRECTIVES.get(name, ())

    def status(self, name: str, ctx: int, block: bool):
        """(verdict, rows here, rows anywhere): verdict True (nginx takes it
        here), None (it depends), False (refused).  ``block``: the
        directive has a block (`{...}`); a row for the context without
        NGX_CONF_BLOCK does not take one, and the other way round."""
        key = (name, ctx, block)
        hit = self._cache.get(key)
        if hit is None:
            rows = self.rows(name)
            here = [(r, self.row_valid(r)) for r in rows if r[1] & ctx and bool(r[1] & NGX_CONF_BLOCK) == block]
            anywhere = [(r, self.row_valid(r)) for r in rows]
            hit = (_best(v for _, v in here), here, anywhere)
            self._cache[key] = hit
        return hit

    def status_anywhere(self, name: str):
        """``status`` for a directive whose context is not known: taken if
        some context takes it."""
        key = (name, None, None)
        hit = self._cache.get(key)
        if hit is None:
            anywhere = [(r, self.row_valid(r)) for r in self.rows(name)]
            hit = (_best(v for _, v in anywhere), anywhere, anywhere)
            self._cache[key] = hit
        return hit

    def shape(self, name: str, ctx: int, block: bool) -> Optional[str]:
        """nginx's message when the directive's rows for ``ctx`` all want
        the other shape (ngx_conf_handler: the first row for the context
        decides), else None."""
        rows = [r for r in self.rows(name) if r[1] & ctx and self.row_valid(r) is not False]
        if rows and all(bool(r[1] & NGX_CONF_BLOCK) != block for r in rows):
            return f'directive "{name}" is not terminated by ";"' if block else f'directive "{name}" has no opening "{{"'
        return None


# --------------------------------------------------------------------------
# the walk
# --------------------------------------------------------------------------


def _damerau1(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one edit apart (an insertion, deletion,
    substitution or transposition)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1 :] == short:
            return True
    return False


def near_miss(table: Table, name: str) -> Optional[str]:
    """A directive of nginx's own one edit away from ``name`` (a typo), if
    any."""
    if len(name) < 5:
        return None
    for other in table.t.DIRECTIVES:
        if abs(len(other) - len(name)) <= 1 and other[:1] == name[:1] and _damerau1(name, other):
            if any(table.presence(r[0]) is True for r in table.rows(other)):
                return other
    return None


def _modules_of(rows) -> List[str]:
    return sorted({r[0] for r, _ in rows})


# (http's contexts first: `server` belongs in http far more often than in
# stream or mail)
_LIST_ORDER = (HTTP_MAIN, HTTP_SRV, HTTP_LOC, HTTP_UPS, HTTP_SIF, HTTP_LIF, HTTP_LMT, STREAM_MAIN, STREAM_SRV, STREAM_UPS,
               MAIL_MAIN, MAIL_SRV, MAIN, EVENT)


def _context_list(rows) -> str:
    names = []
    for bit in _LIST_ORDER:
        label = CONTEXT_NAMES[bit]
        if any(r[1] & bit for r, v in rows if v is not False) and label not in names:
            names.append(label)
    return ", ".join(names) if names else "no context"


class _Walk:
    def __init__(self, table: Table):
        self.table = table
        self.refusals: List[Refusal] = []
        self.version_uses: List[Tuple[object, str]] = []
        self.unknown_directives = False  # a directive nginx's tables do not hold (third-party)
        self.upstreams: List[Tuple[object, int, int]] = []  # (directive, servers, ctx)
        self.references: List[Tuple[object, str, str]] = []  # (directive, kind http|stream, variable)
        self.defined: Dict[str, Set[str]] = {"http": set(), "stream": set()}
        self.absent_modules: Dict[str, List[Refusal]] = {}  # why -> the refusals (one finding each)
        self.blocks: Dict[str, List[object]] = {}

    def walk(self, directives, ctx: Optional[int]) -> None:
        """``ctx`` None: the context is not known (only what nginx refuses
        in every context is said), and blocks that hold directives in any
        context are looked into."""
        table = self.table
        for d in directives:
            block = d.block is not None or d.name.endswith("_by_lua_block")
            if ctx is None:
                verdict, here, anywhere = table.status_anywhere(d.name)
            else:
                verdict, here, anywhere = table.status(d.name, ctx, block)
            refused = self.judge(d, ctx, block, verdict, here, anywhere)
            kind = "http" if ctx in _HTTP else "stream" if ctx in _STREAM else None
            if kind is not None and not refused:
                self.variables(d, kind, here)
            if ctx is None or refused:
                if d.block is not None and d.name in _STRUCTURAL:
                    if d.name == "upstream" and ctx is None:
                        self.upstreams.append((d, sum(1 for x in d.block if x.name == "server"), None))
                    # what is inside is still read, in a context not known
                    self.walk(d.block, None)
                continue
            if ctx == MAIN and d.block is not None and d.name in ("events", "http", "stream", "mail"):
                self.blocks.setdefault(d.name, []).append(d)
            if d.block is None:
                continue
            inner = _INNER.get((ctx, d.name))
            if d.name in ("upstream",) and inner is not None:
                servers = sum(1 for x in d.block if x.name == "server")
                self.upstreams.append((d, servers, inner))
            if inner is not None:
                self.walk(d.block, inner)
            elif kind is not None and d.name in ("map", "geo", "split_clients"):
                self.opaque_block(d, kind)

    def judge(self, d, ctx, block, verdict, here, anywhere) -> bool:
        """Records what nginx says about ``d`` in ``ctx``; True when refused."""
        table = self.table
        name = d.name
        if verdict is True:
            return False
        if verdict is None:
            # it depends: on a module the image may lack, or on the version
            # (a directive of a module the image may have is not said: the
            # configuration was written for an nginx that has it)
            uncertain = [r for r, v in here if v is None]
            if all(table.presence(r[0]) is True for r in uncertain) and table.build.version is None:
                removed = min((r[4] for r in uncertain if r[4] is not None), default=None)
                if removed is not None:
                    self.version_uses.append((d, _v(removed)))
            return False
        # refused in this context, whatever else is open
        shape = table.shape(name, ctx, block) if ctx is not None else None
        if shape is not None:
            self.refusals.append(Refusal(
                "context", shape,
                f"{name} in {CONTEXT_NAMES[ctx]} is a " + ("simple directive, and here it has a block" if block else "block directive, and here it has none"),
                f"Write {name} as nginx's documentation does for {CONTEXT_NAMES[ctx]}", True, d,
            ))
            return True
        possible = [(r, v) for r, v in anywhere if v is not False]
        if possible and ctx is not None:
            where = _context_list(possible)
            message = f'"{name}" directive is not allowed here'
            if not any(v is True for _, v in possible) and any(table.presence(r[0]) is None for r, _ in possible):
                modules = ", ".join(sorted({_title(r[0]) for r, _ in possible}))
                message += f' (unknown directive "{name}" on an nginx without {modules})'
            self.refusals.append(Refusal(
                "context", message,
                f"{name} is allowed in {where} only, and here it is in {CONTEXT_NAMES[ctx]}",
                f"Move {name} into {where.split(', ')[0]}, or remove it",
                True, d,
            ))
            return True
        rows = table.rows(name)
        if rows:
            refusal = self.absent(d, rows)
            if refusal.kind == "module":
                self.absent_modules.setdefault(refusal.why, []).append(refusal)
            else:
                self.refusals.append(refusal)
            return True
        # a name nginx's own tables do not hold
        build = table.build
        from crossplane.analyzer import DIRECTIVES as CROSSPLANE

        typo = near_miss(table, name)
        message = f'unknown directive "{name}"'
        hint = f" (did you mean {typo}?)" if typo else ""
        if build.exact:
            self.refusals.append(Refusal(
                "unknown", message, f"no module of {build.label} defines {name}{hint}",
                f"Correct the name{hint}, or remove the directive" if typo else "Remove the directive, or run an image whose nginx has the module that defines it",
                True, d,
            ))
            return True
        self.unknown_directives = True  # (a module somaxlint does not know may be in the build)
        if typo and name not in CROSSPLANE:
            self.refusals.append(Refusal(
                "unknown", message, f"{name} is not a directive of nginx or of any module somaxlint knows, and one letter away from {typo}",
                f"Correct the name to {typo}", True, d,
            ))
            return True
        # A name of a module somaxlint does not list (crossplane knows many
        # third-party ones) or of none it knows, on a build that may have
        # any module: not said, the configuration may well run there.
        return False

    def absent(self, d, rows) -> Refusal:
        """A directive nginx's tables hold, but not for this build."""
        table = self.table
        build = table.build
        name = d.name
        modules = sorted({r[0] for r in rows})
        version = build.version
        message = f'unknown directive "{name}"'
        if all(table.presence(m) is not False for m in modules) and version is not None:
            # the version: added later, or removed
            spans = sorted((r[3], r[4]) for r in rows if table.presence(r[0]) is not False)
            since = min((s for s, _ in spans if s is not None), default=None)
            removed = max((u for _, u in spans if u is not None), default=None)
            if since is not None and version < since:
                why = f"{name} was added in nginx {_v(since)}, and {build.label} runs nginx {_v(version)} ({build.version_source})"
                fix = f"Run nginx {_v(since)} or later, or remove {name}"
            elif removed is not None and version >= removed:
                why = f"{name} was removed in nginx {_v(removed)}, and {build.label} runs nginx {_v(version)} ({build.version_source})"
                fix = f"Remove {name} (see nginx's CHANGES for {_v(removed)} for what replaces it)"
            else:
                why = f"{build.label} (nginx {_v(version)}) does not build {name}"
                fix = f"Remove {name}"
            return Refusal("version", message, why, fix, True, d)
        shipped = [f for f, mods in build.shipped.items() if any(m in mods for m in modules)]
        if shipped:
            return Refusal(
                "module", message,
                f"{name} is a directive of {_title(modules[0])}, which {build.label} ships as modules/{shipped[0]} but does not load",
                f"Add `load_module modules/{shipped[0]};` at the top of the main configuration", True, d,
            )
        return Refusal(
            "module", message, f"{name} is a directive of {_title(modules[0])}, which {build.label} does not have",
            f"Run an image with {_title(modules[0])}, or remove {name}", True, d,
        )

    # variables ------------------------------------------------------------

    def variables(self, d, kind: str, here) -> None:
        defined = self.defined[kind]
        args = d.args
        name = d.name
        for text in [name] + list(args):
            for capture in _captures(text):
                defined.add(capture)
        definition = _DEFINES.get(name)
        if definition is not None and len(args) > definition and args[definition].startswith("$"):
            defined.add(_strip_var(args[definition]))
        elif name == "geo" and args:
            defined.add(_strip_var(args[-1]))
        elif (name.startswith("set_") or name.endswith("_set")) and args and args[0].startswith("$"):
            defined.add(_strip_var(args[0]))  # set_by_lua*, set-misc's set_*, js_set, perl_set ...
        cv = any(r[5] == "cv" for r, v in here if v is not False)
        for text in (args if cv else _referencing(name, args)):
            for var in script_variables(text):
                self.references.append((d, kind, var))

    def opaque_block(self, d, kind: str) -> None:
        """map/geo/split_clients entries: their values may use variables
        (map values are complex values), their regexes define captures."""
        for entry in d.block or ():
            for text in [entry.name] + list(entry.args):
                for capture in _captures(text):
                    self.defined[kind].add(capture)
            if d.name == "map" and entry.args and entry.name not in ("include", "hostnames", "volatile"):
                for var in script_variables(entry.args[-1]):
                    self.references.append((entry, kind, var))


def _titles():
    from somaxlint.servers.nginx.build import MODULE_TITLES

    return MODULE_TITLES


def _title(module: str) -> str:
    return _titles().get(module, module)


# variable definitions: directive -> index of the argument it defines
_DEFINES = {"set": 0, "map": 1, "split_clients": 1, "js_var": 0, "auth_request_set": 0}
_CAPTURE = LazyPattern(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>|\(\?'([A-Za-z_][A-Za-z0-9_]*)'")


def _captures(text: str) -> List[str]:
    """The named captures of a regex (`(?<name>`, `(?P<name>`,
    `(?'name'`), lower-cased as nginx looks variables up."""
    if "(?" not in text:
        return []
    return [(m.group(1) or m.group(2)).lower() for m in _CAPTURE.finditer(text)]


def _strip_var(text: str) -> str:
    text = text[1:]
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    return text.lower()


def script_variables(text: str) -> List[str]:
    """The variables nginx's script compiler reads in ``text``
    (ngx_http_script_compile: `$name`, `${name}`; `$1`..`$9` are regex
    captures), lower-cased as nginx looks them up."""
    out = []
    i = 0
    n = len(text)
    while i < n:
        if text[i] != "$":
            i += 1
            continue
        i += 1
        if i < n and text[i] == "{":
            end = text.find("}", i)
            if end < 0:
                break
            name = text[i + 1 : end]
            i = end + 1
        else:
            start = i
            while i < n and (text[i].isascii() and (text[i].isalnum() or text[i] == "_")):
                i += 1
            name = text[start:i]
        if name and not name[0].isdigit() and all(c.isascii() and (c.isalnum() or c == "_") for c in name):
            out.append(name.lower())
    return out


_IF_REGEX = ("~", "~*", "!~", "!~*")
_IF_FILE = ("-f", "!-f", "-d", "!-d", "-e", "!-e", "-x", "!-x")


def _referencing(name: str, args) -> List[str]:
    """The arguments of ``name`` that nginx compiles as scripts (variables
    in them must exist); each listed form checked with nginx 1.22.1 in
    tests/test_nginx_refusals.py."""
    if not args:
        return []
    if name == "set":
        return list(args[1:2])
    if name == "return":
        return list(args[1:2]) if args[0].isdigit() else list(args[:1])
    if name == "rewrite":
        return list(args[1:2])
    if name == "if":
        if args[0] in _IF_FILE:
            return list(args[1:2])
        if len(args) >= 3 and args[1] in _IF_REGEX:
            return list(args[:1])
        return list(args[:1]) + (list(args[2:3]) if len(args) >= 3 and args[1] in ("=", "!=") else [])
    if name in ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "root", "alias", "map",
                "split_clients", "limit_req_zone", "limit_conn_zone"):
        return list(args[:1])
    if name in ("proxy_set_header", "fastcgi_param", "uwsgi_param", "scgi_param", "grpc_set_header", "add_header",
                "add_trailer", "auth_request_set"):
        return list(args[1:2])
    if name == "geo":
        return list(args[:1]) if len(args) == 2 else []
    if name in ("try_files", "index"):
        return list(args)
    if name == "error_page":
        return list(args[-1:])
    if name == "log_format":
        return [a for a in args[1:] if not a.startswith("escape=")]
    if name == "access_log":
        out = [] if args[0] == "off" else [args[0]]
        return out + [a[3:] for a in args[1:] if a.startswith("if=")]
    return []


# --------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------


def loaded_modules(directives, build) -> Tuple[frozenset, bool]:
    """(modules `load_module` loads, whether one is a file the image does
    not ship): the main context's `load_module` lines."""
    loaded: Set[str] = set()
    unknown = False
    for d in directives:
        if d.name != "load_module" or not d.args:
            continue
        base = d.args[0].rsplit("/", 1)[-1]
        mods = build.shipped.get(base)
        if mods is not None:
            loaded.update(mods)
            continue
        unknown = True
        stem = base[:-3] if base.endswith(".so") else base
        loaded.add(stem)
        if stem in ("ngx_http_js_module", "ngx_stream_js_module"):
            loaded.add(stem.replace("_js_module", "_js_core_module"))
    return frozenset(loaded), unknown


def is_main_config(config, container_main: bool) -> bool:
    """Whether ``config`` is the main configuration nginx is started with:
    a container's (`-c`, else its image's), or a file called nginx.conf
    with an `http`, `stream` or `mail` block (another file with one is
    taken to be included at the top of a main configuration the input does
    not show)."""
    if container_main:
        return True
    top = {d.name for d in config.directives if d.block is not None}
    if "events" in top:
        return True
    label = config.main.label.rsplit("/", 1)[-1]
    return label == "nginx.conf" and bool(top & {"http", "stream", "mail"})


def refusals(config, build, container_main: bool) -> List[Refusal]:
    """Every reason nginx refuses ``config`` (a ResolvedConfig) on
    ``build``, in file order."""
    main = is_main_config(config, container_main)
    top = config.directives
    loaded, unknown_load = loaded_modules(top, build) if main else (frozenset(), False)
    build = build.with_loaded(loaded, unknown_load)
    table = Table(build, loaded, main)
    settled = not config.problems  # every include was read
    if main:
        walk = _Walk(table)
        walk.walk(top, MAIN)
        out = list(walk.refusals)
    else:
        walk, out = _snippet(table, top)
    if walk is None:
        return out
    out.extend(_grouped(walk, build))
    if main:
        if not walk.blocks.get("events"):
            if settled:
                out.append(Refusal(
                    "events", 'no "events" section in configuration',
                    "the main configuration has no events block, which nginx requires (even an empty `events {}`)",
                    "Add `events {}` at the top level of the main configuration", True, None,
                ))
        for name, blocks in walk.blocks.items():
            for d in blocks[1:]:
                out.append(Refusal("duplicate", f'"{name}" directive is duplicate', f"the configuration has a second {name} block", f"Merge the {name} blocks into one", True, d))
    if settled:
        for d, servers, ctx in walk.upstreams:
            if servers:
                continue
            zone = any(x.name == "zone" for x in d.block or ())
            if zone and build.plus:
                out.append(Refusal(
                    "upstream", "no servers are inside upstream",
                    f"upstream {' '.join(d.args)} has no server (NGINX Plus accepts one with a zone, filled through its API)",
                    "Add a server to the upstream, or remove it", False, d,
                    assumption=f"{build.label} is not NGINX Plus",
                ))
            else:
                out.append(Refusal(
                    "upstream", "no servers are inside upstream", f"upstream {' '.join(d.args)} has no server",
                    "Add a server to the upstream, or remove it and what proxies to it", True, d,
                ))
        if main:
            out.extend(_variables(walk, table))
    out.sort(key=_order)
    return out


def _order(r: Refusal):
    d = r.directive
    if d is None:
        return ("", 0, 0)
    return (d.source.display if d.source else "", d.line, d.column)


def _snippet(table: Table, top) -> Tuple[Optional[_Walk], List[Refusal]]:
    """A file included somewhere the input does not show: what nginx
    refuses in any context (an unknown directive), and what it refuses in
    every context where the file's top-level directives are allowed."""
    free = _Walk(table)
    free.walk(top, None)
    out = list(free.refusals)
    candidates = []
    for ctx in SNIPPET_CONTEXTS:
        if all(table.status(d.name, ctx, d.block is not None or d.name.endswith("_by_lua_block"))[0] is not False or not table.rows(d.name) for d in top):
            candidates.append(ctx)
    common = None
    first = None
    for ctx in candidates:
        walk = _Walk(table)
        walk.walk(top, ctx)
        contextual = {id(r.directive): r for r in walk.refusals if r.kind == "context"}
        if first is None:
            first = contextual
        common = set(contextual) if common is None else common & set(contextual)
    if first:
        out.extend(r for key, r in first.items() if key in common)
    return free, out


def _grouped(walk: _Walk, build) -> List[Refusal]:
    """One warning per module a directive needs that the build may lack,
    and one per directive a current nginx no longer has."""
    out = []
    for group in walk.absent_modules.values():
        first = group[0]
        if len(group) > 1:
            first.why += f" (and {len(group) - 1} more directives of it)"
            first.others = len(group) - 1
        out.append(first)
    for d, removed in walk.version_uses:
        out.append(Refusal(
            "version", f'unknown directive "{d.name}"',
            f"{d.name} was removed in nginx {removed}; the version this configuration runs on is not known",
            f"Remove {d.name}, or set the version (an image tag, or nginx.version in the configuration)",
            False, d, assumption=f"{build.version_source}; an nginx before {removed} accepts {d.name}",
        ))
    return out


def _variables(walk: _Walk, table: Table) -> List[Refusal]:
    """`unknown "x" variable`: a variable a directive compiles that no
    directive defines and no module of the build provides."""
    t = table.t
    build = table.build
    out = []
    seen = set()
    for d, kind, var in walk.references:
        if var in walk.defined[kind] or (kind, var) in seen:
            continue
        builtins = t.VARIABLES[kind]
        rows = builtins.get(var, ())
        if _best(_and(table.presence(_module_of_variable(r[0])), version_ok(r[3], r[4], build.version, t.FIRST_RELEASE)) for r in rows) is not False and rows:
            continue  # a module that is (or may be) built in defines it
        prefixed = [
            (name, r) for name, rs in builtins.items() for r in rs
            if r[1] and var.startswith(name)
        ]
        if any(_and(table.presence(_module_of_variable(r[0])), version_ok(r[3], r[4], build.version, t.FIRST_RELEASE)) is not False for _, r in prefixed):
            continue
        seen.add((kind, var))
        certain = build.exact and not walk.unknown_directives
        if not certain and walk.unknown_directives:
            continue  # a module somaxlint does not know (its directives are in use) may define it
        out.append(Refusal(
            "variable", f'unknown "{var}" variable',
            f"${var} is used here, and no set, map, geo, split_clients or regex capture of this configuration defines it, "
            f"nor does {build.label}" + (f" (it has ${var} only {_when(rows, build)})" if rows else ""),
            f"Define ${var} (set, map) or correct its name", certain, d,
            assumption=None if certain else f"{build.label} has no module beyond nginx's own that defines ${var}",
        ))
    return out


def _when(rows, build) -> str:
    spans = []
    for r in rows:
        since, until = r[3], r[4]
        if since and until:
            spans.append(f"from nginx {_v(since)} to {_v(until)}")
        elif since:
            spans.append(f"from nginx {_v(since)}")
        elif until:
            spans.append(f"before nginx {_v(until)}")
        else:
            spans.append(f"with {_title(_module_of_variable(r[0]))}")
    return ", ".join(sorted(set(spans)))


# the variable table names a module by its source file; most are the
# module's own name
_VAR_FILES = {
    "ngx_http_variables": "ngx_http_core_module", "ngx_http_upstream": "ngx_http_upstream_module",
    "ngx_stream_variables": "ngx_stream_core_module", "ngx_stream_upstream": "ngx_stream_upstream_module",
    "ngx_http_v2": "ngx_http_v2_module", "ngx_http_v3": "ngx_http_v3_module",
    "ngx_http_v3_module": "ngx_http_v3_module", "ngx_http_v2_module": "ngx_http_v2_module",
    "ngx_http_js_module": "ngx_http_js_module", "ngx_stream_js_module": "ngx_stream_js_module",
    "ngx_http_core_module": "ngx_http_core_module", "ngx_http_ssl_module": "ngx_http_ssl_module",
    "ngx_stream_core_module": "ngx_stream_core_module",
}


def _module_of_variable(file_stem: str) -> str:
    return _VAR_FILES.get(file_stem, file_stem)

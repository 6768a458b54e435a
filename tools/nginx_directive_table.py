"""Generate linter/servers/nginx/directive_table.py from nginx's own sources.

nginx says which directives it knows, where each is allowed and which
variables exist in C tables: every module's ``ngx_command_t`` array (name,
context and argument mask, handler) and its ``ngx_http_variable_t`` /
``ngx_stream_variable_t`` arrays.  This tool reads those tables at every
release tag of a clone of github.com/nginx/nginx (from 1.10.0 on) and of
the modules somaxlint knows beyond nginx's own -- njs (github.com/nginx/njs,
newest snapshot), lua-nginx-module and stream-lua-nginx-module
(github.com/openresty/*, newest snapshot) -- and writes one table: for each
directive, the modules that define it with their context masks (in
crossplane's bits, ``crossplane.analyzer``), the ``#if`` under which the
source compiles it, and the first release that has it and the first that
no longer does.

    python tools/nginx_directive_table.py --nginx PATH/TO/nginx.git \\
        --njs PATH/TO/njs.git --lua PATH/TO/lua-nginx-module.git \\
        --stream-lua PATH/TO/stream-lua-nginx-module.git

The output is data (one module, no logic); tests/test_nginx_refusals.py
checks it against the installed nginx binary.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "linter", "servers", "nginx", "directive_table.py")
FIRST = (1, 10, 0)

# nginx's context bits (src/core/ngx_conf_file.h, src/http/ngx_http_config.h,
# src/stream/ngx_stream.h, src/mail/ngx_mail.h, src/event/ngx_event.h) by
# module type -> crossplane.analyzer's bits (which give each context its own)
CP = {
    "NGX_MAIN_CONF": 0x00040000,
    "NGX_DIRECT_CONF": 0x00010000,
    "NGX_EVENT_CONF": 0x00080000,
    "NGX_MAIL_MAIN_CONF": 0x00100000,
    "NGX_MAIL_SRV_CONF": 0x00200000,
    "NGX_STREAM_MAIN_CONF": 0x00400000,
    "NGX_STREAM_SRV_CONF": 0x00800000,
    "NGX_STREAM_UPS_CONF": 0x01000000,
    "NGX_HTTP_MAIN_CONF": 0x02000000,
    "NGX_HTTP_SRV_CONF": 0x04000000,
    "NGX_HTTP_LOC_CONF": 0x08000000,
    "NGX_HTTP_UPS_CONF": 0x10000000,
    "NGX_HTTP_SIF_CONF": 0x20000000,
    "NGX_HTTP_LIF_CONF": 0x40000000,
    "NGX_HTTP_LMT_CONF": 0x80000000,
}
# NGX_ANY_CONF (0xFF000000): every context, `if` and `limit_except` included
ANY = sum(v for k, v in CP.items() if k != "NGX_DIRECT_CONF")
ARGS = {
    "NGX_CONF_NOARGS": 0x1, "NGX_CONF_TAKE1": 0x2, "NGX_CONF_TAKE2": 0x4, "NGX_CONF_TAKE3": 0x8,
    "NGX_CONF_TAKE4": 0x10, "NGX_CONF_TAKE5": 0x20, "NGX_CONF_TAKE6": 0x40, "NGX_CONF_TAKE7": 0x80,
    "NGX_CONF_BLOCK": 0x100, "NGX_CONF_FLAG": 0x200, "NGX_CONF_ANY": 0x400, "NGX_CONF_1MORE": 0x800,
    "NGX_CONF_2MORE": 0x1000,
    "NGX_CONF_TAKE12": 0x6, "NGX_CONF_TAKE13": 0xA, "NGX_CONF_TAKE23": 0xC, "NGX_CONF_TAKE34": 0x18,
    "NGX_CONF_TAKE123": 0xE, "NGX_CONF_TAKE1234": 0x1E,
}
# handlers that compile every argument as a complex value (variables in
# them must exist: ngx_http_variables_init_vars)
COMPLEX = {
    "ngx_http_set_complex_value_slot", "ngx_http_set_complex_value_size_slot",
    "ngx_http_set_complex_value_zero_slot", "ngx_http_set_predicate_slot",
    "ngx_stream_set_complex_value_slot", "ngx_stream_set_complex_value_size_slot",
    "ngx_stream_set_complex_value_zero_slot",
}

_MODULE = re.compile(r"ngx_module_t\s+(\w+)\s*=\s*\{\s*NGX_MODULE_V1\s*,\s*([^,]+),\s*([^,]+),\s*(\w+)\s*,", re.S)
_ARRAY = re.compile(r"ngx_command_t\s+(\w+)\[\]\s*=\s*\{")
_VARS = re.compile(r"ngx_(http|stream)_variable_t\s+(\w+)\[\]\s*=\s*\{")
_ENTRY = re.compile(r'\{\s*ngx_string\("([^"]+)"\)\s*,\s*([^,]+?)\s*,\s*(\w+)\s*,', re.S)
_VAR_ENTRY = re.compile(r'\{\s*ngx_string\("([^"]+)"\)([^}]*)\}', re.S)
_ADD_VAR = re.compile(r'static\s+ngx_str_t\s+\w+\s*=\s*ngx_string\("([a-z_0-9]+)"\)')


def conditions(text: str) -> List[str]:
    """For each line of ``text``, the #if conditions it is compiled under."""
    out, stack = [], []
    for line in text.split("\n"):
        s = line.strip()
        if s.startswith("#if ") or s.startswith("#ifdef ") or s.startswith("#ifndef "):
            word, _, rest = s.partition(" ")
            rest = rest.strip()
            if word == "#ifdef":
                rest = f"defined({rest})"
            elif word == "#ifndef":
                rest = f"!defined({rest})"
            stack.append(rest)
        elif s.startswith("#elif"):
            stack[-1] = f"!({stack[-1]}) && ({s[5:].strip()})" if stack else s[5:].strip()
        elif s.startswith("#else"):
            if stack:
                stack[-1] = f"!({stack[-1]})"
        elif s.startswith("#endif"):
            if stack:
                stack.pop()
        out.append(" && ".join(stack))
    return out


def _block(text: str, start: int) -> str:
    """The text of the brace block opening at ``start`` (its `{`)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]


def _mask(flags: str, module_type: str) -> Optional[int]:
    mask = 0
    for word in re.split(r"\s*\|\s*", flags.strip("() \n")):
        word = word.strip("() ")
        if word in CP:
            mask |= CP[word]
        elif word in ARGS:
            mask |= ARGS[word]
        elif word == "NGX_ANY_CONF":
            mask |= ANY
        elif re.fullmatch(r"0x[0-9a-fA-F]+|\d+", word) and int(word, 0) == 0:
            continue
        else:
            return None  # (a mask this tool does not know how to read)
    return mask


def parse_source(text: str) -> Tuple[list, list, list]:
    """(commands, variables, added): commands as (module, type, name, mask,
    cond, handler), variables as (kind, name, prefix, cond), names of
    variables a handler adds (``static ngx_str_t x = ngx_string("name")``)."""
    # comments out, newlines kept (lines index the #if conditions)
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    conds = conditions(text)
    line_of = lambda pos: text.count("\n", 0, pos)
    modules = {}
    for m in _MODULE.finditer(text):
        modules[m.group(3).strip()] = (m.group(1), m.group(4))
    commands = []
    for m in _ARRAY.finditer(text):
        array = m.group(1)
        module, module_type = modules.get(array, (None, None))
        if module is None:
            continue
        body_start = m.end() - 1
        body = _block(text, body_start)
        for e in _ENTRY.finditer(body):
            mask = _mask(e.group(2), module_type)
            if mask is None:
                continue
            cond = conds[line_of(body_start + e.start())]
            commands.append((module, module_type, e.group(1), mask, cond, e.group(3)))
    variables = []
    for m in _VARS.finditer(text):
        kind = m.group(1)
        body_start = m.end() - 1
        body = _block(text, body_start)
        for e in _VAR_ENTRY.finditer(body):
            cond = conds[line_of(body_start + e.start())]
            prefix = "VAR_PREFIX" in e.group(2)
            variables.append((kind, e.group(1), prefix, cond))
    added = _ADD_VAR.findall(text)
    return commands, variables, added


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", repo, *args], check=True, capture_output=True, text=True).stdout


class Blobs:
    """`git cat-file --batch`, parsed once per blob."""

    def __init__(self, repo: str):
        self.proc = subprocess.Popen(["git", "--git-dir", repo, "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.parsed: Dict[str, tuple] = {}

    def get(self, sha: str) -> tuple:
        if sha not in self.parsed:
            self.proc.stdin.write(sha.encode() + b"\n")
            self.proc.stdin.flush()
            header = self.proc.stdout.readline().split()
            size = int(header[2])
            data = self.proc.stdout.read(size + 1)[:-1]
            self.parsed[sha] = parse_source(data.decode("latin-1"))
        return self.parsed[sha]


def release_tags(repo: str) -> List[Tuple[Tuple[int, int, int], str]]:
    out = []
    for tag in git(repo, "tag").split():
        m = re.fullmatch(r"release-(\d+)\.(\d+)\.(\d+)", tag)
        if m:
            version = tuple(int(x) for x in m.groups())
            if version >= FIRST:
                out.append((version, tag))
    return sorted(out)


def snapshot(repo: str, ref: str, under: str, blobs: Blobs, module_name=lambda path: None):
    commands, variables, added = [], [], []
    for line in git(repo, "ls-tree", "-r", ref, under).splitlines():
        meta, path = line.split("\t", 1)
        if not path.endswith(".c") or "/win32/" in path:
            continue
        c, v, a = blobs.get(meta.split()[2])
        commands += [cmd + (path,) for cmd in c]
        variables += [var + (path,) for var in v]
        added += [(name, path) for name in a]
    return commands, variables, added


def ranges(presence: List[bool], versions: List[tuple]) -> List[Tuple[Optional[tuple], Optional[tuple]]]:
    """[(since, until)]: since None = before the first version scanned;
    until None = still in the newest."""
    out = []
    start = None
    present = False
    for i, here in enumerate(presence):
        if here and not present:
            start = None if i == 0 else versions[i]
            present = True
        elif not here and present:
            out.append((start, versions[i]))
            present = False
    if present:
        out.append((start, None))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nginx", required=True, help="git directory of github.com/nginx/nginx")
    parser.add_argument("--njs", help="git directory of github.com/nginx/njs")
    parser.add_argument("--lua", help="git directory of github.com/openresty/lua-nginx-module")
    parser.add_argument("--stream-lua", help="git directory of github.com/openresty/stream-lua-nginx-module")
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args(argv)

    tags = release_tags(args.nginx)
    versions = [v for v, _ in tags]
    blobs = Blobs(args.nginx)
    seen_cmd: Dict[tuple, List[bool]] = {}
    seen_var: Dict[tuple, List[bool]] = {}
    sources: Dict[str, str] = {}
    for i, (version, tag) in enumerate(tags):
        commands, variables, added = snapshot(args.nginx, tag, "src", blobs)
        for module, mtype, name, mask, cond, handler, path in commands:
            key = (name, module, mtype, mask, cond, "cv" if handler in COMPLEX else "")
            seen_cmd.setdefault(key, [False] * len(tags))[i] = True
            sources[module] = path
        for kind, name, prefix, cond, path in variables:
            module = os.path.basename(path)[:-2]
            key = (kind, name, prefix, cond, module)
            seen_var.setdefault(key, [False] * len(tags))[i] = True
        for name, path in added:
            if path.startswith("src/http/") or path.startswith("src/stream/"):
                kind = "http" if path.startswith("src/http/") else "stream"
                key = (kind, name, False, "added", os.path.basename(path)[:-2])
                seen_var.setdefault(key, [False] * len(tags))[i] = True

    directives: Dict[str, list] = {}
    for key, presence in seen_cmd.items():
        name, module, mtype, mask, cond, kind = key
        for since, until in ranges(presence, versions):
            directives.setdefault(name, []).append((module, mask, cond, since, until, kind))
    variables: Dict[str, Dict[str, list]] = {"http": {}, "stream": {}}
    for key, presence in seen_var.items():
        kind, name, prefix, cond, module = key
        for since, until in ranges(presence, versions):
            variables[kind].setdefault(name, []).append((module, prefix, cond, since, until))

    extra_sources = []
    for label, repo, under in (("njs", args.njs, "nginx"), ("lua", args.lua, "src"), ("stream-lua", args.stream_lua, "src")):
        if not repo:
            continue
        head = git(repo, "rev-parse", "HEAD").strip()
        extra_sources.append((label, head))
        commands, variables_x, _ = snapshot(repo, "HEAD", under, Blobs(repo))
        for module, mtype, name, mask, cond, handler, path in commands:
            entry = (module, mask, cond, None, None, "cv" if handler in COMPLEX else "")
            if entry not in directives.setdefault(name, []):
                directives[name].append(entry)
            sources[module] = f"{label}:{path}"
        for kind, name, prefix, cond, path in variables_x:
            entry = (os.path.basename(path)[:-2], prefix, cond, None, None)
            variables[kind].setdefault(name, []).append(entry)

    nginx_head = git(args.nginx, "rev-parse", "HEAD").strip()
    with open(args.out, "w", encoding="utf-8") as out:
        out.write('"""nginx\'s directives and variables, by release: generated by\n')
        out.write("`python tools/nginx_directive_table.py` from the ngx_command_t and\n")
        out.write("ngx_http_variable_t / ngx_stream_variable_t arrays of nginx's sources (never\n")
        out.write("edited by hand).\n\n")
        out.write(f"nginx: github.com/nginx/nginx, every release tag from {'.'.join(map(str, versions[0]))} to {'.'.join(map(str, versions[-1]))} (HEAD {nginx_head})\n")
        for label, head in extra_sources:
            repo = {"njs": "nginx/njs", "lua": "openresty/lua-nginx-module", "stream-lua": "openresty/stream-lua-nginx-module"}[label]
            out.write(f"{label}: github.com/{repo} at {head} (newest snapshot: no release ranges)\n")
        out.write("\nDIRECTIVES: name -> ((module, mask, cond, since, until, kind), ...); mask in\n")
        out.write("crossplane.analyzer's context and argument bits; cond the `#if` the source\n")
        out.write("compiles it under; since/until the first release with it and the first\n")
        out.write("without it again (None: before the first release read / still there);\n")
        out.write('kind "cv": every argument is compiled as a complex value (variables in it\n')
        out.write("must exist).\n")
        out.write("VARIABLES: http|stream -> name -> ((module, prefix, cond, since, until), ...);\n")
        out.write('cond "added": a name a handler adds (ngx_http_add_variable), not a table row.\n')
        out.write('"""\n\n')
        out.write(f"FIRST_RELEASE = {versions[0]!r}\nNEWEST_RELEASE = {versions[-1]!r}\n\n")
        out.write("SOURCES = {\n")
        for module in sorted(sources):
            out.write(f"    {module!r}: {sources[module]!r},\n")
        out.write("}\n\nDIRECTIVES = {\n")
        for name in sorted(directives):
            rows = sorted(directives[name], key=lambda r: (r[0], r[3] or (0,), r[1]))
            out.write(f"    {name!r}: (\n")
            for module, mask, cond, since, until, kind in rows:
                out.write(f"        ({module!r}, 0x{mask:08x}, {cond!r}, {since!r}, {until!r}, {kind!r}),\n")
            out.write("    ),\n")
        out.write("}\n\nVARIABLES = {\n")
        for kind in ("http", "stream"):
            out.write(f"    {kind!r}: {{\n")
            for name in sorted(variables[kind]):
                rows = sorted(set(variables[kind][name]), key=lambda r: (r[0], r[3] or (0,)))
                out.write(f"        {name!r}: (\n")
                for row in rows:
                    out.write(f"            {row!r},\n")
                out.write("        ),\n")
            out.write("    },\n")
        out.write("}\n")
    print(f"wrote {args.out}: {len(directives)} directives, {sum(len(v) for v in variables.values())} variables from {len(tags)} releases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

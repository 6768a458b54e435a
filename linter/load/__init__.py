"""Stage 2: bytes -> positioned documents and directive trees.

A loaded file carries what it holds and every error met while reading it;
loaders never know about rules.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, Tuple

from somaxlint.discover import InputFile, decode_lenient, decode_strict
from somaxlint.load.nginx_text import Directive, looks_like_nginx, parse_nginx
from somaxlint.load.positioned import YMap, YSeq
from somaxlint.load.yaml_stream import MAX_INTEGER_DIGITS, Document, IntegerTooLong, YamlError, load_yaml
from somaxlint.records import record, field


@record
class LoadError:
    message: str
    line: int
    column: int


@record
class LoadedFile:
    input: InputFile
    kind: str  # "yaml", "json", "nginx"
    text: Optional[str] = None
    documents: List[Document] = field(default_factory=list)
    helm_sources: List[Optional[str]] = field(default_factory=list)  # per document
    directives: Optional[List[Directive]] = None
    errors: List[LoadError] = field(default_factory=list)
    # Set when a file found by walking a directory turns out not to be what
    # its name suggested (a .conf that is not nginx): skipped, not an error.
    not_applicable: Optional[str] = None
    # The deployment unit this stream belongs to (a rendered chart, a built
    # kustomization, standard input); None for a plain file on disk.
    unit: Optional[str] = None
    # (what to say, line, column) when the file is a template (ytt, Helm,
    # Go or Jinja, envsubst): nothing of it is read (``load.templates``)
    template: Optional[Tuple[str, int, int]] = None


def sniff_kind(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        return "json"
    if _pattern("sniff").search(text) or stripped.startswith("---"):
        return "yaml"
    return "nginx"


def load_bytes(f: InputFile, data: bytes) -> LoadedFile:
    kind = f.kind
    if kind == "nginx" and data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        kind = "json"  # CNI network configs are often named *.conf
    if kind == "nginx":
        return _load_nginx(f, decode_lenient(data))

    text, problem = decode_strict(data)
    if text is None:
        line, column, message = problem
        return LoadedFile(f, kind or "yaml", errors=[LoadError(message, line, column)])
    if kind is None:
        kind = sniff_kind(text)
        if kind == "nginx":
            loaded = _load_nginx(f, text)
            # (walked, _load_nginx has said whether it looks like nginx)
            if loaded.not_applicable == NOT_NGINX or (loaded.errors and f.explicit and not looks_like_nginx(text)):
                # sniffed, not named: text nginx cannot read and that has
                # nothing only nginx has is read as the YAML it may be (a
                # values file piped in)
                as_yaml = _load_yaml(f, text)
                if not as_yaml.errors:
                    return as_yaml
            return loaded
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        return LoadedFile(f, kind, errors=[LoadError("binary file (contains NUL bytes)", line, 1)])
    if kind == "json":
        return _load_json(f, text)
    return _load_yaml(f, text)


def _load_yaml(f: InputFile, text: str) -> LoadedFile:
    documents, errors = load_yaml(text)
    loaded = LoadedFile(f, "yaml", text=text, documents=documents)
    if "{" in text or "#@" in text:
        from somaxlint.load.templates import yaml_template

        template = yaml_template(text, f.display, bool(errors))
        if template is not None and (errors or _pattern("ours_yaml").search(text)):
            # one finding for the file (SMX019), never one per placeholder
            loaded.documents = []
            loaded.template = template
            return loaded
    if errors and not _pattern("ours_yaml").search(text):
        # Broken YAML that is not a manifest (a CI template, a values file
        # with Go templates): skipped and counted, not an error.
        loaded.documents = []
        loaded.not_applicable = NOT_OURS
        return loaded
    loaded.errors = [LoadError(e.message, e.line, e.column) for e in errors]
    loaded.helm_sources = _helm_sources(text, documents)
    return loaded


NOT_OURS = "not Kubernetes, CNI or nginx"
# a *.conf found by walking that is another program's (HOCON, INI)
NOT_NGINX = "not an nginx configuration"
_PATTERNS = {
    "sniff": (r"^(apiVersion|kind)\s*:", "M"),
    # Keys that make a file one somaxlint must read, broken or not.  Linear:
    # a literal alternation anchored at a line start or a quote.
    "ours_yaml": (r"^[ \t-]*(?:apiVersion|kind)[ \t]*:", "M"),
    # a Kubernetes object names its apiVersion, a CNI configuration its
    # cniVersion ("kind" alone is in a VS Code launch.json's cargo filter)
    "ours_json": (r'"(?:apiVersion|cniVersion)"', ""),
    "source": (r"^# Source: (\S[^\n]*)", "M"),  # trailing blanks stripped in code: linear
}
_compiled = {}


def _pattern(name: str):
    """A regular expression of ``_PATTERNS``, compiled when first used."""
    compiled = _compiled.get(name)
    if compiled is None:
        import re

        source, flags = _PATTERNS[name]
        compiled = _compiled[name] = re.compile(source, re.M if flags else 0)
    return compiled


def _helm_sources(text: str, documents: List[Document]) -> List[Optional[str]]:
    """`helm template` writes `# Source: <chart>/templates/<file>` above each
    document; remember it so findings can point at the template."""
    if "# Source:" not in text:
        return [None] * len(documents)
    marks = []  # (line, source)
    line = 1
    last = 0
    for match in _pattern("source").finditer(text):
        line += text.count("\n", last, match.start())
        last = match.start()
        marks.append((line, match.group(1).rstrip()))
    lines = [m[0] for m in marks]
    from bisect import bisect_right

    out = []
    previous_end = 0
    for doc in documents:
        content_line = doc.root.pos[0] if isinstance(doc.root, (YMap, YSeq)) else doc.end_line
        i = bisect_right(lines, content_line) - 1
        source = marks[i][1] if i >= 0 and lines[i] >= previous_end else None
        out.append(source)
        previous_end = content_line
    return out


def _load_json(f: InputFile, text: str) -> LoadedFile:
    import json

    loaded = LoadedFile(f, "json", text=text)

    def pairs(items):
        seen = {}
        for key, value in items:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen[key] = value
        return seen

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_int=_json_integer)
    except json.JSONDecodeError as exc:
        if not _pattern("ours_json").search(text):
            # tsconfig.json, editor settings, package.json with comments:
            # not a file somaxlint reads, so not an error of the input.
            loaded.not_applicable = NOT_OURS
            return loaded
        loaded.errors.append(LoadError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno))
        return loaded
    except (IntegerTooLong, RecursionError):
        # a bound of the positioned builder's (a long integer, nesting
        # deeper than json's C stack allows): said where it is
        return _json_bound(loaded, text)
    except ValueError as exc:
        loaded.errors.append(LoadError(f"invalid JSON: {exc}", 1, 1))
        return loaded
    # Valid JSON; read it again through the positioned builder for marks.
    documents, errors = load_yaml(text)
    if any(e.bound for e in errors):
        return _json_bound(loaded, text, documents, errors)
    if errors or len(documents) != 1:
        # Valid JSON that libyaml reads differently (tabs in odd places):
        # keep the values, with every position at the start of the file.
        documents = [Document(index=0, root=_unpositioned(value), line=1, end_line=1)]
    loaded.documents = documents
    loaded.helm_sources = [None] * len(documents)
    return loaded


def _json_integer(digits: str) -> int:
    """json's integers, within the YAML loader's bound on their length
    (``MAX_INTEGER_DIGITS``: the time to convert one grows with its
    square)."""
    if len(digits) > MAX_INTEGER_DIGITS and len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise IntegerTooLong(len(digits.lstrip("-")))
    return int(digits)


def _json_bound(loaded: LoadedFile, text: str, documents=None, errors=None) -> LoadedFile:
    """JSON that one of the positioned builder's bounds stops (nesting
    deeper than MAX_DEPTH, an integer longer than MAX_INTEGER_DIGITS): the
    builder's located errors, and nothing read around them."""
    if errors is None:
        documents, errors = load_yaml(text)
    bounds = [e for e in errors if e.bound]
    if not bounds:  # (libyaml stopped first: its own error, located)
        bounds = errors[:1] or [YamlError("nested too deeply, or an integer too long, to read", 1, 1)]
    loaded.errors = [LoadError(f"invalid JSON: {e.message}", e.line, e.column) for e in bounds]
    loaded.documents = []
    loaded.helm_sources = []
    return loaded


def _load_nginx(f: InputFile, text: str) -> LoadedFile:
    from somaxlint.load.templates import nginx_template

    template = nginx_template(text, f.display)
    if template is not None:
        return LoadedFile(f, "nginx", text=text, template=template)
    directives, errors = parse_nginx(text)
    loaded = LoadedFile(f, "nginx", text=text, directives=directives)
    loaded.errors = [LoadError(e.message, e.line, e.column) for e in errors]
    if not f.explicit and errors and not looks_like_nginx(text):
        loaded.not_applicable = NOT_NGINX
    return loaded


def _unpositioned(value):
    """``value`` (json's dicts and lists) as positioned values, every
    position at the start of the file.  Iterative: json nests deeper than
    Python's stack."""
    top = (1, 1, None)

    def convert(item):
        if isinstance(item, dict):
            node = YMap()
            todo.append((node, item))
            return node
        if isinstance(item, list):
            node = YSeq()
            todo.append((node, item))
            return node
        return item

    todo = []
    out = convert(value)
    while todo:
        node, item = todo.pop()
        if isinstance(node, YMap):
            for key, child in item.items():
                node[key] = convert(child)
                node.kpos[key] = node.vpos[key] = top
        else:
            for child in item:
                node.append(convert(child))
                node.ipos.append(top)
    return out

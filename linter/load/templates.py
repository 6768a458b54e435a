"""Files that are templates, not the manifests or configs they render to.

A repository holds ytt files, Helm templates whose chart is elsewhere, Go
or Jinja templates, and nginx configs with `${VAR}` placeholders that the
official image's entrypoint fills with envsubst.  Linted as they stand
they give one parse error per placeholder, or -- worse -- findings about
values nobody deploys.  Each such file is recognised here, once, by what
only a template holds; the loader then reads nothing of it and the file is
reported as one thing: a template that is not rendered (SMX019), with how
to render it.

Every check is a plain substring search or a pattern anchored at a line
start: linear in the text.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Optional, Tuple

from somaxlint.patterns import LazyPattern

# ytt's annotations: `#@ load(...)`, `#@data/values`, `#@ def`, `#@ end`
_YTT = LazyPattern(r"(?m)^[ \t]*#@(?:[ \t]|data/values|overlay/|yaml/|schema/|template\.|library/|load\b)")
# Helm's and other Go templates' actions on the chart's objects
_HELM = LazyPattern(
    r"\{\{-?[ \t]*(?:\.Values|\.Release|\.Chart|\.Capabilities|\.Files|\$\.|include[ \t]|template[ \t]|tpl[ \t]|toYaml|define[ \t])"
)
# any Go/Jinja action that starts a line or follows a key: `{{- if }}`,
# `key: {{ .Name }}`, `{% for %}`
_ACTION = LazyPattern(r"(?m)(?:^[ \t-]*|:[ \t]+)(?:\{\{|\{%)")
# envsubst's placeholders as nginx templates use them: `${NGINX_PORT}`
# (nginx's own `${var}` names its variables, lower case by convention)
_ENVSUBST = LazyPattern(r"\$\{[A-Z][A-Z0-9_]*\}")
# what a manifest holds at its top level
_OBJECT = LazyPattern(r"(?m)^(?:apiVersion|kind)[ \t]*:")
TEMPLATE_SUFFIXES = (".template", ".tmpl", ".tpl", ".j2", ".jinja", ".jinja2", ".gotmpl")


def yaml_template(text: str, display: str, parse_failed: bool) -> Optional[Tuple[str, int, int]]:
    """(what to say, line, column) when the YAML file is a template, else
    None.  A Go template that YAML cannot read (an action where YAML reads
    structure), or a Helm template in a `templates/` directory.  A manifest
    that merely quotes `{{ $labels.x }}` (a PrometheusRule's annotations) or
    a value `{{ .Values.x }}` and parses is not one: it is read."""
    if "#@" in text:
        match = _YTT.search(text)
        if match:
            return (
                "ytt template, not rendered: its objects are not checked "
                f"(render it: `ytt -f {_directory(display)} | somaxlint -`)",
            ) + _position(text, match.start())
    if "{{" not in text and "{%" not in text:
        return None
    helm = _HELM.search(text) if "{{" in text else None
    in_templates = display.startswith("templates/") or "/templates/" in display
    action = _ACTION.search(text) if parse_failed else None
    if helm and in_templates and not parse_failed and not _ACTION.search(text) and not _OBJECT.search(text):
        # YAML that reads, with no object and no action that could write
        # one: a values file whose strings the chart passes to `tpl`
        # (zero-to-jupyterhub's tools/templates/), not a manifest template
        return None
    if helm and (in_templates or action):
        return (
            "Helm template, not rendered: its chart's Chart.yaml is not in the input, so somaxlint cannot render it "
            "(lint the chart's directory, or `helm template CHART | somaxlint -`)",
        ) + _position(text, helm.start())
    if action:
        at = text.index("{", action.start())
        return (
            "Go or Jinja template, not rendered: its objects are not checked "
            "(render it with its tool, then `... | somaxlint --stdin-filename FILE -`)",
        ) + _position(text, at)
    # A file that parses and stands outside a chart's templates/ is read as
    # far as it goes: a value that is not literal is said where it is read.
    return None


def nginx_template(text: str, display: str) -> Optional[Tuple[str, int, int]]:
    """(what to say, line, column) when the nginx file is a template."""
    name = display.rsplit("/", 1)[-1]
    if name.endswith(TEMPLATE_SUFFIXES):
        return (
            f"nginx template ({name}), not rendered: "
            "the official nginx image fills /etc/nginx/templates/*.template with envsubst at start-up; "
            f"lint the result (`envsubst < {display} | somaxlint --stdin-filename nginx.conf -`)",
            1,
            1,
        )
    at = _placeholder(text) if "{{" in text or "{%" in text else None
    if at is not None:
        return (
            "nginx template ({{ }} placeholders), not rendered: nginx refuses the file as it stands; "
            "lint what the template renders to (`... | somaxlint --stdin-filename nginx.conf -`)",
        ) + _position(text, at)
    if "${" in text:
        match = _ENVSUBST.search(text)
        if match:
            return (
                f"nginx template ({match.group()} placeholders, as envsubst fills them), not rendered: "
                f"lint the result (`envsubst < {display} | somaxlint --stdin-filename nginx.conf -`)",
            ) + _position(text, match.start())
    return None


def _placeholder(text: str) -> Optional[int]:
    """Where the first `{{` or `{%` of a template language stands in nginx
    syntax -- where nginx would read it as braces -- or None.  One inside a
    comment, a quoted string or a `*_by_lua_block` (lua-resty-template's
    `{% if %}` in OpenResty's Lua, ingress-nginx's echo image) is the
    content of that string, not a placeholder: the tokens tell them
    apart (one pass of the lexer, only over a text holding `{{` or `{%`)."""
    from crossplane.errors import NgxParserBaseException

    from somaxlint.load.nginx_text import lex_text

    lines: Optional[list] = None
    previous = None
    try:
        for token in lex_text(text, "<template check>"):
            if previous is not None and not token[2] and token[1] == previous[1] and (token[0] == "{" or token[0].startswith("%")):
                lines = lines or text.split("\n")
                line = lines[token[1] - 1] if 0 < token[1] <= len(lines) else ""
                column = min((i for i in (line.find("{{"), line.find("{%")) if i >= 0), default=0)
                return sum(len(l) + 1 for l in lines[: token[1] - 1]) + column
            previous = token if token[0] == "{" and not token[2] else None
    except NgxParserBaseException:
        pass  # unbalanced braces: what came before held no placeholder
    return None


def _position(text: str, offset: int) -> Tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _directory(display: str) -> str:
    return display.rsplit("/", 1)[0] if "/" in display else "."

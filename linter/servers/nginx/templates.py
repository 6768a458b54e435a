"""The official nginx image's templates: its entrypoint (docker-nginx
entrypoint/20-envsubst-on-templates.sh @ 2f4acce0) renders every
`$NGINX_ENVSUBST_TEMPLATE_DIR/**/*$NGINX_ENVSUBST_TEMPLATE_SUFFIX`
(defaults /etc/nginx/templates, .template) into
`$NGINX_ENVSUBST_OUTPUT_DIR` (default /etc/nginx/conf.d), replacing
`$VAR`/`${VAR}` (names starting with $NGINX_ENVSUBST_FILTER) by the
variable's value when it is defined and leaving it as written when not.
"""

from __future__ import annotations

import os

from somaxlint.model.filesystem import MountedFile
from somaxlint.model.sources import TextSource
from somaxlint.patterns import LazyPattern

_ENV_REFERENCE = LazyPattern(r"\$(\{)?(\w+)(?(1)\})")


def render_templates(fs, container, env) -> None:
    """Add the rendered files to ``fs``.  Values come from the container's
    environment (``somaxlint.model.environment``: `env` and `envFrom`
    ConfigMaps of the input); a reference whose value the input does not
    show makes that output unknown (said, not guessed)."""
    literal = {name: word.text for name, word in env.items()}
    unknown_names = set(env.hidden)
    any_unknown = env.open is not None  # any name may be defined by it
    template_dir = os.path.normpath(literal.get("NGINX_ENVSUBST_TEMPLATE_DIR", "/etc/nginx/templates"))
    suffix = literal.get("NGINX_ENVSUBST_TEMPLATE_SUFFIX", ".template")
    output_dir = os.path.normpath(literal.get("NGINX_ENVSUBST_OUTPUT_DIR", "/etc/nginx/conf.d"))
    prefix = literal.get("NGINX_ENVSUBST_FILTER", "")
    for path, mounted in sorted(fs.files.items_under(template_dir)):
        if not path.startswith(template_dir + "/") or not path.endswith(suffix):
            continue
        out_path = os.path.join(output_dir, path[len(template_dir) + 1 : len(path) - len(suffix)])
        source = mounted.source
        unknown = []

        def substitute(match, unknown=unknown):
            name = match.group(2)
            if not name.startswith(prefix):
                return match.group(0)
            if name in literal:
                return literal[name]
            if name in unknown_names or any_unknown:
                unknown.append(name)
            return match.group(0)

        text = _ENV_REFERENCE.sub(substitute, source.text)
        if unknown:
            # The rendered file replaces the image's own (conf.d/default.conf)
            # and its content is unknown: the include of the output directory
            # says so (SMX018 when nothing else defines a listener).
            fs.files.pop(out_path, None)
            fs.opaque[output_dir] = (
                f"rendered by the nginx image's envsubst from {source.label} with ${unknown[0]}, whose value the input does not show"
            )
            continue
        exact = source.exact and all("\n" not in literal[n] for n in literal)
        rendered = TextSource(
            source.display, text, f"{source.label} (rendered to {out_path} by the image's envsubst)",
            line0=source.line0, col0=source.col0, exact=exact, anchor=source.anchor, helm_source=source.helm_source,
        )
        fs.files[out_path] = MountedFile(rendered, mounted.via)

"""A YAML, JSON or nginx input (or an nginx config embedded in a ConfigMap)
cannot be read.

## What it does
Reports every input that cannot be parsed, at the line and column where
the parser stopped: YAML and JSON syntax errors, duplicate mapping keys,
text that is not UTF-8, binary files, files over the size limit, nginx
syntax errors (also inside a ConfigMap, mapped to the YAML file's line),
and Kubernetes fields of the wrong type where the linter reads them
(`sysctls: "x"`, `containers: {}`), which the API server refuses too.
The other files are still linted, and the run fails.

## Why it matters
A manifest that does not parse is one the linter could not check, and one
`kubectl apply` will refuse; an nginx config that does not parse makes
nginx refuse to start. Nothing is skipped silently.

## Example
```yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  name: web-2   # duplicate key: Kubernetes rejects the document
```

## How to fix
Correct the syntax at the reported position. For nginx, `nginx -t`
reports the same problem.
"""

from __future__ import annotations

import re

from somaxlint.findings import Finding, Location

CODE = "SMX000"
NAME = "unparsable-input"
SEVERITY = "error"
SUMMARY = "An input file (or an embedded nginx config) cannot be parsed"


def check(model):
    for loaded in model.files:
        if loaded.not_applicable:
            continue
        display = loaded.input.display
        what = {"yaml": "YAML", "json": "JSON", "nginx": "nginx"}.get(loaded.kind, loaded.kind)
        for error in loaded.errors:
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"cannot parse {what}: {error.message}",
                Location(display, error.line, error.column),
                subject=_stable(error.message),
            )
    # Charts and kustomizations that Helm or kustomize refused.
    for location, message, severity, related in model.unit_problems:
        if severity == "error":
            yield Finding(CODE, NAME, SEVERITY, message, location, related=related, subject=_stable(message))
    # Kubernetes fields of the wrong type (the API server refuses them).
    for location, message in model.problems:
        yield Finding(CODE, NAME, SEVERITY, message, location, subject=_stable(message))
    # Embedded configs, and files reached only through an include.  (Input
    # nginx files enter the cache without errors: reported above.)
    for source, parsed in model.parse_cache.all():
        for error in parsed.errors:
            where = "" if source.label == source.display else f" (in {source.label})"
            location = source.locate(error.line, error.column)
            note = ""
            if location.approximate:
                note = f" at line {error.line} of the embedded config"
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"cannot parse nginx{where}{note}: {error.message}",
                location,
                subject=f"{source.label}|{_stable(error.message)}",
                helm_source=source.helm_source,
            )


def _stable(message: str) -> str:
    # Fingerprints must survive lines moving: drop the numbers in messages
    # such as "first defined at line 6".
    return re.sub(r"\d+", "#", message)

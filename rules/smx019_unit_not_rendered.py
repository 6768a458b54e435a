"""A Helm chart or kustomization could not be rendered: its objects are not checked.

## What it does
Reports each chart (a directory with `Chart.yaml`) that somaxlint could not
render because no Helm is available: neither the `helm` binary on `PATH`
nor the in-process binding (`pip install 'somaxlint[helm]'`). The chart's
templates are never parsed as manifests (they are not YAML until Helm
renders them), so without Helm nothing in the chart is checked, and this
finding says so at its `Chart.yaml`.

A chart or kustomization that Helm or kustomize *refuses* is an
unparsable input instead (SMX000).

## Why it matters
A clean report must not mean more than it does: a chart somaxlint did not
render may hold the truncated listener this tool exists to find.

## Example
```text
charts/web/Chart.yaml:1:1: SMX019 [info] chart not rendered: install helm
(on PATH) or somaxlint[helm] to lint its templates
```

## How to fix
Install Helm (`helm` on `PATH`) or the binding (`pip install
'somaxlint[helm]'`), or exclude the chart with `exclude:` in
`.somaxlint.yaml`.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Location

CODE = "SMX019"
NAME = "unit-not-rendered"
SEVERITY = "info"
SUMMARY = "A Helm chart or kustomization could not be rendered: its objects are not checked"


def check(model):
    for location, message, severity, related in model.unit_problems:
        if severity == "info":
            yield Finding(CODE, NAME, SEVERITY, message, location, related=related, subject=message)
    # Templates among the plain files (ytt, Helm without its chart, Go or
    # Jinja, envsubst): each said once, nothing of them read.
    for loaded in model.files:
        if loaded.template is not None:
            message, line, column = loaded.template
            yield Finding(CODE, NAME, SEVERITY, message, Location(loaded.input.display, line, column), subject=message.split(",", 1)[0])

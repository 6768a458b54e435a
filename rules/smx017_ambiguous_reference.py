"""A reference could mean two equally near objects.

## What it does
A workload names a ConfigMap or Secret (a volume, a projected source) and
the input holds more than one object of that name at the same distance
from the workload: no deployment unit contains both the workload and one
of them, and their files share the same directory prefix with the
workload's. somaxlint then evaluates the workload against each candidate
(every finding about it says which) and reports the ambiguity here.

## Why it matters
Which object the cluster holds depends on which of the files is applied,
and in which order. Guessing would link an application to another
application's configuration and hide, or invent, a truncated listener.

## Example
```text
deploy/web.yaml            Deployment web mounts ConfigMap nginx-conf
deploy/a/nginx-conf.yaml   ConfigMap nginx-conf
deploy/b/nginx-conf.yaml   ConfigMap nginx-conf   (equally near)
```

## How to fix
Keep the workload next to the configuration it uses (the same file or
directory), lint the two applications separately, or give the objects
distinct names.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related
from somaxlint.model import workload_label

CODE = "SMX017"
NAME = "ambiguous-reference"
SEVERITY = "info"
SUMMARY = "A reference could mean two equally near objects; each is evaluated"


def check(model):
    for amb in model.ambiguities:
        namespace = amb.workload.namespace or "default"
        files = ", ".join(c.display for c in amb.candidates)
        yield Finding(
            CODE,
            NAME,
            SEVERITY,
            f"{amb.kind} {namespace}/{amb.name} used by {workload_label(amb.workload)} is defined in "
            f"{len(amb.candidates)} equally near places ({files}): the workload is evaluated against each",
            amb.location,
            related=tuple(Related(c.location, f"candidate {c.ref} in {c.display}") for c in amb.candidates),
            subject=f"{amb.workload.ref}|{amb.kind}|{amb.name}",
            helm_source=amb.workload.obj.helm_source,
            objects=(amb.workload.ref,),
        )

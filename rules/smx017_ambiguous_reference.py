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

# The candidates one finding names (in its message and as related
# locations), in file order; the others are counted ("and 1990 more"):
# two thousand workloads each equally near two thousand objects would
# otherwise be a report of four million locations.
MAX_CANDIDATES_LISTED = 10


def check(model):
    # What is said of one list of candidates, worked out once: equally near
    # workloads share the model's tuple of them.
    said = {}
    for amb in model.ambiguities:
        namespace = amb.workload.namespace or "default"
        listed = said.get(id(amb.candidates))
        if listed is None:
            listed = said[id(amb.candidates)] = _listed(amb.candidates)
        files, related = listed
        yield Finding(
            CODE,
            NAME,
            SEVERITY,
            f"{amb.kind} {namespace}/{amb.name} used by {workload_label(amb.workload)} is defined in "
            f"{len(amb.candidates)} equally near places ({files}): the workload is evaluated against each",
            amb.location,
            related=related,
            subject=f"{amb.workload.ref}|{amb.kind}|{amb.name}",
            helm_source=amb.workload.obj.helm_source,
            objects=(amb.workload.ref,),
        )


def _listed(candidates):
    """(the files named, the related locations) of the first
    MAX_CANDIDATES_LISTED candidates in file order, and how many more."""
    from heapq import nsmallest

    def where(c):
        return (c.display, c.location.line, c.location.column)

    first = nsmallest(MAX_CANDIDATES_LISTED, candidates, key=where)  # (stable: equal places keep their order)
    files = ", ".join(c.display for c in first)
    if len(candidates) > len(first):
        files += f" and {len(candidates) - len(first)} more"
    return files, tuple(Related(c.location, f"candidate {c.ref} in {c.display}") for c in first)

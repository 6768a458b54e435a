"""Two objects of one kind, namespace and name are deployed together.

## What it does
Reports an object that a later object of the same kind, namespace and name
replaces within one deployment unit: the same file, one rendered Helm
release, or one built kustomization. The finding sits on the object that
is lost, and names the one that is kept.

## Why it matters
`kubectl apply` (and Helm, and Argo CD) keep only the last of two objects
with the same identity, without an error. A ConfigMap written twice in one
file means the nginx configuration that runs is not the one a reviewer
reads first. somaxlint links references to the object that is kept.

## Example
```yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx-conf}   # lost
data: {nginx.conf: "..."}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx-conf}   # kept
data: {nginx.conf: "..."}
```

## How to fix
Delete the copy that is not meant to be deployed, or give it its own name.
"""

from __future__ import annotations

from somaxlint.findings import Finding, Related

CODE = "SMX016"
NAME = "duplicate-object"
SEVERITY = "warning"
SUMMARY = "Two objects of one kind/namespace/name in one file or unit: only the last is deployed"


def check(model):
    for duplicate in model.inventory.scope.duplicates:
        lost, kept = duplicate.dropped, duplicate.kept
        where = lost.file.unit or "this file"
        yield Finding(
            CODE,
            NAME,
            SEVERITY,
            f"{lost.ref} is defined again later in {where}: `kubectl apply` keeps only the last definition, "
            "so this one is never deployed",
            lost.location,
            related=(Related(kept.location, f"{kept.ref}: the definition that is kept"),),
            subject=f"{lost.ref}|{lost.doc_index}",
            helm_source=lost.helm_source,
            objects=(lost.ref,),
        )

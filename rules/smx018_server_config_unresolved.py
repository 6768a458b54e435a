"""A container runs a server whose configuration is not in the input.

## What it does
Reports a container that somaxlint recognises as a server (nginx) whose
configuration it cannot read: the ConfigMap or Secret it mounts is not in
the input, the key is missing, the volume is not defined, or the file is
neither mounted nor known to be in the image. The finding sits on the
mount (or the container) and says why. A container that serves (it
declares a port or a network probe) but whose image the input does not
give -- blank, as an OpenShift image trigger leaves it, or a parameter
such as a Template's `${IMAGE}` -- is reported at its `image`: which
server it runs is not known. The container still appears in
`somaxlint explain`, with the same reason.

## Why it matters
A listener somaxlint cannot see is a listener it cannot check. Saying so
keeps a clean report from meaning more than it does.

## Example
```yaml
volumeMounts:
  - name: conf
    mountPath: /etc/nginx/nginx.conf   # ConfigMap nginx-conf: not in the input
    subPath: nginx.conf
```

## How to fix
Lint the ConfigMap together with the workload (the same run, the same
unit), or correct the name or key. Where the configuration really lives
elsewhere, disable the rule for the workload with a
`somaxlint.io/ignore: SMX018` annotation.
"""

from __future__ import annotations

from somaxlint.findings import Finding
from somaxlint.model import workload_label

CODE = "SMX018"
NAME = "server-config-unresolved"
SEVERITY = "info"
SUMMARY = "A container runs a server whose configuration is not in the input"


def check(model):
    for gap in model.unresolved:
        if gap.server is None:
            message = f"container {gap.container.name!r} of {workload_label(gap.workload)} serves (it declares a port or a network probe) but {gap.reason}; its listeners are not checked"
        else:
            message = (
                f"{gap.server} in container {gap.container.name!r} of {workload_label(gap.workload)} loads {gap.path}, "
                f"which somaxlint cannot read: {gap.reason}; its listeners are not checked"
            )
        yield Finding(
            CODE,
            NAME,
            SEVERITY,
            message,
            gap.location,
            related=gap.related,
            subject=f"{gap.workload.ref}|{gap.container.name}|{gap.path}",
            helm_source=gap.workload.obj.helm_source,
            objects=(gap.workload.ref,),
        )

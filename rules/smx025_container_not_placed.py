"""A container sits in no pod template somaxlint can place.

## What it does
Reports a container that an object holds outside any pod template
somaxlint can place: a step of an Argo Workflow or a Tekton Task (a
mapping with an `image` and a `command`, `args`, `script`, `env`, `ports`
or `volumeMounts`, in no list of `containers`), and an Argo Rollout whose
`spec.workloadRef` names a workload the input does not hold. Pod
templates are found by their shape in any object (a mapping whose
`containers` list holds a mapping with an `image`: a Knative Service, a
KEDA ScaledJob, an Argo Experiment, an operator's resource), so what is
left is what no pod template holds. `somaxlint explain` lists each with
the same reason.

## Why it matters
The pod such a container runs in is made by a controller from fields
somaxlint does not model: its sysctls, volumes and the network namespace
it shares are unknown, so a server in it is not checked. Saying so keeps
a clean report from meaning more than it does.

## Example
```yaml
apiVersion: argoproj.io/v1alpha1
kind: Workflow
spec:
  templates:
    - name: serve
      container:            # not in a pod template: not checked
        image: nginx:1.25
        command: [nginx, -g, "daemon off;"]
```

## How to fix
Nothing is wrong with the manifest. Lint the workload the container
really runs in (the Deployment a Rollout's `workloadRef` names, in the
same run), or disable the rule for the object with a
`somaxlint.io/ignore: SMX025` annotation.
"""

from __future__ import annotations

from somaxlint.findings import Finding

CODE = "SMX025"
NAME = "container-not-placed"
SEVERITY = "info"
SUMMARY = "A container sits in no pod template somaxlint can place: its pod's namespace and mounts are unknown"


def check(model):
    for gap in model.inventory.unplaced:
        obj = gap.obj
        what = f"a container (image {gap.image}) is" if gap.image else "its pods are"
        yield Finding(
            CODE,
            NAME,
            SEVERITY,
            f"{obj.ref}: {what} not modelled: {gap.reason}; a server there is not checked",
            gap.location,
            subject=f"{obj.ref}|{'.'.join(map(str, gap.path))}",
            helm_source=obj.helm_source,
            objects=(obj.ref,),
        )

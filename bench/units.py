"""A platform repository made of kustomizations and charts, for
``bench/run.py --units``.

``generate(path, bases, overlays, charts, sets)`` writes:

* ``bases/base-NN/``: a Deployment running nginx and the ConfigMap that
  holds its nginx.conf, with a kustomization;
* ``overlays/base-NN/env-MM/``: per base, ``overlays`` kustomizations over
  it, each with a name prefix and a patch that sets the pod's somaxconn;
* ``charts/chart-NN/``: ``charts`` charts, each a Deployment and its
  ConfigMap, rendered once per values set (``sets``: values.yaml alone,
  then values-prod.yaml over it), as ``.somaxlint.yaml`` says;
* ``.git/``, so the repository root is found as in a checkout.
"""

from __future__ import annotations

import os

BASE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web-{n}}}
  template:
    metadata:
      labels: {{app: web-{n}}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.25
          volumeMounts:
            - name: conf
              mountPath: /etc/nginx/nginx.conf
              subPath: nginx.conf
      volumes:
        - name: conf
          configMap:
            name: web-conf
"""

BASE_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-conf
data:
  nginx.conf: |
    events {{}}
    http {{
        server {{
            listen {port} backlog=1024;
        }}
    }}
"""

OVERLAY = """\
resources:
  - ../../../bases/base-{b:02d}
namePrefix: env{e:02d}-
patches:
  - path: sysctls.yaml
"""

PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      securityContext:
        sysctls:
          - name: net.core.somaxconn
            value: "{value}"
"""

CHART_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ .Release.Name }}}}-web
spec:
  replicas: {{{{ .Values.replicas }}}}
  selector:
    matchLabels: {{app: chart-{n}}}
  template:
    metadata:
      labels: {{app: chart-{n}}}
    spec:
      containers:
        - name: redis
          image: redis:7.2
          args: ["--tcp-backlog", "{{{{ .Values.backlog }}}}"]
"""


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def generate(path: str, bases: int = 8, overlays: int = 20, charts: int = 40, sets: int = 2) -> dict:
    for b in range(bases):
        base = os.path.join(path, "bases", f"base-{b:02d}")
        _write(os.path.join(base, "deployment.yaml"), BASE_DEPLOYMENT.format(n=b))
        _write(os.path.join(base, "configmap.yaml"), BASE_CONFIGMAP.format(port=8000 + b))
        _write(os.path.join(base, "kustomization.yaml"), "resources:\n  - deployment.yaml\n  - configmap.yaml\n")
        for e in range(overlays):
            overlay = os.path.join(path, "overlays", f"base-{b:02d}", f"env-{e:02d}")
            _write(os.path.join(overlay, "kustomization.yaml"), OVERLAY.format(b=b, e=e))
            _write(os.path.join(overlay, "sysctls.yaml"), PATCH.format(value=512 + e))
    config = ["helm:", "  charts:"]
    for c in range(charts):
        chart = os.path.join(path, "charts", f"chart-{c:02d}")
        _write(os.path.join(chart, "Chart.yaml"), f"apiVersion: v2\nname: chart-{c:02d}\nversion: 0.1.{c}\n")
        _write(os.path.join(chart, "values.yaml"), "replicas: 1\nbacklog: 511\n")
        _write(os.path.join(chart, "values-prod.yaml"), "replicas: 3\nbacklog: 4096\n")
        _write(os.path.join(chart, "templates", "deployment.yaml"), CHART_TEMPLATE.format(n=c))
        value_sets = [[], ["values-prod.yaml"]][:sets]
        config.append(f"    charts/chart-{c:02d}: {{values: {value_sets!r}}}".replace("'", '"'))
    _write(os.path.join(path, ".somaxlint.yaml"), 'kernel: "4.19"\n' + ("\n".join(config) + "\n" if charts else ""))
    os.makedirs(os.path.join(path, ".git"), exist_ok=True)
    return {"kustomizations": bases * (overlays + 1), "overlays": bases * overlays, "renders": bases * overlays + charts * sets}

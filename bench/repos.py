"""Generate a repository laid out like a platform team's: N apps, each with
dev/staging/prod copies of the same objects (same names everywhere), so
every reference is resolved by nearness among N * 3 same-named candidates.

    python bench/repos.py --apps 200 --out bench/out/repo-200
"""

from __future__ import annotations

import argparse
import os

ENVS = ("dev", "staging", "prod")

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
{sysctls}      containers:
        - name: nginx
          image: nginx:1.25
          volumeMounts:
            - name: conf
              mountPath: /etc/nginx/nginx.conf
              subPath: nginx.conf
      volumes:
        - name: conf
          configMap:
            name: nginx-conf
"""

SYSCTLS = """      securityContext:
        sysctls:
          - name: net.core.somaxconn
            value: "16384"
"""

CONFIG_MAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: nginx-conf
data:
  nginx.conf: |
    events {{}}
    http {{
      server {{
        listen {port} backlog={backlog};
        location / {{ root /srv; }}
      }}
    }}
"""


def generate(out: str, apps: int) -> int:
    """Write the repository; returns the number of YAML files."""
    files = 0
    for app in range(apps):
        for env in ENVS:
            directory = os.path.join(out, "apps", f"app-{app:04d}", "envs", env)
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, "deployment.yaml"), "w") as handle:
                handle.write(DEPLOYMENT.format(sysctls=SYSCTLS if env == "prod" else ""))
            with open(os.path.join(directory, "configmap.yaml"), "w") as handle:
                handle.write(CONFIG_MAP.format(port=8000 + app % 1000, backlog=8192 if app % 2 else 1024))
            files += 2
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    print(generate(args.out, args.apps), "files")


if __name__ == "__main__":
    main()

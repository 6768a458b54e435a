"""somaxlint on a real Prometheus manifest: argoproj/argo-workflows's
quick-start `manifests/quick-start/base/prometheus/prometheus-deployment.yaml`
(PROVENANCE.md, directory argo-workflows/): quay.io/prometheus/prometheus:v3.2.1
run by its entrypoint with `--config.file=/config/prometheus.yaml` only.

No --web.listen-address: Prometheus's default 0.0.0.0:9090, one Go
net.Listen dual-stack socket (measured with prometheus 2.42.0:
linter/servers/prometheus.py), whose queue is the namespace's somaxconn:
128 on Linux 4.18 (SMX021).  quay.io/prometheus is where the image is
published: nothing is assumed about the build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "argo-workflows"
FILE = f"{REPO}/prometheus-deployment.yaml"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_argo_workflows_prometheus_listener(project):
    listeners = _run(project, "explain").json["listeners"]
    assert [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}", l.get("assumption"))
        for l in listeners
    ] == [("prometheus", "prometheus", "*", 9090, 1, -1, 128, f"{FILE}:26:18", None)]


def test_argo_workflows_prometheus_findings(project):
    run = _run(project, "check")
    assert run.status == 1
    findings = run.json["findings"]
    assert [(f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings] == [
        ("SMX021", f"{FILE}:26:18", "error")
    ]
    assert "Prometheus's default --web.listen-address 0.0.0.0:9090), which is 128" in findings[0]["message"]

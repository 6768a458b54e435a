"""somaxlint on a real CoreDNS manifest: coredns/deployment's
`kubernetes/coredns.yaml.sed` (PROVENANCE.md, directory
coredns-deployment/), the `coredns` ConfigMap and Deployment that
deploy.sh fills in (its CLUSTER_DOMAIN, REVERSE_CIDRS, UPSTREAMNAMESERVER
and STUBDOMAINS placeholders are left as they are: none is a listener).

The Deployment runs coredns/coredns:1.9.4 with `-conf
/etc/coredns/Corefile`, the ConfigMap's Corefile mounted there.  Its one
server block `.:53` opens DNS over TCP on 53, and its plugins `health`
(default :8080), `ready` (default :8181) and `prometheus :9153` one
listener each (linter/servers/coredns.py): Go reuseport listeners, one
dual-stack socket each, whose queue is the namespace's somaxconn -- 128
on Linux 4.18 (SMX021, an error: nothing else is assumed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "coredns-deployment"
FILE = f"{REPO}/coredns.yaml"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_coredns_deployment_listeners(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}", l["assumptions"])
        for l in listeners
    ]
    assert rows == [
        ("coredns", "coredns", "*", 53, 1, -1, 128, f"{FILE}:8:5", []),
        ("coredns", "coredns", "*", 8080, 1, -1, 128, f"{FILE}:10:9", []),
        ("coredns", "coredns", "*", 8181, 1, -1, 128, f"{FILE}:13:9", []),
        ("coredns", "coredns", "*", 9153, 1, -1, 128, f"{FILE}:17:20", []),
    ]


def test_coredns_deployment_findings(project):
    run = _run(project, "check")
    assert run.status == 1
    findings = run.json["findings"]
    assert [(f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings] == [
        ("SMX021", f"{FILE}:{at}", "error") for at in ("8:5", "10:9", "13:9", "17:20")
    ]
    assert findings[0]["message"].startswith(
        "CoreDNS's accept queue is net.core.somaxconn (Go's net.Listen reads it at start-up; server block .:53), "
        "which is 128 in the network namespace of Deployment/kube-system/coredns"
    ), findings[0]["message"]
    assert "health :8080" in findings[1]["message"] and "ready :8181" in findings[2]["message"]

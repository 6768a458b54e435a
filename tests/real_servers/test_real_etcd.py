"""somaxlint on a real etcd manifest: etcd-io/etcd's
`hack/kubernetes-deploy/etcd.yml` (PROVENANCE.md, directory etcd/), three
Pods running `/usr/local/bin/etcd` on quay.io/coreos/etcd:latest with
`--listen-peer-urls http://0.0.0.0:2380` and `--listen-client-urls
http://0.0.0.0:2379`.

Each URL is a Go net.Listen socket, one dual-stack socket for 0.0.0.0
(measured with etcd 3.4.23: linter/servers/etcd.py), whose queue is the
namespace's somaxconn: 128 on Linux 4.18 (SMX021, an error: nothing else
is assumed).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "etcd"
FILE = f"{REPO}/etcd.yml"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_etcd_kubernetes_deploy_listeners(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}", l.get("assumption"))
        for l in listeners
    ]
    assert rows == [
        ("etcd", "etcd0", "*", 2380, 1, -1, 128, f"{FILE}:31:11", None),
        ("etcd", "etcd0", "*", 2379, 1, -1, 128, f"{FILE}:33:11", None),
        ("etcd", "etcd1", "*", 2380, 1, -1, 128, f"{FILE}:86:11", None),
        ("etcd", "etcd1", "*", 2379, 1, -1, 128, f"{FILE}:88:11", None),
        ("etcd", "etcd2", "*", 2380, 1, -1, 128, f"{FILE}:141:11", None),
        ("etcd", "etcd2", "*", 2379, 1, -1, 128, f"{FILE}:143:11", None),
    ]


def test_etcd_kubernetes_deploy_findings(project):
    run = _run(project, "check")
    assert run.status == 1
    findings = run.json["findings"]
    assert [(f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings] == [
        ("SMX021", f"{FILE}:{line}:11", "error") for line in (31, 33, 86, 88, 141, 143)
    ]
    assert findings[1]["message"].startswith(
        "etcd's accept queue is net.core.somaxconn (Go's net.Listen reads it at start-up; --listen-client-urls http://0.0.0.0:2379), "
        "which is 128 in the network namespace of Pod/default/etcd0"
    ), findings[1]["message"]

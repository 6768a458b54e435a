"""somaxlint on a real MongoDB manifest: GoogleContainerTools/skaffold's
`examples/multiple-renderers/backend/templates/guestbook-mongodb.deployment.yaml`
(PROVENANCE.md, directory skaffold/; plain YAML, no template directives),
a Deployment running the official `mongo:4` image with its default command.

The image's entrypoint adds `--bind_ip_all` (docker-library/mongo
docker-entrypoint.sh): one listener on 0.0.0.0:27017.  Its backlog is
net.listenBacklog's default, the build's SOMAXCONN, taken as 128 for a
MongoDB 4 build (linter/servers/mongodb.py: an assumption, said in the
listener): within 128 on Linux 4.18, so no SMX001; the only finding is
SMX027 (info) on Linux 5.15, where somaxconn 4096 would allow more.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "skaffold"
FILE = f"{REPO}/guestbook-mongodb.deployment.yaml"
HERE = Path(__file__).resolve().parent


def _run(project, kernel, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", kernel, REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_skaffold_mongodb_listener(project):
    listeners = _run(project, "4.18", "explain").json["listeners"]
    assert [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}", l["assumptions"])
        for l in listeners
    ] == [("mongodb", "mongo", "0.0.0.0", 27017, 1, 128, 128, f"{FILE}:27:18", ["MongoDB 4's build is taken to have glibc's older SOMAXCONN 128"])]


def test_skaffold_mongodb_findings_on_4_18(project):
    run = _run(project, "4.18", "check")
    assert run.status == 0
    assert run.json["findings"] == []


def test_skaffold_mongodb_findings_on_5_15(project):
    run = _run(project, "5.15", "check")
    findings = run.json["findings"]
    assert [(f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings] == [
        ("SMX027", f"{FILE}:27:18", "info"),
    ]
    assert findings[0]["message"].startswith(
        "MongoDB default net.listenBacklog 128 (SOMAXCONN of the build) on 0.0.0.0:27017: the accept queue holds at most 129"
    ), findings[0]["message"]

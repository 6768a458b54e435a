"""somaxlint on a real Daphne manifest: briancaffey/django-postgres-vue-gitlab-ecs's
`kubernetes/channels/deployment.yml` (PROVENANCE.md, directory
django-postgres-vue-gitlab-ecs/), the Django Channels Deployment running
`daphne backend.asgi:application --bind 0.0.0.0 --port 9000`.

Daphne turns `--bind`/`--port` into the Twisted endpoint
`tcp:port=9000:interface=0.0.0.0`, which takes Twisted's default backlog 50
(twisted/internet/endpoints.py `_parseTCP(..., backlog=50)`; measured with
daphne 4.2.3: Send-Q 50, linter/servers/daphne.py).  On Linux 4.18 the pod's
somaxconn is 128: nothing is truncated (no SMX001); the queue of 50 is below
what the namespace would allow, which SMX027 reports as info.  The listener
is placed at the `--bind` value (19:69), its default backlog at the command
word (19:21).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "django-postgres-vue-gitlab-ecs"
FILE = f"{REPO}/channels-deployment.yml"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_channels_daphne_listener(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         l["somaxconn"], f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}",
         f"{l['config']['line']}:{l['config']['column']}")
        for l in listeners
    ]
    assert rows == [("daphne", "backend", "0.0.0.0", 9000, 1, 50, 50, 128, f"{FILE}:19:69", "19:21")]


def test_channels_daphne_findings(project):
    run = _run(project, "check")
    findings = [(f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in run.json["findings"]]
    assert findings == [("SMX027", f"{FILE}:19:21", "info")]
    [finding] = run.json["findings"]
    assert "Daphne default backlog 50 (Twisted's endpoint default) on 0.0.0.0:9000" in finding["message"]
    assert "net.core.somaxconn 128" in finding["message"]

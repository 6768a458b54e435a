"""somaxlint on a real PgBouncer manifest: edoburu/docker-pgbouncer's
Kubernetes example `examples/kubernetes/multiuser/` (PROVENANCE.md,
directory docker-pgbouncer/): the edoburu/pgbouncer image, its CMD
`pgbouncer /etc/pgbouncer/pgbouncer.ini`, and a Secret mounted at
/etc/pgbouncer whose (base64) pgbouncer.ini sets `listen_addr = 0.0.0.0`,
`listen_port = 5432`, `unix_socket_dir =` (no Unix socket) and no
listen_backlog.

PgBouncer's default listen_backlog is 128 (src/main.c:298;
linter/servers/pgbouncer.py, measured with Debian's 1.18): equal to the 128
of a Linux 4.18 pod, so nothing is cut and there is no finding; the listener
rests on nothing the input does not show (the Secret is read).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "docker-pgbouncer"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_multiuser_example_listeners(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}", l["assumptions"])
        for l in listeners
    ]
    # `listen`: where listen_addr is set -- inside the Secret's base64
    # pgbouncer.ini value, which is located at the value itself
    assert rows == [("pgbouncer", "pgbouncer", "0.0.0.0", 5432, 1, 128, 128, f"{REPO}/pgbouncer-example-config.yml:3:18", [])]


def test_multiuser_example_findings(project):
    run = _run(project, "check")
    assert run.json["findings"] == []
    assert run.status == 0

"""somaxlint on a real NATS manifest: nats-io/k8s's `simple-nats.yml`
(PROVENANCE.md, directory nats-k8s/), a ConfigMap with nats.conf and the
StatefulSet running `nats-server --config /etc/nats-config/nats.conf` on
nats:2.6.5-alpine.

nats.conf sets `http: 8222` (a port only: on the client host, 0.0.0.0),
`cluster { port: 6222 }` and `leafnodes { port: 7422 }` (0.0.0.0 when only a
port is given, measured with nats-server 2.9.10: linter/servers/nats.py) and
no client port (4222).  Each is a Go net.Listen socket: its queue is the
namespace's somaxconn, 128 on Linux 4.18 (SMX021).
"""

from __future__ import annotations

import shutil
from pathlib import Path


REPO = "nats-k8s"
FILE = f"{REPO}/simple-nats.yml"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_simple_nats_listeners(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}")
        for l in listeners
    ]
    assert rows == [
        ("nats", "nats", "*", 8222, 1, -1, 128, f"{FILE}:9:11"),  # http: 8222
        ("nats", "nats", "*", 6222, 1, -1, 128, f"{FILE}:12:13"),  # cluster port
        ("nats", "nats", "*", 7422, 1, -1, 128, f"{FILE}:24:13"),  # leafnodes port
        ("nats", "nats", "*", 4222, 1, -1, 128, f"{FILE}:103:12"),  # the default client port, at the command word
    ]


def _findings(project):
    run = _run(project, "check")
    assert run.status == 1
    return [(f["rule"], f"{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in run.json["findings"]]


def test_simple_nats_findings(project):
    # errors: CLUSTER_ADVERTISE's value `$(POD_NAME).nats...` refers to a
    # fieldRef the input cannot show, but no listener depends on it
    assert _findings(project) == [
        ("SMX021", "9:11", "error"), ("SMX021", "12:13", "error"), ("SMX021", "24:13", "error"), ("SMX021", "103:12", "error"),
    ]

"""somaxlint on a real MySQL manifest: kubernetes/website's WordPress
tutorial, `content/en/examples/application/wordpress/mysql-deployment.yaml`
(PROVENANCE.md, directory kubernetes-website/): the official mysql:8.0
image with no command, args or config file of its own.

MySQL 8.0 autosizes back_log to max_connections, 151 by default (MySQL
WL#9704; linter/servers/mysql.py), above the 128 of a Linux 4.18 pod: SMX001,
a warning because it rests on the image's own my.cnf files (not in the
input) setting neither back_log nor max_connections.  The X Plugin listens
on 33060 with 50 + mysqlx_max_connections 100 / 5 = 70
(plugin/x/src/server/builder/server_builder.cc), which fits.
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "kubernetes-website"
FILE = f"{REPO}/mysql-deployment.yaml"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", FILE)
    assert "internal error" not in run.err, run.err
    return run


def test_wordpress_mysql_listeners(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}")
        for l in listeners
    ]
    assert rows == [
        ("mysql", "mysql", "*", 3306, 1, 151, 128, f"{FILE}:48:16"),  # autosized back_log, at the image
        ("mysql", "mysql", "*", 33060, 1, 70, 70, f"{FILE}:48:16"),  # the X Plugin
    ]
    assert listeners[0]["assumptions"] == [
        "the image's own my.cnf and include directory (/etc/my.cnf, /etc/mysql/conf.d; bitnami's "
        "/opt/bitnami/mysql/conf/my.cnf) are not read: assumed to set no back_log or max_connections"
    ]


def test_wordpress_mysql_findings(project):
    run = _run(project, "check")
    assert run.status == 1
    findings = run.json["findings"]
    assert [(f["rule"], f"{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings] == [
        ("SMX001", "48:16", "warning"),
    ]
    assert "MySQL back_log 151 (autosized, MySQL 8.0+: = default max_connections 151) on *:3306 is truncated to 128" in findings[0]["message"]

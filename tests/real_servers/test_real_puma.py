"""somaxlint on a real Puma manifest: mastodon/chart's web Deployment
(`templates/deployment-web.yaml`, rendered with the chart's default values
and the secrets it requires: PROVENANCE.md, directory mastodon-chart/),
whose container runs `bundle exec puma -C config/puma.rb` in the
ghcr.io/mastodon/mastodon image with PORT=3000.

Bundler execs Puma (linter/model/shell.py).  config/puma.rb is the image's
(no mount, no workingDir: read as /config/puma.rb), so its binds are not
known: one listener whose port is not known, asking for Puma's default
backlog 1024 (lib/puma/binder.rb; a bind URL without `?backlog=`), resting
on that assumption.  On Linux 4.18 the pod's somaxconn is 128: SMX001, a
warning (the assumption), at the `puma` command word (65:15).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "mastodon-chart"
FILE = f"{REPO}/deployment-web.yaml"
HERE = Path(__file__).resolve().parent


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_mastodon_web_puma_listener(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         l["somaxconn"], f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}")
        for l in listeners
    ]
    assert rows == [("puma", "mastodon-web", "*", None, 1, 1024, 128, 128, f"{FILE}:65:15")]


def test_mastodon_web_puma_findings(project):
    run = _run(project, "check")
    findings = [(f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in run.json["findings"]]
    assert findings == [("SMX001", f"{FILE}:65:15", "warning")]
    [finding] = run.json["findings"]
    assert "Puma default backlog 1024 on * is truncated to 128 by net.core.somaxconn 128" in finding["message"]
    assert "config/puma.rb (read as /config/puma.rb: the manifest sets no workingDir), named by -C, is not in the input" in finding["message"]

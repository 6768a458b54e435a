"""somaxlint on the real vault-helm chart: hashicorp/vault-helm rendered
with its default values (PROVENANCE.md, directory vault-helm/), the
server's ConfigMap and StatefulSet (standalone mode, file storage).

The StatefulSet runs hashicorp/vault with `/bin/sh -ec` copying the
ConfigMap's extraconfig-from-values.hcl to /tmp/storageconfig.hcl, then
`docker-entrypoint.sh vault server -config=/tmp/storageconfig.hcl`
(templates/_helpers.tpl `vault.args`).  That file is written at start-up:
linter/servers/vault.py reads it as the copy of the mounted key, and says
so (the assumption).  Its `listener "tcp"` gives the API socket
`[::]:8200` and the cluster socket `cluster_address = "[::]:8201"`
(opened once Vault is unsealed: said too), Go listeners whose queue is
the namespace's somaxconn: 128 on Linux 4.18 (SMX021, warnings: each
rests on an assumption).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "vault-helm"
FILE = f"{REPO}/server.yaml"
HERE = Path(__file__).resolve().parent
COPY = ("/tmp/storageconfig.hcl is written at start-up: read as the copy of /vault/config/extraconfig-from-values.hcl "
        "the vault-helm chart's command makes (its sed of HOST_IP aside)")
UNSEALED = "the cluster listener is opened once Vault is unsealed (vault/core.go unsealInternal())"


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_vault_helm_listeners(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}", l["assumptions"])
        for l in listeners
    ]
    assert rows == [
        ("vault", "vault", "*", 8200, 1, -1, 128, f"{FILE}:19:18", [COPY]),
        ("vault", "vault", "*", 8201, 1, -1, 128, f"{FILE}:20:26", [f"{COPY}; {UNSEALED}"]),
    ]


def test_vault_helm_findings(project):
    run = _run(project, "check")
    findings = run.json["findings"]
    assert [(f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings] == [
        ("SMX021", f"{FILE}:19:18", "warning"),
        ("SMX021", f"{FILE}:20:26", "warning"),
    ]
    assert findings[0]["message"].startswith(
        "Vault's accept queue is net.core.somaxconn (Go's net.Listen reads it at start-up; listener \"tcp\" address [::]:8200), "
        "which is 128 in the network namespace of StatefulSet/default/release-name-vault"
    ), findings[0]["message"]

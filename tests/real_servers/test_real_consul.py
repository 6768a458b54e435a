"""somaxlint on the real consul-k8s chart: hashicorp/consul-k8s's
`charts/consul` rendered with its default values (PROVENANCE.md,
directory consul-k8s/), the server's two ConfigMaps and StatefulSet.

The StatefulSet runs `docker-entrypoint.sh consul agent
-config-dir=/consul/config -config-dir=/consul/extra-config ...` with the
server-config ConfigMap (server.json, ui-config.json, central-config.json)
at /consul/config; /consul/extra-config is an emptyDir the command copies
extra-from-values.json into (not followed: said).  server.json:
`bind_addr` and `client_addr` 0.0.0.0, `server: true`, `ports { grpc
8502, grpc_tls -1, serf_lan 8301 }`.  So (linter/servers/consul.py):
server RPC 8300, Serf WAN 8302, HTTP 8500 and DNS 8600 at their defaults,
gRPC 8502, Serf LAN 8301, no gRPC-TLS (-1 disables it), each one Go
dual-stack socket whose queue is the namespace's somaxconn: 128 on Linux
4.18 (SMX021, warnings: the directories' other files are assumed to set
no port).
"""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = "consul-k8s"
FILE = f"{REPO}/server.yaml"
HERE = Path(__file__).resolve().parent
# /consul/config is a ConfigMap volume: its files are all in the input, all read
ASSUMED = ("/consul/extra-config is not in the input (a file or directory mounted from elsewhere or written "
           "at run time): assumed to define no port")


def _run(project, *args):
    shutil.copytree(HERE / REPO, project.root / REPO)
    run = project.run(*args, "--format", "json", "--kernel", "4.18", REPO)
    assert "internal error" not in run.err, run.err
    return run


def test_consul_k8s_server_listeners(project):
    listeners = _run(project, "explain").json["listeners"]
    rows = [
        (l["server"], l["container"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}", l["assumptions"])
        for l in listeners
    ]
    assert rows == [
        ("consul", "consul", "*", 8300, 1, -1, 128, f"{FILE}:18:21", [ASSUMED]),
        ("consul", "consul", "*", 8302, 1, -1, 128, f"{FILE}:18:21", [ASSUMED]),
        ("consul", "consul", "*", 8500, 1, -1, 128, f"{FILE}:20:23", [ASSUMED]),
        ("consul", "consul", "*", 8600, 1, -1, 128, f"{FILE}:20:23", [ASSUMED]),
        ("consul", "consul", "*", 8502, 1, -1, 128, f"{FILE}:37:17", [ASSUMED]),
        ("consul", "consul", "*", 8301, 1, -1, 128, f"{FILE}:39:21", [ASSUMED]),
    ]


def test_consul_k8s_server_findings(project):
    run = _run(project, "check")
    findings = run.json["findings"]
    assert sorted((f["rule"], f"{f['location']['path']}:{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings) == [
        ("SMX021", f"{FILE}:{at}", "warning") for at in ("18:21", "18:21", "20:23", "20:23", "37:17", "39:21")
    ]
    messages = " ".join(f["message"] for f in findings)
    for part in ("server: default server port 8300", "serf_wan: default serf_wan port 8302", "http: default http port 8500",
                 "dns: default dns port 8600", "grpc: ports.grpc = 8502", "serf_lan: ports.serf_lan = 8301"):
        assert part in messages, part
    assert "grpc_tls" not in messages

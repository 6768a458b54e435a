"""somaxlint on a real ClickHouse deployment: Slava47/k8s-clickhouse @
5a106f8e (statefulset.yaml, configmap.yaml, values.yaml).  The repository
has no licence, so, as for kiwix/k8s (PROVENANCE.md), its pattern is
reduced to lines written for the test, not copied: the StatefulSet runs
`clickhouse/clickhouse-server:{{ .Values.clickhouseVersion }}` (22.8 in
values.yaml) with the ConfigMap's `config.xml` key mounted as the only
item of a volume at /etc/clickhouse-server/config.d/ (a directory mount),
and that file sets `<listen_host>0.0.0.0</listen_host>`, `<http_port>8123`
and `<tcp_port>9000` and no listen_backlog.

So (linter/servers/clickhouse.py): ClickHouse 22.8's default
listen_backlog 4096 (>= 21.11, PR #29643) on 0.0.0.0 for every port --
8123 and 9000, and 9004, 9005, 9009 of the image's config.xml, which the
config.d file does not remove -- cut to 128 on Linux 4.18 (SMX001,
warnings: the image's config.xml and the directory's other files are
assumed).  The directory mount hides the image's own
config.d/docker_related_config.xml: the module cannot see that (a launch
reads files, it does not learn which directories are mounted) and merges
it all the same, which is wrong here: config.d/config.xml sorts before
docker_related_config.xml: the volume on the directory hides it (the
launch tells a covered directory), so the file's 0.0.0.0 stands -- IPv4
only, one socket per port.
"""

from __future__ import annotations

MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: clickhouse-config
  namespace: clickhouse
data:
  config.xml: |
    <yandex>
      <listen_host>0.0.0.0</listen_host>
      <http_port>8123</http_port>
      <tcp_port>9000</tcp_port>
      <max_connections>4096</max_connections>
    </yandex>
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: clickhouse
  namespace: clickhouse
spec:
  serviceName: clickhouse
  template:
    spec:
      containers:
      - name: clickhouse
        image: clickhouse/clickhouse-server:22.8
        volumeMounts:
        - name: config
          mountPath: /etc/clickhouse-server/config.d/
      volumes:
      - name: config
        configMap:
          name: clickhouse-config
          items:
          - key: config.xml
            path: config.xml
"""

ASSUMED = (
    "/etc/clickhouse-server/config.xml is not in the input: upstream's config.xml assumed (no listen_backlog or "
    "listen_host; ports 8123, 9000, 9004, 9005, 9009)"
)


def test_k8s_clickhouse_findings(project):
    project.write("clickhouse.yaml", MANIFEST, dedent=False)
    run = project.run("--format", "json", "--kernel", "4.18", "clickhouse.yaml")
    findings = run.json["findings"]
    assert sorted((f["rule"], f"{f['location']['line']}:{f['location']['column']}", f["severity"]) for f in findings) == [
        ("SMX001", "26:16", "warning")
    ] * 5
    assert all(f["message"].startswith("ClickHouse default listen_backlog 4096 (ClickHouse >= 21.11) on ") for f in findings)
    listeners = project.run("explain", "--format", "json", "--kernel", "4.18", "clickhouse.yaml").json["listeners"]
    assert sorted((l["server"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"]) for l in listeners) == [
        ("clickhouse", port, 1, 4096, 128) for port in (8123, 9000, 9004, 9005, 9009)
    ]


def test_k8s_clickhouse_listens_on_ipv4_only(project):
    project.write("clickhouse.yaml", MANIFEST, dedent=False)
    listeners = project.run("explain", "--format", "json", "--kernel", "4.18", "clickhouse.yaml").json["listeners"]
    assert sorted(
        (l["server"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"], tuple(l["assumptions"]))
        for l in listeners
    ) == [("clickhouse", "0.0.0.0", port, 1, 4096, 128, (ASSUMED,)) for port in (8123, 9000, 9004, 9005, 9009)]

"""Kernel cases of ClickHouse (linter/servers/clickhouse.py): the
`listen_backlog` of every `listen_host` x port socket, with Debian 12's
clickhouse-server 18.16.1 (the cases' image tag names that release, whose
default is 64).

Each case's manifest runs the official image's way: no `command`, the
entrypoint (docker/server/entrypoint.sh) runs `clickhouse-server
--config-file=/etc/clickhouse-server/config.xml "$@"` with the container's
args (which start with `--`).  What the test changes (see
test_servers_truth.py):

* the command word is Debian's /usr/sbin/clickhouse-server, given
  `--config-file=ROOT/etc/clickhouse-server/config.xml`;
* ROOT stands in for the image's /etc/clickhouse-server: its config.xml is
  Debian's (the same upstream 18.16 file: no listen_host, no
  listen_backlog, http_port 8123, tcp_port 9000, interserver_http_port
  9009) unless the case mounts one, users.xml is Debian's, and
  config.d/docker_related_config.xml is the image's (`::`, `0.0.0.0`,
  `listen_try` 1, under the 18.16 root element `<yandex>`) unless the case
  mounts one; a case's ConfigMap keys are written at their ROOT paths;
* the data and log paths are ROOT's: `--path`, `--tmp_path`,
  `--user_files_path`, `--format_schema_path`, `--logger.log`,
  `--logger.errorlog` are added after the case's own `--` overrides (the
  image's are /var/lib/clickhouse and /var/log/clickhouse-server);
* it runs as root (the image's entrypoint switches to the clickhouse user:
  the queue does not depend on the user).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from server_case import Case, executable

SERVERS = ("clickhouse",)
PROVIDED_BY = {"clickhouse-server": "Debian package clickhouse-server"}
ENTRYPOINT = {"clickhouse": "clickhouse-server"}

IMAGE = "yandex/clickhouse-server:18.16.1"
ETC = "/etc/clickhouse-server"
DOCKER_RELATED = (
    "<yandex>\n    <listen_host>::</listen_host>\n    <listen_host>0.0.0.0</listen_host>\n"
    "    <listen_try>1</listen_try>\n</yandex>\n"
)
PORTS = (9000, 9009)


def _clickhouse(somaxconn, args=(), files=(), port=8123, more_ports=PORTS, **kw):
    return Case("clickhouse", port, somaxconn, IMAGE, args=tuple(args), files=tuple(files), more_ports=more_ports, timeout=60.0, **kw)


LISTEN_D = (
    "<yandex>\n    <listen_host>127.0.0.1</listen_host>\n    <listen_backlog>1000</listen_backlog>\n</yandex>\n"
)
MOUNTED_CONFIG = (
    "<?xml version=\"1.0\"?>\n<yandex>\n    <logger>\n        <level>warning</level>\n"
    "        <log>/var/log/clickhouse-server/clickhouse-server.log</log>\n"
    "        <errorlog>/var/log/clickhouse-server/clickhouse-server.err.log</errorlog>\n    </logger>\n"
    "    <path>/var/lib/clickhouse/</path>\n    <http_port>8124</http_port>\n    <tcp_port>9001</tcp_port>\n"
    "    <listen_host>0.0.0.0</listen_host>\n    <listen_backlog>200</listen_backlog>\n"
    "    <users_config>users.xml</users_config>\n    <default_profile>default</default_profile>\n"
    "    <default_database>default</default_database>\n    <mark_cache_size>5368709120</mark_cache_size>\n</yandex>\n"
)

CASES = {
    # the image's defaults: `::` (one dual-stack socket per port; 0.0.0.0 fails), 64
    "clickhouse: 18.16 defaults, kernel default somaxconn": _clickhouse(None),
    # 64 cut by a lower somaxconn
    "clickhouse: 18.16 default 64 above somaxconn 32": _clickhouse(32),
    # the command line's override below a raised somaxconn
    "clickhouse: -- --listen_backlog=300 below somaxconn 1000": _clickhouse(1000, args=("--", "--listen_backlog=300")),
    # a mounted config.d file: listen_backlog above somaxconn; its 127.0.0.1
    # replaces the image's `::` (0.0.0.0 stays second and fails)
    "clickhouse: config.d listen.xml, listen_backlog 1000 above somaxconn 500, listen_host 127.0.0.1": _clickhouse(
        500, files=((f"{ETC}/config.d/listen.xml", LISTEN_D),)
    ),
    # a mounted config.xml: its ports and listen_backlog; its listen_host
    # 0.0.0.0 is replaced by the image's config.d (`::` first)
    "clickhouse: config.xml mounted, listen_backlog 200, ports 8124 and 9001": _clickhouse(
        4096, files=((f"{ETC}/config.xml", MOUNTED_CONFIG),), port=8124, more_ports=(9001,)
    ),
}


def runnable(case: Case, root: Path, argv, request):
    assert argv[0] == "clickhouse-server", argv
    binary = executable("clickhouse-server")
    etc = root / ETC.lstrip("/")
    (etc / "config.d").mkdir(parents=True, exist_ok=True)
    mounted = {path for path, _ in case.files}
    if f"{ETC}/config.xml" not in mounted:
        shutil.copy(f"{ETC}/config.xml", etc / "config.xml")
    shutil.copy(f"{ETC}/users.xml", etc / "users.xml")
    if f"{ETC}/config.d/docker_related_config.xml" not in mounted:
        (etc / "config.d" / "docker_related_config.xml").write_text(DOCKER_RELATED)
    data, logs = root / "var/lib/clickhouse", root / "var/log/clickhouse-server"
    data.mkdir(parents=True)
    logs.mkdir(parents=True)
    words = argv[1:]
    head = words[: words.index("--")] if "--" in words else words
    tail = words[words.index("--") + 1:] if "--" in words else []
    paths = [
        f"--path={data}/", f"--tmp_path={data}/tmp/", f"--user_files_path={data}/user_files/",
        f"--format_schema_path={data}/format_schemas/", f"--logger.log={logs}/clickhouse-server.log",
        f"--logger.errorlog={logs}/clickhouse-server.err.log",
    ]
    return [binary, f"--config-file={etc}/config.xml"] + head + ["--"] + tail + paths

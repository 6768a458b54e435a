"""Which server a container runs: the program its command finally execs
(past wrappers, entrypoint scripts, `python -m`), never any word of it;
the image's own command by the image's variant and where it is published."""

import os
import shutil

import pytest

from conftest import position

POD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app}}
spec:
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
{containers}"""


def _pod(*containers):
    return POD.format(containers="".join(containers))


def _container(name, image, command=None, args=None):
    out = f"        - name: {name}\n          image: {image}\n"
    if command is not None:
        out += f"          command: {command}\n"
    if args is not None:
        out += f"          args: {args}\n"
    return out


def _servers(project, text):
    project.write("app.yaml", text, dedent=False)
    # (TCP listeners: a Unix socket, such as gunicorn's control socket, has no port)
    return sorted((r["container"], r["server"], r["port"]) for r in project.explain("--kernel", "4.19", "app.yaml") if r["family"] != "unix")


CONTOUR = _pod(
    _container("shutdown-manager", "ghcr.io/projectcontour/contour:v1.28.0", '["/bin/contour"]', '["envoy", "shutdown-manager"]'),
    _container("envoy", "docker.io/envoyproxy/envoy:v1.28.0", '["envoy"]', '["-c", "/config/envoy.json"]'),
)


def test_a_subcommand_named_like_a_server_runs_no_server(project):
    """Contour's shutdown manager is `contour envoy shutdown-manager`: no
    Envoy runs in it; the Envoy beside it is the one (a warning: its
    bootstrap is not in the input)."""
    project.write("app.yaml", CONTOUR, dedent=False)
    run = project.run("--kernel", "4.19", "--format", "json", "app.yaml")
    assert [(f["rule"], f["severity"], f["location"]["line"]) for f in run.json["findings"]] == [
        ("SMX021", "warning", position(CONTOUR, '["envoy"]')[0])
    ]
    assert _servers(project, CONTOUR) == [("envoy", "envoy", None)]


@pytest.mark.parametrize("command,args", [
    ('["tini", "--", "redis-server", "--port", "7000"]', None),
    ('["sh", "-c", "exec gosu redis redis-server --port 7000"]', None),
    ('["su-exec", "redis", "redis-server"]', '["--port", "7000"]'),
    ('["dumb-init", "--rewrite", "15:3", "--", "redis-server", "--port", "7000"]', None),
    ('["/usr/local/bin/docker-entrypoint.sh"]', '["redis-server", "--port", "7000"]'),
    ('["env", "REDIS_X=1", "nice", "-n", "5", "redis-server", "--port", "7000"]', None),
])
def test_wrappers_exec_the_server(project, command, args):
    assert _servers(project, _pod(_container("r", "busybox:1.36", command, args))) == [("r", "redis", 7000)]


@pytest.mark.parametrize("command", [
    '["sh", "-c", "echo redis-server --port 7000"]',
    '["/bin/healthcheck", "redis-server"]',
    '["python", "wait_for.py", "--then", "redis-server"]',
])
def test_a_server_named_as_an_argument_is_not_run(project, command):
    assert _servers(project, _pod(_container("r", "busybox:1.36", command))) == []


def test_python_m_runs_the_module(project):
    text = _pod(_container("api", "python:3.12", '["python3", "-u", "-m", "gunicorn"]', '["--bind", "0.0.0.0:8000", "app:app"]'))
    assert _servers(project, text) == [("api", "gunicorn", 8000)]


def test_the_apache_tags_of_the_php_images_run_apache(project):
    """php:*-apache and the images built on it (wordpress, nextcloud,
    drupal: every tag but -fpm and -cli) run Debian's apache2 on port 80;
    php's CLI tags run no server, the -fpm ones PHP-FPM."""
    text = _pod(
        _container("php", "php:8.3-apache"),
        _container("wp", "wordpress:6.4"),
        _container("cloud", "nextcloud:29-apache"),
        _container("cli", "php:8.3-cli"),
        _container("fpm", "wordpress:6.4-fpm"),
        _container("wpcli", "wordpress:cli"),
    )
    assert _servers(project, text) == [
        ("cloud", "apache", 80), ("fpm", "php-fpm", 9000), ("php", "apache", 80), ("wp", "apache", 80),
    ]
    [record] = [r for r in project.explain("--kernel", "4.19", "app.yaml") if r["container"] == "php"]
    assert (record["requested_backlog"], record["effective_backlog"]) == (511, 128)
    assert any("/etc/apache2/ports.conf of image php:8.3-apache" in a for a in record["assumptions"]), record["assumptions"]


def test_a_mounted_ports_conf_is_read_instead_of_the_images(project):
    text = _pod(_container("php", "php:8.3-apache")).rstrip("\n") + (
        "\n          volumeMounts: [{name: c, mountPath: /etc/apache2/ports.conf, subPath: ports.conf}]"
        "\n      volumes: [{name: c, configMap: {name: ports}}]\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ports}\ndata:\n  ports.conf: |\n    Listen 8080\n    ListenBacklog 64\n"
    )
    project.write("app.yaml", text, dedent=False)
    [record] = project.explain("--kernel", "4.19", "app.yaml")
    assert (record["server"], record["port"], record["requested_backlog"]) == ("apache", 8080, 64)


@pytest.mark.skipif(not os.path.exists("/etc/apache2/ports.conf"), reason="Debian's apache2 is not installed (.ci/run installs it)")
def test_the_built_in_ports_conf_is_debians():
    from somaxlint.servers import apache

    with open("/etc/apache2/ports.conf", encoding="utf-8") as handle:
        assert apache.DEBIAN_BUILT_IN["/etc/apache2/ports.conf"] == handle.read()
    with open("/etc/apache2/apache2.conf", encoding="utf-8") as handle:
        text = handle.read()
    assert "Include ports.conf" in text and "\nListenBacklog" not in text and "\nListen " not in text


@pytest.mark.parametrize("image,severity", [
    ("redis:7.2", "error"),
    ("docker.io/library/redis:7.2", "error"),
    ("public.ecr.aws/docker/library/redis:7.2", "error"),
    ("bitnami/redis:7.2", "error"),
    ("registry.k8s.io/redis:e2e", "warning"),
    ("quay.io/someone/redis:7", "warning"),
    ("registry.example.com:5000/platform/redis:7", "warning"),
])
def test_an_image_named_like_a_known_one_elsewhere_is_an_assumption(project, image, severity):
    text = _pod(_container("r", image))
    project.write("app.yaml", text, dedent=False)
    run = project.run("--kernel", "4.19", "--format", "json", "app.yaml")
    [finding] = run.json["findings"]
    assert (finding["rule"], finding["severity"]) == ("SMX001", severity)
    elsewhere = [a for a in finding["assumptions"] if "is not published where the redis image somaxlint knows is" in a]
    assert len(elsewhere) == (severity == "warning")


def test_explain_says_which_container_cannot_bind(project):
    """Two Redis on their default *:6379 in one pod: the later one's record
    names the earlier one and has no `ss` line; its backlog finding is a
    warning resting on its winning the race."""
    text = _pod(_container("queue", "redis:7.2"), _container("copy", "redis:7.2"))
    project.write("app.yaml", text, dedent=False)
    records = {r["container"]: r for r in project.explain("--kernel", "4.19", "app.yaml")}
    line, column = position(text, "redis:7.2")
    assert records["queue"]["bind_conflict"] is None
    assert records["copy"]["bind_conflict"] == f"container 'queue' of this pod listens on *:6379 (app.yaml:{line}:{column}): bind() fails with EADDRINUSE (SMX026)"
    assert records["copy"]["ss_line"] is None
    run = project.run("--kernel", "4.19", "--format", "json", "app.yaml")
    by_rule = sorted((f["rule"], f["severity"], f["location"]["line"]) for f in run.json["findings"])
    second = position(text, "redis:7.2", 2)[0]
    assert by_rule == [("SMX001", "error", line), ("SMX001", "warning", second), ("SMX026", "error", second)]


def test_traefik_listens_on_its_entry_points(project):
    """Entry points from flags (any case) and the environment; a UDP one has
    no accept queue; none at all: one socket whose port is not known."""
    text = _pod(
        _container("edge", "traefik:v3.1", None, '["--entryPoints.web.address=:8000/tcp", "--entrypoints.dns.address=:53/udp"]').rstrip("\n")
        + '\n          env: [{name: TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS, value: "0.0.0.0:8443"}]\n',
        _container("bare", "traefik:v3.1"),
    )
    assert _servers(project, text) == [("bare", "traefik", None), ("edge", "traefik", 8000), ("edge", "traefik", 8443)]
    [record] = [r for r in project.explain("--kernel", "4.19", "app.yaml") if r["port"] == 8000]
    assert record["listen"]["line"] == position(text, "--entryPoints.web.address")[0]
    run = project.run("explain", "--kernel", "4.19", "app.yaml")
    assert "traefik *:(port not in the input)" in run.out


def test_the_images_entrypoint_run_by_hand_starts_its_server(project):
    """`bash -c "/entrypoint.sh --opt ..."` (kubernetes-engine-samples'
    gke-stateful-mysql), `export X=1 && /entrypoint.sh` (sentry's
    ClickHouse chart): the image's entrypoint prepends its server to
    options, and runs it alone without arguments; given a command of its
    own, it runs that instead."""
    text = _pod(
        _container("mysql", "mysql/mysql-server:8.0.28", '["/bin/bash"]', '["-c", "/entrypoint.sh --server-id=2 --port=3307"]'),
        _container("clickhouse", "clickhouse/clickhouse-server:24.8", '["/bin/bash", "-c", "export SHARD=1 && /entrypoint.sh"]'),
        _container("shell", "mysql:8.4", '["/bin/bash", "-c", "/entrypoint.sh mysqladmin ping"]'),
    )
    assert _servers(project, text) == [
        ("clickhouse", "clickhouse", 8123), ("clickhouse", "clickhouse", 9000), ("clickhouse", "clickhouse", 9004),
        ("clickhouse", "clickhouse", 9005), ("clickhouse", "clickhouse", 9009),
        ("mysql", "mysql", 3307), ("mysql", "mysql", 33060),
    ]


def test_a_server_image_started_by_a_script_not_followed_is_said(project):
    """bitnami's Kafka chart starts `/scripts/setup.sh` (gke-stateful-kafka
    of kubernetes-engine-samples): a serving container whose image is a
    known server's, run by a command somaxlint does not follow, is an
    SMX018 at that command -- not silence.  A client in a server's image
    that serves nothing (a Job's `mysql -e`) is not."""
    text = _pod(
        _container("kafka", "bitnami/kafka:3.3.2", '["/scripts/setup.sh"]').replace(
            "          command:", "          ports: [{containerPort: 9092}]\n          command:"
        ),
        _container("client", "mysql:8.4", '["mysql", "-h", "db", "-e", "select 1"]'),
    )
    project.write("app.yaml", text, dedent=False)
    run = project.run("--format", "json", "--kernel", "4.19", "app.yaml")
    [finding] = run.json["findings"]
    line, column = position(text, '"/scripts/setup.sh"')
    assert (finding["rule"], finding["severity"], finding["location"]["line"], finding["location"]["column"]) == ("SMX018", "info", line, column)
    assert finding["message"] == (
        "container 'kafka' of Deployment/default/app serves (it declares a port or a network probe) but it runs "
        "`/scripts/setup.sh` in image bitnami/kafka:3.3.2 (kafka), a command somaxlint does not follow to the server: "
        "whether and how it starts it is not in the input, so its listeners and their backlog are not known; its "
        "listeners are not checked"
    )

"""Packaging and the self-documentation that must not drift."""

import re
import subprocess
import sys

from conftest import REPO


def test_python_dash_m_linter_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "somaxlint", "rules"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[1].startswith("SMX001  listen-backlog-truncated")


def test_rules_install_as_linter_rules_never_as_top_level_rules(tmp_path):
    # Outside the checkout, only the installed distribution is importable.
    code = (
        "import importlib.util as u, somaxlint.rules as r; "
        "print(r.__name__, u.find_spec('rules') is None, u.find_spec('somaxlint.rules.smx001_listen_backlog_truncated') is not None)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.stdout.split() == ["somaxlint.rules", "True", "True"], proc.stderr


def test_readme_rule_table_is_generated_from_the_rules():
    from somaxlint.rulebook import markdown_table

    readme = (REPO / "README.md").read_text()
    table = re.search(r"<!-- rules-table:start -->\n(.*?)<!-- rules-table:end -->", readme, re.S).group(1)
    assert table == markdown_table()


def test_every_rule_documents_itself():
    from somaxlint.rulebook import SECTIONS, all_rules

    for rule in all_rules():
        assert re.fullmatch(r"SMX\d{3}", rule.code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
        assert rule.severity in ("info", "warning", "error")
        for title in SECTIONS:
            assert rule.section(title), f"{rule.code} lacks a '{title}' section"


def test_rules_command_prints_one_rule(project):
    run = project.run("rules", "SMX001")
    assert run.status == 0
    assert run.out.startswith("SMX001 listen-backlog-truncated (default severity: error)\n")
    assert "## How to fix\nRaise both knobs together" in run.out
    assert project.run("rules", "listen-backlog-truncated").out == run.out
    assert project.run("rules", "SMX999").status == 2


def test_usage_errors_exit_2(project):
    assert project.run("no/such/path").status == 2
    assert project.run("--format", "yaml", ".").status == 2
    assert project.run("--kernel", "latest", ".").status == 2
    project.write(".somaxlint.yaml", "kernel: 5\nrules: {SMX001: loud}\n")
    run = project.run(".")
    assert run.status == 2
    assert run.err.startswith("somaxlint: error: configuration: ")
    assert ".somaxlint.yaml: key 'kernel'" in run.err


def test_exit_status_zero_when_clean(project):
    project.write("nginx.conf", "events {}\nhttp { server { listen 80 backlog=100; } }\n")
    run = project.run(".")
    assert (run.status, run.out) == (0, "")


def test_configuration_in_pyproject_and_servers_link(project):
    from conftest import deployment

    project.write("deploy/app.yaml", deployment(pod_extra='securityContext:\n  sysctls:\n  - name: net.core.somaxconn\n    value: "300"'))
    project.write("nginx/site.conf", "events {}\nhttp { server { listen 8080 backlog=1000; } }\n")
    project.write(
        "pyproject.toml",
        '[tool.somaxlint]\nkernel = "5.10"\n[tool.somaxlint.kubelet]\nallowedUnsafeSysctls = ["net.core.somaxconn"]\n'
        '[[tool.somaxlint.servers]]\npath = "nginx/*.conf"\nworkload = "Deployment/default/web"\ncontainer = "nginx"\n',
    )
    [listener] = project.explain(".")
    assert (listener["workload"], listener["container"], listener["somaxconn"], listener["effective_backlog"]) == (
        "Deployment/default/web", "nginx", 300, 300)
    run = project.run(".")
    assert run.lines[0].startswith("nginx/site.conf:2:17: SMX001 [error] backlog=1000 on 0.0.0.0:8080 is truncated to 300")


def test_readme_servers_table_is_generated_from_the_modules():
    from somaxlint.servers import catalogue

    readme = (REPO / "README.md").read_text()
    table = re.search(r"<!-- servers-table:start -->\n(.*?)<!-- servers-table:end -->", readme, re.S).group(1)
    assert table == catalogue("markdown")


def test_servers_command_lists_every_module(project):
    import json

    from somaxlint.servers import modules

    run = project.run("servers", "--format", "json")
    rows = json.loads(run.out)
    assert [r["name"] for r in rows] == [m.NAME for m in modules()]
    assert rows[0]["name"] == "nginx"
    assert {r["name"]: r["default_backlog"] for r in rows} == {
        "nginx": 511, "redis": 511, "valkey": 511, "memcached": 1024, "uwsgi": 100, "gunicorn": 2048, "uvicorn": 2048,
        "traefik": "somaxconn", "caddy": "somaxconn", "envoy": "somaxconn", "kong": 16384, "php-fpm": "511 (PHP <= 8.1); somaxconn (PHP >= 8.2)",
        "haproxy": "maxconn", "apache": 511, "tomcat": 100,
        "postgresql": "200 (PostgreSQL >= 16: 2 x max_connections); 244 (<= 15: 2 x MaxBackends)", "mariadb": 80, "nodejs": 511, "werkzeug": 128, "python-http-server": 5,
        "waitress": 1024, "hypercorn": 100, "daphne": 50,
        "pgbouncer": 128, "mysql": "151 (MySQL >= 8.0: back_log = max_connections); 80 (5.7: 50 + max_connections / 5)",
        "etcd": "somaxconn", "prometheus": "somaxconn", "nats": "somaxconn",
        "rabbitmq": 128, "kafka": 50, "mongodb": "SOMAXCONN of the build (4096 for MongoDB >= 6.0 images, 128 before)",
        "puma": 1024, "unicorn": 1024,
        "coredns": "somaxconn", "vault": "somaxconn", "consul": "somaxconn",
        "clickhouse": "4096 (ClickHouse >= 21.11); 64 (<= 21.10)", "jetty": 50}
    assert run.status == 0

"""SMX027's threshold, `rules: {SMX027: {min_queue: N}}`: configurable,
validated, and refused on any other rule."""

from __future__ import annotations

import re

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  template:
    spec:
      containers:
        - name: app
          image: python:3.12
          command: ["uwsgi", "--http-socket", ":8000", "--wsgi-file", "app.py"]
        - name: db
          image: mariadb:11.4
        - name: cache
          image: redis:7.2
        - name: chosen
          image: mariadb:11.4
          command: ["mariadbd", "--back-log=50", "--port=3307"]
"""


def _found(project, config=None):
    project.write("shop.yaml", MANIFEST)
    if config is not None:
        project.write(".somaxlint.yaml", config)
    run = project.run("--format", "json", "--kernel", "6.1", "--select", "SMX027", "shop.yaml")
    return run, [(f["location"]["line"], int(re.search(r"holds at most (\d+) ", f["message"]).group(1)) - 1) for f in run.json["findings"]]


def test_default_threshold_is_128(project):
    run, found = _found(project)
    assert run.status == 1  # an info fails under the default --fail-on info
    # MariaDB's TCP listener and its Unix socket; a back_log the input sets is not reported
    assert found == [(10, 100), (12, 80), (12, 80)]


def test_a_lower_threshold_keeps_only_the_smaller_queue(project):
    run, found = _found(project, "rules:\n  SMX027:\n    min_queue: 90\n")
    assert found == [(12, 80), (12, 80)]


def test_a_higher_threshold_reaches_redis_511(project):
    run, found = _found(project, "rules:\n  queue-too-small:\n    min_queue: 1024\n    severity: warning\n")
    assert found == [(10, 100), (12, 80), (12, 80), (14, 511)]
    assert {f["severity"] for f in run.json["findings"]} == {"warning"}
    redis = run.json["findings"][3]
    assert redis["message"].endswith("To hold more, set Redis's tcp-backlog (`--tcp-backlog N`, or `tcp-backlog N` in redis.conf) to 1024 (or the size you need)")


def test_min_queue_on_another_rule_is_a_configuration_error(project):
    project.write("shop.yaml", MANIFEST)
    project.write(".somaxlint.yaml", "rules:\n  SMX001:\n    min_queue: 64\n")
    run = project.run("shop.yaml")
    assert run.status == 2
    assert "key 'rules.SMX001.min_queue': only SMX027 (queue-too-small) takes min_queue" in run.err


def test_min_queue_must_be_a_positive_integer(project):
    project.write("shop.yaml", MANIFEST)
    project.write(".somaxlint.yaml", "rules:\n  SMX027:\n    min_queue: 0\n")
    run = project.run("shop.yaml")
    assert run.status == 2
    assert "rules.SMX027.min_queue" in run.err


def test_a_server_no_package_checks_says_so_in_its_findings(project):
    """Kafka is not packaged where the suite runs: its value follows the
    source, and each of its findings says it was not checked against a
    running Kafka."""
    project.write("kafka.yaml", """\
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: broker}
        spec:
          template:
            spec:
              containers:
                - name: kafka
                  image: apache/kafka:3.9.0
        """)
    run = project.run("--format", "json", "--kernel", "6.1", "--select", "SMX027", "kafka.yaml")
    assert len(run.json["findings"]) == 2  # PLAINTEXT and CONTROLLER
    for finding in run.json["findings"]:
        assert "(not checked against a running Kafka: no Debian/PyPI/npm package of Kafka exists; the value follows " in finding["message"]
    project.write("redis.yaml", MANIFEST)
    run = project.run("--format", "json", "--kernel", "6.1", "--select", "SMX027", "redis.yaml")
    assert not any("not checked against a running" in f["message"] for f in run.json["findings"])

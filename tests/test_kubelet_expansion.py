"""Kubernetes' own expansion: `$(NAME)` in a container's `command`, `args`
and `env` values is replaced by the kubelet before the process starts
(k8s.io/kubernetes third_party/forked/golang/expansion/expand.go), so a
server's options written that way are read with their values."""

from __future__ import annotations

import pytest

from conftest import position
from somaxlint.model.environment import Env, expand
from somaxlint.servers import Word
from somaxlint.findings import Location


def _env(**values):
    env = Env()
    for name, value in values.items():
        env[name] = Word(value, Location("x.yaml", 1, 1))
    return env


@pytest.mark.parametrize(
    "text, want",
    [
        ("$(A)", "a"),
        ("--port=$(A)", "--port=a"),
        ("$(A)$(B)", "ab"),
        ("$$(A)", "$(A)"),  # escaped: the reference as written
        ("$$$(A)", "$a"),
        ("$(UNDEFINED)", "$(UNDEFINED)"),  # kept as written
        ("$(A", "$(A"),  # unclosed
        ("$(A$$", "$(A$"),  # unclosed, and scanning goes on after `$(`
        ("$()", "$()"),
        ("$A", "$A"),  # a shell reference: not the kubelet's
        ("100$", "100$"),
        ("${A}", "${A}"),
        ("$(A)-$(EMPTY)-", "a--"),
    ],
)
def test_expand_as_the_kubelet_does(text, want):
    assert expand(text, _env(A="a", B="b", EMPTY="")) == want


MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
        - name: api
          image: python:3.12
          command: ["gunicorn", "--bind", "0.0.0.0:$(PORT)", "--backlog", "$(BACKLOG)", "app:app"]
          env:
            - {name: BASE, value: "40"}
            - {name: BACKLOG, value: "$(BASE)96"}
            - {name: PORT, value: "8000"}
"""


def test_a_listener_written_with_references_is_read_with_their_values(project):
    path = project.write("api.yaml", MANIFEST)
    [listener] = [r for r in project.explain("--kernel", "4.19", str(path)) if r["family"] != "unix"]  # (and gunicorn's control socket)
    assert (listener["server"], listener["address"], listener["port"]) == ("gunicorn", "0.0.0.0", 8000)
    # BACKLOG's own value refers to BASE, defined before it
    assert (listener["requested_backlog"], listener["effective_backlog"]) == (4096, 128)
    assert (listener["listen"]["line"], listener["listen"]["column"]) == position(MANIFEST, '"0.0.0.0:$(PORT)"')
    line, column = position(MANIFEST, '"$(BACKLOG)"')
    assert (listener["requested_backlog_source"]["line"], listener["requested_backlog_source"]["column"]) == (line, column)

    run = project.run("--format", "json", "--kernel", "4.19", str(path))
    assert run.status == 1
    [finding] = run.json["findings"]
    assert (finding["rule"], finding["severity"], finding["location"]["line"], finding["location"]["column"]) == ("SMX001", "error", line, column)
    assert "gunicorn --backlog 4096 on 0.0.0.0:8000 is truncated to 128" in finding["message"]


def test_a_reference_to_a_value_the_input_does_not_show_is_an_assumption(project):
    text = MANIFEST.replace('            - {name: BACKLOG, value: "$(BASE)96"}\n', "            - name: BACKLOG\n              valueFrom: {secretKeyRef: {name: tuning, key: backlog}}\n")
    path = project.write("api.yaml", text)
    run = project.run("--format", "json", "--kernel", "4.19", str(path))
    [finding] = run.json["findings"]
    assert finding["severity"] == "warning"
    assert finding["assumptions"] == ["BACKLOG is set through secretKeyRef, whose value the input does not show"]


def test_without_references_nothing_changes(project):
    """Before the expansion the same manifest with literal values gave the
    same listener; with the references it gave none."""
    literal = MANIFEST.replace("$(PORT)", "8000").replace('"$(BACKLOG)"', '"4096"')
    [a] = [r for r in project.explain("--kernel", "4.19", str(project.write("a.yaml", literal))) if r["family"] != "unix"]
    [b] = [r for r in project.explain("--kernel", "4.19", str(project.write("b.yaml", MANIFEST))) if r["family"] != "unix"]
    assert {k: a[k] for k in ("address", "port", "requested_backlog", "effective_backlog")} == {
        k: b[k] for k in ("address", "port", "requested_backlog", "effective_backlog")
    }


def test_a_variable_written_with_another_is_unknown_only_when_read(project):
    """`ADVERTISE: $(POD_NAME).svc` refers to a fieldRef the input cannot
    show: a server that reads ADVERTISE rests on it, one that does not is
    certain."""
    base = MANIFEST.replace(
        '            - {name: PORT, value: "8000"}\n',
        '            - {name: PORT, value: "8000"}\n'
        "            - name: POD_NAME\n              valueFrom: {fieldRef: {fieldPath: metadata.name}}\n"
        '            - {name: ADVERTISE, value: "$(POD_NAME).svc"}\n',
    )
    run = project.run("--format", "json", "--kernel", "4.19", str(project.write("a.yaml", base)))
    [finding] = run.json["findings"]
    assert (finding["severity"], finding["assumptions"]) == ("error", [])

    reads = base.replace('"--bind", "0.0.0.0:$(PORT)"', '"--bind", "$(ADVERTISE):$(PORT)"')
    run = project.run("--format", "json", "--kernel", "4.19", str(project.write("b.yaml", reads)))
    [finding] = run.json["findings"]
    assert finding["severity"] == "warning"
    assert finding["assumptions"] == ["ADVERTISE is written with $(POD_NAME), which is set through fieldRef, whose value the input does not show"]

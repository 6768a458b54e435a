"""Charts and kustomizations as real repositories keep them.

A chart published with its dependencies declared but not vendored (the
usual case in chart repositories), an ``apiVersion: v1`` chart with
``requirements.yaml``, a chart with a ``values.schema.json``; a
kustomization that kustomize does not build, and an overlay linted by its
own path.  Each is checked as far as it can be, and says how far.
"""

from __future__ import annotations

import json

import pytest

from conftest import config_map, deployment, position
from somaxlint.units.helm_chart import _engine

needs_helm = pytest.mark.skipif(_engine() is None, reason="needs Helm (the test extra installs the binding)")

TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-conf
data:
  nginx.conf: |
    events {}
    http {
        server {
            listen 80;
        }
    }
"""


def _chart(project, chart_yaml: str, values: str = "port: 80\n", extra: dict = None):
    project.write("charts/web/Chart.yaml", chart_yaml)
    project.write("charts/web/values.yaml", values)
    project.write("charts/web/templates/configmap.yaml", TEMPLATE)
    for name, text in (extra or {}).items():
        project.write(f"charts/web/{name}", text)


def _findings(project, *args):
    run = project.run("--format", "json", "--kernel", "4.19", *args, ".")
    return run, [(f["rule"], f["location"]["path"], f["location"]["line"], f["severity"], f["assumptions"]) for f in run.json["findings"]]


@needs_helm
def test_a_v1_chart_whose_requirements_are_not_vendored_renders_without_them(project):
    _chart(
        project,
        "apiVersion: v1\nname: web\nversion: 1.0.0\n",
        "port: 80\nredis:\n  enabled: false\n",
        {"requirements.yaml": "dependencies:\n  - name: redis\n    version: 17.x.x\n    repository: https://charts.example/\n    condition: redis.enabled\n"
                              "  - name: common\n    version: 2.x.x\n    repository: https://charts.example/\n"},
    )
    run, got = _findings(project)
    # redis is off in these values: no assumption for it; common is on
    assert got == [("SMX001", "charts/web/templates/configmap.yaml", 10, "error", [
        "dependency common 2.x.x (declared in requirements.yaml) is not in charts/: rendered without it (run `helm dependency build`)"
    ])]
    assert "(in helm chart charts/web)" in run.json["findings"][0]["message"]


@needs_helm
def test_a_values_set_that_turns_a_missing_dependency_on_says_so_for_that_set_only(project):
    _chart(
        project,
        "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 17.x.x\n    repository: https://charts.example/\n    condition: redis.enabled\n",
        "port: 80\nredis:\n  enabled: false\n",
        {"values-prod.yaml": "redis:\n  enabled: true\n"},
    )
    project.write(".somaxlint.yaml", "helm:\n  charts:\n    charts/web: {values: [[], [values-prod.yaml]]}\n")
    run, got = _findings(project)
    assert sorted((g[4] for g in got), key=len) == [
        [],
        ["dependency redis 17.x.x (declared in Chart.yaml) is not in charts/: rendered without it (run `helm dependency build`)"],
    ]
    messages = sorted(f["message"] for f in run.json["findings"])
    assert all("helm chart charts/web" in m for m in messages)
    assert len([m for m in messages if "helm chart charts/web (values-prod.yaml)" in m]) == 1


@needs_helm
def test_values_that_break_the_charts_schema_are_refused_where_helm_would(project):
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"port": {"type": "integer", "maximum": 65535}},
    }
    _chart(project, "apiVersion: v2\nname: web\nversion: 1.0.0\n", extra={
        "values.schema.json": json.dumps(schema), "values-bad.yaml": "replicas: 2\nport: 99999\n",
    })
    project.write(".somaxlint.yaml", "helm:\n  charts:\n    charts/web: {values: [[], [values-bad.yaml]]}\n")
    run, got = _findings(project)
    assert [(g[0], g[1], g[2], g[3]) for g in got] == [
        ("SMX001", "charts/web/templates/configmap.yaml", 10, "error"),  # values.yaml alone: conforms
        ("SMX000", "charts/web/values-bad.yaml", 2, "error"),
    ]
    [refused] = [f for f in run.json["findings"] if f["rule"] == "SMX000"]
    assert refused["message"] == (
        "chart not rendered (values-bad.yaml): Helm refuses these values: port: 99999 is greater than the maximum of 65535 (values.schema.json)"
    )


@needs_helm
def test_a_schema_ref_to_elsewhere_is_not_fetched_and_is_said(project):
    schema = {"type": "object", "properties": {"port": {"$ref": "https://schemas.example/port.json"}}}
    _chart(project, "apiVersion: v2\nname: web\nversion: 1.0.0\n", extra={"values.schema.json": json.dumps(schema)})
    run, got = _findings(project)
    assert got == [("SMX001", "charts/web/templates/configmap.yaml", 10, "error", [
        "values.schema.json refers to https://schemas.example/port.json outside it, which somaxlint does not fetch: the values are not checked against it"
    ])]


def test_a_kustomization_that_does_not_build_still_has_its_base_checked(project):
    project.write("base/app.yaml", deployment() + "---\n" + config_map())
    project.write("base/kustomization.yaml", "resources: [app.yaml]\n")
    project.write("overlays/prod/kustomization.yaml", "resources:\n- ../../base\n- missing.yaml\nconfigMapGenerator:\n- name: extra\n  files: [absent.conf]\n")
    run = project.run("--format", "json", "--kernel", "4.19", "overlays/prod")
    got = [(f["rule"], f["location"]["path"], f["location"]["line"]) for f in run.json["findings"]]
    line, _ = position(config_map(), "listen 80;")
    assert got == [
        ("SMX001", "base/app.yaml", deployment().count("\n") + 1 + line),
        ("SMX000", "overlays/prod/kustomization.yaml", 3),
    ]
    smx001 = run.json["findings"][0]
    assert smx001["assumptions"][-1].startswith("kustomize did not build this kustomization (see the SMX000 at it)")


def test_an_overlay_linted_by_its_own_path_is_built_with_its_bases_from_the_repository(project):
    (project.root / ".git").mkdir()
    project.write("base/app.yaml", deployment() + "---\n" + config_map())
    project.write("base/kustomization.yaml", "resources: [app.yaml]\n")
    project.write("overlays/prod/kustomization.yaml", "resources: [../../base]\nnamePrefix: prod-\n")
    run = project.run("--format", "json", "--kernel", "4.19", "overlays/prod")
    [f] = run.json["findings"]
    assert (f["rule"], f["location"]["path"]) == ("SMX001", "base/app.yaml")
    assert "Deployment/default/prod-web" in f["message"]  # built: the overlay's prefix
    assert not any("kustomize did not build" in a for a in f["assumptions"])


def test_a_staged_template_without_helm_is_said_at_its_chart(project, monkeypatch, tmp_path):
    # the pre-commit hook's environment has no Helm unless it is added
    monkeypatch.setitem(__import__("sys").modules, "helm_python", None)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (project.root / ".git").mkdir()
    _chart(project, "apiVersion: v2\nname: web\nversion: 1.0.0\n")
    project.write("apps/other.yaml", deployment(name="other") + "---\n" + config_map())
    run = project.run("--format", "json", "--default-context", ".", "charts/web/templates/configmap.yaml")
    [f] = run.json["findings"]
    assert (f["rule"], f["location"]["path"], f["location"]["line"], f["severity"]) == ("SMX019", "charts/web/Chart.yaml", 1, "info")
    assert f["message"] == "chart not rendered: install helm (on PATH) or somaxlint[helm] to lint its templates"
    assert [r["location"]["path"] for r in f["related"]] == ["charts/web/templates/configmap.yaml"]
    assert run.status == 1

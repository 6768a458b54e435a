"""Pod templates are found by their shape, in any object.

`tests/repos/crds/` holds the resources teams deploy that are not among
Kubernetes' own workload kinds -- an Argo Rollout (with a template, and
with a workloadRef), an Argo Experiment with two templates, a Knative
Service, a KEDA ScaledJob, an OpenShift Template, a Tekton Task, an
operator's resource -- each written as the project's documentation shows
it.  Every server container is a listener or said (SMX025), never dropped.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import REPO, position

CRDS = REPO / "tests" / "repos" / "crds"


@pytest.fixture
def crds(project):
    shutil.copytree(CRDS, project.root / "crds")
    return project


def _at(path: str, needle: str, nth: int = 1, shift: int = 0):
    line, column = position((CRDS / path).read_text(), needle, nth)
    return f"crds/{path}", line, column + shift


def test_every_pod_template_is_found_and_every_other_container_said(crds):
    run = crds.run("--format", "json", "--kernel", "4.19", "crds")
    assert run.status == 1
    got = [(f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"], f["severity"]) for f in run.json["findings"]]
    assert got == [
        ("SMX001",) + _at("keda/scaledjob.yaml", '"4096"') + ("error",),
        ("SMX001",) + _at("knative/service.yaml", "redis:7.2") + ("error",),
        ("SMX001",) + _at("openshift/template.yaml", "listen 8080") + ("error",),
        ("SMX003",) + _at("operator/cache.yaml", "- name: net.core.somaxconn", shift=2) + ("warning",),
        ("SMX001",) + _at("operator/cache.yaml", '"2048"') + ("error",),
        ("SMX001",) + _at("rollouts/experiment.yaml", "redis:7.2") + ("error",),
        ("SMX001",) + _at("rollouts/experiment.yaml", '"1024"') + ("error",),
        ("SMX001",) + _at("rollouts/rollout.yaml", "listen 80;") + ("error",),
        ("SMX001",) + _at("rollouts/workload-ref.yaml", "redis:7.2") + ("error",),
        ("SMX025",) + _at("rollouts/workload-ref.yaml", "apiVersion: apps/v1", 3) + ("info",),
        ("SMX025",) + _at("tekton/task.yaml", "image:") + ("info",),
    ]
    messages = {f["location"]["path"] + ":" + str(f["location"]["line"]): f["message"] for f in run.json["findings"]}
    assert "in container 'redis' of Experiment/default/compare (spec.templates[1].template.spec)" in messages["crds/rollouts/experiment.yaml:28"]
    assert "of ScaledJob/default/worker" in messages["crds/keda/scaledjob.yaml:14"]
    assert "by net.core.somaxconn 1024 (securityContext.sysctls of CacheCluster/default/sessions)" in messages["crds/operator/cache.yaml:16"]
    assert messages["crds/tekton/task.yaml:8"] == (
        "Task/default/smoke: a container (image nginx:1.25) is not modelled: it is at spec.steps[0], outside any pod "
        "template (no `containers` list holds it): the pod it runs in is made by Task's controller; a server there is not checked"
    )
    assert messages["crds/rollouts/workload-ref.yaml:34"] == (
        "Rollout/default/orphan: its pods are not modelled: its pods are those of Deployment/default/elsewhere "
        "(spec.workloadRef), which is not in the input; a server there is not checked"
    )


def test_explain_lists_each_pod_template_and_each_container_it_could_not_place(crds):
    report = json.loads(crds.run("explain", "--format", "json", "--kernel", "4.19", "crds").out)
    rows = sorted((r["workload"], r["container"], r["server"], r["port"], r["effective_backlog"]) for r in report["listeners"])
    assert rows == [
        ("CacheCluster/default/sessions", "redis", "redis", 6379, 1024),
        ("Deployment/default/api", "redis", "redis", 6379, 128),  # the pods of Rollout/default/api
        ("DeploymentConfig/default/${NAME}", "nginx", "nginx", 8080, 128),
        ("Experiment/default/compare (spec.templates[0].template.spec)", "redis", "redis", 6379, 128),
        ("Experiment/default/compare (spec.templates[1].template.spec)", "redis", "redis", 6379, 128),
        ("Rollout/default/web", "nginx", "nginx", 80, 128),
        ("ScaledJob/default/worker", "cache", "memcached", 11211, 128),
        ("Service/apps/hello", "#0", "redis", 6379, 128),
    ]
    assert report["unresolved"] == []
    assert [(u["object"], u["image"], u["path"]) for u in report["unplaced"]] == [
        ("Rollout/default/orphan", None, "spec.workloadRef"),
        ("Task/default/smoke", "nginx:1.25", "spec.steps.0"),
    ]


def test_the_summary_counts_the_workloads_found_by_shape(crds):
    run = crds.run("--kernel", "4.19", "crds")
    assert run.err.splitlines()[-1].startswith(
        "somaxlint: 8 files, 0 skipped (0 not Kubernetes or nginx), 0 unparsable; 8 workloads, 8 servers (0 unresolved), 8 listeners"
    )


def test_a_hook_staging_a_rollout_alone_reads_the_config_map_it_mounts(crds):
    # the ConfigMap in another file, only in the context
    text = (CRDS / "rollouts" / "rollout.yaml").read_text()
    rollout, config_map = text.split("---\n")
    crds.write("crds/rollouts/rollout.yaml", rollout)
    crds.write("crds/rollouts/conf.yaml", config_map)
    run = crds.run("--format", "json", "--kernel", "4.19", "--default-context", ".", "crds/rollouts/rollout.yaml")
    assert [(f["rule"], f["location"]["path"]) for f in run.json["findings"]] == [("SMX001", "crds/rollouts/conf.yaml")]

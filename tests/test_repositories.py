"""A repository laid out the way teams lay theirs out, linted whole.

`tests/repos/platform` holds: an `apps/` monorepo whose two applications
share object names; `envs/{dev,prod}` copies that differ in a sysctl; a
ConfigMap shared by three Deployments; a workload whose ConfigMap is not in
the repository; two equally near copies of one ConfigMap; a file that
defines one ConfigMap twice; a kustomize base with three overlays (a plain
one, one adding the sysctl by patch, one replacing the ConfigMap from a
`configMapGenerator` nginx.conf); a Helm chart rendered with its
values.yaml and with values-prod.yaml; a stray Podman conflist; and a
`tsconfig.json` and editor settings with comments (a launch.json whose
cargo filter has a "kind", as Azure-Samples/aks-store-demo keeps three).

Helm is the real Helm (the in-process binding the test extra installs) and
kustomize the real kustomize (`kubectl kustomize`, from the kubectl wheel).
The fallbacks, without either, are tested by hiding both.
"""

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent / "repos" / "platform"

EXPECTED = [
    "ambiguous/a/configmap.yaml:10:9 SMX001 error",
    "ambiguous/web.yaml:22:19 SMX017 info",
    "apps/orphan.yaml:16:15 SMX018 info",
    "apps/shop/configmap.yaml:11:9 SMX001 error",
    "charts/web/templates/configmap.yaml:10:9 SMX001 error",
    "charts/web/templates/configmap.yaml:13:9 SMX001 error",
    "deploy/base/configmap.yaml:10:9 SMX001 error",
    "deploy/overlays/gen/nginx.conf:5:9 SMX001 error",
    "envs/dev/configmap.yaml:11:9 SMX001 error",
    "legacy/all-in-one.yaml:2:1 SMX016 warning",
    "shared-conf/configmap.yaml:11:9 SMX001 error",
    "shared-conf/configmap.yaml:11:9 SMX001 error",
    "shared-conf/configmap.yaml:11:9 SMX001 error",
]


def _where(f):
    loc = f["location"]
    return f"{loc['path']}:{loc['line']}:{loc['column']} {f['rule']} {f['severity']}"


@pytest.fixture
def repo(project):
    shutil.copytree(REPO, project.root, dirs_exist_ok=True)
    return project


def test_whole_repository_exact_findings(repo):
    run = repo.run("--format", "json", ".")
    assert [_where(f) for f in run.json["findings"]] == EXPECTED
    assert run.status == 1
    by_place = {}
    for f in run.json["findings"]:
        by_place.setdefault(_where(f), []).append(f)
    # Each app is linked to its own ConfigMap: the blog's backlog=1024 fits.
    [shop] = by_place["apps/shop/configmap.yaml:11:9 SMX001 error"]
    assert "Deployment/default/web" in shop["message"] and shop["related"][0]["location"]["path"] == "apps/shop/deployment.yaml"
    # One ConfigMap, three Deployments: three findings, three fingerprints.
    shared = by_place["shared-conf/configmap.yaml:11:9 SMX001 error"]
    assert sorted(m["message"].split(" of Deployment/default/")[1].split(";")[0] for m in shared) == ["edge-a", "edge-b", "edge-c"]
    assert len({f["fingerprint"] for f in shared}) == 3
    # envs/prod raises somaxconn: only envs/dev is truncated.
    assert not any(p.startswith("envs/prod") for p in by_place)
    # The Podman conflist is not the pods' network.
    assert not any("podman" in f["message"] for f in run.json["findings"])
    # A `{{ }}` line is not literal in the template: line 1, rendered line quoted.
    [approx] = by_place["charts/web/templates/configmap.yaml:13:9 SMX001 error"]
    assert approx["location"]["approximate"] is True
    assert "(rendered line: 'listen 9090 backlog=8192;'; not literal in the source)" in approx["message"]
    assert "in helm chart charts/web;" in approx["message"]
    # A kustomize-built finding names its overlay; the generator source is exact.
    [gen] = by_place["deploy/overlays/gen/nginx.conf:5:9 SMX001 error"]
    assert "Deployment/gen/gateway in kustomize deploy/overlays/gen" in gen["message"]
    assert gen["location"]["approximate"] is False


def test_whole_repository_summary_counts_and_skips(repo):
    run = repo.run(".")
    assert run.err.endswith(
        "somaxlint: 23 files, 17 skipped (3 not Kubernetes or nginx), 0 unparsable; 15 workloads, "
        "16 servers (1 unresolved), 18 listeners; 10 errors, 1 warning, 2 infos\n"
    )
    skipped = {s["path"]: s["reason"] for s in repo.run("--format", "json", ".").json["summary"]["skipped_files"]}
    assert skipped["tsconfig.json"] == skipped[".vscode/settings.json"] == skipped[".vscode/launch.json"] == "not Kubernetes"
    assert skipped[".somaxlint.yaml"] == "somaxlint's configuration"
    assert skipped["charts/web/templates/deployment.yaml"] == "read through its chart or kustomization"
    assert skipped["deploy/overlays/gen/nginx.conf"] == "read through its chart or kustomization"
    assert skipped["deploy/overlays/prod/somaxconn.yaml"] == "read through its chart or kustomization"


def test_explain_rows_for_every_workload(repo):
    run = repo.run("explain", "--format", "json", ".")
    rows = [
        (l["workload"], l["workload_file"]["path"], l["unit"], l["port"], l["requested_backlog"], l["somaxconn"], l["effective_backlog"],
         f"{l['listen']['path']}:{l['listen']['line']}:{l['listen']['column']}")
        for l in run.json["listeners"]
    ]
    chart, prod_values = "helm chart charts/web", "helm chart charts/web (values-prod.yaml)"
    template = "charts/web/templates/deployment.yaml"
    assert rows == [
        ("Deployment/default/api", "envs/dev/deployment.yaml", None, 8080, 8192, 4096, 4096, "envs/dev/configmap.yaml:11:9"),
        ("Deployment/default/api", "envs/prod/deployment.yaml", None, 8080, 8192, 16384, 8192, "envs/prod/configmap.yaml:11:9"),
        ("Deployment/default/edge-a", "shared-conf/edge-a.yaml", None, 8443, 8192, 4096, 4096, "shared-conf/configmap.yaml:11:9"),
        ("Deployment/default/edge-b", "shared-conf/edge-b.yaml", None, 8443, 8192, 4096, 4096, "shared-conf/configmap.yaml:11:9"),
        ("Deployment/default/edge-c", "shared-conf/edge-c.yaml", None, 8443, 8192, 4096, 4096, "shared-conf/configmap.yaml:11:9"),
        ("Deployment/default/pair", "ambiguous/web.yaml", None, 8080, 8192, 4096, 4096, "ambiguous/a/configmap.yaml:10:9"),
        ("Deployment/default/pair", "ambiguous/web.yaml", None, 8080, 512, 4096, 512, "ambiguous/b/configmap.yaml:10:9"),
        ("Deployment/default/release-name-web", template, chart, 8080, 8192, 4096, 4096, "charts/web/templates/configmap.yaml:10:9"),
        ("Deployment/default/release-name-web", template, prod_values, 8080, 8192, 16384, 8192, "charts/web/templates/configmap.yaml:10:9"),
        ("Deployment/default/release-name-web", template, chart, 9090, 8192, 4096, 4096, "charts/web/templates/configmap.yaml:13:9"),
        ("Deployment/default/release-name-web", template, prod_values, 9090, 8192, 16384, 8192, "charts/web/templates/configmap.yaml:13:9"),
        ("Deployment/default/web", "apps/blog/deployment.yaml", None, 8080, 1024, 4096, 1024, "apps/blog/configmap.yaml:11:9"),
        ("Deployment/default/web", "apps/shop/deployment.yaml", None, 8080, 8192, 4096, 4096, "apps/shop/configmap.yaml:11:9"),
        ("Deployment/dev/gateway", "deploy/base/deployment.yaml", "kustomize deploy/overlays/dev", 8080, 8192, 4096, 4096, "deploy/base/configmap.yaml:10:9"),
        ("Deployment/gen/gateway", "deploy/base/deployment.yaml", "kustomize deploy/overlays/gen", 8080, 2048, 4096, 2048, "deploy/overlays/gen/nginx.conf:4:9"),
        ("Deployment/gen/gateway", "deploy/base/deployment.yaml", "kustomize deploy/overlays/gen", 8443, 65535, 4096, 4096, "deploy/overlays/gen/nginx.conf:5:9"),
        ("Deployment/prod/gateway", "deploy/base/deployment.yaml", "kustomize deploy/overlays/prod", 8080, 8192, 16384, 8192, "deploy/base/configmap.yaml:10:9"),
        ("Pod/default/legacy", "legacy/all-in-one.yaml", None, 8080, 100, 4096, 100, "legacy/all-in-one.yaml:17:21"),
    ]
    prod = next(l for l in run.json["listeners"] if l["workload"] == "Deployment/prod/gateway")
    # The sysctl came from the overlay's patch file: its exact line.
    assert prod["somaxconn_source"] == {"path": "deploy/overlays/prod/somaxconn.yaml", "line": 10, "column": 13}
    assert [(u["workload"], u["reason"], u["location"]) for u in run.json["unresolved"]] == [
        ("Deployment/default/orphan", "ConfigMap default/gone-conf is not in the input", {"path": "apps/orphan.yaml", "line": 16, "column": 15})
    ]
    text = repo.run("explain", ".").out
    assert (
        "Deployment/default/orphan (apps/orphan.yaml)  container nginx  (nginx config /etc/nginx/nginx.conf not resolved: "
        "ConfigMap default/gone-conf is not in the input; at apps/orphan.yaml:16:15)\n"
    ) in text


def test_configured_cni_network_applies_to_every_pod(repo):
    repo.write(".somaxlint.yaml", (REPO / ".somaxlint.yaml").read_text() + "cni:\n  default: podman/87-podman-bridge.conflist\n")
    run = repo.run("--format", "json", ".")
    # 16384 from the conflist now lifts every plain pod: no SMX001 outside the units' own.
    assert not any(f["rule"] == "SMX001" and f["location"]["path"].startswith(("apps/", "envs/", "shared-conf/")) for f in run.json["findings"])


def test_same_findings_from_a_subdirectory_argument(repo):
    # Linting one app alone links it to its own ConfigMap too.
    run = repo.run("--format", "json", "apps/blog")
    assert run.json["findings"] == [] and run.status == 0


@pytest.fixture
def no_tools(repo, monkeypatch, tmp_path_factory):
    """Neither Helm (binary or binding) nor kustomize/kubectl."""
    empty = tmp_path_factory.mktemp("empty-path")
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setitem(sys.modules, "helm_python", None)
    return repo


def test_without_helm_and_kustomize(no_tools):
    run = no_tools.run("--format", "json", ".")
    got = [_where(f) for f in run.json["findings"]]
    assert "charts/web/Chart.yaml:1:1 SMX019 info" in got
    assert not any(p.startswith("charts/web/templates") for p in got)  # templates are never parsed raw
    # kustomize missing: each overlay's resources linked natively, no
    # patches or generators, and every finding says so.
    base = [f for f in run.json["findings"] if f["location"]["path"] == "deploy/base/configmap.yaml"]
    assert [f["message"].split(" of Deployment/default/gateway in ")[1].split(";")[0] for f in base] == [
        "kustomize deploy/overlays/dev", "kustomize deploy/overlays/gen", "kustomize deploy/overlays/prod"]
    for f in base:
        assert "(assumption: kustomize not installed: resources linked without patches or generators" in f["message"]
    [smx019] = [f for f in run.json["findings"] if f["rule"] == "SMX019"]
    assert smx019["message"] == "chart not rendered: install helm (on PATH) or somaxlint[helm] to lint its templates"


def test_raw_template_passed_explicitly_renders_its_chart(repo):
    # pre-commit stages a template: it is rendered through its chart, never parsed raw.
    run = repo.run("--format", "json", "charts/web/templates/configmap.yaml")
    assert [_where(f) for f in run.json["findings"]] == [
        "charts/web/templates/configmap.yaml:10:9 SMX001 error",
        "charts/web/templates/configmap.yaml:13:9 SMX001 error",
    ]
    assert not any("internal error" in f["message"] for f in run.json["findings"])


def test_raw_template_without_helm_is_not_an_error(no_tools):
    run = no_tools.run("charts/web/templates/configmap.yaml")
    assert run.codes() == ["SMX019"]


def test_precommit_context_reports_the_chart_finding_for_a_staged_template(repo):
    run = repo.run("--format", "json", "--context", ".", "charts/web/templates/configmap.yaml")
    assert [_where(f) for f in run.json["findings"]] == [
        "charts/web/templates/configmap.yaml:10:9 SMX001 error",
        "charts/web/templates/configmap.yaml:13:9 SMX001 error",
    ]


def test_release_name_and_values_sets_from_configuration(repo):
    repo.write(".somaxlint.yaml", 'kernel: "5.15"\nhelm:\n  charts:\n    charts/web:\n      values: [[values-prod.yaml]]\n      release: shop\n')
    rows = {(l["workload"], l["unit"], l["port"]) for l in repo.explain(".") if l["unit"] and l["unit"].startswith("helm")}
    assert rows == {
        ("Deployment/default/shop-web", "helm chart charts/web (values-prod.yaml)", 8080),
        ("Deployment/default/shop-web", "helm chart charts/web (values-prod.yaml)", 9090),
    }


@pytest.mark.parametrize(
    "staged, expected",
    [
        ("deploy/base/configmap.yaml", ["deploy/base/configmap.yaml:10:9 SMX001 error"]),
        ("deploy/overlays/gen/nginx.conf", ["deploy/overlays/gen/nginx.conf:5:9 SMX001 error"]),
        ("deploy/overlays/prod/somaxconn.yaml", []),
        ("charts/web/values-prod.yaml", []),
    ],
)
def test_precommit_context_with_staged_kustomize_and_chart_sources(repo, staged, expected):
    run = repo.run("--format", "json", "--context", ".", staged)
    assert [_where(f) for f in run.json["findings"]] == expected


def test_kustomizations_that_fetch_or_escape_are_never_built(project, monkeypatch):
    from somaxlint.units import sandbox

    def never(*args, **kwargs):
        raise AssertionError("kustomize must not run")

    monkeypatch.setattr(sandbox, "run", never)
    project.write("a/kustomization.yaml", "resources:\n  - github.com/evil/repo//x?ref=main\n")
    project.write("b/kustomization.yaml", "resources:\n  - ok.yaml\nconfigMapGenerator:\n  - name: x\n    files:\n      - nginx.conf=../../outside/nginx.conf\n")
    project.write("b/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    project.write("c/kustomization.yaml", "helmCharts:\n  - name: nginx\n    repo: https://charts.example\n")
    run = project.run("a", "b", "c")
    assert run.lines == [
        "a/kustomization.yaml:2:5: SMX000 [error] kustomization not built: it names a remote resource, and somaxlint never fetches",
        "b/kustomization.yaml:6:9: SMX000 [error] kustomization not built: ../../outside/nginx.conf: it is outside the repository",
        "c/kustomization.yaml:1:1: SMX000 [error] kustomization not built: helmCharts fetches charts; render the chart itself instead",
    ]
    assert run.status == 1


def test_kustomizations_that_include_each_other_are_reported_not_dropped(project):
    project.write("a/kustomization.yaml", "resources:\n  - ../b\n")
    project.write("b/kustomization.yaml", "resources:\n  - ../a\n")
    run = project.run(".")
    assert run.codes() == ["SMX000"]
    assert run.lines[0].startswith("a/kustomization.yaml:2:5: SMX000 [error] accumulating resources")
    assert str(project.root) not in run.out  # no machine-dependent paths
    message = run.lines[0].split(" [error] ", 1)[1]
    assert len(message) <= 300 and message.endswith("cycle detected: candidate root 'a' contains visited root 'a'")  # both ends of kustomize's nested message


def test_two_repositories_linted_together_keep_their_own_objects(project):
    # Two checkouts side by side, each defining ConfigMap default/nginx-conf
    # and Deployment default/web: each Deployment is linked inside its own tree.
    for repo, app in (("repo-a", "shop"), ("repo-b", "blog")):
        shutil.copytree(REPO / "apps" / app, project.root / repo / "deploy")
    project.write(".somaxlint.yaml", 'kernel: "5.15"\n')
    run = project.run("--format", "json", "repo-a", "repo-b")
    assert [_where(f) for f in run.json["findings"]] == ["repo-a/deploy/configmap.yaml:11:9 SMX001 error"]
    rows = sorted((l["workload_file"]["path"], l["config"]["path"], l["requested_backlog"]) for l in project.explain("repo-a", "repo-b"))
    assert rows == [
        ("repo-a/deploy/deployment.yaml", "repo-a/deploy/configmap.yaml", 8192),
        ("repo-b/deploy/deployment.yaml", "repo-b/deploy/configmap.yaml", 1024),
    ]

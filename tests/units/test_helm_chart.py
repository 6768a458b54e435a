"""Helm charts rendered into streams that point back at their templates.

Rendering goes through the real ``helm_python`` binding (installed here and
in CI); the ``helm`` binary path is exercised with a fake ``helm`` script
that prints a fixed `helm template` stream.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import time

import pytest

from somaxlint.units import SourcePosition
from somaxlint.units.helm_chart import NOT_INSTALLED, chart_files, chart_of, find_charts, render_chart

CHARTS = os.path.realpath(os.path.join(os.path.dirname(__file__), "fixtures", "charts"))
WEB = os.path.join(CHARTS, "web")
UMBRELLA = os.path.join(CHARTS, "umbrella")
BROKEN = os.path.join(CHARTS, "broken")
DEPLOYMENT = os.path.join(WEB, "templates", "deployment.yaml")
CONFIGMAP = os.path.join(WEB, "templates", "configmap.yaml")

posix_only = pytest.mark.skipif(os.name != "posix", reason="the fake helm is a shell script")


def display(path):
    return os.path.relpath(path, CHARTS).replace(os.sep, "/")


def line_of(text, wanted, nth=0):
    """1-based number of the nth stream line equal to ``wanted``."""
    numbers = [i for i, line in enumerate(text.split("\n"), 1) if line == wanted]
    return numbers[nth]


def copy_chart(tmp_path, name="web"):
    target = tmp_path / name
    shutil.copytree(os.path.join(CHARTS, name), target)
    return os.path.realpath(target)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(textwrap.dedent(text))


def only(result):
    assert result.problems == []
    assert len(result.rendered) == 1
    return result.rendered[0]


# -- finding charts ---------------------------------------------------------


def test_find_charts_lists_charts_but_not_subcharts():
    assert find_charts([CHARTS]) == [BROKEN, UMBRELLA, WEB]
    # the subchart named with its parent is still the parent's
    assert find_charts([UMBRELLA, os.path.join(UMBRELLA, "charts", "redis-local")]) == [UMBRELLA]


def test_find_charts_skips_tool_dirs_and_symlinks(tmp_path):
    outside = copy_chart(tmp_path / "outside")
    root = tmp_path / "repo"
    for skipped in (".git", "node_modules", ".venv"):
        write(str(root / skipped / "c" / "Chart.yaml"), "name: c\n")
    write(str(root / "deploy" / "app" / "Chart.yaml"), "name: app\n")
    os.symlink(outside, root / "linked")
    assert find_charts([str(root)]) == [os.path.realpath(root / "deploy" / "app")]


def test_chart_of_climbs_to_the_deploying_chart(tmp_path):
    assert chart_of(DEPLOYMENT) == WEB
    assert chart_of(os.path.join(WEB, "values-prod.yaml")) == WEB
    assert chart_of(os.path.join(UMBRELLA, "charts", "redis-local", "templates", "configmap.yaml")) == UMBRELLA
    write(str(tmp_path / "plain" / "deployment.yaml"), "kind: Deployment\n")
    assert chart_of(str(tmp_path / "plain" / "deployment.yaml")) is None


def test_chart_files_are_every_file_in_the_chart():
    assert chart_files(UMBRELLA) == {
        os.path.join(UMBRELLA, p)
        for p in (
            "Chart.yaml",
            "values.yaml",
            "templates/service.yaml",
            "charts/redis-local/Chart.yaml",
            "charts/redis-local/values.yaml",
            "charts/redis-local/templates/configmap.yaml",
        )
    }
    assert os.path.join(WEB, "templates", "NOTES.txt") in chart_files(WEB)


# -- rendering with the binding --------------------------------------------


def test_default_render_stream_and_labels():
    result = render_chart(WEB, None, display)
    rendered = only(result)
    assert rendered.unit == "helm chart web"
    assert rendered.anchor == os.path.join(WEB, "Chart.yaml")
    assert rendered.consumed == result.consumed == chart_files(WEB)
    text = rendered.text
    assert text.startswith("---\n# Source: web/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\n")
    assert "\n---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\n" in text
    assert "            listen 80 backlog=511;\n" in text
    assert "            - --backlog=511\n" in text
    assert "  name: release-name-web\n" in text
    # NOTES.txt and helpers are not manifests
    assert "installed as" not in text and "web.labels" not in text
    assert text.count("# Source:") == 2
    assert text.endswith("            name: release-name-conf\n")


def test_values_set_layers_over_values_yaml():
    result = render_chart(WEB, [["values-prod.yaml"]], display, release_name="shop")
    rendered = only(result)
    assert rendered.unit == "helm chart web (values-prod.yaml)"
    assert "            listen 80 backlog=4096;\n" in rendered.text
    assert '            value: "8192"\n' in rendered.text
    assert "  replicas: 2\n" in rendered.text  # from values.yaml, untouched by prod
    assert "  name: shop-web\n" in rendered.text


def test_several_sets_files_layer_in_order(tmp_path):
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "values-dev.yaml"), "backlog: 1000\nreplicas: 5\n")
    write(os.path.join(chart, "values-dev-eu.yaml"), "backlog: 2000\n")
    result = render_chart(chart, [["values-prod.yaml"], ["values-dev.yaml", "values-dev-eu.yaml"]], lambda p: "web")
    assert result.problems == []
    prod, dev = result.rendered
    assert prod.unit == "helm chart web (values-prod.yaml)"
    assert dev.unit == "helm chart web (values-dev.yaml, values-dev-eu.yaml)"
    assert "backlog=4096;" in prod.text and "  replicas: 2\n" in prod.text
    assert "backlog=2000;" in dev.text and "  replicas: 5\n" in dev.text
    assert '            value: "1024"\n' in dev.text  # values.yaml underneath


def test_nested_values_merge_and_subchart_values(tmp_path):
    chart = copy_chart(tmp_path, "umbrella")
    write(os.path.join(chart, "a.yaml"), "redis:\n  tcpBacklog: 100\n")
    write(os.path.join(chart, "b.yaml"), "redis:\n  unrelated: 1\n")
    default, layered = render_chart(chart, [[], ["a.yaml", "b.yaml"]], lambda p: "umbrella").rendered
    assert "    tcp-backlog 2048\n" in default.text  # parent values.yaml over the subchart's
    assert "    tcp-backlog 100\n" in layered.text  # b.yaml merged into a.yaml, not replacing redis:


def test_values_are_read_as_helm_reads_them(tmp_path):
    # YAML 1.1, as helm: 010 is octal
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "values-octal.yaml"), "replicas: 010\n")
    rendered = only(render_chart(chart, [["values-octal.yaml"]], display))
    assert "  replicas: 8\n" in rendered.text


def test_line_map_exact_for_literal_lines():
    rendered = only(render_chart(WEB, None, display))
    text = rendered.text
    image = line_of(text, "          image: nginx:1.25")
    assert rendered.line_map(image, 11) == SourcePosition(DEPLOYMENT, 15, 11)
    assert rendered.line_map(image, 18) == SourcePosition(DEPLOYMENT, 15, 18)
    workers = line_of(text, "        worker_connections 1024;")
    assert rendered.line_map(workers, 9) == SourcePosition(CONFIGMAP, 8, 9)
    listen = line_of(text, "            listen 8080;")
    assert rendered.line_map(listen, 20) == SourcePosition(CONFIGMAP, 18, 20)


def test_line_map_approximate_for_expressions_and_repeats():
    rendered = only(render_chart(WEB, [["values-prod.yaml"]], display))
    text = rendered.text
    # a value an expression wrote: the template line it sits on, by order
    # between the exact lines around it (approximate, the rendered text said)
    listen = line_of(text, "            listen 80 backlog=4096;")
    assert rendered.line_map(listen, 23) == SourcePosition(
        CONFIGMAP, 12, 13, approximate=True, rendered="listen 80 backlog=4096;"
    )
    backlog = line_of(text, "            - --backlog=4096")
    assert rendered.line_map(backlog, 15) == SourcePosition(
        DEPLOYMENT, 17, 13, approximate=True, rendered="- --backlog=4096"
    )
    # literal but twice in the template: the one between its neighbours
    first, second = [i for i, line in enumerate(text.split("\n"), 1) if line == "                return 200;"]
    assert rendered.line_map(first, 17) == SourcePosition(CONFIGMAP, 14, 17)
    assert rendered.line_map(second, 17) == SourcePosition(CONFIGMAP, 20, 17)


def test_line_map_of_an_expression_that_writes_several_lines(tmp_path):
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "values.yaml"), "res:\n  limits:\n    cpu: 1\n    memory: 1Gi\n")
    write(
        os.path.join(chart, "templates", "deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n"
        "      containers:\n        - name: nginx\n          resources:\n{{ toYaml .Values.res | indent 12 }}\n"
        "          image: nginx:1.25\n",
    )
    rendered = only(render_chart(chart, None, display))
    text = rendered.text
    path = os.path.join(chart, "templates", "deployment.yaml")
    # every line toYaml wrote maps to the expression's line 11, never past
    # the literal line 12 that follows
    for wanted in ("            limits:", "              cpu: 1", "              memory: 1Gi"):
        pos = rendered.line_map(line_of(text, wanted), 1)
        assert (pos.path, pos.line, pos.approximate, pos.rendered) == (os.path.realpath(path), 11, True, wanted.strip())
    assert rendered.line_map(line_of(text, "          image: nginx:1.25"), 11) == SourcePosition(os.path.realpath(path), 12, 11)


def test_line_map_markers_and_out_of_range():
    rendered = only(render_chart(WEB, None, display))
    source = line_of(rendered.text, "# Source: web/templates/deployment.yaml")
    assert rendered.line_map(source, 1) == SourcePosition(DEPLOYMENT, 1, 1, approximate=True)
    assert rendered.line_map(source - 1, 1) == SourcePosition(DEPLOYMENT, 1, 1, approximate=True)
    assert rendered.line_map(0, 1) is None
    assert rendered.line_map(len(rendered.text.split("\n")), 1) is None  # after the final newline


def test_subchart_template_maps_into_charts_dir():
    rendered = only(render_chart(UMBRELLA, None, display))
    assert rendered.unit == "helm chart umbrella"
    redis = os.path.join(UMBRELLA, "charts", "redis-local", "templates", "configmap.yaml")
    # keys name the subchart by its Chart.yaml name, not its directory
    assert "# Source: umbrella/charts/redis/templates/configmap.yaml\n" in rendered.text
    port = line_of(rendered.text, "    port 6379")
    assert rendered.line_map(port, 5) == SourcePosition(redis, 7, 5)
    backlog = line_of(rendered.text, "    tcp-backlog 2048")
    assert rendered.line_map(backlog, 5) == SourcePosition(redis, 8, 5, approximate=True, rendered="tcp-backlog 2048")
    ports = line_of(rendered.text, "    - port: 80")
    assert rendered.line_map(ports, 7) == SourcePosition(os.path.join(UMBRELLA, "templates", "service.yaml"), 7, 7)


def test_multi_document_and_empty_templates(tmp_path):
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "templates", "multi.yaml"), "---\nkind: A\n---\n# c\nkind: B\n")
    write(os.path.join(chart, "templates", "off.yaml"), "{{- if false }}\nkind: C\n{{- end }}\n")
    write(os.path.join(chart, "templates", "comment.yaml"), "# nothing here\n---\n")
    rendered = only(render_chart(chart, None, display))
    assert rendered.text.endswith(
        "---\n# Source: web/templates/multi.yaml\nkind: A\n---\n# Source: web/templates/multi.yaml\n# c\nkind: B\n"
    )
    assert "off.yaml" not in rendered.text and "comment.yaml" not in rendered.text
    multi = os.path.join(chart, "templates", "multi.yaml")
    assert rendered.line_map(line_of(rendered.text, "kind: B"), 1) == SourcePosition(multi, 5, 1)


# -- problems ----------------------------------------------------------------


def test_template_error_points_at_the_template_line():
    # the values set named (here values.yaml alone, [[]]): its refusal is an error
    result = render_chart(BROKEN, [[]], display)
    assert result.rendered == []
    assert result.consumed == chart_files(BROKEN)
    (problem,) = result.problems
    assert (problem.path, problem.line, problem.column, problem.severity) == (
        os.path.join(BROKEN, "templates", "deployment.yaml"), 6, 1, "error",
    )
    assert problem.message == (
        "chart not rendered: execution error at (broken/templates/deployment.yaml:6:16): backlog is required"
    )
    assert problem.note == ""


def test_required_value_on_the_defaults_nobody_chose_is_said_not_failed(tmp_path):
    # prometheus-community/helm-charts' prometheus-postgres-exporter requires
    # a password its values.yaml does not give, and keeps chart-testing's
    # ci/*-values.yaml beside it: with no values set configured, the
    # refusal is the chart's design, not a broken chart
    (problem,) = render_chart(BROKEN, None, display).problems
    assert (problem.line, problem.severity) == (6, "info")
    assert problem.message == "chart not rendered: execution error at (broken/templates/deployment.yaml:6:16): backlog is required"
    assert problem.note == "the chart refuses its default values: name a values set for it under `helm.charts` in .somaxlint.yaml"
    chart = copy_chart(tmp_path, "broken")
    write(os.path.join(chart, "ci", "with-backlog-values.yaml"), "backlog: 10\n")
    write(os.path.join(chart, "ci", "a-values.yaml"), "backlog: 20\n")
    (problem,) = render_chart(chart, None, display).problems
    assert problem.note.endswith("in .somaxlint.yaml, e.g. ci/a-values.yaml")
    # a template that breaks (not `required`/`fail`) stays an error
    write(os.path.join(chart, "templates", "deployment.yaml"), "kind: A\nx: {{ .Values.a.b.c }}\n")
    (problem,) = render_chart(chart, None, display).problems
    assert problem.severity == "error" and problem.note == ""


def test_bad_chart_yaml_is_one_error_at_chart_yaml(tmp_path):
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "Chart.yaml"), "name: [\n")
    result = render_chart(chart, [["values-prod.yaml"], []], display)
    assert result.rendered == []
    (problem,) = result.problems  # both sets fail alike: said once
    assert (problem.path, problem.line, problem.severity) == (os.path.join(chart, "Chart.yaml"), 1, "error")
    assert problem.message.startswith("chart not rendered (values-prod.yaml): cannot load Chart.yaml: ")
    assert "\n" not in problem.message


def test_error_message_is_one_short_clean_line(tmp_path):
    chart = copy_chart(tmp_path)
    write(
        os.path.join(chart, "templates", "fail.yaml"),
        'kind: A\nx: {{ fail (printf "first\\n\\x1b[31msecond %s" (repeat 900 "x")) }}\n',
    )
    (problem,) = render_chart(chart, None, display).problems
    assert (problem.path, problem.line) == (os.path.join(chart, "templates", "fail.yaml"), 2)
    message = problem.message[len("chart not rendered: "):]
    assert message.startswith("execution error at (web/templates/fail.yaml:2:")
    assert "first [31msecond xxx" in message
    assert "\n" not in message  # the stage shortens it to 300 characters once paths are relative
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in problem.message)


def test_values_problems_skip_only_their_set(tmp_path):
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "bad.yaml"), "backlog: 1\nlisten: [\n")
    write(str(tmp_path / "outside.yaml"), "backlog: 1\n")
    sets = [["nope.yaml"], ["../outside.yaml"], ["bad.yaml"], ["values-prod.yaml"]]
    result = render_chart(chart, sets, lambda p: "web")
    assert [r.unit for r in result.rendered] == ["helm chart web (values-prod.yaml)"]
    anchor = os.path.join(chart, "Chart.yaml")
    got = [(p.path, p.line, p.severity, p.message) for p in result.problems]
    assert got[:2] == [
        (anchor, 1, "error", "chart not rendered (nope.yaml): values file nope.yaml not found in the chart"),
        (anchor, 1, "error", "chart not rendered (../outside.yaml): values file ../outside.yaml is outside the chart directory"),
    ]
    path, line, severity, message = got[2]
    assert (path, line, severity) == (os.path.join(chart, "bad.yaml"), 2, "error")
    assert message.startswith("chart not rendered (bad.yaml): values file bad.yaml: ")


def test_a_chart_with_a_symlink_out_of_the_repository_is_not_rendered_at_all(tmp_path):
    chart = copy_chart(tmp_path / "repo")
    write(str(tmp_path / "outside.yaml"), "backlog: 1\n")
    os.symlink(tmp_path / "outside.yaml", os.path.join(chart, "linked.yaml"))
    result = render_chart(chart, [["values-prod.yaml"]], lambda p: "web", boundary=str(tmp_path / "repo"))
    assert result.rendered == []
    assert [(p.path, p.line, p.severity, p.message) for p in result.problems] == [
        (os.path.join(chart, "linked.yaml"), 1, "error", "chart not rendered: this symlink leads outside the repository, which somaxlint never reads"),
    ]


def test_binding_timeout(tmp_path):
    # a template that renders for hours: the worker is killed at the bound
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "templates", "slow.yaml"), "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n")
    started = time.monotonic()
    result = render_chart(chart, None, display, timeout=1.5)
    assert time.monotonic() - started < 5
    assert result.rendered == []
    assert [(p.line, p.severity, p.message) for p in result.problems] == [
        (1, "error", "chart not rendered: helm did not finish rendering within 1.5 s")
    ]


# -- without the binding ----------------------------------------------------


@pytest.fixture
def no_binding(monkeypatch):
    monkeypatch.setitem(sys.modules, "helm_python", None)  # import fails


def fake_helm(tmp_path, monkeypatch, script):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text("#!/bin/sh\n" + script)
    helm.chmod(0o755)
    # first on PATH; the rest stays for the script's own cat, sleep...
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    return bin_dir


def test_no_helm_at_all_is_an_info(tmp_path, monkeypatch, no_binding):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = render_chart(WEB, [["values-prod.yaml"]], display)
    assert result.rendered == []
    assert result.consumed == chart_files(WEB)
    (problem,) = result.problems
    assert (problem.path, problem.line, problem.column, problem.severity) == (os.path.join(WEB, "Chart.yaml"), 1, 1, "info")
    assert problem.message == NOT_INSTALLED == (
        "chart not rendered: install helm (on PATH) or somaxlint[helm] to lint its templates"
    )


FAKE_OUTPUT = """\
---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
data:
  nginx.conf: |
        worker_connections 1024;
---
# Source: web/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
    image: nginx:1.25
---
# Source: web/templates/configmap.yaml
kind: Second
"""


@posix_only
def test_fake_binary_output_is_parsed(tmp_path, monkeypatch, no_binding):
    (tmp_path / "out.yaml").write_text(FAKE_OUTPUT)
    args = tmp_path / "args"
    fake_helm(tmp_path, monkeypatch, f'printf "%s\\n" "$@" > "{args}"\n{shutil.which("cat")} "{tmp_path / "out.yaml"}"\n')
    result = render_chart(WEB, [["values-prod.yaml"]], display)
    rendered = only(result)
    # helm reads the private copy of the chart, never the chart itself
    argv = args.read_text().split("\n")[:-1]
    copy = argv[-1]
    assert copy != WEB and copy.endswith("/tree") and os.path.basename(os.path.dirname(copy)).startswith("somaxlint-render-")
    assert argv == ["template", "--values", copy + "/values-prod.yaml", "--", "release-name", copy]
    assert not os.path.exists(copy)  # removed once rendered
    assert rendered.unit == "helm chart web (values-prod.yaml)"
    assert rendered.consumed == chart_files(WEB)
    # documents grouped by template, in template order
    assert rendered.text == (
        "---\n# Source: web/templates/configmap.yaml\n"
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  nginx.conf: |\n        worker_connections 1024;\n"
        "---\n# Source: web/templates/configmap.yaml\nkind: Second\n"
        "---\n# Source: web/templates/deployment.yaml\n"
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n    image: nginx:1.25\n"
    )
    workers = line_of(rendered.text, "        worker_connections 1024;")
    assert rendered.line_map(workers, 9) == SourcePosition(CONFIGMAP, 8, 9)
    # indented less than in the template: the column moves with it
    image = line_of(rendered.text, "    image: nginx:1.25")
    assert rendered.line_map(image, 5) == SourcePosition(DEPLOYMENT, 15, 11)
    assert rendered.line_map(image, 12) == SourcePosition(DEPLOYMENT, 15, 18)


@posix_only
def test_fake_binary_default_render_has_no_values_flags(tmp_path, monkeypatch, no_binding):
    args = tmp_path / "args"
    fake_helm(tmp_path, monkeypatch, f'printf "%s\\n" "$@" > "{args}"\n')
    result = render_chart(WEB, None, display, release_name="shop")
    assert only(result).text == ""
    argv = args.read_text().split("\n")[:-1]
    assert argv == ["template", "--", "shop", argv[-1]] and argv[-1].endswith("/tree")


@posix_only
def test_fake_binary_error(tmp_path, monkeypatch, no_binding):
    fake_helm(
        tmp_path, monkeypatch,
        "echo 'walk.go:75: found symbolic link in path' >&2\n"
        "echo 'Error: template: web/templates/deployment.yaml:12:20: executing \"web/templates/deployment.yaml\"' >&2\n"
        "exit 1\n",
    )
    (problem,) = render_chart(WEB, None, display).problems
    assert (problem.path, problem.line, problem.severity) == (DEPLOYMENT, 12, "error")
    assert problem.message == (
        'chart not rendered: template: web/templates/deployment.yaml:12:20: executing "web/templates/deployment.yaml"'
    )


@posix_only
def test_fake_binary_bad_values_file_checked_before_running(tmp_path, monkeypatch, no_binding):
    chart = copy_chart(tmp_path)
    write(os.path.join(chart, "bad.yaml"), "a: 1\nb: [\n")
    write(os.path.join(chart, "list.yaml"), "- 1\n")
    ran = tmp_path / "ran"
    fake_helm(tmp_path, monkeypatch, f'{shutil.which("touch")} "{ran}"\n')
    result = render_chart(chart, [["bad.yaml"], ["list.yaml"]], lambda p: "web")
    assert [(p.path, p.line, p.severity) for p in result.problems] == [
        (os.path.join(chart, "bad.yaml"), 3, "error"),
        (os.path.join(chart, "list.yaml"), 1, "error"),
    ]
    assert result.problems[1].message == "chart not rendered (list.yaml): values file list.yaml is not a mapping"
    assert not ran.exists()


@posix_only
def test_fake_binary_timeout_kills_it(tmp_path, monkeypatch, no_binding):
    fake_helm(tmp_path, monkeypatch, f"{shutil.which('sleep')} 30\n")  # a child holding the pipes
    started = time.monotonic()
    result = render_chart(WEB, None, display, timeout=0.3)
    assert time.monotonic() - started < 10
    assert [p.message for p in result.problems] == ["chart not rendered: helm did not finish rendering within 0.3 s"]

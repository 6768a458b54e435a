"""The command line's errors, through the CLI: unknown rule codes, exit
statuses, --output, configuration errors, and input it does not understand.
Every test states the exact exit status and the exact stderr."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, config_map, deployment, position

INCIDENT = deployment() + "---\n" + config_map()
LISTEN = "        listen 80;"
NOTHING = "somaxlint: nothing to lint: no Kubernetes manifest, CNI configuration or nginx config in the input\n"


def _must_not_lint(monkeypatch):
    """Make a run an internal error: a usage error must come before it."""
    import somaxlint.engine

    def run(*args, **kwargs):
        raise AssertionError("linted")

    monkeypatch.setattr(somaxlint.engine, "run", run)


def _summary(files=1, workloads=1, servers=1, listeners=1, found="1 error"):
    def count(n, noun):
        return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

    return (
        f"somaxlint: {count(files, 'file')}, 0 skipped (0 not Kubernetes or nginx), 0 unparsable; {count(workloads, 'workload')}, "
        f"{count(servers, 'server')} (0 unresolved), {count(listeners, 'listener')}; {found}\n"
    )


# 1. Unknown rule codes and names ---------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (("--select", "SMX999"), "--select: unknown rule 'SMX999' (did you mean SMX009?)"),
        (("--select", "SMX1"), "--select: unknown rule 'SMX1' (did you mean SMX001?)"),
        (("--ignore", "SMX001,listen-backlog-truncatd"), "--ignore: unknown rule 'listen-backlog-truncatd' (did you mean listen-backlog-truncated?)"),
        (("--ignore", "SMX001", "--ignore", "unused-supression"), "--ignore: unknown rule 'unused-supression' (did you mean unused-suppression?)"),
        (("--select", "nonsense"), "--select: unknown rule 'nonsense' (see `somaxlint rules` for the list)"),
    ],
)
def test_unknown_rule_on_the_command_line_is_a_usage_error(project, monkeypatch, args, message):
    project.write("app.yaml", INCIDENT)
    _must_not_lint(monkeypatch)
    run = project.run(*args, "app.yaml")
    assert (run.status, run.out, run.err) == (2, "", f"somaxlint: error: {message}\n")


def test_known_codes_in_any_case_and_names_are_accepted(project):
    project.write("app.yaml", INCIDENT)
    run = project.run("--kernel", "4.19", "--select", "smx001,unused-suppression", "--ignore", "SMX014", "app.yaml")
    assert (run.status, run.codes()) == (1, ["SMX001"])


def test_unknown_rule_in_the_configuration_is_a_configuration_error(project):
    config = project.write(".somaxlint.yaml", "rules:\n  SMX001: warning\n  listen-backlog-truncted: false\n")
    project.write("app.yaml", INCIDENT)
    run = project.run("app.yaml")
    assert (run.status, run.out) == (2, "")
    assert run.err == (
        f"somaxlint: error: configuration: {config.resolve()}: key 'rules.listen-backlog-truncted': "
        "unknown rule 'listen-backlog-truncted' (did you mean listen-backlog-truncated?)\n"
    )


def test_unknown_rule_in_a_yaml_suppression_comment_is_an_error_at_the_comment(project):
    text = INCIDENT.replace(LISTEN, LISTEN + " # somaxlint: ignore SMX999 -- nodes run 5.15")
    project.write("deploy/a.yaml", text)
    run = project.run("--kernel", "4.19", "deploy")
    line, column = position(text, "# somaxlint")
    assert (run.status, run.out) == (2, "")
    assert run.err == f"somaxlint: error: deploy/a.yaml:{line}:{column}: suppression comment: unknown rule 'SMX999' (did you mean SMX009?)\n"


def test_unknown_rule_in_an_nginx_suppression_comment(project):
    project.write("nginx.conf", "events {}\nhttp {\n    server {\n        # somaxlint: ignore listen-backlog-truncatd -- reviewed\n        listen 80 backlog=9000;\n    }\n}\n")
    run = project.run("nginx.conf")
    assert (run.status, run.out) == (2, "")
    assert run.err == (
        "somaxlint: error: nginx.conf:4:9: suppression comment: "
        "unknown rule 'listen-backlog-truncatd' (did you mean listen-backlog-truncated?)\n"
    )


def test_a_typo_in_a_suppression_never_makes_ci_green(project):
    # Not even a malformed code with --fail-on error (SMX014 is a warning).
    text = INCIDENT.replace(LISTEN, LISTEN + " # somaxlint: ignore SMX01x")
    project.write("a.yaml", text)
    run = project.run("--kernel", "4.19", "--fail-on", "error", "--ignore", "SMX014", "a.yaml")
    line, column = position(text, "# somaxlint")
    assert (run.status, run.out) == (2, "")
    assert run.err == f"somaxlint: error: a.yaml:{line}:{column}: suppression comment: unknown rule 'SMX01x' (did you mean SMX001?)\n"
    # A forgotten `--` makes the reason words rule names: also refused, all counted.
    text = INCIDENT.replace(LISTEN, LISTEN + " # somaxlint: ignore SMX001 nodes run old kernels")
    project.write("a.yaml", text)
    run = project.run("--kernel", "4.19", "a.yaml")
    assert (run.status, run.out) == (2, "")
    assert run.err == (
        f"somaxlint: error: a.yaml:{line}:{column}: suppression comment: unknown rule 'kernels' "
        "(see `somaxlint rules` for the list); and 3 more\n"
    )


def test_unknown_rule_in_a_suppression_read_from_stdin_names_the_stdin_filename(project):
    text = INCIDENT.replace(LISTEN, LISTEN + " # somaxlint: ignore SMX999")
    line, column = position(text, "# somaxlint")
    run = project.run("--kernel", "4.19", "-", stdin=text.encode())
    assert (run.status, run.err) == (2, f"somaxlint: error: <stdin>:{line}:{column}: suppression comment: unknown rule 'SMX999' (did you mean SMX009?)\n")
    run = project.run("--kernel", "4.19", "--stdin-filename", "deploy/web.yaml", "-", stdin=text.encode())
    assert (run.status, run.err) == (2, f"somaxlint: error: deploy/web.yaml:{line}:{column}: suppression comment: unknown rule 'SMX999' (did you mean SMX009?)\n")


def test_unknown_rule_in_a_suppression_annotation(project):
    annotated = deployment().replace(
        "  namespace: default\nspec:", '  namespace: default\n  annotations:\n    somaxlint.io/ignore: "SMX001: reviewed; SMX0013"\nspec:', 1
    )
    text = annotated + "---\n" + config_map()
    project.write("a.yaml", text)
    run = project.run("--kernel", "4.19", "a.yaml")
    line, column = position(text, '"SMX001: reviewed')
    assert (run.status, run.out) == (2, "")
    assert run.err == f"somaxlint: error: a.yaml:{line}:{column}: annotation somaxlint.io/ignore: unknown rule 'SMX0013' (did you mean SMX013?)\n"


def test_known_suppressions_still_work_and_a_bare_one_is_still_smx014(project):
    project.write("a.yaml", INCIDENT.replace(LISTEN, LISTEN + " # somaxlint: ignore smx001, listen-backlog-truncated -- ok"))
    run = project.run("--kernel", "4.19", "a.yaml")
    assert (run.status, run.out) == (0, "")
    project.write("a.yaml", INCIDENT.replace(LISTEN, LISTEN + " # somaxlint: ignore"))
    assert project.run("--kernel", "4.19", "a.yaml").codes() == ["SMX001", "SMX014"]


def test_rules_command_suggests_the_nearest_rule(project):
    run = project.run("rules", "SMX01")
    assert (run.status, run.out, run.err) == (2, "", "somaxlint: error: unknown rule 'SMX01' (did you mean SMX001?)\n")


# 2. Exit statuses ----------------------------------------------------------------


def test_internal_error_is_one_line_and_exit_3(project, monkeypatch):
    import somaxlint.engine

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.delenv("SOMAXLINT_DEBUG", raising=False)
    monkeypatch.setattr(somaxlint.engine, "run", broken)
    project.write("app.yaml", INCIDENT)
    run = project.run("app.yaml")
    assert (run.status, run.out, run.err) == (3, "", "somaxlint: internal error: RuntimeError: boom\\x0asecond line\n")


def test_internal_error_in_a_reporter_leaves_the_output_file_alone(project, monkeypatch):
    import somaxlint.report.json_report

    def broken(*args, **kwargs):
        args[-1].write('{"partial": ')
        raise KeyError("findings")

    monkeypatch.delenv("SOMAXLINT_DEBUG", raising=False)
    monkeypatch.setattr(somaxlint.report.json_report, "write", broken)
    project.write("app.yaml", INCIDENT)
    project.write("out/report.json", "previous report\n")
    run = project.run("--format", "json", "--output", "out/report.json", "app.yaml")
    assert (run.status, run.out, run.err) == (3, "", "somaxlint: internal error: KeyError: 'findings'\n")
    assert os.listdir(project.root / "out") == ["report.json"]
    assert (project.root / "out" / "report.json").read_text() == "previous report\n"


def test_internal_error_shows_the_traceback_with_somaxlint_debug(project, monkeypatch):
    import somaxlint.engine

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setenv("SOMAXLINT_DEBUG", "1")
    monkeypatch.setattr(somaxlint.engine, "run", broken)
    project.write("app.yaml", INCIDENT)
    run = project.run("app.yaml")
    assert run.status == 3
    assert run.err.startswith("Traceback (most recent call last):\n")
    assert run.err.endswith("RuntimeError: boom\nsomaxlint: internal error: RuntimeError: boom\n")


def test_interrupt_is_exit_130_and_leaves_no_partial_output(project, monkeypatch):
    import somaxlint.engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(somaxlint.engine, "run", interrupted)
    project.write("app.yaml", INCIDENT)
    project.write("report.sarif", "previous\n")
    run = project.run("--format", "sarif", "--output", "report.sarif", "app.yaml")
    assert (run.status, run.out, run.err) == (130, "", "somaxlint: interrupted\n")
    assert sorted(os.listdir(project.root)) == ["app.yaml", "report.sarif"]
    assert (project.root / "report.sarif").read_text() == "previous\n"
    run = project.run("--format", "sarif", "--output", "new.sarif", "app.yaml")
    assert (run.status, run.err) == (130, "somaxlint: interrupted\n")
    assert sorted(os.listdir(project.root)) == ["app.yaml", "report.sarif"]


def test_broken_pipe_exits_141_quietly(tmp_path):
    servers = "".join(f"  server {{ listen {8000 + i} backlog=9000; }}\n" for i in range(3000))
    (tmp_path / "nginx.conf").write_text("events {}\nhttp {\n" + servers + "}\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "somaxlint", "--kernel", "4.19", "nginx.conf"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    err = proc.stderr.read()
    proc.stderr.close()
    assert first.startswith(b"nginx.conf:3:12: SMX001 [error] ")
    assert (proc.wait(timeout=120), err) == (141, b"")


# 3. --output -------------------------------------------------------------------------


def test_output_dash_is_standard_output(project):
    project.write("app.yaml", INCIDENT)
    plain = project.run("--kernel", "4.19", "--format", "json", "app.yaml")
    dash = project.run("--kernel", "4.19", "--format", "json", "--output", "-", "app.yaml")
    assert (dash.status, dash.out, dash.err) == (1, plain.out, "")
    assert not (project.root / "-").exists()


def test_output_replaces_the_file_only_when_complete(project):
    project.write("app.yaml", INCIDENT)
    target = project.write("reports/somaxlint.json", "previous\n")
    os.chmod(target, 0o640)
    run = project.run("--kernel", "4.19", "--format", "json", "--output", "reports/somaxlint.json", "app.yaml")
    assert (run.status, run.out, run.err) == (1, "", "")
    assert [f["rule"] for f in json.loads(target.read_text())["findings"]] == ["SMX001"]
    assert os.listdir(project.root / "reports") == ["somaxlint.json"]  # no temporary file left
    assert os.stat(target).st_mode & 0o777 == 0o640  # the file's mode is kept
    # A text report to a file: the summary stays on stderr.
    run = project.run("--kernel", "4.19", "-o", "reports/new.txt", "app.yaml")
    assert (run.status, run.out, run.err) == (1, "", _summary())
    assert (project.root / "reports" / "new.txt").read_text().startswith("app.yaml:")


@pytest.mark.parametrize(
    "setup, output, reason",
    [
        (lambda root: None, "missing/report.json", "No such file or directory"),
        (lambda root: (root / "reports").mkdir(), "reports", "Is a directory"),
        # a path under a regular file fails even as root
        (lambda root: (root / "file.txt").write_text("x"), "file.txt/report.json", "Not a directory"),
    ],
)
def test_unwritable_output_is_exit_2_before_linting(project, monkeypatch, setup, output, reason):
    project.write("app.yaml", INCIDENT)
    setup(project.root)
    _must_not_lint(monkeypatch)
    run = project.run("--format", "json", "--output", output, "app.yaml")
    assert (run.status, run.out, run.err) == (2, "", f"somaxlint: error: --output {output}: cannot write: {reason}\n")


def test_output_without_permission_is_exit_2(project, without_dac_override):
    """Run as a separate process; as root, with the capabilities that
    bypass file permissions dropped (setpriv), so that permissions apply
    to root too, as they do to a CI user."""
    import subprocess
    import sys

    prefix = without_dac_override
    project.write("app.yaml", INCIDENT)
    locked = project.root / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    readonly = project.write("readonly.json", "keep\n")
    os.chmod(readonly, 0o444)

    def run(*args):
        return subprocess.run(prefix + [sys.executable, "-m", "somaxlint", *args], cwd=project.root, capture_output=True, text=True)

    try:
        proc = run("--output", "locked/report.txt", "app.yaml")
        assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", "somaxlint: error: --output locked/report.txt: cannot write: Permission denied\n")
        assert os.listdir(locked) == []
        proc = run("--output", "readonly.json", "app.yaml")
        assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", "somaxlint: error: --output readonly.json: cannot write: Permission denied\n")
        assert readonly.read_text() == "keep\n"
    finally:
        os.chmod(locked, 0o755)


def test_unwritable_baseline_is_exit_2_before_linting(project, monkeypatch):
    project.write("app.yaml", INCIDENT)
    _must_not_lint(monkeypatch)
    run = project.run("--write-baseline", "missing/baseline.json", "app.yaml")
    assert (run.status, run.out, run.err) == (2, "", "somaxlint: error: --write-baseline missing/baseline.json: cannot write: No such file or directory\n")


# 4. Configuration and option errors --------------------------------------------------------


def test_pyproject_that_does_not_parse_is_a_configuration_error(project):
    try:
        import tomllib
    except ImportError:  # pragma: no cover
        import tomli as tomllib
    text = '[tool.somaxlint]\nkernel = "5.15\n'
    pyproject = project.write("pyproject.toml", text)
    project.write("app.yaml", INCIDENT)
    with pytest.raises(ValueError) as parsed:
        tomllib.loads(text)
    run = project.run("app.yaml")
    assert (run.status, run.out) == (2, "")
    assert run.err == f"somaxlint: error: configuration: {pyproject.resolve()}: invalid TOML: {parsed.value}\n"
    # Named with --config, even without the table.
    project.write("other.toml", "[tool.other\n")
    run = project.run("--config", "other.toml", "app.yaml")
    assert run.status == 2 and run.err.startswith("somaxlint: error: configuration: other.toml: invalid TOML: ")


def test_pyproject_without_our_table_is_not_our_business(project):
    project.write("pyproject.toml", "[tool.black\nline-length = \n")  # broken, but not ours
    project.write("app.yaml", INCIDENT)
    run = project.run("--kernel", "4.19", "app.yaml")
    assert (run.status, run.err) == (1, _summary())


@pytest.mark.parametrize(
    "args, message",
    [
        (("--helm-chart-dir", "chart", "-"), "--helm-chart-dir chart: no such directory"),
        (("--helm-chart-dir", "app.yaml", "-"), "--helm-chart-dir app.yaml: not a directory"),
        (("--context", "deploy", "app.yaml"), "--context deploy: no such file or directory"),
        (("--stdin-filename", "web.yaml", "app.yaml"), "--stdin-filename names standard input, but no PATH is - (add - to read standard input)"),
        (("--max-file-size", "0", "app.yaml"), "argument --max-file-size: 0 is out of range: give 1 to 1073741824 bytes (1 GiB)"),
        (("--max-file-size", "-5", "app.yaml"), "argument --max-file-size: -5 is out of range: give 1 to 1073741824 bytes (1 GiB)"),
        (("--max-file-size", "1073741825", "app.yaml"), "argument --max-file-size: 1073741825 is out of range: give 1 to 1073741824 bytes (1 GiB)"),
        (("--max-file-size", "16M", "app.yaml"), "argument --max-file-size: '16M' is not a number of bytes"),
    ],
)
def test_option_errors_are_exit_2_before_linting(project, monkeypatch, args, message):
    project.write("app.yaml", INCIDENT)
    _must_not_lint(monkeypatch)
    run = project.run(*args)
    assert (run.status, run.out, run.err) == (2, "", f"somaxlint: error: {message}\n")


def test_max_file_size_of_one_gib_is_accepted(project):
    project.write("app.yaml", INCIDENT)
    run = project.run("--kernel", "4.19", "--max-file-size", "1073741824", "app.yaml")
    assert (run.status, run.err) == (1, _summary())


@pytest.mark.parametrize(
    "config, key, message",
    [
        ("rules: {SMX001: fatal}\n", "rules.SMX001", "'fatal' must be one of off, info, warning, error"),
        ("rules: {SMX001: {severity: loud}}\n", "rules.SMX001.severity", "'loud' must be one of info, warning, error"),
        ("rules: {SMX001: 3}\n", "rules.SMX001", "3 must be true or false, or one of off, info, warning, error, or a mapping with enabled, severity, min_queue"),
        ("kernal: '5.10'\n", "kernal", "unknown key (did you mean 'kernel'?); allowed keys: kernel, kubernetes, nginx, kubelet, node, servers, cni, helm, rules, exclude, limits, inline_suppressions"),
        ("limits: {timeout: 3}\n", "limits.timeout", "unknown key; allowed keys: max_file_size, max_include_files, max_include_depth"),
        ("kernel: 5\n", "kernel", "'5' is not valid here: expected Linux version of the nodes, e.g. \"5.15\" or \"4.19.0-21-amd64\""),
        ("kernel: [5]\n", "kernel", "[5] must be a string"),
        ("limits: {max_file_size: 2000000000}\n", "limits.max_file_size", "2000000000 is greater than the maximum of 1073741824"),
    ],
)
def test_configuration_value_errors_say_what_is_allowed(project, config, key, message):
    path = project.write(".somaxlint.yaml", config)
    project.write("app.yaml", INCIDENT)
    run = project.run("app.yaml")
    assert (run.status, run.out, run.err) == (2, "", f"somaxlint: error: configuration: {path.resolve()}: key {key!r}: {message}\n")


def test_rules_off_disables_a_rule(project):
    project.write(".somaxlint.yaml", "kernel: '4.19'\nrules: {SMX001: off, SMX018: false}\n")
    project.write("app.yaml", INCIDENT)
    run = project.run("app.yaml")
    assert (run.status, run.out) == (0, "")


def test_unquoted_versions_in_yaml_are_read_as_written(project):
    from somaxlint.config import load_settings

    project.write(".somaxlint.yaml", "kernel: 5.10   # the nodes\nkubernetes: 1.30\n")
    settings = load_settings(None, str(project.root))
    assert (settings.kernel, settings.kernel_text, settings.kubernetes) == ((5, 10, 0), "5.10", (1, 30))
    project.write("app.yaml", INCIDENT)
    [listener] = project.explain("app.yaml")
    assert (listener["somaxconn"], listener["somaxconn_origin"]) == (
        4096, "the kernel default for a new network namespace on Linux 5.10: SOMAXCONN 4096")
    # 5.1 really is 5.1 (before 5.4: 128), in a flow mapping too.
    project.write(".somaxlint.yaml", "{kernel: 5.1, kubernetes: 1.20}\n")
    settings = load_settings(None, str(project.root))
    assert (settings.kernel, settings.kernel_text, settings.kubernetes) == ((5, 1, 0), "5.1", (1, 20))
    run = project.run("app.yaml")
    assert (run.status, run.codes()) == (1, ["SMX001"])


def test_a_version_written_as_a_number_in_pyproject_is_refused(project):
    pyproject = project.write("pyproject.toml", "[tool.somaxlint]\nkernel = 5.10\n")
    project.write("app.yaml", INCIDENT)
    run = project.run("app.yaml")
    assert (run.status, run.out) == (2, "")
    assert run.err == (
        f"somaxlint: error: configuration: {pyproject.resolve()}: key 'kernel': 5.1 is a number, not a version "
        "(TOML reads 5.10 as 5.1): write it as a string, e.g. kernel = \"5.10\"\n"
    )


# 5. Input it does not understand -----------------------------------------------------------


def test_no_understood_input_is_said_on_one_line(project):
    project.write("values.yaml", "replicaCount: 1\n")
    project.write("README.md", "# not linted\n")
    run = project.run("--format", "json", ".")
    assert (run.status, run.err) == (0, NOTHING)
    assert run.json["findings"] == []
    (project.root / "empty").mkdir()
    for fmt in ("sarif", "github", "gitlab"):
        run = project.run("--format", fmt, "empty")
        assert (run.status, run.err) == (0, NOTHING)
    run = project.run("explain", "empty")
    assert (run.status, run.out, run.err) == (0, "no listening sockets found\n", NOTHING)


def test_understood_input_says_nothing_more(project):
    project.write("values.yaml", "replicaCount: 1\n")
    project.write("broken.yaml", "kind: ConfigMap\na: [\n")  # ours, though broken
    run = project.run("--format", "json", ".")
    assert (run.status, run.err) == (1, "")

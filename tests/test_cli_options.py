"""Command-line options for CI and code review, through the CLI: SARIF
automationDetails, --stdin-filename in every format, --statistics,
`somaxlint init`, and the help text."""

import json
import re

import jsonschema
import pytest

from conftest import config_map, corpus_or_skip, deployment, position

INCIDENT = deployment() + "---\n" + config_map()
SUMMARY = (
    "somaxlint: 1 file, 0 skipped (0 not Kubernetes or nginx), 0 unparsable; 1 workload, "
    "1 server (0 unresolved), 1 listener; 1 error\n"
)


@pytest.fixture(scope="module")
def sarif_validator():
    corpus = corpus_or_skip()
    schema = json.loads((corpus / "schemas" / "sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


# 6. SARIF automationDetails ----------------------------------------------------------


def test_sarif_has_no_automation_details_unless_asked(project, sarif_validator):
    project.write("app.yaml", INCIDENT)
    run = project.run("--format", "sarif", "--kernel", "4.19", "app.yaml")
    doc = json.loads(run.out)
    sarif_validator.validate(doc)
    assert (run.status, run.err) == (1, "")
    assert "automationDetails" not in doc["runs"][0]  # upload-sarif's `category` fills it


@pytest.mark.parametrize("category, expected", [("somaxlint", "somaxlint/"), ("k8s/prod", "k8s/prod/"), ("k8s/prod/", "k8s/prod/")])
def test_sarif_category_sets_the_automation_id(project, sarif_validator, category, expected):
    project.write("app.yaml", INCIDENT)
    run = project.run("--format", "sarif", "--sarif-category", category, "--kernel", "4.19", "app.yaml")
    doc = json.loads(run.out)
    sarif_validator.validate(doc)
    assert (run.status, run.err) == (1, "")
    assert doc["runs"][0]["automationDetails"] == {"id": expected}


@pytest.mark.parametrize(
    "args, message",
    [
        (("--sarif-category", "somaxlint"), "--sarif-category applies to --format sarif only (the format is text)"),
        (("--format", "sarif", "--sarif-category", "/"), "--sarif-category: the name is empty"),
    ],
)
def test_sarif_category_misuse_is_a_usage_error(project, args, message):
    project.write("app.yaml", INCIDENT)
    run = project.run(*args, "app.yaml")
    assert (run.status, run.out, run.err) == (2, "", f"somaxlint: error: {message}\n")


# 7. --stdin-filename in every format ------------------------------------------------------


def _stdin_run(project, fmt, *extra):
    return project.run("--kernel", "4.19", "--format", fmt, "--stdin-filename", "deploy/web.yaml", *extra, "-", stdin=INCIDENT.encode())


def test_stdin_filename_in_text(project):
    run = _stdin_run(project, "text")
    line, column = position(INCIDENT, "listen 80;")
    assert run.status == 1 and "<stdin>" not in run.out + run.err
    assert run.lines[0].startswith(f"deploy/web.yaml:{line}:{column}: SMX001 [error] ")
    related = [r.strip() for r in run.out.splitlines() if r.startswith("    ")]
    assert related and all(r.startswith("deploy/web.yaml:") for r in related)


def test_stdin_filename_in_json_github_gitlab_and_sarif(project, sarif_validator):
    line, column = position(INCIDENT, "listen 80;")
    run = _stdin_run(project, "json")
    assert run.status == 1 and "<stdin>" not in run.out
    [finding] = run.json["findings"]
    assert finding["location"] == {"path": "deploy/web.yaml", "line": line, "column": column, "approximate": False}
    assert {r["location"]["path"] for r in finding["related"]} == {"deploy/web.yaml"}

    run = _stdin_run(project, "github")
    assert run.out.startswith(f"::error file=deploy/web.yaml,line={line},col={column},title=SMX001 listen-backlog-truncated::")

    run = _stdin_run(project, "gitlab")
    [issue] = json.loads(run.out)
    assert issue["location"] == {"path": "deploy/web.yaml", "positions": {"begin": {"line": line, "column": column}}}
    assert issue["fingerprint"] == finding["fingerprint"]

    run = _stdin_run(project, "sarif")
    doc = json.loads(run.out)
    sarif_validator.validate(doc)
    [result] = doc["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "deploy/web.yaml"
    assert {r["physicalLocation"]["artifactLocation"]["uri"] for r in result["relatedLocations"]} == {"deploy/web.yaml"}
    assert [a["location"]["uri"] for a in doc["runs"][0]["artifacts"]] == ["deploy/web.yaml"]
    assert result["partialFingerprints"] == {"somaxlint/v1": finding["fingerprint"]}


def test_stdin_is_read_as_the_kind_its_filename_names(project):
    # Without a name, text with no `apiVersion:` line is sniffed as nginx;
    # this one nginx cannot read (`{tag: x}` ends a directive with `}`) and
    # it has nothing only nginx has, so it is read as the YAML it is.
    # Named values.yaml it is YAML from the start (and not Kubernetes).
    values = b"replicaCount: 1\nimage: {tag: x}\n"
    sniffed = project.run("--format", "json", "-", stdin=values)
    assert (sniffed.status, sniffed.json["summary"]["files"], sniffed.json["summary"]["skipped_files"]) == (
        0, 0, [{"path": "<stdin>", "reason": "not Kubernetes"}]
    )
    # nginx text without a name stays nginx, its refusal said in nginx's words
    broken = project.run("-", stdin=b"events {}\nhttp {\n    server {\n        listen 80\n    }\n}\n")
    assert (broken.status, broken.lines) == (1, ['<stdin>:5:5: SMX000 [error] cannot parse nginx: unexpected "}"'])
    named = project.run("--format", "json", "--stdin-filename", "values.yaml", "-", stdin=values)
    assert named.json["summary"]["skipped_files"] == [{"path": "values.yaml", "reason": "not Kubernetes"}]
    assert named.json["summary"]["files"] == 0


def test_stdin_filename_names_the_standalone_nginx_config_in_messages(project):
    text = "events {}\nhttp {\n    server {\n        listen 80 backlog=4096;\n    }\n}\n"
    run = project.run("--kernel", "4.19", "--format", "json", "--stdin-filename", "conf/nginx.conf", "-", stdin=text.encode())
    [finding] = run.json["findings"]
    assert finding["location"]["path"] == "conf/nginx.conf" and "<stdin>" not in run.out
    assert "in standalone config conf/nginx.conf;" in finding["message"]


def test_stdin_stands_for_the_file_it_names_in_the_context(project):
    """An editor sends a file's unsaved text with its name: the file on
    disk is not read beside it (no duplicate object), and its references
    resolve as the file's would (the ConfigMap in its own directory, not
    the other environment's copy)."""
    for env in ("dev", "prod"):
        project.write(f"envs/{env}/web.yaml", deployment())
        project.write(f"envs/{env}/conf.yaml", config_map(files={"nginx.conf": f"events {{}}\nhttp {{ server {{ listen {'80' if env == 'dev' else '8080 backlog=4096'}; }} }}\n"}))
    edited = deployment(pod_extra="  # edited\n")
    run = project.run(
        "--kernel", "4.19", "--format", "json", "--default-context", ".", "--stdin-filename", "envs/prod/web.yaml", "-",
        stdin=edited.encode(),
    )
    rules = sorted((f["rule"], f["location"]["path"]) for f in run.json["findings"])
    assert rules == [("SMX001", "envs/prod/conf.yaml")], run.out
    assert "listen 8080" in run.out or "8080" in run.json["findings"][0]["message"]
    assert run.json["summary"]["files"] == 4


def test_stdin_filename_names_skipped_input(project):
    run = project.run("--format", "json", "--stdin-filename", "values.yaml", "-", stdin=b"---\nreplicaCount: 1\nimage: {tag: x}\n")
    assert run.json["summary"]["skipped_files"] == [{"path": "values.yaml", "reason": "not Kubernetes"}]
    assert (run.status, run.err) == (0, "somaxlint: nothing to lint: no Kubernetes manifest, CNI configuration or nginx config in the input\n")


def test_baseline_of_stdin_matches_with_the_same_stdin_filename(project):
    run = _stdin_run(project, "text", "--write-baseline", "baseline.json")
    assert (run.status, run.out, run.err) == (0, "", "somaxlint: wrote 1 findings to the baseline baseline.json\n")
    entries = json.loads((project.root / "baseline.json").read_text())["entries"]
    assert [e["path"] for e in entries] == ["deploy/web.yaml"]
    run = _stdin_run(project, "text", "--baseline", "baseline.json")
    assert (run.status, run.out) == (0, "")


# 8. --statistics ----------------------------------------------------------------------------

NGINX = (
    "events {}\nhttp {\n"
    + "".join(f"  server {{ listen {81 + i} backlog=9000; }}\n" for i in range(10))
    + "  include missing.conf;\n  server { listen 99 backlog=0; }\n}\n"
)
STATISTICS = "11\tSMX001\tlisten-backlog-truncated\n 1\tSMX009\tinvalid-listen-backlog\n 1\tSMX013\tinclude-outside-input\n"


def test_statistics_follow_the_text_report_on_stdout(project):
    project.write("nginx.conf", NGINX)
    plain = project.run("--kernel", "4.19", "nginx.conf")
    run = project.run("--kernel", "4.19", "--statistics", "nginx.conf")
    assert (run.status, run.err) == (1, plain.err)
    assert run.out == plain.out + STATISTICS


def test_statistics_go_to_stderr_for_machine_formats(project):
    project.write("nginx.conf", NGINX)
    for fmt in ("json", "sarif", "github", "gitlab"):
        plain = project.run("--kernel", "4.19", "--format", fmt, "nginx.conf")
        run = project.run("--kernel", "4.19", "--format", fmt, "--statistics", "nginx.conf")
        assert (run.status, run.out, run.err) == (1, plain.out, STATISTICS)


def test_statistics_of_a_clean_run_are_empty(project):
    project.write("nginx.conf", "events {}\nhttp { server { listen 80 backlog=100; } }\n")
    run = project.run("--format", "json", "--statistics", "nginx.conf")
    assert (run.status, run.err) == (0, "")


# 9. somaxlint init -------------------------------------------------------------------------


def _comparable(settings):
    from somaxlint.records import fields

    values = {name: getattr(settings, name) for name in fields(settings)}
    values.pop("config_path")
    return values


def test_init_writes_a_commented_configuration_that_changes_nothing(project):
    from somaxlint.config import load_settings
    from somaxlint.settings import Settings

    run = project.run("init")
    assert (run.status, run.out, run.err) == (0, "", "somaxlint: wrote .somaxlint.yaml: uncomment and fill in what you know about your cluster\n")
    text = (project.root / ".somaxlint.yaml").read_text()
    assert all(line == "" or line.startswith("#") or line.lstrip().startswith("# ") for line in text.splitlines())
    settings = load_settings(None, str(project.root))
    assert settings.config_path == str((project.root / ".somaxlint.yaml").resolve())
    assert _comparable(settings) == _comparable(Settings())
    project.write("app.yaml", INCIDENT)
    with_file = project.run("--format", "json", "app.yaml")
    (project.root / ".somaxlint.yaml").unlink()
    without = project.run("--format", "json", "app.yaml")
    assert (with_file.status, with_file.out, with_file.err) == (without.status, without.out, without.err)
    assert [f["rule"] for f in with_file.json["findings"]] == ["SMX001"]


def test_init_documents_every_configuration_key_and_uncommented_is_valid(project):
    from importlib import resources

    from somaxlint.config import load_settings

    project.run("init")
    text = (project.root / ".somaxlint.yaml").read_text()
    # Every key of the schema, at every level, appears as a setting line.
    schema = json.loads(resources.files("somaxlint").joinpath("schemas/config.schema.json").read_text("utf-8"))

    def keys(node):
        for name, sub in (node.get("properties") or {}).items():
            yield name
            yield from keys(sub)
            items = sub.get("items") if isinstance(sub.get("items"), dict) else None
            if items:
                yield from keys(items)

    # prose is `# text`; settings are `#key:` or `#  key:` (nested)
    settings_lines = [line[1:] for line in text.splitlines() if re.match(r"#(?=\S|  )", line)]
    written = "\n".join(settings_lines)
    for key in set(keys(schema)):
        assert re.search(rf"(^|[\s-]){key}:", written, re.M), f"`{key}` is not in the template"
    # Uncommenting every setting line gives a valid configuration.
    uncommented = "\n".join(re.sub(r"^#(?=\S|  )", "", line) for line in text.splitlines()) + "\n"
    project.write(".somaxlint.yaml", uncommented, dedent=False)
    settings = load_settings(None, str(project.root))
    assert (settings.kernel_text, settings.kubernetes, settings.allowed_unsafe_sysctls) == ("5.15", (1, 29), ["net.core.somaxconn"])
    assert settings.node_sysctls == {"net.core.somaxconn": "4096"}
    assert settings.ignore == ["SMX013"] and settings.severity == {"listen-backlog-truncated": "warning"}
    assert (settings.max_file_bytes, settings.max_include_files, settings.max_include_depth) == (16777216, 2000, 32)
    assert [(s.workload, s.container) for s in settings.servers] == [("Deployment/default/web", "nginx")]


def test_init_refuses_to_overwrite_unless_forced(project):
    existing = project.write(".somaxlint.yaml", 'kernel: "5.15"\n')
    run = project.run("init")
    assert (run.status, run.out, run.err) == (2, "", "somaxlint: error: .somaxlint.yaml already exists in this directory (--force overwrites .somaxlint.yaml)\n")
    assert existing.read_text() == 'kernel: "5.15"\n'
    run = project.run("init", "--force")
    assert (run.status, run.err) == (0, "somaxlint: wrote .somaxlint.yaml: uncomment and fill in what you know about your cluster\n")
    assert existing.read_text().startswith("# somaxlint configuration")
    existing.unlink()
    project.write(".somaxlint.yml", "{}\n")
    run = project.run("init")
    assert (run.status, run.err) == (2, "somaxlint: error: .somaxlint.yml already exists in this directory (--force overwrites .somaxlint.yaml)\n")


# 10. --help ---------------------------------------------------------------------------------


def test_help_is_the_check_commands_and_lists_every_format(project, monkeypatch):
    from somaxlint.report import FORMATS

    monkeypatch.setenv("COLUMNS", "100")
    run = project.run("--help")
    assert (run.status, run.err) == (0, "")
    assert run.out.startswith("usage: somaxlint [check] [-h] [--version]")
    assert "--format {" + ",".join(FORMATS) + "}" in run.out
    assert FORMATS == ("text", "json", "sarif", "github", "gitlab")
    for option in (
        "--config", "--kernel", "--kubernetes", "--output", "--max-file-size", "--progress", "--select", "--ignore",
        "--fail-on {info,warning,error}", "--color {auto,always,never}", "--statistics", "--baseline", "--write-baseline",
        "--report-unused-suppressions", "--helm-chart-dir", "--context", "--stdin-filename", "--sarif-category",
    ):
        assert option in run.out, option
    for command in ("somaxlint explain", "somaxlint rules", "somaxlint servers", "somaxlint init"):
        assert command in run.out
    assert "exit status: 0 clean, 1 findings, 2 usage/configuration/output error,\n3 internal error, 130 interrupted, 141 standard output closed early\n" in run.out
    assert project.run("check", "--help").out == run.out
    assert project.run("-h").out == run.out


def test_an_unknown_format_lists_the_choices(project):
    run = project.run("--format", "yaml", ".")
    assert (run.status, run.out, run.err) == (
        2, "", "somaxlint: error: argument --format: invalid choice: 'yaml' (choose from 'text', 'json', 'sarif', 'github', 'gitlab')\n")
    run = project.run("explain", "--format", "sarif", ".")
    assert (run.status, run.err) == (2, "somaxlint: error: argument --format: invalid choice: 'sarif' (choose from 'text', 'json')\n")


def test_own_configuration_baseline_and_report_are_never_read_as_inputs(project):
    project.write(".somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("app.yaml", INCIDENT)
    wrote = project.run("--write-baseline", "baseline.json", ".")
    assert wrote.status == 0
    for _ in range(2):  # the second run finds the first one's report
        run = project.run("--format", "json", "--baseline", "baseline.json", "--output", "report.json", ".")
    summary = json.loads((project.root / "report.json").read_text())["summary"]
    assert run.status == 0
    assert (summary["files"], summary["skipped_not_kubernetes"]) == (1, 0)
    assert summary["skipped_files"] == [
        {"path": ".somaxlint.yaml", "reason": "somaxlint's configuration"},
        {"path": "baseline.json", "reason": "somaxlint's baseline"},
        {"path": "report.json", "reason": "somaxlint's report"},
    ]


# The command line as people type it -------------------------------------------------


def test_paths_and_options_may_come_in_any_order(project):
    project.write("a/app.yaml", deployment() + "---\n" + config_map())
    project.write("b/app.yaml", deployment(name="other") + "---\n" + config_map())
    mixed = project.run("a", "--format", "json", "b", "--kernel", "4.19")
    ordered = project.run("--format", "json", "--kernel", "4.19", "a", "b")
    assert mixed.status == ordered.status == 1
    assert mixed.out == ordered.out
    assert {f["location"]["path"] for f in mixed.json["findings"]} == {"a/app.yaml", "b/app.yaml"}
    explain = project.run("explain", "a", "--format", "json", "--kernel", "4.19")
    assert explain.status == 0 and len(explain.json["listeners"]) == 1


def test_a_misspelt_option_or_command_gets_the_near_one(project):
    project.write("sub/app.yaml", deployment() + "---\n" + config_map())
    run = project.run("--formt", "json", "sub")
    assert run.status == 2
    assert run.err == "somaxlint: error: unrecognized arguments: --formt (did you mean --format?)\n"
    run = project.run("chek", "sub")
    assert run.status == 2
    assert run.err.startswith("somaxlint: error: chek: ")
    assert run.err.rstrip().endswith("(did you mean the command `somaxlint check`?)")


def test_one_run_writes_several_formats(project):
    project.write("app.yaml", deployment() + "---\n" + config_map())
    run = project.run("--kernel", "4.19", "--format", "sarif", "--output", "out.sarif", "--format", "github", ".")
    assert run.status == 1
    assert run.out.startswith("::error file=app.yaml,")  # the log's annotations
    sarif = json.loads((project.root / "out.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["SMX001"]
    both = project.run("--kernel", "4.19", "--format", "json", "--format", "text", ".")
    assert both.status == 2 and "would both go to standard output" in both.err
    extra = project.run("--format", "json", "--output", "a.json", "--output", "b.json", ".")
    assert extra.status == 2 and "2 --output for 1 --format" in extra.err
    # the report files are somaxlint's own: never read as inputs
    again = project.run("--kernel", "4.19", "--format", "json", "--output", "r.json", "--format", "gitlab", "--output", "r.gitlab.json", ".")
    assert again.status == 1
    assert json.loads((project.root / "r.json").read_text())["findings"][0]["rule"] == "SMX001"
    assert json.loads((project.root / "r.gitlab.json").read_text())[0]["check_name"] == "SMX001 listen-backlog-truncated"

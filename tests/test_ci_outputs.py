"""Code review and CI: SARIF, GitHub and GitLab formats, --fail-on,
baselines and suppressions."""

import json

import jsonschema
import pytest

from conftest import config_map, corpus_or_skip, deployment, position

INCIDENT = deployment() + "---\n" + config_map()


@pytest.fixture(scope="module")
def sarif_validator():
    corpus = corpus_or_skip()
    schema = json.loads((corpus / "schemas" / "sarif-schema-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def _sarif(project, *args, stdin=b""):
    run = project.run("--format", "sarif", *args, stdin=stdin)
    return run, json.loads(run.out)


def test_sarif_is_valid_with_findings_and_ready_for_code_scanning(project, sarif_validator):
    (project.root / ".git").mkdir()
    project.write("deploy/app.yaml", INCIDENT)
    run, doc = _sarif(project, "--kernel", "4.19", "deploy")
    sarif_validator.validate(doc)
    assert run.status == 1
    assert run.out.lstrip().startswith("{") and run.err == ""  # nothing but SARIF on stdout
    [sarif_run] = doc["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules][:2] == ["SMX000", "SMX001"]
    smx001 = rules[1]
    assert smx001["name"] == "ListenBacklogTruncated"
    assert smx001["defaultConfiguration"] == {"level": "error"}
    assert smx001["help"]["markdown"].count("## ") == 4 and "## How to fix" in smx001["help"]["markdown"]
    assert smx001["helpUri"].startswith("https://")
    [result] = sarif_run["results"]
    location = result["locations"][0]["physicalLocation"]
    line, column = position(INCIDENT, "listen 80;")
    assert location["artifactLocation"]["uri"] == "deploy/app.yaml"
    assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert location["region"] == {"startLine": line, "startColumn": column, "endLine": line}  # to the end of the line
    assert result["level"] == "error" and result["ruleIndex"] == 1
    related = result["relatedLocations"]
    assert [r["message"]["text"] for r in related] == [
        "volumeMount 'conf' at /etc/nginx/nginx.conf",
        "volume 'conf'",
        "ConfigMap default/web-conf key 'nginx.conf'",
        "container 'nginx' of Deployment/default/web",
    ]
    for r in related:
        assert f"]({r['id']})" in result["message"]["text"]
    assert set(result["partialFingerprints"]) == {"somaxlint/v1"}
    assert sarif_run["invocations"][0]["properties"]["files"] == 1


def test_sarif_uris_are_relative_to_the_repository_root_from_a_subdirectory(project, sarif_validator):
    (project.root / ".git").mkdir()
    project.write("deploy/app.yaml", INCIDENT)
    run = project.run("--format", "sarif", "--kernel", "4.19", "app.yaml", cwd=project.root / "deploy")
    doc = json.loads(run.out)
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "deploy/app.yaml"
    assert not any(a["location"]["uri"].startswith("/") for a in doc["runs"][0]["artifacts"])


def test_sarif_without_findings_and_with_parse_failures(project, sarif_validator):
    project.write("ok.conf", "events {}\nhttp { server { listen 80 backlog=100; } }\n")
    run, doc = _sarif(project, ".")
    sarif_validator.validate(doc)
    assert (run.status, doc["runs"][0]["results"]) == (0, [])
    project.write("broken.yaml", "kind: ConfigMap\na: [\n")
    run, doc = _sarif(project, ".")
    sarif_validator.validate(doc)
    assert run.status == 1
    [result] = doc["runs"][0]["results"]
    assert result["ruleId"] == "SMX000"
    statuses = {a["location"]["uri"]: a["properties"]["somaxlintStatus"] for a in doc["runs"][0]["artifacts"]}
    assert statuses == {"broken.yaml": "unparsable", "ok.conf": "linted"}


def test_sarif_never_says_stdin(project, sarif_validator):
    rendered = (
        "---\n# Source: web/templates/deployment.yaml\n" + deployment() + "---\n# Source: web/templates/configmap.yaml\n" + config_map()
    )
    run, doc = _sarif(project, "--kernel", "4.19", "-", stdin=rendered.encode())
    sarif_validator.validate(doc)
    assert "<stdin>" not in run.out
    [result] = doc["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "web/templates/configmap.yaml"
    run, doc = _sarif(project, "--kernel", "4.19", "--stdin-filename", "deploy/rendered.yaml", "-", stdin=INCIDENT.encode())
    assert doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "deploy/rendered.yaml"


def test_sarif_message_cannot_forge_links(project, sarif_validator):
    project.write("d.yaml", deployment(name='"web-[x](1)"') + "---\n" + config_map())
    run, doc = _sarif(project, "--kernel", "4.19", ".")
    text = doc["runs"][0]["results"][0]["message"]["text"]
    assert "web-\\[x\\](1)" in text


def test_fingerprints_survive_unrelated_edits(project):
    project.write("app.yaml", INCIDENT)
    before = project.run("--format", "json", "--kernel", "4.19", ".").json["findings"]
    project.write("app.yaml", "# a comment\n# another\n" + INCIDENT.replace("replicas: 1", "replicas: 3"))
    after = project.run("--format", "json", "--kernel", "4.19", ".").json["findings"]
    assert before[0]["location"]["line"] + 2 == after[0]["location"]["line"]
    assert before[0]["fingerprint"] == after[0]["fingerprint"]


def test_github_annotations_escape_hostile_content(project):
    project.write("d.yaml", deployment(name='"web%0A::error file=x::pwned"') + "---\n" + config_map())
    run = project.run("--format", "github", "--kernel", "4.19", ".")
    lines = run.out.splitlines()
    assert len(lines) == 1
    line, column = position(INCIDENT, "listen 80;")
    assert lines[0].startswith(f"::error file=d.yaml,line={line},col={column},title=SMX001 listen-backlog-truncated::")
    assert "web%250A::error file=x::pwned" in lines[0]


def test_github_property_escaping():
    from somaxlint.report.github import escape_data, escape_property

    assert escape_property("a:b,c%d\r\ne") == "a%3Ab%2Cc%25d%0D%0Ae"
    assert escape_data("x::y\nz") == "x::y%0Az"


def test_gitlab_code_quality(project):
    project.write("app.yaml", INCIDENT)
    run = project.run("--format", "gitlab", "--kernel", "4.19", ".")
    [issue] = json.loads(run.out)
    line, _ = position(INCIDENT, "listen 80;")
    assert issue["check_name"] == "SMX001 listen-backlog-truncated"
    assert issue["severity"] == "major"
    assert issue["location"]["path"] == "app.yaml" and issue["location"]["positions"]["begin"]["line"] == line
    assert len(issue["fingerprint"]) == 32


def test_fail_on_threshold(project):
    project.write("app.yaml", INCIDENT)  # a warning without --kernel
    assert project.run("app.yaml").status == 1
    assert project.run("--fail-on", "warning", "app.yaml").status == 1
    assert project.run("--fail-on", "error", "app.yaml").status == 0
    project.write("broken.yaml", "kind: ConfigMap\na: [\n")
    assert project.run("--fail-on", "error", "broken.yaml").status == 1  # SMX000 always fails
    assert project.run("--fail-on", "error", "--ignore", "SMX000", "broken.yaml").status == 0


def test_colour_only_on_a_terminal_and_never_with_no_color(project, monkeypatch):
    import io
    import sys

    from somaxlint.cli import main

    project.write("app.yaml", INCIDENT)
    assert "\x1b[" not in project.run("--kernel", "4.19", "app.yaml").out  # not a terminal
    assert "\x1b[31m" in project.run("--color", "always", "--kernel", "4.19", "app.yaml").out

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def on_terminal(no_color):
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        else:
            monkeypatch.delenv("NO_COLOR", raising=False)
        terminal = Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        monkeypatch.chdir(project.root)
        main(["--kernel", "4.19", "app.yaml"])
        monkeypatch.setattr(sys, "stdout", sys.__stdout__)
        return terminal.getvalue()

    assert "\x1b[31m" in on_terminal(no_color=False)
    assert "\x1b[" not in on_terminal(no_color=True)


def test_baseline_adopts_existing_findings_and_survives_unrelated_edits(project):
    project.write("app.yaml", INCIDENT)
    run = project.run("--kernel", "4.19", "--write-baseline", "baseline.json", ".")
    assert run.status == 0
    entries = json.loads((project.root / "baseline.json").read_text())["entries"]
    assert [e["rule"] for e in entries] == ["SMX001"]
    assert project.run("--kernel", "4.19", "--baseline", "baseline.json", ".").status == 0
    project.write("app.yaml", "# moved\n\n" + INCIDENT)
    run = project.run("--kernel", "4.19", "--baseline", "baseline.json", ".")
    assert (run.status, run.out) == (0, "")
    # A new finding is reported; the old one stays baselined.
    project.write("other.conf", "events {}\nhttp { server { listen 81 backlog=9000; } }\n")
    run = project.run("--kernel", "4.19", "--baseline", "baseline.json", ".")
    assert run.status == 1 and [l.split(":")[0] for l in run.lines] == ["other.conf"]
    # Fixing the baselined finding makes its entry stale.
    project.write("app.yaml", INCIDENT.replace("listen 80;", "listen 80 backlog=100;"))
    run = project.run("--kernel", "4.19", "--baseline", "baseline.json", "app.yaml")
    assert run.status == 0
    assert "somaxlint: stale baseline entry SMX001 in app.yaml: no longer found" in run.err


def test_bad_baseline_is_a_usage_error(project):
    project.write("baseline.json", "[]")
    project.write("app.yaml", INCIDENT)
    assert project.run("--baseline", "baseline.json", ".").status == 2


def test_yaml_comment_suppression_on_and_above_the_line(project):
    text = INCIDENT.replace("        listen 80;", "        listen 80; # somaxlint: ignore SMX001 -- nodes run 5.15")
    project.write("a.yaml", text)
    assert project.run("--kernel", "4.19", "a.yaml").status == 0
    text = INCIDENT.replace("        listen 80;", "        # somaxlint: ignore listen-backlog-truncated\n        listen 80;")
    project.write("a.yaml", text)
    assert project.run("--kernel", "4.19", "a.yaml").status == 0
    text = INCIDENT.replace("        listen 80;", "        # somaxlint: ignore SMX013\n        listen 80;")
    project.write("a.yaml", text)
    assert project.run("--kernel", "4.19", "a.yaml").codes() == ["SMX001"]


def test_nginx_comment_suppression(project):
    project.write("nginx.conf", "events {}\nhttp {\n    server {\n        # somaxlint: ignore SMX001 -- reviewed\n        listen 80 backlog=9000;\n    }\n}\n")
    assert project.run("nginx.conf").status == 0


def test_suppression_must_name_a_rule(project):
    text = INCIDENT.replace("        listen 80;", "        listen 80; # somaxlint: ignore")
    project.write("a.yaml", text)
    run = project.run("--kernel", "4.19", "a.yaml")
    assert run.codes() == ["SMX001", "SMX014"]
    assert "a suppression must name the rule(s) it silences" in run.lines[1]


def test_annotation_suppression_on_the_workload(project):
    annotated = deployment().replace(
        "  namespace: default\nspec:", '  namespace: default\n  annotations:\n    somaxlint.io/ignore: "SMX001: nodes run 5.15"\nspec:', 1
    )
    project.write("a.yaml", annotated + "---\n" + config_map())
    assert project.run("--kernel", "4.19", "a.yaml").status == 0


def test_unused_suppressions_are_reported_on_request(project):
    text = INCIDENT.replace("        listen 80;", "        listen 80 backlog=100; # somaxlint: ignore SMX001")
    project.write("a.yaml", text)
    assert project.run("--kernel", "4.19", "a.yaml").status == 0
    run = project.run("--kernel", "4.19", "--report-unused-suppressions", "a.yaml")
    line, column = position(text, "# somaxlint")
    assert run.lines == [
        f"a.yaml:{line}:{column}: SMX014 [warning] suppression comment for SMX001 silences nothing: no such finding here any more"
    ]


def test_context_reports_only_findings_touching_the_named_files(project):
    project.write("deploy.yaml", deployment())
    project.write("cm.yaml", config_map())
    project.write("unrelated.conf", "events {}\nhttp { server { listen 81 backlog=9000; } }\n")
    run = project.run("--kernel", "4.19", "--context", ".", "deploy.yaml")
    assert run.codes() == ["SMX001"]
    assert run.lines[0].startswith("cm.yaml:")  # located in the ConfigMap, caused by the staged Deployment
    alone = project.run("--kernel", "4.19", "deploy.yaml")  # alone it cannot see the ConfigMap, and says so
    assert alone.codes() == ["SMX018"] and "ConfigMap default/web-conf is not in the input" in alone.lines[0]


def test_helm_findings_point_at_the_template(project):
    chart = project.root / "chart"
    project.write(
        "chart/templates/configmap.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-conf\ndata:\n  nginx.conf: |\n"
        "    events {}\n    http {\n        server {\n            listen 80;\n        }\n    }\n",
    )
    project.write("chart/templates/deployment.yaml", "# rendered from values\n")
    rendered = (
        "---\n# Source: web/templates/deployment.yaml\n" + deployment() + "---\n# Source: web/templates/configmap.yaml\n" + config_map()
    )
    run = project.run("--kernel", "4.19", "--helm-chart-dir", str(chart), "-", stdin=rendered.encode())
    assert run.lines[0].startswith("chart/templates/configmap.yaml:10:13: SMX001 [error]")
    # Related facts move too, each to the template of its own document
    # when its line is literal there (the deployment template here holds
    # only a comment: its facts stay in the rendered stream).
    related = [line.strip() for line in run.out.splitlines() if line.startswith("    ")]
    assert "chart/templates/configmap.yaml:6:3: ConfigMap default/web-conf key 'nginx.conf'" in related
    assert any(r.startswith("<stdin>:") and "volumeMount 'conf'" in r for r in related)
    # A line produced by a template expression cannot be found: line 1, and the message says so.
    ambiguous = rendered.replace("listen 80;", "listen 80 ;")
    run = project.run("--kernel", "4.19", "--helm-chart-dir", str(chart), "-", stdin=ambiguous.encode())
    line, _ = position(ambiguous, "listen 80 ;")
    assert run.lines[0].startswith("chart/templates/configmap.yaml:1:1: SMX001 [error]")
    assert run.lines[0].endswith(f"(line {line} of the rendered output; the template line is ambiguous)")


def test_progress_goes_to_stderr_only_when_asked_or_on_a_terminal(project, monkeypatch):
    from somaxlint import cli

    monkeypatch.setattr(cli._Progress, "DELAY", 0.0)
    project.write("app.yaml", INCIDENT)
    quiet = project.run("--kernel", "4.19", "app.yaml")
    assert "reading 1/1 file" not in quiet.err  # not a terminal: silent
    loud = project.run("--kernel", "4.19", "--progress", "--format", "json", "app.yaml")
    # each stage on the one line, and the line cleared at the end
    assert loud.err.startswith("\rsomaxlint: reading 1/1 file")
    assert "\rsomaxlint: modelling" in loud.err and "\rsomaxlint: checking" in loud.err
    assert loud.err.endswith("\r" + " " * len("somaxlint: checking") + "\r")
    assert "\n" not in loud.err
    assert "reading 1/1" not in loud.out and json.loads(loud.out)["findings"]


# GitHub code scanning's limits ----------------------------------------------------


def test_sarif_keeps_code_scannings_limits_and_says_what_it_cut(project, monkeypatch):
    """Results per run, locations per result, description lengths and the
    gzipped size (somaxlint.report.sarif.LIMITS): a file code scanning
    would reject is never written; the most severe findings are kept."""
    from somaxlint.report import sarif

    monkeypatch.setattr(sarif, "MAX_RESULTS", 3)
    for n in range(4):
        project.write(f"app{n}.yaml", deployment(name=f"web{n}", image="nginx:1.25") + "---\n" + config_map(name="web-conf"))
    project.write("nginx.conf", "events {}\nhttp {\n    include a.conf;\n    include b.conf;\n    server { listen 80; }\n}\n")
    run = project.run("--format", "sarif", "--kernel", "4.19", ".")
    document = json.loads(run.out)
    [only] = document["runs"]
    assert len(only["results"]) == 3
    assert {r["level"] for r in only["results"]} == {"error"}  # the SMX013 warnings went first
    assert "somaxlint: SARIF: " in run.err and "least severe: code scanning rejects a run of more than 3 results" in run.err
    assert only["originalUriBaseIds"] == {"%SRCROOT%": {"description": {"text": "The repository root (somaxlint's paths are relative to it)"}}}
    for rule in only["tool"]["driver"]["rules"]:
        assert len(rule["fullDescription"]["text"]) <= 1024 and len(rule["shortDescription"]["text"]) <= 1024
        assert len(rule["properties"]["tags"]) <= 20
    long_rules = [r for r in only["tool"]["driver"]["rules"] if r["fullDescription"]["text"].endswith("\u2026")]
    assert {r["id"] for r in long_rules} >= {"SMX010", "SMX015"}  # cut at a word: the whole text is in help
    assert all(len(r["help"]["text"]) > 1024 for r in long_rules)


def test_sarif_stays_under_ten_megabytes_gzipped(project, monkeypatch):
    from somaxlint.report import sarif

    for n in range(40):
        project.write(f"app{n}.yaml", deployment(name=f"web{n}") + "---\n" + config_map(name="web-conf"))
    for n in range(200):
        project.write(f"other/file{n}.yaml", f"apiVersion: v1\nkind: Service\nmetadata: {{name: s{n}}}\n")
    whole = sarif._gzipped_size(project.run("--format", "sarif", "--kernel", "4.19", ".").out)
    # room for about half the results once the unreferenced artifacts are gone
    bound = whole - 2500
    monkeypatch.setattr(sarif, "MAX_GZIPPED_BYTES", bound)
    run = project.run("--format", "sarif", "--kernel", "4.19", ".")
    assert sarif._gzipped_size(run.out) <= bound
    document = json.loads(run.out)["runs"][0]
    assert 0 < len(document["results"]) < 40
    # first the artifacts no result names, then the results
    assert {a["location"]["uri"] for a in document["artifacts"]} == {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["results"]}
    assert "the artifacts list only the files results name" in run.err
    assert "more findings left out, the least severe: code scanning rejects a file of more than" in run.err


def test_sarif_lists_at_most_a_thousand_locations_a_result(project, monkeypatch):
    from somaxlint.report import sarif

    monkeypatch.setattr(sarif, "MAX_LOCATIONS", 3)
    project.write("app.yaml", deployment() + "---\n" + config_map())
    run = project.run("--format", "sarif", "--kernel", "4.19", ".")
    [result] = [r for r in json.loads(run.out)["runs"][0]["results"] if r["ruleId"] == "SMX001"]
    assert len(result["relatedLocations"]) == 2
    assert "2 more related locations not listed: code scanning takes 3 locations a result." in result["message"]["text"]
    assert "lists 2 of its 4 related locations" in run.err

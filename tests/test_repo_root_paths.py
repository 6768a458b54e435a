"""Machine-read paths are relative to the repository root: the same JSON,
GitHub, GitLab, SARIF and baseline bytes from any directory and for any
spelling or order of the paths; and no two findings share a fingerprint."""

import json
import os
import re

import jsonschema
import pytest

from conftest import config_map, corpus_or_skip, deployment, position

MACHINE_FORMATS = ("json", "github", "gitlab", "sarif")
INCLUDES = "events {}\nhttp {\n    include missing.conf;\n    include missing.conf;\n    server { listen 8080; }\n}\n"


@pytest.fixture
def repo(project):
    """A repository (`.git` is all somaxlint looks for) whose findings name
    paths in their locations, related facts and messages (SMX017 lists the
    candidates' files)."""
    (project.root / ".git").mkdir()
    project.write(".somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("deploy/web.yaml", deployment())
    project.write("deploy/a/cm.yaml", config_map())
    project.write("deploy/b/cm.yaml", config_map())
    project.write("nginx/nginx.conf", INCLUDES)
    return project


def _routes(root):
    """(working directory, paths): one input, spelled every way."""
    return [
        (root, ["deploy", "nginx"]),
        (root, ["nginx/", "./deploy/a/.."]),
        (root / "deploy", [".", "../nginx"]),
        (root / "deploy", ["../nginx", "."]),
        (root / "nginx", [str(root / "deploy"), "."]),
        (root / "deploy" / "a", ["../../nginx/nginx.conf", "..", "../../deploy/b/cm.yaml"]),
    ]


@pytest.mark.parametrize("fmt", MACHINE_FORMATS)
def test_machine_formats_are_byte_identical_from_any_directory_and_argument_order(repo, fmt):
    outputs = {}
    for cwd, paths in _routes(repo.root):
        run = repo.run("--format", fmt, *paths, cwd=cwd)
        assert run.status == 1, run.err
        outputs[(str(cwd.relative_to(repo.root)), tuple(paths))] = run.out
    assert len(set(outputs.values())) == 1, list(outputs)
    out = next(iter(outputs.values()))
    assert "deploy/a/cm.yaml" in out and "nginx/nginx.conf" in out
    assert str(repo.root) not in out  # nothing absolute, nothing relative to a working directory
    assert not re.search(r'["=]\.\./', out)


def test_json_paths_are_root_relative_in_locations_related_facts_and_messages(repo):
    doc = repo.run("--format", "json", ".", cwd=repo.root / "deploy").json
    paths = {f["location"]["path"] for f in doc["findings"]}
    paths |= {r["location"]["path"] for f in doc["findings"] for r in f["related"]}
    assert paths == {"deploy/web.yaml", "deploy/a/cm.yaml", "deploy/b/cm.yaml"}
    [ambiguous] = [f for f in doc["findings"] if f["rule"] == "SMX017"]
    assert "(deploy/a/cm.yaml, deploy/b/cm.yaml)" in ambiguous["message"]


def test_written_baseline_is_identical_and_applies_from_anywhere(repo):
    written = []
    for number, (cwd, paths) in enumerate(_routes(repo.root)):
        target = repo.root / f"baseline-{number}.json"
        run = repo.run("--write-baseline", str(target), *paths, cwd=cwd)
        assert run.status == 0, run.err
        written.append(target.read_bytes())
    assert len(set(written)) == 1
    entries = json.loads(written[0])["entries"]
    assert {e["path"] for e in entries} == {"deploy/web.yaml", "deploy/a/cm.yaml", "deploy/b/cm.yaml", "nginx/nginx.conf"}
    for cwd, paths in _routes(repo.root):
        run = repo.run("--baseline", str(repo.root / "baseline-0.json"), *paths, cwd=cwd)
        assert (run.status, run.out) == (0, ""), run.err
        assert "stale baseline" not in run.err


def test_text_output_stays_relative_to_the_working_directory(repo):
    from_root = repo.run(".", cwd=repo.root)
    from_deploy = repo.run(".", "../nginx", cwd=repo.root / "deploy")
    assert from_root.lines[0].startswith("deploy/a/cm.yaml:")
    assert from_deploy.lines[0].startswith("a/cm.yaml:")
    assert any(line.startswith("../nginx/nginx.conf:3:5: SMX013") for line in from_deploy.lines)
    related = [line for line in from_deploy.out.splitlines() if line.startswith("    ")]
    assert related[0].startswith("    web.yaml:")


def test_stdin_filename_is_a_path_from_the_working_directory(repo):
    text = (repo.root / "deploy" / "web.yaml").read_text() + "---\n" + config_map()
    outputs = set()
    for cwd, name in ((repo.root, "deploy/rendered.yaml"), (repo.root / "deploy", "rendered.yaml")):
        run = repo.run("--format", "json", "--stdin-filename", name, "-", stdin=text.encode(), cwd=cwd)
        outputs.add(run.out)
        assert {f["location"]["path"] for f in run.json["findings"]} == {"deploy/rendered.yaml"}
        text_run = repo.run("--stdin-filename", name, "-", stdin=text.encode(), cwd=cwd)
        assert text_run.lines[0].startswith(name + ":")
    assert len(outputs) == 1


def test_the_root_is_the_git_top_level_else_the_configuration_directory_else_the_working_directory(project):
    from somaxlint.discover import repository_root

    root = project.root
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "sub" / "x.yaml").write_text("")
    config = root / "conf" / ".somaxlint.yaml"
    config.parent.mkdir()
    config.write_text("")
    assert repository_root(["sub/x.yaml"], str(config), str(root)) == str(root / "conf")
    assert repository_root(["-"], None, str(root / "sub")) == str(root / "sub")
    (root / ".git").write_text("gitdir: elsewhere\n")  # a worktree's or submodule's .git is a file
    for cwd, paths in ((root, ["sub/x.yaml"]), (root / "sub" / "deeper", [".."]), (root / "sub", ["x.yaml", "deeper"])):
        assert repository_root(paths, str(config), str(cwd)) == str(root)
    # Standard input stands for its --stdin-filename.
    assert repository_root(["-"], None, str(root / "sub"), "x.yaml") == str(root)
    assert repository_root(["-"], str(config), str(root / "sub")) == str(root / "conf")
    # The order of the arguments never matters: the first in sorted order counts.
    other = root / "sub" / "deeper"
    (other / ".git").mkdir()
    assert repository_root([str(other), "sub/x.yaml"], None, str(root)) == repository_root(["sub/x.yaml", str(other)], None, str(root))


def test_without_a_git_directory_the_configuration_directory_is_the_root(project):
    project.write(".somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("deploy/app.yaml", deployment() + "---\n" + config_map())
    from_root = project.run("--format", "gitlab", "deploy", cwd=project.root)
    from_sub = project.run("--format", "gitlab", ".", cwd=project.root / "deploy")
    assert from_root.out == from_sub.out
    assert json.loads(from_root.out)[0]["location"]["path"] == "deploy/app.yaml"


def test_paths_outside_the_root_are_absolute(repo, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "nginx.conf"
    outside.write_text("events {}\nhttp { server { listen 81; } }\n")
    doc = repo.run("--format", "json", "deploy", str(outside), cwd=repo.root).json
    assert outside.as_posix() in {f["location"]["path"] for f in doc["findings"]}
    again = repo.run("--format", "json", ".", os.path.relpath(outside, repo.root / "deploy"), cwd=repo.root / "deploy")
    assert again.json == doc
    # Text for people: relative to the working directory, as given.
    text = repo.run("deploy", os.path.relpath(outside, repo.root), cwd=repo.root)
    assert any(line.startswith(os.path.relpath(outside, repo.root) + ":") for line in text.lines)


def test_sarif_gives_a_file_outside_the_root_an_absolute_uri(repo, tmp_path_factory):
    corpus = corpus_or_skip()
    validator = jsonschema.Draft4Validator(json.loads((corpus / "schemas" / "sarif-schema-2.1.0.json").read_text()))
    outside = tmp_path_factory.mktemp("outside") / "nginx.conf"
    outside.write_text("events {}\nhttp { server { listen 81; } }\n")
    doc = json.loads(repo.run("--format", "sarif", "../deploy", str(outside), cwd=repo.root / "nginx").out)
    validator.validate(doc)
    locations = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in doc["runs"][0]["results"]]
    locations = [{k: v for k, v in location.items() if k != "index"} for location in locations]
    assert {"uri": "file://" + outside.as_posix()} in locations
    assert {"uri": "deploy/a/cm.yaml", "uriBaseId": "%SRCROOT%"} in locations


# Repeated identical lines -----------------------------------------------------


def test_identical_findings_on_identical_lines_get_distinct_fingerprints(repo):
    issues = json.loads(repo.run("--format", "gitlab", "nginx").out)
    assert sorted((i["location"]["positions"]["begin"]["line"], i["check_name"]) for i in issues) == [
        (3, "SMX013 include-outside-input"),
        (4, "SMX013 include-outside-input"),
        (5, "SMX001 listen-backlog-truncated"),
    ]
    assert len({i["fingerprint"] for i in issues}) == len(issues) == 3
    doc = json.loads(repo.run("--format", "sarif", "nginx").out)
    assert len({r["partialFingerprints"]["somaxlint/v1"] for r in doc["runs"][0]["results"]}) == 3


def test_every_finding_of_a_large_run_has_its_own_fingerprint(repo):
    # Three equal include lines, and the whole fixture repository besides.
    repo.write("nginx/nginx.conf", INCLUDES.replace("    server", "    include missing.conf;\n    server"))
    issues = json.loads(repo.run("--format", "gitlab", ".").out)
    assert len(issues) >= 6
    assert len({i["fingerprint"] for i in issues}) == len(issues)


def test_repeated_fingerprints_survive_unrelated_edits_and_the_first_keeps_its_old_value(repo):
    import hashlib

    before = [f for f in repo.run("--format", "json", "nginx").json["findings"] if f["rule"] == "SMX013"]
    repo.write("nginx/nginx.conf", "# a comment\n\n" + INCLUDES.replace("listen 8080;", "listen 8081;"))
    after = [f for f in repo.run("--format", "json", "nginx").json["findings"] if f["rule"] == "SMX013"]
    assert [f["location"]["line"] + 2 for f in before] == [f["location"]["line"] for f in after]
    assert [f["fingerprint"] for f in before] == [f["fingerprint"] for f in after]
    assert before[0]["fingerprint"] != before[1]["fingerprint"]
    # The first of equal findings keeps the fingerprint it had before
    # occurrences were counted: existing baselines stay valid.
    from somaxlint.findings import Finding, Location

    first = Finding("SMX013", "include-outside-input", "warning", "m", Location("nginx/nginx.conf", 5), subject="s")
    legacy = hashlib.sha256("\x1f".join(("SMX013", "nginx/nginx.conf", "s")).encode()).hexdigest()[:32]
    assert first.fingerprint == legacy


def test_a_baseline_of_one_include_reports_the_second_identical_one(repo):
    repo.write("nginx/nginx.conf", INCLUDES.replace("    include missing.conf;\n", "", 1))
    assert repo.run("--write-baseline", "b.json", "nginx").status == 0
    repo.write("nginx/nginx.conf", INCLUDES)
    run = repo.run("--baseline", "b.json", "nginx")
    line, column = position(INCLUDES, "include missing.conf;", 2)
    assert run.lines == [f"nginx/nginx.conf:{line}:{column}: SMX013 [warning] " + run.lines[0].split(" [warning] ", 1)[1]]

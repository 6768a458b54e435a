"""Configuration in a monorepo: each file is governed by the nearest
configuration above it (somaxlint.projects), whichever directory
somaxlint runs from and however the files are named."""

import json
import os
import subprocess
import sys

import pytest

from conftest import config_map, deployment, position

APP = deployment() + "---\n" + config_map()
LISTEN = position(APP, "listen 80;")


def _monorepo(project):
    """A root configuration (Linux 5.15: nothing truncated) and three
    sub-projects on Linux 4.19: one plain, one with SMX001 off, one (in
    pyproject.toml) with SMX001 a warning and a directory excluded."""
    (project.root / ".git").mkdir()
    project.write(".somaxlint.yaml", 'kernel: "5.15"\n')
    project.write("platform/app.yaml", APP, dedent=False)
    project.write("services/old/.somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("services/old/app.yaml", APP, dedent=False)
    project.write("services/quiet/.somaxlint.yaml", 'kernel: "4.19"\nrules:\n  SMX001: off\n')
    project.write("services/quiet/app.yaml", APP, dedent=False)
    project.write(
        "services/warn/pyproject.toml",
        '[project]\nname = "warn"\n\n[tool.somaxlint]\nkernel = "4.19"\nexclude = ["generated/*"]\n\n'
        '[tool.somaxlint.rules]\nlisten-backlog-truncated = "warning"\n',
    )
    project.write("services/warn/app.yaml", APP, dedent=False)
    project.write("services/warn/generated/broken.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: [\n")
    return project


def _where(run):
    return sorted((f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"], f["severity"]) for f in run.json["findings"])


EXPECTED = [
    ("SMX001", "services/old/app.yaml", *LISTEN, "error"),
    ("SMX001", "services/warn/app.yaml", *LISTEN, "warning"),
]


def test_each_sub_project_is_linted_with_its_own_configuration(project):
    _monorepo(project)
    run = project.run("--format", "json", ".")
    assert (_where(run), run.status) == (EXPECTED, 1)
    skipped = run.json["summary"]["skipped_files"]
    assert {"path": "services/old/.somaxlint.yaml", "reason": "somaxlint's configuration (of services/old)"} in skipped
    assert {"path": "services/quiet/.somaxlint.yaml", "reason": "somaxlint's configuration (of services/quiet)"} in skipped
    assert not any(s["reason"] == "not Kubernetes" for s in skipped)
    assert (
        "somaxlint: configurations: .somaxlint.yaml governs 1 file; services/old/.somaxlint.yaml governs 1 file; "
        "services/quiet/.somaxlint.yaml governs 1 file; services/warn/pyproject.toml governs 1 file\n"
    ) in run.err


@pytest.mark.parametrize("where", ["services/old", "services/warn/generated", "platform"])
def test_the_same_findings_from_any_directory(project, where):
    _monorepo(project)
    run = project.run("--format", "json", os.path.relpath(project.root, project.root / where), cwd=project.root / where)
    assert (_where(run), run.status) == (EXPECTED, 1)


def test_files_named_one_by_one_are_governed_like_the_walk(project):
    """The hook passes staged files: each still gets its project's settings."""
    _monorepo(project)
    names = ["platform/app.yaml", "services/old/app.yaml", "services/quiet/app.yaml", "services/warn/app.yaml"]
    run = project.run("--format", "json", *names)
    assert (_where(run), run.status) == (EXPECTED, 1)


def test_the_command_line_wins_over_every_configuration(project):
    _monorepo(project)
    run = project.run("--format", "json", "--kernel", "6.1", ".")
    assert (_where(run), run.status) == ([], 0)
    run = project.run("--format", "json", "--kernel", "4.19", "--ignore", "SMX001", ".")
    assert _where(run) == []
    # --kernel 4.19 alone: the root's files are truncated too, and the
    # quiet project still has SMX001 off
    run = project.run("--format", "json", "--kernel", "4.19", ".")
    assert _where(run) == sorted(EXPECTED + [("SMX001", "platform/app.yaml", *LISTEN, "error")])


def test_explain_names_the_configuration_of_each_listener(project):
    _monorepo(project)
    records = project.explain(".")
    assert sorted((r["workload_file"]["path"], r["configuration"], r["somaxconn"]) for r in records) == [
        ("platform/app.yaml", ".somaxlint.yaml", 4096),
        ("services/old/app.yaml", "services/old/.somaxlint.yaml", 128),
        ("services/quiet/app.yaml", "services/quiet/.somaxlint.yaml", 128),
        ("services/warn/app.yaml", "services/warn/pyproject.toml", 128),
    ]


def test_a_named_configuration_governs_every_file(project):
    _monorepo(project)
    project.write("elsewhere/strict.yaml", 'kernel: "4.19"\n')
    run = project.run("--format", "json", "--config", "elsewhere/strict.yaml", ".")
    # every project at 4.19 with the named file's rules: four truncations,
    # and the excluded file is read (its SMX000) since pyproject's
    # exclude is not read either
    rules = sorted((f["rule"], f["location"]["path"]) for f in run.json["findings"])
    assert rules == [
        ("SMX000", "services/warn/generated/broken.yaml"),
        ("SMX001", "platform/app.yaml"),
        ("SMX001", "services/old/app.yaml"),
        ("SMX001", "services/quiet/app.yaml"),
        ("SMX001", "services/warn/app.yaml"),
    ]
    assert {"path": "services/old/.somaxlint.yaml", "reason": "somaxlint's configuration (not read: --config governs every file)"} in run.json["summary"]["skipped_files"]


def test_references_stay_inside_their_project(project):
    """A Deployment of one project and the ConfigMap it names in another:
    not linked (another project is other clusters), and said."""
    (project.root / ".git").mkdir()
    project.write("a/.somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("a/web.yaml", deployment())
    project.write("b/.somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("b/conf.yaml", config_map())
    run = project.run("--format", "json", ".")
    about = [(f["rule"], f["location"]["path"]) for f in run.json["findings"] if "Deployment/default/web" in f["message"]]
    # the ConfigMap alone is still checked, as an unmounted configuration
    assert about == [("SMX018", "a/web.yaml")], run.json["findings"]


def test_a_broken_sub_project_configuration_is_a_configuration_error(project):
    _monorepo(project)
    project.write("services/old/.somaxlint.yaml", "rules:\n  SMX999: off\n")
    run = project.run(".")
    assert run.status == 2
    assert run.err.startswith("somaxlint: error: configuration: ") and "services/old/.somaxlint.yaml" in run.err and "SMX999" in run.err


def test_one_configuration_reads_as_before(project):
    """No sub-project: no line about configurations, the same output."""
    (project.root / ".git").mkdir()
    project.write(".somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("app.yaml", APP, dedent=False)
    run = project.run(".")
    assert "configurations:" not in run.err
    assert run.lines == [f"app.yaml:{LISTEN[0]}:{LISTEN[1]}: SMX001 [error] " + run.lines[0].split(" [error] ", 1)[1]]


def test_the_pre_commit_hook_honours_each_project(project, tmp_path):
    """Through the real hook, from the repository root: git, pre-commit."""
    _monorepo(project)
    repo = project.root
    (repo / ".git").rmdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".pre-commit-config.yaml").write_text(json.dumps({"repos": [{"repo": "local", "hooks": [{
        "id": "somaxlint", "name": "somaxlint", "entry": f"{sys.executable} -m somaxlint", "language": "system",
        "types_or": ["yaml", "json", "toml"], "args": ["--default-context", "."],
    }]}]}))
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "home"), PRE_COMMIT_COLOR="never")
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = sorted(line.split(" ")[0:3] for line in proc.stdout.splitlines() if " SMX001 " in line)
    assert found == [
        [f"services/old/app.yaml:{LISTEN[0]}:{LISTEN[1]}:", "SMX001", "[error]"],
        [f"services/warn/app.yaml:{LISTEN[0]}:{LISTEN[1]}:", "SMX001", "[warning]"],
    ]

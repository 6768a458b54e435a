"""The recipes work when copied: the README's install lines, pre-commit
snippet, GitHub workflow (through action.yml) and GitLab job are run as
written against a fixture repository; the rule documentation the SARIF
links point at exists; the package metadata and the benchmark's guard."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from conftest import REPO, config_map, corpus_or_skip, deployment, position

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

README = (REPO / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
REPOSITORY = PYPROJECT["project"]["urls"]["Repository"]


def _yaml():
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True)


def _readme_yaml_blocks():
    return [_yaml().load(block) for block in re.findall(r"```yaml\n(.*?)```", README, re.S)]


# Release pins and the repository URL ------------------------------------------

PINNED_REV = re.compile(r"^\s*rev:\s*([0-9a-f]{40})  # frozen: (v\S+)$", re.M)
PINNED_USES = re.compile(r"uses:\s*somaxlint/somaxlint@([0-9a-f]{40})  # (v\S+)")
PINNED_GIT = re.compile(r"git\+https://github\.com/somaxlint/somaxlint@([0-9a-f]{40})")


def _pins():
    """(commit, version label) of every pin the README's recipes hold."""
    revs = PINNED_REV.findall(README)
    uses = PINNED_USES.findall(README)
    gits = PINNED_GIT.findall(README)
    return revs, uses, gits


def test_readme_recipes_pin_one_release_commit_with_its_version():
    revs, uses, gits = _pins()
    assert revs and uses and len(gits) >= 4  # Installing, the hook's Helm, GitHub annotations, GitLab
    # every pin: a commit (tags are not published), the same one everywhere
    assert not re.search(r"^\s*rev:\s*v\d", README, re.M) and "somaxlint/somaxlint@v" not in README
    assert not re.search(r"git\+https://github\.com/somaxlint/somaxlint@v\d", README)
    commits = {c for c, _ in revs} | {c for c, _ in uses} | set(gits)
    labels = {label for _, label in revs} | {label for _, label in uses}
    assert len(commits) == 1 and len(labels) == 1, (commits, labels)
    [label] = labels
    assert f"pinned to the release {label} (commit {next(iter(commits))})" in README
    # every install line can render charts: the [helm] extra
    assert all(line.startswith("somaxlint[helm] @ ") for line in re.findall(r'"(somaxlint\S* @ git\+\S+)"', README))
    assert "pip install 'somaxlint[helm]'" not in README and "pip install somaxlint[helm]" not in README


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The repository as it is published: a clone of its history."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed (.ci/run installs it)")
    target = tmp_path_factory.mktemp("published") / "somaxlint"
    subprocess.run(["git", "clone", "--quiet", "--no-local", str(REPO), str(target)], check=True, capture_output=True)
    return target


def test_the_pinned_commit_is_published_and_holds_the_version_it_is_named_by(clone):
    revs, _uses, _gits = _pins()
    commit, label = revs[0]
    assert subprocess.run(["git", "-C", str(clone), "merge-base", "--is-ancestor", commit, "HEAD"]).returncode == 0, (
        f"{commit} is not on the published branch: run tools/pin_release.py on a commit of main"
    )
    pyproject = subprocess.run(["git", "-C", str(clone), "show", f"{commit}:pyproject.toml"], capture_output=True, text=True, check=True).stdout
    assert f'version = "{label[1:]}"' in pyproject
    hooks = subprocess.run(["git", "-C", str(clone), "show", f"{commit}:.pre-commit-hooks.yaml"], capture_output=True, text=True, check=True).stdout
    assert _yaml().load(hooks)[0]["id"] == "somaxlint"
    action = subprocess.run(["git", "-C", str(clone), "show", f"{commit}:action.yml"], capture_output=True, text=True, check=True).stdout
    assert _yaml().load(action)["runs"]["using"] == "composite"


def test_readme_installs_from_the_repository_of_pyproject():
    assert REPOSITORY == "https://github.com/somaxlint/somaxlint"
    assert PYPROJECT["project"]["urls"]["Homepage"]
    pip_lines = re.findall(r"pip install \"(somaxlint\S* @ git\+\S+)\"", README)
    assert len(pip_lines) >= 3  # Installing, GitHub annotations, GitLab
    [commit] = {c for c, _ in _pins()[0]}
    assert set(pip_lines) == {f"somaxlint[helm] @ git+{REPOSITORY}@{commit}"}
    [hook_repo] = {entry["repo"] for block in _readme_yaml_blocks() if isinstance(block, dict) for entry in block.get("repos", ())}
    assert hook_repo == REPOSITORY
    assert "no release on a package index" in README
    assert "pip install somaxlint\n" not in README and "pip install somaxlint " not in README


def test_license_is_a_pep_639_expression_with_its_file():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License") and "Version 2.0, January 2004" in text
    # setuptools learnt PEP 639 in 77: older ones refuse the string form.
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]


# docs/rules.md and the SARIF helpUri -------------------------------------------


def _github_anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped (but - and
    _), spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_rules_doc_is_generated_from_the_docstrings():
    from somaxlint.rulebook import rules_document

    assert (REPO / "docs" / "rules.md").read_text(encoding="utf-8") == rules_document(), (
        "docs/rules.md drifted from the rules' docstrings: run `python tools/generate_docs.py`"
    )
    # The generator's own check agrees (it also checks the README's tables,
    # which tests/test_packaging.py covers).
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "generate_docs.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode in (0, 1) and "docs/rules.md" not in proc.stdout, proc.stdout + proc.stderr


def test_every_sarif_help_uri_resolves_to_a_section_of_the_rules_doc(project):
    from somaxlint.rulebook import REPOSITORY_URL, all_rules

    assert REPOSITORY_URL == REPOSITORY  # the fallback when the metadata cannot be read
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    anchors = {_github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", doc, re.M)}
    project.write("nginx.conf", "events {}\nhttp { server { listen 80 backlog=100; } }\n")
    sarif = json.loads(project.run("--format", "sarif", ".").out)
    descriptors = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [d["id"] for d in descriptors] == [r.code for r in all_rules()]
    prefix = f"{REPOSITORY}/blob/main/docs/rules.md#"
    for descriptor in descriptors:
        uri = descriptor["helpUri"]
        assert uri.startswith(prefix), uri
        assert uri[len(prefix):] in anchors, uri
    assert _github_anchor("SMX001 listen-backlog-truncated") == "smx001-listen-backlog-truncated"
    assert descriptors[1]["helpUri"] == prefix + "smx001-listen-backlog-truncated"
    assert sarif["runs"][0]["tool"]["driver"]["informationUri"] == REPOSITORY


def test_rules_command_prints_a_rules_doc_section(project):
    from somaxlint.rulebook import find_rule, rule_markdown

    run = project.run("rules", "SMX001", "--format", "markdown")
    assert run.status == 0
    assert run.out == rule_markdown(find_rule("SMX001"))
    assert run.out.startswith("## SMX001 listen-backlog-truncated\n")
    assert run.out in (REPO / "docs" / "rules.md").read_text(encoding="utf-8")


# Running the recipes -----------------------------------------------------------


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """The working tree as a checkout would have it (tracked and new files,
    not ignored ones): the action's checkout, the GitLab job's package."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode().split("\0")
    target = tmp_path_factory.mktemp("checkout") / "somaxlint"
    for name in filter(None, listed):
        if name.startswith(("tests/", "fuzz/", "bench/")) or not (REPO / name).is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh environment that sees this one's dependencies but not its
    editable somaxlint: the recipes' own install step must provide it."""
    path = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True)
    return path


def _fixture_repo(root: Path) -> Path:
    (root / ".git").mkdir(parents=True)
    (root / ".somaxlint.yaml").write_text('kernel: "4.19"\n')
    (root / "deploy").mkdir()
    (root / "deploy" / "app.yaml").write_text(deployment() + "---\n" + config_map())
    (root / "nginx").mkdir()
    (root / "nginx" / "nginx.conf").write_text("events {}\nhttp {\n    include missing.conf;\n    include missing.conf;\n    server { listen 8080; }\n}\n")
    return root


def _env(venv: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PIP_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


class _Expressions:
    """The `${{ ... }}` contexts action.yml uses, with test values; any
    other expression fails the test (it would be untested)."""

    def __init__(self, inputs, action_path, workspace):
        self.values = {"github.action_path": str(action_path), "github.workspace": str(workspace)}
        self.values.update({f"inputs.{k}": v for k, v in inputs.items()})

    def substitute(self, text: str) -> str:
        def one(match):
            expr = match.group(1).strip()
            assert expr in self.values, f"action.yml uses ${{{{ {expr} }}}}, which the test does not know"
            return self.values[expr]

        return re.sub(r"\$\{\{(.*?)\}\}", one, text)


# A stand-in for somaxlint that records its arguments and writes the report
# named by --output (argument 5), as somaxlint does.
FAKE_SOMAXLINT = '#!/bin/sh\nprintf "%s\\n" "$@" > "$SOMAXLINT_ARGV"\n: > "$5"\nexit "${FAKE_STATUS:-0}"\n'


def _action_inputs(action, **given):
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(given)
    return inputs


def _run_action(action, inputs, action_path, workspace, venv, only=None):
    """Every `run:` step of the composite action, in order, each as GitHub
    runs a `shell: bash` step (`bash --noprofile --norc -eo pipefail`),
    with its `env:` evaluated; `uses:` steps are skipped.  Returns the
    exit status of the first failing step (or 0) and the step outputs."""
    expressions = _Expressions(inputs, action_path, workspace)
    outputs = {}
    for index, step in enumerate(action["runs"]["steps"]):
        if "uses" in step:
            continue
        assert step["shell"] == "bash" and "if" not in step
        assert "${{" not in step["run"], "inputs reach a script through env:, never spliced into its text"
        if only is not None and step.get("id") not in only:
            continue
        output_file = workspace.parent / f"github-output-{index}"
        output_file.write_text("")
        runner_temp = workspace.parent / "runner-temp"
        runner_temp.mkdir(exist_ok=True)
        env = _env(
            venv, GITHUB_OUTPUT=str(output_file), GITHUB_WORKSPACE=str(workspace), GITHUB_ACTION_PATH=str(action_path),
            RUNNER_TEMP=str(runner_temp),
        )
        for key, value in (step.get("env") or {}).items():
            env[key] = expressions.substitute(str(value))
        script = workspace.parent / f"step-{index}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace, env=env, capture_output=True, text=True, timeout=300
        )
        produced = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        if step.get("id"):
            outputs[step["id"]] = produced
            expressions.values.update({f"steps.{step['id']}.outputs.{k}": v for k, v in produced.items()})
        if proc.returncode != 0:
            return proc.returncode, outputs, proc
    return 0, outputs, proc


@pytest.fixture(scope="module")
def action():
    return _yaml().load((REPO / "action.yml").read_text(encoding="utf-8"))


def test_action_declares_its_inputs_and_uploads_with_the_category(action):
    assert action["runs"]["using"] == "composite"
    assert {"paths", "args", "sarif-category", "python-version", "version"} <= set(action["inputs"])
    uses = [step for step in action["runs"]["steps"] if "uses" in step]
    assert [step["uses"].split("@")[0] for step in uses] == ["actions/setup-python", "github/codeql-action/upload-sarif", "actions/upload-artifact"]
    assert uses[1]["if"] == "${{ inputs.upload == 'true' && steps.lint.outputs.sarif-file != '' }}"
    assert uses[2]["if"] == "${{ inputs.upload != 'true' && steps.lint.outputs.sarif-file != '' }}"
    assert uses[2]["with"]["path"] == "${{ steps.lint.outputs.sarif-file }}"
    assert uses[0]["with"]["python-version"] == "${{ inputs.python-version }}"
    assert uses[1]["with"]["category"] == "${{ inputs.sarif-category }}"
    assert uses[1]["with"]["sarif_file"] == "${{ steps.lint.outputs.sarif-file }}"
    runs = [step["run"] for step in action["runs"]["steps"] if "run" in step]
    assert any('"${SOMAXLINT_ACTION_PATH}[helm]"' in run for run in runs)
    assert any('somaxlint check --format sarif --output "$out/somaxlint.sarif" --format github --sarif-category' in run for run in runs)
    # The README's workflow uses the action at the release tag, with inputs it has.
    workflows = [b for b in _readme_yaml_blocks() if isinstance(b, dict) and "jobs" in b]
    assert len(workflows) == 2  # code scanning; pull requests from forks
    for workflow in workflows:
        [step] = [s for s in workflow["jobs"]["somaxlint"]["steps"] if s.get("uses", "").startswith("somaxlint/somaxlint@")]
        assert step["uses"] == f"somaxlint/somaxlint@{_pins()[0][0][0]}"
        assert set(step.get("with") or {}) <= set(action["inputs"])
        permissions = workflow.get("permissions") or workflow["jobs"]["somaxlint"]["permissions"]
        assert permissions["security-events"] == "write"
    assert workflows[1]["jobs"]["somaxlint"]["steps"][1]["with"]["config-ref"] == "${{ github.event.pull_request.base.sha }}"


def test_action_steps_run_as_written(action, source, venv, tmp_path):
    workspace = _fixture_repo(tmp_path / "workspace")
    inputs = _action_inputs(action, paths="deploy nginx", args="--fail-on warning", **{"sarif-category": "somaxlint-test"})
    status, outputs, proc = _run_action(action, inputs, source, workspace, venv)
    # The last step fails the job with somaxlint's status: 1, findings.
    assert status == 1, proc.stdout + proc.stderr
    assert "somaxlint exited with status 1" in proc.stderr
    written = Path(outputs["lint"]["sarif-file"])
    assert outputs["lint"] == {"exit-code": "1", "sarif-file": str(written)}
    # a directory made by the step, outside the checkout
    assert written.name == "somaxlint.sarif" and written.parent.parent == workspace.parent / "runner-temp"
    assert not (workspace / "somaxlint.sarif").exists()
    assert (venv / "bin" / "somaxlint").exists()  # installed from the action's checkout, into the new environment
    sarif = json.loads(written.read_text())
    corpus = corpus_or_skip()
    jsonschema.Draft4Validator(json.loads((corpus / "schemas" / "sarif-schema-2.1.0.json").read_text())).validate(sarif)
    [run] = sarif["runs"]
    assert run["automationDetails"] == {"id": "somaxlint-test/"}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"deploy/app.yaml", "nginx/nginx.conf"}


def test_action_inputs_cannot_inject_shell(action, source, tmp_path, monkeypatch):
    workspace = _fixture_repo(tmp_path / "workspace")
    (workspace / "deploy" / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    shutil.rmtree(workspace / "nginx")
    # somaxlint need not be installed for this: a stand-in records its arguments.
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "somaxlint").write_text(FAKE_SOMAXLINT)
    (bin_dir / "somaxlint").chmod(0o755)
    inputs = _action_inputs(action, paths="deploy", args="--kernel $(touch pwned) `touch pwned2`", **{"sarif-category": "x; touch pwned3"})
    fake_venv = tmp_path / "fake"
    (fake_venv / "bin").mkdir(parents=True)
    (fake_venv / "bin" / "somaxlint").symlink_to(bin_dir / "somaxlint")
    monkeypatch.setenv("SOMAXLINT_ARGV", str(tmp_path / "argv"))
    status, outputs, _ = _run_action(action, inputs, source, workspace, fake_venv, only={"lint"})
    assert status == 0 and outputs["lint"]["exit-code"] == "0"
    assert not any((workspace / name).exists() for name in ("pwned", "pwned2", "pwned3"))
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[:4] == ["check", "--format", "sarif", "--output"] and argv[4].endswith("/somaxlint.sarif")
    assert argv[5:] == ["--format", "github", "--sarif-category", "x; touch pwned3", "--no-cache", "--kernel", "$(touch", "pwned)", "`touch", "pwned2`", "--", "deploy"]


def test_action_fills_no_cache_unless_the_workflow_keeps_one(action, source, tmp_path, monkeypatch):
    """A job's checkout has no loading cache and nothing keeps it, so the
    action runs with --no-cache -- unless the workflow names one to keep."""
    workspace = _fixture_repo(tmp_path / "workspace")
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "somaxlint").write_text(FAKE_SOMAXLINT)
    (bin_dir / "somaxlint").chmod(0o755)
    fake_venv = tmp_path / "fake"
    (fake_venv / "bin").mkdir(parents=True)
    (fake_venv / "bin" / "somaxlint").symlink_to(bin_dir / "somaxlint")
    monkeypatch.setenv("SOMAXLINT_ARGV", str(tmp_path / "argv"))
    for args, environment, expected in (
        ("", {}, ["--no-cache", "--", "deploy"]),
        ("--cache-dir .cache/somaxlint", {}, ["--cache-dir", ".cache/somaxlint", "--", "deploy"]),
        ("--cache-dir=.c", {}, ["--cache-dir=.c", "--", "deploy"]),
        ("", {"SOMAXLINT_CACHE_DIR": ".c"}, ["--", "deploy"]),
    ):
        for name in ("SOMAXLINT_CACHE_DIR",):
            monkeypatch.delenv(name, raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        inputs = _action_inputs(action, paths="deploy", args=args, **{"sarif-category": "c"})
        status, outputs, _ = _run_action(action, inputs, source, workspace, fake_venv, only={"lint"})
        assert status == 0
        argv = (tmp_path / "argv").read_text().splitlines()
        assert argv[:4] == ["check", "--format", "sarif", "--output"] and argv[5:9] == ["--format", "github", "--sarif-category", "c"]
        assert argv[9:] == expected


CODE_QUALITY_SCHEMA = {
    # GitLab's Code Quality report: the fields GitLab reads.
    "type": "array",
    "items": {
        "type": "object",
        "required": ["description", "check_name", "fingerprint", "severity", "location"],
        "properties": {
            "description": {"type": "string", "minLength": 1},
            "check_name": {"type": "string", "minLength": 1},
            "fingerprint": {"type": "string", "minLength": 1},
            "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
            "location": {
                "type": "object",
                "required": ["path"],
                "properties": {
                    "path": {"type": "string", "pattern": "^[^/]"},
                    "lines": {"type": "object", "required": ["begin"]},
                    "positions": {"type": "object", "required": ["begin"]},
                },
                "anyOf": [{"required": ["lines"]}, {"required": ["positions"]}],
            },
        },
    },
}


def test_readme_gitlab_job_runs_as_written(clone, venv, tmp_path):
    [job] = [b["somaxlint"] for b in _readme_yaml_blocks() if isinstance(b, dict) and "somaxlint" in b and "script" in b["somaxlint"]]
    report = job["artifacts"]["reports"]["codequality"]
    assert job["artifacts"]["when"] == "always"  # the report is kept when the job fails on findings
    lines = []
    for line in job["script"]:
        if line.startswith("pip install "):
            # The README installs the release from the repository: the test
            # installs it from a clone, at the commit the line pins (only
            # the address changes: there is no network here)
            [commit] = {c for c, _ in _pins()[0]}
            assert line == f'pip install "somaxlint[helm] @ git+{REPOSITORY}@{commit}"'
            line = line.replace(f"git+{REPOSITORY}@", f"git+file://localhost{clone}@")
        lines.append(line)
    project = _fixture_repo(tmp_path / "project")
    # a chart: the job renders it (the [helm] extra), it is not "not rendered"
    chart = project / "charts" / "web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text("{}\n")
    chart_app = deployment(name="chart-web", namespace="charted") + "---\n" + config_map(namespace="charted")
    (chart / "templates" / "app.yaml").write_text(chart_app)
    script = tmp_path / "job.sh"
    script.write_text("\n".join(lines) + "\n")
    proc = subprocess.run(["bash", "-eo", "pipefail", str(script)], cwd=project, env=_env(venv), capture_output=True, text=True, timeout=300)
    assert (proc.returncode, (project / report).is_file()) == (1, True), proc.stdout + proc.stderr  # findings fail the job
    issues = json.loads((project / report).read_text())
    jsonschema.validate(issues, CODE_QUALITY_SCHEMA)
    names = [issue["check_name"] for issue in issues]
    assert names.count("SMX013 include-outside-input") == 2  # the two identical include lines
    assert "SMX001 listen-backlog-truncated" in names
    assert "SMX019 chart-not-rendered" not in names
    chart_lines = [(i["location"]["path"], i["location"]["positions"]["begin"]["line"]) for i in issues if i["check_name"].startswith("SMX001")]
    assert ("charts/web/templates/app.yaml", position(chart_app, "listen 80;")[0]) in chart_lines, chart_lines
    assert len({issue["fingerprint"] for issue in issues}) == len(issues)
    assert all((project / issue["location"]["path"]).is_file() for issue in issues)


# pre-commit: --context replaces the default context -----------------------------


def _context_project(project):
    project.write(".somaxlint.yaml", 'kernel: "4.19"\n')
    project.write("deploy/web.yaml", deployment())
    project.write("config/cm.yaml", config_map())
    project.write("other/unrelated.conf", "events {}\nhttp { server { listen 81; } }\n")
    return project


def test_context_replaces_the_default_context_and_accumulates(project):
    _context_project(project)
    default = project.run("--default-context", ".", "deploy/web.yaml")
    assert default.codes() == ["SMX001"] and default.lines[0].startswith("config/cm.yaml:")
    narrowed = project.run("--default-context", ".", "--context", "deploy", "deploy/web.yaml")
    assert narrowed.codes() == ["SMX018"]  # config/ is no longer read
    assert "ConfigMap default/web-conf is not in the input" in narrowed.lines[0]
    both = project.run("--default-context", ".", "--context", "deploy", "--context", "config", "deploy/web.yaml")
    assert both.codes() == ["SMX001"]
    assert project.run("--default-context", "no/such", "deploy/web.yaml").status == 2


def test_hook_entry_uses_the_default_context():
    [hook] = _yaml().load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "somaxlint check --default-context ."
    assert "args: [--context, deploy/]" in README and "*replaces* that default context" in README


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_pre_commit_args_context_replaces_the_hooks_context(source, tmp_path):
    # The hook repository: this working tree, committed in a scratch repository.
    hooks = tmp_path / "hooks"
    shutil.copytree(source, hooks)
    for args in (("init", "-q"), ("add", "-A"), ("-c", "user.email=ci@example.com", "-c", "user.name=CI", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "hooks")):
        _git(hooks, *args)
    rev = _git(hooks, "rev-parse", "HEAD").stdout.strip()
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for name, text in (
        (".somaxlint.yaml", 'kernel: "4.19"\n'),
        ("deploy/web.yaml", deployment()),
        ("config/cm.yaml", config_map()),
    ):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), PRE_COMMIT_COLOR="never")
    results = {}
    for label, args in (("default", ""), ("narrowed", "\n    args: [--context, deploy/]")):
        (repo / ".pre-commit-config.yaml").write_text(f"repos:\n- repo: {hooks}\n  rev: {rev}\n  hooks:\n  - id: somaxlint{args}\n")
        _git(repo, "add", ".pre-commit-config.yaml")
        results[label] = subprocess.run(
            [sys.executable, "-m", "pre_commit", "run", "--files", "deploy/web.yaml"], cwd=repo, env=env, capture_output=True, text=True, timeout=600
        )
    assert "config/cm.yaml:" in results["default"].stdout and "SMX001" in results["default"].stdout, results["default"].stdout
    narrowed = results["narrowed"].stdout
    assert "SMX001" not in narrowed and "SMX018" in narrowed, narrowed


# bench/run.py fails loudly --------------------------------------------------------


def _bench():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_refuses_to_time_a_command_that_did_not_work(tmp_path):
    bench = _bench()
    seconds, rss = bench.run_measured([sys.executable, "-c", "print('linted')"])
    assert seconds > 0 and rss > 0
    assert bench.run_measured([sys.executable, "-c", "pass"], allow_silent=True)[0] > 0  # a clean text run
    cases = {
        "import no_such_module": "raised an exception (exit status 1)",  # what the benchmark once timed
        "import sys; sys.exit(2)": "exited with status 2",
        "import sys; sys.exit(1)": "printed nothing (exit status 1)",
        "pass": "printed nothing (exit status 0)",
    }
    for code, reason in cases.items():
        with pytest.raises(SystemExit) as failure:
            bench.run_measured([sys.executable, "-c", code])
        assert reason in str(failure.value.code), (code, failure.value.code)
    with pytest.raises(SystemExit, match="exit status 1"):
        bench.run_measured([sys.executable, "-c", "import sys; sys.exit(1)"], allow_silent=True)


def test_bench_quick_run_measures_the_hook_and_stops_on_a_broken_command(tmp_path):
    run = [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--workdir", str(tmp_path)]
    ok = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "pre-commit hook on a generated repository of 60 files" in ok.stdout
    assert "context . (the hook's default)" in ok.stdout
    broken = subprocess.run(
        run + ["--lint-command", f"{sys.executable} -c 'import no_such_module'"], capture_output=True, text=True, timeout=120
    )
    assert broken.returncode != 0
    assert "ModuleNotFoundError: No module named 'no_such_module'" in broken.stderr
    assert "context ." not in broken.stdout  # no figure printed for it


def test_readme_explain_example_is_the_commands_output_and_every_key_is_documented(project):
    """The example is generated (tools/generate_docs.py); every key of every
    record kind is named in the README's explanation."""
    import io
    from contextlib import redirect_stdout

    from somaxlint.cli import main

    out = io.StringIO()
    here = os.getcwd()
    os.chdir(REPO)
    try:
        with redirect_stdout(out):
            main(["explain", "--format", "json", "--kernel", "4.19", "examples/incident"])
    finally:
        os.chdir(here)
    section = README.split("## `somaxlint explain --format json` (stable interface)", 1)[1].split("\n## ", 1)[0]
    example = re.search(r"<!-- explain-example:start -->\n```json\n(.*?)```", section, re.S).group(1)
    assert json.loads(example) == json.loads(out.getvalue())
    documented = set(re.findall(r"`([a-z_]+)`", section))
    # a record of each kind, from a repository that has them
    project.write("app.yaml", deployment() + "---\n" + config_map())
    project.write("orphan.yaml", deployment(name="orphan", volumes="- name: conf\n  configMap:\n    name: elsewhere"))
    project.write("task.yaml", "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n    - name: s\n      image: nginx:1.25\n      script: nginx\n")
    report = json.loads(project.run("explain", "--format", "json", "--kernel", "4.19", ".").out)
    for kind in ("listeners", "unresolved", "unplaced"):
        assert kind in documented
        assert report[kind], kind
        for record in report[kind]:
            assert set(record) <= documented, (kind, set(record) - documented)


def test_readme_pre_commit_recipe_runs_at_its_pinned_commit(clone, tmp_path):
    """The README's .pre-commit-config.yaml as written -- its `rev:` the
    pinned commit, Helm in `additional_dependencies` -- against a clone of
    the repository (the address is the only change: no network here): a
    staged chart template is rendered and checked."""
    [config] = [b for b in _readme_yaml_blocks() if isinstance(b, dict) and "repos" in b]
    [entry] = config["repos"]
    [hook] = entry["hooks"]
    assert entry["rev"] == _pins()[0][0][0]
    entry["repo"] = str(clone)
    # the extra of the hook's own package: pip merges it with the `rev`
    # pre-commit installs (a second somaxlint by URL would conflict)
    assert hook["additional_dependencies"] == ["somaxlint[helm]"]
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    files = {
        ".somaxlint.yaml": 'kernel: "4.19"\n',
        "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
        "charts/web/values.yaml": "{}\n",
        "charts/web/templates/configmap.yaml": config_map(),
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (repo / ".pre-commit-config.yaml").write_text(json.dumps(config))  # JSON is YAML
    _git(repo, "add", "-A")
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), PRE_COMMIT_COLOR="never")
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--files", "charts/web/templates/configmap.yaml"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line, column = position(config_map(), "listen 80;")
    assert f"charts/web/templates/configmap.yaml:{line}:{column}: SMX001 [error]" in proc.stdout, proc.stdout

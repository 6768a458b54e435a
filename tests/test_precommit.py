"""The hook as pre-commit runs it: `pre-commit try-repo` against this
repository, and a real `git commit` through an installed hook."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


def _git(repo: Path, *args, check=True):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=check)


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    _git(path, "config", "user.email", "ci@example.com")
    _git(path, "config", "user.name", "CI")
    _git(path, "config", "commit.gpgsign", "false")
    for name in ("deployment.yaml", "nginx-configmap.yaml"):
        shutil.copy(REPO / "examples" / "incident" / name, path / name)
    (path / ".somaxlint.yaml").write_text('kernel: "4.19"\nkubelet:\n  allowedUnsafeSysctls: ["net.core.*"]\n')
    return path


def _run(cmd, cwd, home):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def _fix(repo: Path):
    deployment = repo / "deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace(
            "    spec:\n      containers:",
            '    spec:\n      securityContext:\n        sysctls:\n          - name: net.core.somaxconn\n            value: "1024"\n      containers:',
        )
    )
    config = repo / "nginx-configmap.yaml"
    config.write_text(config.read_text().replace("listen       80;", "listen       80 backlog=1024;"))


def test_try_repo_fails_on_the_incident_and_passes_after_the_fix(repo, pre_commit_home):
    _git(repo, "add", ".")
    proc = _run(PRE_COMMIT + ["try-repo", str(REPO), "somaxlint"], repo, pre_commit_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nginx-configmap.yaml:23:13: SMX001 [error] nginx's default backlog 511 on 0.0.0.0:80 is truncated to 128" in proc.stdout
    _fix(repo)
    _git(repo, "add", ".")
    proc = _run(PRE_COMMIT + ["try-repo", str(REPO), "somaxlint"], repo, pre_commit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "somaxlint" in proc.stdout and "Passed" in proc.stdout


def test_git_commit_through_the_installed_hook_checks_across_files(repo, pre_commit_home):
    head = _git(REPO, "rev-parse", "HEAD").stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {REPO}\n  rev: {head}\n  hooks:\n  - id: somaxlint\n"
    )
    proc = _run(PRE_COMMIT + ["install"], repo, pre_commit_home)
    assert proc.returncode == 0, proc.stderr
    # The ConfigMap lands first (without the hook); later only the
    # Deployment is staged: the hook still sees the ConfigMap it mounts.
    _git(repo, "add", "nginx-configmap.yaml", ".somaxlint.yaml", ".pre-commit-config.yaml")
    _git(repo, "commit", "-q", "--no-verify", "-m", "config")
    _git(repo, "add", "deployment.yaml")
    commit = _run(["git", "commit", "-m", "deploy"], repo, pre_commit_home)
    assert commit.returncode == 1
    assert "nginx-configmap.yaml:23:13: SMX001 [error]" in commit.stdout + commit.stderr
    assert _git(repo, "log", "--oneline").stdout.count("\n") == 1  # nothing committed
    _fix(repo)
    _git(repo, "add", ".")
    commit = _run(["git", "commit", "-m", "deploy, fixed"], repo, pre_commit_home)
    assert commit.returncode == 0, commit.stdout + commit.stderr
    assert _git(repo, "log", "--oneline").stdout.count("\n") == 2

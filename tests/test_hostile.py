"""Hostile and broken input: no crash, bounded work, no reads outside the
lint root, nothing executed, output that input cannot forge, determinism."""

import os
import subprocess
import sys
import time

import pytest

from conftest import HOSTILE_INPUTS, config_map, deployment

CANARY = "CANARY-7f3a9c-do-not-read"


@pytest.fixture
def opened(monkeypatch):
    """Every path Python opens during the test (audit hooks see them all)."""
    seen = []
    active = [True]

    def hook(event, args):
        if active[0] and event == "open" and args and isinstance(args[0], (str, bytes)):
            seen.append(os.fsdecode(args[0]))

    sys.addaudithook(hook)
    yield seen
    active[0] = False


def test_nothing_outside_the_lint_root_is_opened_or_shown(project, tmp_path, opened):
    outside = tmp_path / "outside"
    outside.mkdir()
    canary = outside / "secret.conf"
    canary.write_text(f"server {{ listen 1 backlog=99999; }} # {CANARY}\n")
    root = project.root / "repo"
    (root / "conf.d").mkdir(parents=True)
    (root / "nginx.conf").write_text(
        "events {}\nhttp {\n"
        f"    include {canary};\n"
        "    include ../outside/*.conf;\n"
        "    include ../../../../../../../../etc/passwd;\n"
        "    include /etc/passwd;\n"
        "    include conf.d/*.conf;\n"
        "}\n"
    )
    os.symlink(canary, root / "conf.d" / "link.conf")
    os.symlink(outside, root / "escape")
    (root / "k8s.yaml").write_text(
        deployment(
            mounts="- name: conf\n  mountPath: /etc/nginx/nginx.conf\n  subPath: nginx.conf\n"
            "- name: conf\n  mountPath: /etc/nginx/trick.conf\n  subPath: ../../outside/secret.conf"
        )
        + "---\n"
        + config_map(files={"nginx.conf": f"events {{}}\nhttp {{ include {canary}; include /proc/self/environ; include trick.conf; }}\n"})
    )
    opened.clear()  # only what the linter opens counts
    run = project.run("--format", "json", "repo")
    everything = run.out + run.err
    assert CANARY not in everything
    assert str(outside) not in everything
    assert not [p for p in opened if p.startswith(str(outside)) or p.startswith("/etc/passwd") or p.startswith("/proc/self")]
    messages = [f["message"] for f in run.json["findings"] if f["rule"] == "SMX013"]
    assert messages.count("include not followed: the path is outside the lint root and is not read") == 4
    assert messages.count("include not followed: no mount of the container provides it") == 3
    assert run.status == 1


def test_yaml_tags_are_never_constructed(project, tmp_path):
    marker = tmp_path / "pwned"
    project.write(
        "evil.yaml",
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n"
        f"  a: !!python/object/apply:os.system ['touch {marker}']\n"
        "  b: !!python/name:os.system\n",
    )
    run = project.run(".")
    assert not marker.exists()
    assert run.status in (0, 1)


def test_alias_bomb_finishes_quickly(project):
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: bomb}", 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    lines.append("data: {k: *a29}")
    project.write("bomb.yaml", "\n".join(lines) + "\n")
    start = time.monotonic()
    run = project.run(".")
    assert time.monotonic() - start < 5
    assert run.status == 1
    assert "SMX000" in run.codes()  # data.k must be a string, not a list


def test_deep_nesting_is_reported(project):
    project.write("deep.yaml", "kind: ConfigMap\na: " + "[" * 5000 + "]" * 5000 + "\n")
    project.write("deep.conf", "events {}\n" + "http {\n" * 3000 + "}\n" * 3000)
    project.write("ok.yaml", deployment() + "---\n" + config_map())
    run = project.run("--kernel", "4.19", ".")
    assert run.status == 1
    assert run.lines[0].startswith("deep.conf:")
    assert "SMX000" in run.lines[0]
    assert run.lines[1].startswith("deep.yaml:2:")
    assert "nesting deeper than 256 levels" in run.lines[1]
    assert "ok.yaml" in run.lines[2] and "SMX001" in run.lines[2]


def test_large_file_is_refused_with_a_message(project):
    project.write_bytes("big.yaml", b"# " + b"x" * (2 * 1024 * 1024) + b"\n")
    run = project.run("--max-file-size", "1048576", ".")
    assert run.lines == ["big.yaml:1:1: SMX000 [error] cannot parse YAML: cannot read: file is larger than the limit of 1048576 bytes (raise it with --max-file-size)"]


@pytest.mark.parametrize("name, data, expected", HOSTILE_INPUTS)
def test_broken_inputs_never_crash_and_never_hide_other_files(project, name, data, expected):
    project.write_bytes(name, data)
    project.write("zz-good.yaml", deployment() + "---\n" + config_map())
    # every rule runs (no --select), so rules added later face these too
    run = project.run("--kernel", "4.19", ".")
    assert "Traceback" not in run.err and "internal error" not in run.out
    assert run.lines[-1].startswith("zz-good.yaml:") and "SMX001" in run.lines[-1]
    assert run.status == 1
    if expected:
        assert run.lines[0] == expected
    elif expected is None:
        assert run.lines[0].startswith(f"{name}:") and " SMX000 [error] cannot parse YAML: " in run.lines[0]
    else:
        assert "SMX000" not in run.codes()


def test_messages_quoting_file_content_cannot_drive_a_terminal(project):
    project.write("d.yaml", deployment(name='"web\\e]0;pwned\\a\\e[2J"') + "---\n" + config_map())
    run = project.run("--kernel", "4.19", ".")
    assert "SMX001" in run.out
    assert "\x1b" not in run.out and "\x07" not in run.out
    assert "Deployment/default/web\\x1b]0;pwned\\x07\\x1b[2J" in run.out


def test_output_is_deterministic_across_hash_seeds_and_argument_order(tmp_path):
    from conftest import REPO

    corpus = REPO.parent / "shared" / "corpus"
    paths = [str(REPO / "examples"), str(REPO / "tests")]
    if corpus.is_dir():
        paths += [str(corpus / "k8s"), str(corpus / "nginx")]
    outputs = set()
    for seed, order in (("0", paths), ("1", list(reversed(paths))), ("12345", paths)):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run(
            [sys.executable, "-m", "somaxlint", "--format", "json", *order], capture_output=True, cwd=tmp_path, env=env, timeout=300
        )
        assert proc.returncode == 1
        outputs.add(proc.stdout)
    assert len(outputs) == 1


def test_nul_bytes_in_include_paths(project):
    # found by the fuzz target: a NUL byte in an include glob
    project.write_bytes("nginx.conf", b"events {}\nhttp { include a\x00b/*.conf; include c\x00d; server { listen 80 backlog=10; } }\n")
    run = project.run(".")
    assert "Traceback" not in run.err
    assert run.codes() == ["SMX013", "SMX013"]

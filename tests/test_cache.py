"""The loading cache (linter/cache.py): what it changes is the time a run
takes, never what it reports.

Byte-identical output with and without it (the shipped example, the shared
corpus, the platform repository with its Helm chart and kustomizations);
a changed file invalidates its own entry and no other; corrupted,
truncated, foreign and hostile entries are ignored and rebuilt; two
processes filling one cache at once leave only whole entries; `--no-cache`
writes nothing; the size bound prunes the least recently used entries.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, REPO, config_map, deployment

from somaxlint import cache as cache_module
from somaxlint.cache import MAGIC, Cache
from somaxlint.engine import run
from somaxlint.settings import Settings

PLATFORM = REPO / "tests" / "repos" / "platform"
EXAMPLE = REPO / "examples" / "incident"
NGINX = "events {}\nhttp {\n  server {\n    listen 8080 backlog=4096;\n  }\n}\n"


def entries(directory: Path):
    load = directory / "load"
    if not load.is_dir():
        return {}
    return {p.name: p for p in load.iterdir() if not p.name.startswith(".")}


def three_runs(project, cache_dir: Path, *args, cwd=None):
    """Without the cache, filling an empty one, and from it (warm)."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    runs = [
        project.run(*args, "--no-cache", cwd=cwd),
        project.run(*args, "--cache-dir", str(cache_dir), cwd=cwd),
        project.run(*args, "--cache-dir", str(cache_dir), cwd=cwd),
    ]
    return [(r.status, r.out, r.err) for r in runs]


def assert_identical(project, tmp_path, target: Path, cwd=None):
    cache_dir = tmp_path / "the-cache"
    compared = 0
    for args in (
        ("check", "--format", "json"),
        ("check", "--format", "text", "--color", "never"),
        ("check", "--format", "sarif"),
        ("explain", "--format", "json"),
    ):
        cold, filling, warm = three_runs(project, cache_dir, *args, str(target), cwd=cwd)
        assert filling == cold, args
        assert warm == cold, args
        compared += len(cold[1])
    assert entries(cache_dir), "the cache was not used"
    assert compared


# Byte-identical ------------------------------------------------------------------


def test_byte_identical_on_the_shipped_example(project, tmp_path):
    assert_identical(project, tmp_path, EXAMPLE, cwd=REPO)


def test_byte_identical_on_the_shared_corpus(project, tmp_path):
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not beside this checkout ({CORPUS}); it is in CI")
    assert_identical(project, tmp_path, CORPUS, cwd=REPO)


def test_byte_identical_on_the_platform_repository_with_helm_and_kustomize(project, tmp_path):
    # Rendered charts and kustomizations are never cached: a warm run renders
    # them again, and the files they consume stay out of the plain inputs.
    assert_identical(project, tmp_path, PLATFORM, cwd=REPO)
    result = run([str(PLATFORM)], Settings(), str(REPO), cache=Cache(str(tmp_path / "the-cache")))
    rendered = [f for f in result.files if f.unit and f.unit != "standard input"]
    assert rendered, "the platform repository renders units"


def test_byte_identical_on_the_pre_commit_shape(project, tmp_path):
    """A staged file with the repository as context, repeated with one file
    changed in between."""
    project.write("app/deploy.yaml", deployment())
    project.write("app/cm.yaml", config_map(files={"nginx.conf": NGINX}))
    project.write("other/cm.yaml", config_map(name="other", files={"nginx.conf": NGINX}))
    (project.root / ".git").mkdir()
    args = ("check", "--format", "json", "--default-context", ".", "app/deploy.yaml")
    first = project.run(*args)
    assert (project.root / ".somaxlint_cache" / "load").is_dir()
    project.write("app/cm.yaml", config_map(files={"nginx.conf": NGINX.replace("4096", "65535")}))
    changed = project.run(*args)
    assert (changed.status, changed.out) != (first.status, first.out)  # the change shows
    uncached = project.run(*args, "--no-cache")
    assert (changed.status, changed.out, changed.err) == (uncached.status, uncached.out, uncached.err)


# Invalidation ---------------------------------------------------------------------


def make_project(root: Path):
    files = {
        "a.yaml": deployment(name="a", volumes="- name: conf\n  configMap:\n    name: a-conf"),
        "a-cm.yaml": config_map(name="a-conf", files={"nginx.conf": NGINX}),
        "b.yaml": deployment(name="b", volumes="- name: conf\n  configMap:\n    name: b-conf"),
        "b-cm.yaml": config_map(name="b-conf", files={"nginx.conf": NGINX.replace("8080", "8081")}),
        "site/nginx.conf": NGINX.replace("8080", "9090"),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


def lint(root: Path, cache: Cache):
    result = run([str(root)], Settings(kernel=(5, 15, 0), kernel_text="5.15"), str(root), cache=cache)
    return [(f.rule, f.location.path, f.location.line, f.message) for f in result.findings]


def test_a_changed_file_invalidates_its_entry_and_no_other(tmp_path):
    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    first = Cache(str(cache_dir))
    expected = lint(root, first)
    # five files and two embedded nginx configurations, each its own entry
    assert (first.hits, first.writes) == (0, 7)
    before = {name: path.stat().st_mtime_ns for name, path in entries(cache_dir).items()}

    warm = Cache(str(cache_dir))
    assert lint(root, warm) == expected
    assert (warm.hits, warm.misses, warm.writes) == (7, 0, 0)

    (root / "b-cm.yaml").write_text(config_map(name="b-conf", files={"nginx.conf": NGINX.replace("8080", "8082")}))
    changed = Cache(str(cache_dir))
    after_change = lint(root, changed)
    # the file, and its embedded config: two new entries; the rest hit
    assert (changed.hits, changed.misses, changed.writes) == (5, 2, 2)
    now = {name: path.stat().st_mtime_ns for name, path in entries(cache_dir).items()}
    assert set(now) > set(before) and len(now) == len(before) + 2
    assert all(now[name] == mtime for name, mtime in before.items()), "an unchanged entry was rewritten"
    assert after_change == lint(root, None)


def test_settings_that_change_loading_are_part_of_the_key(tmp_path, monkeypatch):
    from somaxlint.load import nginx_text

    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    lint(root, Cache(str(cache_dir)))
    other_size = Cache(str(cache_dir))
    run([str(root)], Settings(max_file_bytes=1 << 20), str(root), cache=other_size)
    assert other_size.hits == 2 and other_size.misses == 5  # files miss; embedded texts do not depend on it
    monkeypatch.setattr(nginx_text, "LEXER", "crossplane")
    other_lexer = Cache(str(cache_dir))
    lint(root, other_lexer)
    assert other_lexer.hits == 0


def test_embedded_and_standalone_nginx_are_not_parsed_again(tmp_path, monkeypatch):
    from somaxlint.load import nginx_text
    from somaxlint.load import yaml_stream

    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    expected = lint(root, Cache(str(cache_dir)))
    parses = []
    real_nginx, real_yaml = nginx_text._parse_nginx, yaml_stream._build
    monkeypatch.setattr(nginx_text, "_parse_nginx", lambda text: parses.append("nginx") or real_nginx(text))
    monkeypatch.setattr(yaml_stream, "_build", lambda *a: parses.append("yaml") or real_yaml(*a))
    assert lint(root, Cache(str(cache_dir))) == expected
    # the image's built-in conf.d/default.conf is parsed on every run: it is
    # cached too, under its text
    assert parses == []


def test_hits_are_new_objects_every_time(tmp_path):
    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    lint(root, Cache(str(cache_dir)))
    one = run([str(root)], Settings(), str(root), cache=Cache(str(cache_dir)))
    two = run([str(root)], Settings(), str(root), cache=Cache(str(cache_dir)))
    a = next(f for f in one.files if f.input.display == "a.yaml")
    b = next(f for f in two.files if f.input.display == "a.yaml")
    assert a.documents[0].root == b.documents[0].root and a.documents[0].root is not b.documents[0].root
    a.documents[0].root["kind"] = "Mutated"
    three = run([str(root)], Settings(), str(root), cache=Cache(str(cache_dir)))
    c = next(f for f in three.files if f.input.display == "a.yaml")
    assert c.documents[0].root["kind"] == "Deployment"


# Entries that must not be trusted ---------------------------------------------------


def test_corrupted_truncated_and_foreign_entries_are_ignored_and_rebuilt(tmp_path):
    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    expected = lint(root, Cache(str(cache_dir)))
    names = sorted(entries(cache_dir))
    paths = [cache_dir / "load" / name for name in names]
    data = [p.read_bytes() for p in paths]
    # corrupted: one payload byte flipped (the checksum disagrees)
    flipped = bytearray(data[0])
    flipped[-5] ^= 0xFF
    paths[0].write_bytes(bytes(flipped))
    # truncated: half an entry; and one cut inside its header
    paths[1].write_bytes(data[1][: len(data[1]) // 2])
    paths[2].write_bytes(data[2][:20])
    # foreign: another key's entry under this name; another format's magic
    paths[3].write_bytes(data[4])
    paths[5].write_bytes(b"SMXLOAD\x00" + data[5][len(MAGIC) :])
    # empty
    paths[6].write_bytes(b"")

    again = Cache(str(cache_dir))
    assert lint(root, again) == expected
    assert again.rejected == 6 and again.writes == 6 and again.hits == 1
    # rebuilt: every entry reads back whole now
    check = Cache(str(cache_dir))
    assert lint(root, check) == expected
    assert (check.hits, check.rejected, check.writes) == (7, 0, 0)


def test_an_entry_naming_code_is_refused_not_run(tmp_path):
    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    expected = lint(root, Cache(str(cache_dir)))
    marker = tmp_path / "pwned"
    hostile = pickle.dumps(_Hostile(str(marker)), protocol=pickle.HIGHEST_PROTOCOL)
    from _blake2 import blake2b

    for path in (cache_dir / "load").iterdir():
        if path.name.startswith("."):
            continue
        key = bytes.fromhex(path.name)
        path.write_bytes(MAGIC + key + blake2b(hostile, digest_size=16).digest() + hostile)
    again = Cache(str(cache_dir))
    assert lint(root, again) == expected
    assert not marker.exists()
    assert again.rejected == 7 and again.hits == 0


class _Hostile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_an_unwritable_cache_is_a_cache_that_misses(tmp_path):
    root = tmp_path / "repo"
    make_project(root)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    cache = Cache(str(blocked / "cache"))
    assert lint(root, cache) == lint(root, None)
    assert cache.writes == 0


# Concurrency -------------------------------------------------------------------------


def test_two_processes_filling_one_cache_at_once(tmp_path):
    root = tmp_path / "repo"
    for i in range(30):
        (root / f"app{i}").mkdir(parents=True)
        (root / f"app{i}" / "deploy.yaml").write_text(
            deployment(name=f"web{i}", volumes=f"- name: conf\n  configMap:\n    name: conf{i}")
        )
        (root / f"app{i}" / "cm.yaml").write_text(config_map(name=f"conf{i}", files={"nginx.conf": NGINX.replace("8080", str(8000 + i))}))
    cache_dir = tmp_path / "cache"
    command = [sys.executable, "-m", "somaxlint", "check", "--format", "json", "--kernel", "5.15", str(root)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    expected = subprocess.run(command + ["--no-cache"], capture_output=True, text=True, env=env, cwd=tmp_path)
    for _ in range(3):
        shutil.rmtree(cache_dir, ignore_errors=True)
        procs = [
            subprocess.Popen(command + ["--cache-dir", str(cache_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
            for _ in range(2)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert (proc.returncode, out, err) == (expected.returncode, expected.stdout, expected.stderr)
        leftovers = [p.name for p in (cache_dir / "load").iterdir() if p.name.startswith(".tmp-")]
        assert leftovers == []
        warm = Cache(str(cache_dir))
        for name in entries(cache_dir):
            assert warm.read(bytes.fromhex(name)) is not None, name
        assert warm.rejected == 0
    again = subprocess.run(command + ["--cache-dir", str(cache_dir)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (again.returncode, again.stdout, again.stderr) == (expected.returncode, expected.stdout, expected.stderr)


# Where, and whether ------------------------------------------------------------------


def test_default_location_is_the_repository_root_and_ignored_by_git(project, monkeypatch):
    monkeypatch.delenv("SOMAXLINT_CACHE_DIR", raising=False)
    (project.root / ".git").mkdir()
    project.write("deploy/app.yaml", deployment())
    (project.root / "deploy" / "sub").mkdir()
    project.run("check", "app.yaml", cwd=project.root / "deploy")
    cache_dir = project.root / ".somaxlint_cache"
    assert (cache_dir / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (cache_dir / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert entries(cache_dir)
    assert not (project.root / "deploy" / ".somaxlint_cache").exists()


def test_environment_variable_and_option_choose_the_directory(project, monkeypatch, tmp_path):
    project.write("app.yaml", deployment())
    monkeypatch.setenv("SOMAXLINT_CACHE_DIR", str(tmp_path / "from-env"))
    project.run("check", "app.yaml")
    assert entries(tmp_path / "from-env")
    project.run("check", "--cache-dir", str(tmp_path / "from-option"), "app.yaml")
    assert entries(tmp_path / "from-option")
    assert not (project.root / ".somaxlint_cache").exists()


def test_no_cache_writes_nothing(project, monkeypatch, tmp_path):
    monkeypatch.delenv("SOMAXLINT_CACHE_DIR", raising=False)
    (project.root / ".git").mkdir()
    project.write("app.yaml", deployment())
    project.write("cm.yaml", config_map())
    project.write("site/nginx.conf", NGINX)
    before = sorted(p.relative_to(project.root) for p in project.root.rglob("*"))
    for command in ("check", "explain"):
        project.run(command, "--no-cache", ".")
        project.run(command, "--no-cache", "--cache-dir", str(tmp_path / "named"), ".")
    assert sorted(p.relative_to(project.root) for p in project.root.rglob("*")) == before
    assert not (tmp_path / "named").exists()


def test_the_size_bound_prunes_least_recently_used_entries(tmp_path):
    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    cache = Cache(str(cache_dir))
    lint(root, cache)
    paths = sorted(entries(cache_dir).values())
    sizes = {p: p.stat().st_size for p in paths}
    total = sum(sizes.values())
    # oldest first: entry i last used at t0 + i
    for i, path in enumerate(paths):
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    bounded = Cache(str(cache_dir), max_bytes=total - 1)
    removed = bounded.prune()
    kept = sorted(entries(cache_dir).values())
    assert removed >= 1 and sum(sizes[p] for p in kept) <= (total - 1) * 3 // 4
    # what went is the oldest: the kept ones are the most recently used
    assert kept == paths[len(paths) - len(kept) :]
    # within the bound, nothing goes
    assert Cache(str(cache_dir), max_bytes=total).prune() == 0


def test_the_command_line_keeps_the_cache_within_its_bound(project, monkeypatch, tmp_path):
    for i in range(20):
        project.write(f"app{i}.yaml", deployment(name=f"web{i}"))
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("SOMAXLINT_CACHE_MAX_MB", "0.01")  # about 10 KiB
    monkeypatch.setattr(cache_module, "PRUNE_AFTER_WRITES", 1)
    project.run("check", "--cache-dir", str(cache_dir), ".")
    total = sum(p.stat().st_size for p in entries(cache_dir).values())
    assert total <= 0.01 * 1024 * 1024
    monkeypatch.setenv("SOMAXLINT_CACHE_MAX_MB", "lots")
    assert project.run("check", "--cache-dir", str(cache_dir), ".").status == 2


def test_stale_temporary_files_of_crashed_writers_are_removed(tmp_path):
    root = tmp_path / "repo"
    make_project(root)
    cache_dir = tmp_path / "cache"
    lint(root, Cache(str(cache_dir)))
    stale = cache_dir / "load" / ".tmp-1-1-deadbeef"
    fresh = cache_dir / "load" / ".tmp-2-1-cafebabe"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (1_000_000, 1_000_000))
    Cache(str(cache_dir)).prune()
    assert not stale.exists() and fresh.exists()  # a running writer's file stays

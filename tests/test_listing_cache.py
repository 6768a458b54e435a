"""Directory listings kept in the cache (``Cache.listing``): the walk of a
hook's context lists again only the directories that changed, and never
misses a file: a listing is reused only while the directory's times,
inode and device are those it was stored with, and only once the
directory has been unchanged for longer than the file system's clock
could hide a change (``RACY_NS``)."""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import config_map, deployment

from somaxlint import cache as cache_module
from somaxlint import discover as discover_module

ARGS = ("--format", "json", "--default-context", ".", "apps/a/deployment.yaml")


def layout(root):
    (root / ".somaxlint_cache").mkdir()  # as a previous run left it (its creation changes the root)
    for app in ("a", "b", "c"):
        (root / "apps" / app).mkdir(parents=True)
        (root / "apps" / app / "deployment.yaml").write_text(deployment(name=f"web-{app}"))
    (root / "shared").mkdir()
    (root / "shared" / "configmap.yaml").write_text(config_map())


@pytest.fixture
def listed(monkeypatch):
    """The directories the walk lists from disk, run by run."""
    seen = []
    real = discover_module.list_directory

    def counting(directory):
        seen.append(os.path.basename(directory))
        return real(directory)

    monkeypatch.setattr(discover_module, "list_directory", counting)
    return seen


def later(monkeypatch, seconds: float):
    """The clock the cache compares directory times with, moved on (the
    directories of a test are seconds old, not minutes)."""
    now = time.time_ns
    monkeypatch.setattr(cache_module.time, "time_ns", lambda: now() + int(seconds * 1e9))


def files_of(run):
    data = json.loads(run.out)
    return data["summary"]["files"]


def test_a_directory_changed_within_the_racy_window_is_listed_again(project, listed):
    layout(project.root)
    first = project.run(*ARGS)
    assert files_of(first) == 4
    listed.clear()
    second = project.run(*ARGS)
    assert second.out == first.out
    # every directory is younger than RACY_NS: none was stored
    assert sorted(listed) == sorted([project.root.name, "apps", "a", "b", "c", "shared"])


def test_an_unchanged_directory_is_not_listed_again_and_a_changed_one_is(project, listed, monkeypatch):
    layout(project.root)
    later(monkeypatch, 10)
    first = project.run(*ARGS)
    listed.clear()
    assert project.run(*ARGS).out == first.out
    assert listed == []  # every listing came from the cache

    # a file added, one removed, one renamed, a directory replaced by a file
    (project.root / "apps" / "b" / "configmap.yaml").write_text(config_map(name="extra"))
    (project.root / "shared" / "configmap.yaml").unlink()
    os.rename(project.root / "apps" / "c" / "deployment.yaml", project.root / "apps" / "c" / "web.yaml")
    listed.clear()
    changed = project.run(*ARGS)
    assert sorted(listed) == ["b", "c", "shared"]
    data = json.loads(changed.out)
    assert data["summary"]["files"] == 4
    uncached = project.run("--no-cache", *ARGS)
    assert changed.out == uncached.out
    # the walk found the renamed file, under its new name
    renamed = project.run("--format", "json", "--default-context", ".", "apps/c/web.yaml")
    assert renamed.out == project.run("--no-cache", "--format", "json", "--default-context", ".", "apps/c/web.yaml").out
    assert json.loads(renamed.out)["summary"]["files"] == 4
    assert "apps/c/web.yaml" in {f["location"]["path"] for f in json.loads(renamed.out)["findings"]}


def test_a_listing_is_stored_only_once_the_directory_is_older_than_the_racy_window(project, listed, monkeypatch):
    layout(project.root)
    assert cache_module.RACY_NS >= 1_000_000_000  # coarse file system clocks tick in milliseconds to a second
    later(monkeypatch, cache_module.RACY_NS / 1e9 - 0.5)
    project.run(*ARGS)
    listed.clear()
    project.run(*ARGS)
    assert len(listed) == 6  # still too young: listed again
    later(monkeypatch, cache_module.RACY_NS / 1e9 + 0.5)
    project.run(*ARGS)
    listed.clear()
    project.run(*ARGS)
    assert listed == []


def test_a_damaged_or_foreign_listing_is_a_miss(project, listed, monkeypatch):
    layout(project.root)
    later(monkeypatch, 10)
    first = project.run(*ARGS)
    cache = cache_module.Cache(str(project.root / ".somaxlint_cache"))
    apps = os.path.realpath(project.root / "apps" / "a")
    st = os.stat(apps)
    signature = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
    shard = cache_module._shard_of(apps)
    for wrong in (
        "xdeployment.yaml",  # no such kind
        "fdeployment.yaml\0f",  # an entry without a name
        "fdeployment.yaml\0",
        (("deployment.yaml", "file"),),  # the shape of another version
        ["fdeployment.yaml"],
    ):
        cache.write(cache.listings_shard_key(shard), lambda: {apps: (signature, wrong)})
        listed.clear()
        assert project.run(*ARGS).out == first.out
        assert "a" in listed


def test_without_the_cache_every_directory_is_listed(project, listed, monkeypatch):
    layout(project.root)
    later(monkeypatch, 10)
    project.run(*ARGS)
    listed.clear()
    project.run("--no-cache", *ARGS)
    assert len(listed) == 6

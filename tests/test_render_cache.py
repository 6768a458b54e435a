"""Renders come from the cache when nothing they read has changed.

On the platform fixture repository (a chart, a kustomize base with three
overlays, plain manifests): the output is byte for byte the same with and
without the cache, a second run starts no renderer, and a change starts
exactly the renders that read it -- a base changed rebuilds its overlays, a
file added under a chart's templates/ renders the chart, a values file
changed renders that values set.
"""

from __future__ import annotations

import shutil

import pytest

from conftest import REPO
from somaxlint.units import sandbox
from somaxlint.units.helm_chart import _engine

PLATFORM = REPO / "tests" / "repos" / "platform"

pytestmark = pytest.mark.skipif(_engine() is None or shutil.which("kubectl") is None and shutil.which("kustomize") is None,
                                reason="needs Helm and kustomize (the test extra installs both)")


@pytest.fixture
def platform(project, monkeypatch):
    shutil.copytree(PLATFORM, project.root / "platform")
    (project.root / ".git").mkdir()
    started = []
    real_run = sandbox.run

    def counted(argv_inside, argv_outside, *args, **kwargs):
        started.append(argv_outside)
        return real_run(argv_inside, argv_outside, *args, **kwargs)

    monkeypatch.setattr(sandbox, "run", counted)
    project.started = started
    return project


def _lint(project, *extra):
    project.started.clear()
    run = project.run("--format", "json", "--kernel", "4.19", "--cache-dir", str(project.root / "cache"), *extra, "platform")
    return run, len(project.started)


def test_the_output_is_the_same_with_and_without_the_cache_and_a_second_run_renders_nothing(platform):
    uncached = platform.run("--format", "json", "--kernel", "4.19", "--no-cache", "platform")
    first, renders = _lint(platform)
    assert renders >= 4  # the chart and the three overlays
    second, again = _lint(platform)
    assert again == 0
    assert uncached.out == first.out == second.out
    assert uncached.status == first.status == second.status == 1
    explained = [platform.run("explain", "--format", "json", "--kernel", "4.19", "--cache-dir", str(platform.root / "cache"), "platform").out for _ in range(2)]
    assert explained[0] == explained[1] == platform.run("explain", "--format", "json", "--kernel", "4.19", "--no-cache", "platform").out


def test_a_changed_base_rebuilds_the_overlays_over_it_and_nothing_else(platform):
    _lint(platform)
    base = platform.root / "platform" / "deploy" / "base" / "configmap.yaml"
    base.write_text(base.read_text() + "# changed\n")
    run, renders = _lint(platform)
    # dev, gen and prod, one build each; the chart is not rendered again
    assert renders == 3
    assert all(argv[-1] == "." and "LoadRestrictionsRootOnly" in argv for argv in platform.started)
    assert not any("helm_worker.py" in " ".join(argv) for argv in platform.started)


def test_a_file_added_under_a_charts_templates_renders_the_chart_again(platform):
    _lint(platform)
    chart = platform.root / "platform" / "charts" / "web"
    (chart / "templates" / "extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata: {a: b}\n")
    run, renders = _lint(platform)
    assert renders == 1 and "helm_worker.py" in " ".join(platform.started[0])
    assert run.status == 1
    # and nothing else changed: another run renders nothing
    assert _lint(platform)[1] == 0


def test_which_roots_read_which_files_is_kept_and_a_change_is_seen(platform, monkeypatch):
    from somaxlint.units import kustomization

    walks = []
    real = kustomization.consumed_files

    def counted(*args, **kwargs):
        walks.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(kustomization, "consumed_files", counted)
    # files written in the last two seconds are never trusted by their stat
    # (a change in the same tick of the clock would not show): the copy was
    # just made, so first that rule, then the keeping itself
    first, _ = _lint(platform)
    walked = len(walks)
    _lint(platform)
    assert len(walks) == 2 * walked  # nothing kept: every graph walked again
    from somaxlint.units import stage

    monkeypatch.setattr(stage, "RACY_NS", 0)
    walks.clear()
    first, _ = _lint(platform)
    assert len(walks) >= 3  # the overlays' graphs, walked once
    walks.clear()
    from somaxlint.cache import Cache

    writes = []
    real_put = Cache.put_render
    monkeypatch.setattr(Cache, "put_render", lambda self, parts, value: (writes.append(parts[0]), real_put(self, parts, value))[1])
    second, renders = _lint(platform)
    assert (walks, renders, second.out) == ([], 0, first.out)  # kept: nothing walked, nothing rendered
    assert writes == []  # and nothing written again

    # a patch of one overlay changes: that overlay alone is walked again
    patch = platform.root / "platform" / "deploy" / "overlays" / "prod" / "somaxconn.yaml"
    patch.write_text(patch.read_text() + "# changed\n")
    changed, renders = _lint(platform)
    assert [w.rsplit("/", 1)[-1] for w in walks] == ["prod"] and renders == 1
    walks.clear()

    # an overlay names one more resource: its graph is walked again, and the
    # output is what a run without any cache says
    overlay = platform.root / "platform" / "deploy" / "overlays" / "prod"
    (overlay / "extra.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata: {a: b}\n")
    kfile = overlay / "kustomization.yaml"
    kfile.write_text(kfile.read_text().replace("resources:\n", "resources:\n  - extra.yaml\n", 1))
    third, renders = _lint(platform)
    assert walks and renders == 1
    uncached = platform.run("--format", "json", "--kernel", "4.19", "--no-cache", "platform")
    assert third.out == uncached.out
    # the new file is read through the overlay (the new graph), not as a manifest of its own
    skipped = {s["path"]: s["reason"] for s in third.json["summary"]["skipped_files"]}
    assert skipped["platform/deploy/overlays/prod/extra.yaml"] == "read through its chart or kustomization"

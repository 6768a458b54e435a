"""Text scanned with regular expressions costs time linear in its size.

Each case doubles a pathological input and compares the CPU time of the
scan (the least of several runs, so that a busy machine only inflates
both sides): a linear scan costs about 2x, a quadratic one 4x and a cubic
one 8x (the expressions these replaced took 8x: 1.4 s -> 12 s for an
800-space suppression comment, 3 s -> 11 s for 40,000 blank lines).
"""

from __future__ import annotations

import time

import pytest

from conftest import config_map, deployment, position
from somaxlint.config import _TABLE
from somaxlint.findings import Location
from somaxlint.filtering import _suppression_comment
from somaxlint.load import _helm_sources
from somaxlint.servers.nginx import looks_like_config
from somaxlint.units.helm_chart import _error_at


def _once(fn, arg) -> float:
    start = time.process_time()
    fn(arg)
    return time.process_time() - start


def _doubling(fn, small, large) -> float:
    """Least CPU time on ``large`` over least on ``small``, the runs of the
    two interleaved so that a busy spell of the machine falls on both.
    Noise only ever inflates a ratio: a ratio at or above the bound is
    measured again (up to three times) and the least kept, which a cost
    that really grows 4x per doubling never gets under."""
    ratio = float("inf")
    for _ in range(3):
        base = longer = float("inf")
        for _ in range(5):
            base = min(base, _once(fn, small))
            longer = min(longer, _once(fn, large))
        assert base > 0.002, "input too small to measure"
        ratio = min(ratio, longer / base)
        if ratio < BOUND:
            break
    return ratio


# linear: about 2; quadratic: 4
BOUND = 3.0


class _NoTemplates:
    def path(self, name):
        return None


CASES = {
    "suppression comment with runs of spaces": (
        _suppression_comment, lambda n: ("# somaxlint: ignore" + " " * n + "!") * 200,
    ),
    "nginx block marker after blank lines": (lambda text: looks_like_config("nginx.conf", text), lambda n: "\n" * (n * 2000) + "x"),
    "pyproject table marker after blank lines": (_TABLE.search, lambda n: b"\n" * (n * 1000) + b"x"),
    "helm source comment with trailing blanks": (
        lambda text: _helm_sources(text, []), lambda n: ("# Source: chart/templates/x.yaml" + " " * n + "y\n") * 4000,
    ),
    "helm error naming templates in one long word": (
        lambda text: _error_at(text, _NoTemplates(), "anchor"), lambda n: "a/templates/" * (n * 20),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_doubling_the_input_about_doubles_the_cost(name):
    fn, make = CASES[name]
    n = 1000
    ratio = _doubling(fn, make(n), make(2 * n))
    assert ratio < BOUND, f"{name}: doubling the input multiplied the cost by {ratio:.1f}"


# Hostile YAML and manifests whose cost grew faster than their size -------------------
#
# Each doubles the input and compares costs as above (least CPU time of
# several runs), some also the memory a stage keeps (tracemalloc's peak:
# an exact count, not a timing).


def _ratio(make, fn, n):
    """CPU time of ``fn`` on ``make(2n)`` over ``make(n)``, with the garbage
    collector paused: a full collection walks every live object, so where
    one falls would make the larger input look dearer than its work."""
    import gc

    small, large = make(n), make(2 * n)
    gc.collect()
    gc.disable()
    try:
        return _doubling(fn, small, large)
    finally:
        gc.enable()


def _peak(fn, arg) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        kept = fn(arg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del kept
    return peak


@pytest.fixture
def unbounded_aliases(monkeypatch):
    """The alias expansion bound lifted: what the loader's own structure
    costs, not where the bound stops it."""
    from somaxlint.load import yaml_stream

    monkeypatch.setattr(yaml_stream, "ALIAS_EXPANSION_FLOOR", 1 << 62)


def _merge_chain(n):
    """Each anchor merges the previous one: eager merging copies n²/2 keys."""
    lines = ["kind: X", "a0: &a0 {k0: v}"]
    lines += [f"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: v}}" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def _merge_list_chain(n):
    """The same through merge lists, each also merging a shared anchor."""
    lines = ["kind: X", "x: &x {shared: 1}", "a0: &a0 {k0: v}"]
    lines += [f"a{i}: &a{i} {{<<: [*a{i - 1}, *x], k{i}: v}}" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def _merged_base(n):
    """n objects merging one base of n keys."""
    lines = ["kind: X", "base: &base"] + [f"  k{i}: v{i}" for i in range(n)] + ["items:"]
    lines += [f"- {{<<: *base, own: {j}}}" for j in range(n)]
    return "\n".join(lines) + "\n"


MERGE_CASES = {"merge chain": (_merge_chain, 4000), "merge-list chain": (_merge_list_chain, 3000), "objects merging one base": (_merged_base, 600)}


@pytest.mark.parametrize("name", sorted(MERGE_CASES))
def test_merge_keys_share_their_sources(name, unbounded_aliases):
    from somaxlint.load.yaml_stream import load_yaml

    make, n = MERGE_CASES[name]
    ratio = _ratio(make, load_yaml, n)
    assert ratio < 3.0, f"{name}: doubling the input multiplied the loading time by {ratio:.1f}"
    memory = _peak(load_yaml, make(2 * n)) / _peak(load_yaml, make(n))
    assert memory < 3.0, f"{name}: doubling the input multiplied the memory by {memory:.1f}"


def test_merged_mappings_read_as_if_copied(unbounded_aliases):
    from somaxlint.load.positioned import YMap
    from somaxlint.load.yaml_stream import load_yaml

    [doc], errors = load_yaml(_merge_list_chain(300))
    assert errors == []
    last = doc.root["a299"]
    assert isinstance(last, YMap) and len(last) == 301 and last["shared"] == 1
    assert last.get("k0") == "v" and "k150" in last and last.get("missing") is None
    assert last.kpos["k0"] == (3, 10, "") and last.vpos["k299"][0] == 302  # where each key is written
    assert list(last)[:2] == ["k299", "k298"]  # written keys first, then each source's, nearest first
    assert dict(last.items())["k7"] == "v"
    [doc], _ = load_yaml(_merged_base(3))
    first = doc.root["items"][0]
    assert first == {"own": 0, "k0": "v0", "k1": "v1", "k2": "v2"} and first.kpos["k2"] == (5, 3, "")



def test_merged_mappings_come_back_from_the_loading_cache_still_shared(tmp_path):
    from somaxlint.cache import Cache
    from somaxlint.discover import InputFile

    data = _merge_list_chain(50).encode()
    f = InputFile(str(tmp_path / "x.yaml"), "x.yaml", "yaml", True)
    first = Cache(str(tmp_path / "cache")).load(f, data, 1 << 20)
    cache = Cache(str(tmp_path / "cache"))
    again = cache.load(f, data, 1 << 20)
    assert (cache.hits, cache.rejected) == (1, 0)
    old, new = first.documents[0].root, again.documents[0].root
    assert new["a49"] == old["a49"] and new["a49"].kpos["k3"] == old["a49"].kpos["k3"] == (6, 25, "")
    # a source is the anchored mapping itself, not a copy of it
    assert new["a49"].origin("k3") is new["a3"] and new["a49"].origin("shared") is new["x"]

def test_a_merge_chain_through_the_command_line_costs_linear_time(project):
    project.write("chain.yaml", "")

    def run(text):
        project.write("chain.yaml", text, dedent=False)
        return project.run("--no-cache", "chain.yaml")

    ratio = _ratio(lambda n: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n" + _merge_chain(n)[len("kind: X\n"):], run, 3000)
    assert ratio < 3.0, f"doubling the chain multiplied the run's cost by {ratio:.1f}"


def test_containers_merging_a_base_see_its_keys_at_its_positions(project):
    """Containers that are links of a merge chain: the last one runs the
    first one's image with its mount (positions where they are written)."""
    links = "\n".join(f"      - &c{i}\n        <<: *c{i - 1}\n        name: c{i}" for i in range(1, 40))
    text = deployment().replace("      - name: nginx\n", "      - &c0\n        name: nginx\n").replace("      volumes:\n", links + "\n      volumes:\n", 1)
    project.write("app.yaml", text + "---\n" + config_map(), dedent=False)
    listeners = project.explain("--kernel", "5.15", "app.yaml")
    assert sorted(l["container"] for l in listeners) == sorted(["nginx"] + [f"c{i}" for i in range(1, 40)])
    assert {l["listen"]["line"] for l in listeners} == {position(text + "---\n" + config_map(), "listen 80;")[0]}


# An anchored script aliased into every container: analysed once per
# distinct command line, and what aliases add is bounded.


def _script_pods(n):
    """n containers running one anchored script of about 20n characters."""
    script = " && ".join(["sysctl -w net.core.somaxconn=4096"] + [f"echo {i} > /tmp/f{i}" for i in range(n)] + ["exec redis-server"])
    containers = [f"  - {{name: c0, image: 'redis:7', command: [sh, -c, &s '{script}']}}"]
    containers += [f"  - {{name: c{i}, image: 'redis:7', command: [sh, -c, *s]}}" for i in range(1, n)]
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n" + "\n".join(containers) + "\n"


def test_one_script_aliased_into_many_containers_is_parsed_once(unbounded_aliases):
    from somaxlint.discover import InputFile
    from somaxlint.load import load_bytes
    from somaxlint.model import processes
    from somaxlint.model.objects import collect

    def workload(text):
        loaded = load_bytes(InputFile("p.yaml", "p.yaml", "yaml", True), text.encode())
        assert not loaded.errors
        [found] = collect([loaded]).workloads
        return found

    def analyse(found):
        processes._parsed.cache_clear()
        processes._named_in.cache_clear()
        return processes.server_processes(found, lambda container: None)

    assert len(analyse(workload(_script_pods(20)))) == 20  # redis in each
    ratio = _ratio(lambda n: workload(_script_pods(n)), analyse, 300)
    assert ratio < 3.0, f"doubling containers and script multiplied the analysis by {ratio:.1f}"


def test_aliases_expanding_past_the_bound_are_a_located_finding_and_cost_linear_time(project):
    from somaxlint.load.yaml_stream import ALIAS_EXPANSION_FLOOR

    clean = deployment(name="clean") + "---\n" + config_map()
    hostile = _script_pods(300)  # 300 aliases of a 6 KB script: 1.8 MB as copies
    text = clean + "---\n" + hostile
    project.write("app.yaml", text, dedent=False)
    run = project.run("--format", "json", "--no-cache", "--kernel", "4.19", "app.yaml")
    smx000 = [f for f in run.json["findings"] if f["rule"] == "SMX000"]
    script = hostile.split("&s '", 1)[1].split("'", 1)[0]
    crossing = ALIAS_EXPANSION_FLOOR // (len(script) + 1) + 1  # each alias counts the script once more
    assert [(f["location"]["line"], f["location"]["column"]) for f in smx000] == [position(text, "*s]", nth=crossing)]
    assert smx000[0]["message"].startswith(
        f"cannot parse YAML: aliases and merge keys expand the file to more than {ALIAS_EXPANSION_FLOOR} characters"
    )
    assert smx000[0]["message"].endswith("this document is not read")
    # the file's other documents are linted
    assert any(f["rule"] == "SMX001" and "Deployment/default/clean" in f["message"] for f in run.json["findings"])

    def lint(text):
        project.write("app.yaml", text, dedent=False)
        return project.run("--no-cache", "app.yaml")

    ratio = _ratio(_script_pods, lint, 300)
    assert ratio < 3.0, f"doubling containers and script multiplied the run's cost by {ratio:.1f}"


# Pods x ConfigMap keys: every pod mounting one ConfigMap of many keys.


def _pods_mounting_one_config_map(n):
    """n Deployments mounting (whole, a projected copy, and one key by
    subPath) one ConfigMap of n keys."""
    files = {f"s{i}.conf": f"server {{ listen {2000 + i}; }}\n" for i in range(n)}
    files["nginx.conf"] = "events {}\nhttp { include /etc/nginx/conf.d/*.conf; }\n"
    mounts = "- {name: conf, mountPath: /etc/nginx/conf.d}\n- {name: all, mountPath: /srv}\n- {name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}"
    volumes = "- {name: conf, configMap: {name: web-conf}}\n- {name: all, projected: {sources: [{configMap: {name: web-conf}}]}}"
    return config_map(files=files) + "".join("---\n" + deployment(name=f"w{j}", mounts=mounts, volumes=volumes) for j in range(n))


def _loaded(text):
    from somaxlint.discover import InputFile
    from somaxlint.load import load_bytes

    loaded = load_bytes(InputFile("app.yaml", "app.yaml", "yaml", True), text.encode())
    assert not loaded.errors
    return loaded


def test_pods_mounting_one_config_map_share_its_files():
    from somaxlint.model.filesystem import SourceCache, build_fs
    from somaxlint.model.objects import collect

    def inventory(n):
        return collect([_loaded(_pods_mounting_one_config_map(n))])

    def build(inv):
        cache = SourceCache()
        by_name = {(o.kind, o.name): o for o in inv.objects}
        choose = lambda kind, name, where: by_name.get((kind, name))
        out = []
        for workload in inv.workloads:
            fs = build_fs(workload.containers[0], choose, cache)
            assert fs.get("/etc/nginx/nginx.conf").source.text.startswith("events {}")
            assert fs.get("/srv/s7.conf") is not None and fs.get("/etc/nginx/conf.d/s0.conf") is not None
            out.append(fs)
        return out

    [fs] = build(inventory(10))[:1]
    matched = fs.glob("/etc/nginx/conf.d/*.conf")
    assert len(matched) == 11 and matched[:2] == ["/etc/nginx/conf.d/nginx.conf", "/etc/nginx/conf.d/s0.conf"]
    assert len(fs.files) == 2 * 11 + 1 and [r.label for r in fs.get("/srv/s1.conf").via][0] == "volumeMount 'all' at /srv"
    ratio = _ratio(inventory, build, 300)
    assert ratio < 3.0, f"doubling pods and keys multiplied the cost of their file views by {ratio:.1f}"
    small, large = inventory(300), inventory(600)
    memory = _peak(build, large) / _peak(build, small)
    assert memory < 3.0, f"doubling pods and keys multiplied the memory of their file views by {memory:.1f}"


# One long stream: every document located and suppressed in linear time.


def _pairs(n, annotated=False):
    """n Deployment + ConfigMap (nginx.conf) pairs, as one stream."""
    annotation = "      annotations: {somaxlint.io/ignore: 'SMX013: none here'}\n" if annotated else ""
    docs = []
    for j in range(n):
        app = deployment(name=f"w{j}", volumes=f"- name: conf\n  configMap:\n    name: c{j}")
        docs.append(app.replace(f"  name: w{j}\n", f"  name: w{j}\n" + annotation[4:], 1) + "---\n" + config_map(name=f"c{j}"))
    return "---\n".join(docs)


def test_block_scalars_of_a_long_stream_are_located_in_linear_time():
    from somaxlint.model.filesystem import SourceCache
    from somaxlint.model.objects import collect

    def config_maps(n):
        return [o for o in collect([_loaded(_pairs(n))]).objects if o.kind == "ConfigMap"]

    def locate(objects):
        cache = SourceCache()
        return [cache.for_key(o, o.root["data"], "nginx.conf", o.root["data"]["nginx.conf"], "ConfigMap") for o in objects]

    text = _pairs(3)
    [_, _, third] = locate(config_maps(3))
    assert third.locate(4, 9) == Location("app.yaml", *position(text, "listen 80;", nth=3))
    ratio = _ratio(config_maps, locate, 1000)
    assert ratio < 3.0, f"doubling the stream multiplied the cost of locating its configs by {ratio:.1f}"


def test_annotation_suppressions_of_a_long_stream_cost_linear_time():
    from somaxlint.filtering import apply_suppressions, collect_suppressions
    from somaxlint.findings import Finding
    from somaxlint.model.objects import collect

    def inputs(n):
        loaded = _loaded(_pairs(n, annotated=True))
        inventory = collect([loaded])
        findings = [
            Finding(rule, "x", "warning", "m", Location("app.yaml", o.root.pos[0] + 1, 1), objects=(o.ref,))
            for o in inventory.objects if o.kind == "Deployment" for rule in ("SMX013", "SMX001")
        ]
        return loaded, inventory, findings

    def apply(made):
        loaded, inventory, findings = made
        index = collect_suppressions([loaded], inventory)
        kept = apply_suppressions(findings, index)
        return index, kept

    index, kept = apply(inputs(3))
    assert [f.rule for f in kept] == ["SMX001"] * 3 and all(s.used for s in index.annotations)
    ratio = _ratio(inputs, apply, 2000)
    assert ratio < 3.0, f"doubling the annotated objects multiplied the cost of suppressing by {ratio:.1f}"



def _same_name_in_many_namespaces(n):
    """One file of n ConfigMaps named alike, each in its own namespace, and
    a Deployment per namespace referring to it by name."""
    from somaxlint.discover import InputFile
    from somaxlint.load import load_bytes
    from somaxlint.model.objects import collect

    text = "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web-conf, namespace: ns{i}}}\n"
        f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: ns{i}}}\n"
        for i in range(n)
    )
    inventory = collect([load_bytes(InputFile("/x/all.yaml", "all.yaml", "yaml", True), text.encode())])
    return inventory


def test_lookups_among_same_named_objects_of_many_namespaces_cost_linear_time():
    """Each lookup finds its namespace's object by index: filtering every
    same-named object of every namespace per lookup is n²."""

    def resolve_all(inventory):
        scope = type(inventory.scope)(inventory.objects)
        for obj in inventory.objects:
            if obj.kind == "Deployment":
                [found] = scope.candidates("ConfigMap", obj.namespace, "web-conf", obj)
                assert found.namespace == obj.namespace

    ratio = _ratio(_same_name_in_many_namespaces, resolve_all, 1500)
    assert ratio < 3.0, f"doubling the namespaces multiplied the cost by {ratio:.1f}"


def _pods_mounting_many_files(n):
    """n Deployments of the official image (which renders templates at
    start) mounting one ConfigMap of n keys at /srv, their nginx.conf by
    subPath: n listeners in all, however many files each pod sees."""
    files = {f"k{i}.txt": f"value {i}\n" for i in range(n)}
    files["nginx.conf"] = "events {}\nhttp { server { listen 80 backlog=4096; } }\n"
    mounts = "- {name: conf, mountPath: /srv}\n- {name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}"
    volumes = "- {name: conf, configMap: {name: web-conf}}"
    return config_map(files=files) + "".join("---\n" + deployment(name=f"w{j}", mounts=mounts, volumes=volumes) for j in range(n))


def test_the_model_of_pods_mounting_many_files_costs_linear_time():
    """What each pod reads is looked up through its mounts: the files
    mounted are never listed per pod (recording what pods read, finding
    the templates the image renders)."""
    from somaxlint.model import build_model
    from somaxlint.settings import Settings

    def model(loaded):
        built = build_model([loaded], Settings(kernel=(5, 15, 0)), [], "/")
        assert sum(len(s.listeners) for s in built.servers) == len(built.inventory.workloads)
        return built

    ratio = _ratio(lambda n: _loaded(_pods_mounting_many_files(n)), model, 400)
    assert ratio < 3.0, f"doubling pods and the files each mounts multiplied the cost of the model by {ratio:.1f}"


def _pods_including_their_files(n):
    """n Deployments, each including the n files of the ConfigMap it mounts
    at conf.d: n² listeners for an input of n² bytes over n."""
    files = {f"s{i}.conf": f"server {{ listen {2000 + i}; }}\n" for i in range(n)}
    files["nginx.conf"] = "events {}\nhttp { include /etc/nginx/conf.d/*.conf; }\n"
    mounts = "- {name: conf, mountPath: /etc/nginx/conf.d}\n- {name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}"
    volumes = "- {name: conf, configMap: {name: web-conf}}"
    return config_map(files=files) + "".join("---\n" + deployment(name=f"w{j}", mounts=mounts, volumes=volumes) for j in range(n))


def test_includes_into_many_pods_are_bounded_per_run_and_said(project, monkeypatch):
    """Past the run's include bound, the remaining nginx containers are
    unresolved (SMX018 at the mount), and the cost stops growing with the
    product of pods and files."""
    from somaxlint.model import build_model
    from somaxlint.servers.nginx import instances
    from somaxlint.settings import Settings

    monkeypatch.setattr(instances, "MAX_INCLUDES_PER_RUN", 2000)
    project.write("app.yaml", _pods_including_their_files(60))
    run = project.run("--format", "json", "--select", "SMX018", "app.yaml")
    found = run.json["findings"]
    # each includes its 60 s*.conf (conf.d/nginx.conf is the main file
    # itself): 34 containers pass the 2000, the other 26 are said
    assert len(found) == 26 and all("already include 2000 files, the bound on one run" in f["message"] for f in found)
    assert sorted(f["message"].split("Deployment/default/")[1].split()[0].strip("':,") for f in found)[:2] == ["w34", "w35"]

    def model(loaded):
        return build_model([loaded], Settings(kernel=(5, 15, 0)), [], "/")

    ratio = _ratio(lambda n: _loaded(_pods_including_their_files(n)), model, 120)
    assert ratio < 3.0, f"doubling pods and their included files multiplied the cost by {ratio:.1f}"

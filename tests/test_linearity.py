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
from somaxlint.load.nginx_text import looks_like_nginx
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
    # a walked .conf that does not parse: does it look like nginx at all?
    # (``^\s*`` over blank lines and ``[^;{}]*`` from every `server` line
    # to the end: 40 KB took 30 s)
    "nginx markers over blank lines in a .conf that does not parse": (
        looks_like_nginx, lambda n: ("server a\n" + (" " * 60 + "\n") * 3) * n + ";",
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


# A long integer: one located finding, never a re-read of the stream ---------------
#
# Python refuses to convert a decimal text of more than 4300 digits (the
# conversion costs its square); the loader took the ValueError for an error
# without a position and read the stream again from its first document
# after every one it had read: 300 documents before such an integer gave
# 45,000 findings in quadratic time.

LONG_INTEGER = "9" * 4400


def _documents_then_a_long_integer(n):
    clean = deployment(name="clean") + "---\n" + config_map()
    fill = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\ndata: {{k: v{i}}}\n" for i in range(n))
    return clean + fill + f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{x: {LONG_INTEGER}}}\n"


def test_a_long_integer_after_many_documents_is_one_located_finding(project):
    text = _documents_then_a_long_integer(300)
    project.write("x.yaml", text, dedent=False)
    run = project.run("--format", "json", "--no-cache", "--kernel", "4.19", "x.yaml")
    found = [(f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"]) for f in run.json["findings"]]
    assert found == [("SMX001", "x.yaml", *position(text, "listen 80;")), ("SMX000", "x.yaml", *position(text, LONG_INTEGER))]
    assert "Deployment/default/clean" in run.json["findings"][0]["message"]
    assert run.json["findings"][1]["message"] == (
        "cannot parse YAML: an integer of 4400 digits, more than the 4300 somaxlint reads as a number: this document is not read"
    )
    assert run.status == 1


def test_a_long_integer_after_many_documents_costs_linear_time(project):
    def lint(text):
        project.write("x.yaml", text, dedent=False)
        return project.run("--no-cache", "x.yaml")

    ratio = _ratio(_documents_then_a_long_integer, lint, 400)
    assert ratio < BOUND, f"doubling the documents before a long integer multiplied the run's cost by {ratio:.1f}"


LONG_INTEGER_INPUTS = {
    # (file, text, the SMX000 expected at the integer, or None for "no SMX000")
    "json": ("x.json", '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},\n "spec": {"x": ' + LONG_INTEGER + "}}\n", True),
    "nginx listen": ("a.conf", f"events {{}}\nhttp {{ server {{ listen {LONG_INTEGER}; listen 1.2.3.4:{LONG_INTEGER}; }} }}\n", None),
    "nginx worker_processes": ("b.conf", f"worker_processes {LONG_INTEGER};\nevents {{}}\nhttp {{ server {{ listen 80 reuseport; }} }}\n", None),
    "image tags": (
        "tags.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        f"  - {{name: a, image: 'nginx:{LONG_INTEGER}.1'}}\n  - {{name: b, image: 'php:{LONG_INTEGER}.1-fpm'}}\n",
        None,
    ),
    "pod security version": (
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: {pod-security.kubernetes.io/enforce: baseline, "
        f"pod-security.kubernetes.io/enforce-version: 'v{LONG_INTEGER}.1'}}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {sysctls: [{name: net.core.somaxconn, value: '1024'}]}\n"
        "  containers: [{name: c, image: nginx}]\n",
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(LONG_INTEGER_INPUTS))
def test_long_integers_anywhere_are_findings_not_internal_errors(project, name):
    path, text, located = LONG_INTEGER_INPUTS[name]
    project.write(path, text, dedent=False)
    run = project.run("--format", "json", "--no-cache", "--kernel", "5.15", path)
    assert run.status in (0, 1)
    assert not [f for f in run.json["findings"] if "internal error" in f["message"] or "failed" in f["message"]]
    smx000 = [(f["location"]["line"], f["location"]["column"]) for f in run.json["findings"] if f["rule"] == "SMX000"]
    assert smx000 == ([position(text, LONG_INTEGER)] if located else [])


# References resolved by nearness on disk: apps/app-N/deploy/ and
# apps/app-N/config/ are siblings, so no ConfigMap is in the Deployment's
# own file or directory, and the nearest was found by scoring the common
# prefix of every same-named ConfigMap of the repository (4,000 apps: 38 s).


def _sibling_apps(n):
    from somaxlint.discover import InputFile
    from somaxlint.load import load_bytes
    from somaxlint.model.objects import collect

    loaded = []
    for i in range(n):
        app = f"/repo/apps/app-{i:04d}"
        for path, text in (
            (f"{app}/deploy/deploy.yaml", deployment()),
            (f"{app}/config/cm.yaml", config_map()),
        ):
            loaded.append(load_bytes(InputFile(path, path[len("/repo/"):], "yaml", True), text.encode()))
    return collect(loaded)


def test_references_to_sibling_directories_cost_linear_time():
    def resolve_all(inventory):
        scope = type(inventory.scope)(inventory.objects)
        for obj in inventory.objects:
            if obj.kind == "Deployment":
                [found] = scope.candidates("ConfigMap", obj.namespace, "web-conf", obj)
                assert found.file.input.path.split("/")[3] == obj.file.input.path.split("/")[3]  # its own app's

    ratio = _ratio(_sibling_apps, resolve_all, 1000)
    assert ratio < BOUND, f"doubling the apps multiplied the cost of resolving their references by {ratio:.1f}"


# Equally near objects: each finding names the first few ---------------------------
#
# n Deployments (apps/dep-N/) each equally near n same-named ConfigMaps
# (apps/cm-N/): each SMX017 listed every candidate in its message and as a
# related location, n² in all (2,000 files: a 257 MB report).


def _equally_near(project, n, under="."):
    for i in range(n):
        project.write(f"{under}/apps/dep-{i:04d}/d.yaml", deployment(name=f"web-{i}"), dedent=False)
        project.write(f"{under}/apps/cm-{i:04d}/cm.yaml", config_map(), dedent=False)
    return under


def test_an_ambiguity_names_its_first_candidates_and_counts_the_others(project):
    from somaxlint.rules.smx017_ambiguous_reference import MAX_CANDIDATES_LISTED

    _equally_near(project, MAX_CANDIDATES_LISTED + 2)
    run = project.run("--format", "json", "--no-cache", "--select", "SMX017", ".")
    found = run.json["findings"]
    assert len(found) == MAX_CANDIDATES_LISTED + 2
    first = found[0]
    named = ", ".join(f"apps/cm-{i:04d}/cm.yaml" for i in range(MAX_CANDIDATES_LISTED))
    assert first["message"] == (
        f"ConfigMap default/web-conf used by Deployment/default/web-0 is defined in {MAX_CANDIDATES_LISTED + 2} equally near "
        f"places ({named} and 2 more): the workload is evaluated against each"
    )
    assert [r["location"]["path"] for r in first["related"]] == [f"apps/cm-{i:04d}/cm.yaml" for i in range(MAX_CANDIDATES_LISTED)]


def test_equally_near_objects_cost_a_linear_report_in_linear_time(project):
    def lint(under):
        return project.run("--format", "json", "--no-cache", under)

    sizes = [len(lint(_equally_near(project, n, f"n{n}")).out) for n in (100, 200)]
    assert sizes[1] / sizes[0] < BOUND, f"doubling the equally near objects multiplied the report by {sizes[1] / sizes[0]:.1f}"
    ratio = _ratio(lambda n: f"n{n}", lint, 100)
    assert ratio < BOUND, f"doubling the equally near objects multiplied the run's cost by {ratio:.1f}"


# Many pods mounting one server configuration: parsed once -------------------------
#
# Each pod's server read the mounted file through its own launch and parsed
# the same text again (1,000 pods, one ConfigMap: 20 s).  Per server: the
# pod's image and command, where the file is mounted, and the config's
# lines that matter, after ``n`` lines that do not.

SERVER_CONFIGS = {
    "redis": ("redis:7", "[redis-server, /etc/redis/redis.conf]", "/etc/redis/redis.conf", "# note {i}", "tcp-backlog 4096\nport 6380\n"),
    "haproxy": ("haproxy:2.8", "", "/usr/local/etc/haproxy/haproxy.cfg", "# note {i}", "global\n  maxconn 4096\nfrontend f\n  bind :80\n"),
    "apache": ("httpd:2.4", "", "/usr/local/apache2/conf/httpd.conf", "# note {i}", "Listen 80\nListenBacklog 4096\n"),
    "tomcat": ("tomcat:10", "", "/usr/local/tomcat/conf/server.xml", "<!-- note {i} -->", '<Server><Service><Connector port="8080" acceptCount="4096"/></Service></Server>\n'),
    "envoy": (
        "envoyproxy/envoy:v1.30", "", "/etc/envoy/envoy.yaml", "# note {i}",
        "static_resources:\n  listeners:\n  - address: {socket_address: {address: 0.0.0.0, port_value: 10000}}\n    tcp_backlog_size: 4096\n",
    ),
    "php-fpm": ("php:8.1-fpm", "", "/usr/local/etc/php-fpm.d/www.conf", "; note {i}", "[www]\nlisten = 9000\nlisten.backlog = 4096\n"),
    "uwsgi": ("python:3.12", "[uwsgi, --ini, /app/uwsgi.ini]", "/app/uwsgi.ini", "; note {i}", "[uwsgi]\nlisten = 4096\nhttp-socket = :8000\n"),
    "kong": ("kong:3.6", "", "/etc/kong/kong.conf", "key_{i} = value", "proxy_listen = 0.0.0.0:8000 backlog=4096\n"),
    "gunicorn": ("python:3.12", "[gunicorn, -c, /app/gunicorn.conf.py, 'app:app']", "/app/gunicorn.conf.py", "x_{i} = {i}", "backlog = 4096\n"),
}


def _pods_mounting_one_server_config(server, n):
    """n Deployments mounting one ConfigMap that holds ``server``'s
    configuration of about 20n lines."""
    image, command, path, filler, wanted = SERVER_CONFIGS[server]
    text = "\n".join(filler.format(i=i) for i in range(20 * n)) + "\n" + wanted
    mounts = f"- {{name: conf, mountPath: {path}, subPath: conf}}"
    volumes = "- {name: conf, configMap: {name: server-conf}}"
    extra = f"command: {command}" if command else ""
    return config_map(name="server-conf", files={"conf": text}) + "".join(
        "---\n" + deployment(name=f"w{j}", mounts=mounts, volumes=volumes, image=image, container_extra=extra) for j in range(n)
    )


@pytest.mark.parametrize("server", sorted(SERVER_CONFIGS))
def test_pods_mounting_one_server_config_parse_it_once(server):
    from somaxlint.model import build_model
    from somaxlint.settings import Settings

    def model(loaded):
        built = build_model([loaded], Settings(kernel=(5, 15, 0)), [], "/")
        listeners = [l for s in built.servers for l in s.listeners if l.requested_backlog == 4096]
        assert len(listeners) == len(built.inventory.workloads)
        return built

    text = _pods_mounting_one_server_config(server, 3)
    built = model(_loaded(text))
    # each pod's listener at the line of its backlog in the ConfigMap
    line = position(text, "4096")[0]
    assert {(l.location.path, l.location.line) for s in built.servers for l in s.listeners if l.requested_backlog == 4096} == {("app.yaml", line)}
    ratio = _ratio(lambda n: _loaded(_pods_mounting_one_server_config(server, n)), model, 100)
    assert ratio < BOUND, f"{server}: doubling pods and the config they mount multiplied the cost of the model by {ratio:.1f}"


# One server configuration of many parts -------------------------------------------


def _launch(path, text):
    """A launch with no arguments whose container mounts ``text`` at
    ``path`` (positions as they are in the text)."""
    from somaxlint.servers import Launch

    at = Location("conf", 1, 1)
    return Launch([], {}, at, lambda wanted: (text, lambda line, column: Location("conf", line, column)) if wanted == path else None)


def _connectors(n):
    """A server.xml of n Connectors: expat gives each one's byte offset;
    turning it into a line and column decoded the whole prefix and
    scanned every line start, once per Connector."""
    from somaxlint.servers import tomcat

    body = "\n".join(f'  <Connector port="{8000 + i % 1000}"\n     protocol="HTTP/1.1" acceptCount="{100 + i}"/>' for i in range(n))
    return _launch(tomcat.SERVER_XML, f"<Server><Service name='Catalina'>\n{body}\n</Service></Server>\n")


def test_a_server_xml_of_many_connectors_costs_linear_time():
    from somaxlint.servers import tomcat

    found = tomcat.listeners(_connectors(3))
    # the <Server>'s shutdown port (backlog 1, not serving), then each connector
    assert [(l.port, l.requested_backlog, l.location.line, l.location.column) for l in found] == [
        (8005, 1, 1, 1), (8000, 100, 3, 26), (8001, 101, 5, 26), (8002, 102, 7, 26),
    ]
    ratio = _ratio(_connectors, tomcat.listeners, 2000)
    assert ratio < BOUND, f"doubling the connectors multiplied the cost of reading server.xml by {ratio:.1f}"


def _continued(n):
    """An httpd.conf whose one directive is continued over n lines: each
    continuation built a new string of the line so far."""
    from somaxlint.servers import apache

    return _launch(apache.IMAGE_CONFIG, "Listen 80\nListenBacklog \\\n" + "".join(f"   x{i} \\\n" for i in range(n)) + "\nServerName a\n")


def test_long_runs_of_continued_lines_cost_linear_time():
    from somaxlint.servers import apache

    [found] = apache.listeners(_launch(apache.IMAGE_CONFIG, "Listen 80\nListen\\\nBacklog 4096\n"))
    assert (found.port, found.requested_backlog, found.location.line) == (80, 4096, 2)
    assert apache.listeners(_continued(3)) == []  # a backlog that is not a number: unknown
    ratio = _ratio(_continued, apache.listeners, 20000)
    assert ratio < BOUND, f"doubling the continued lines multiplied the cost of reading httpd.conf by {ratio:.1f}"


# nginx sockets that cannot be bound side by side ----------------------------------


def _sockets(text):
    from somaxlint.load.nginx_text import parse_nginx
    from somaxlint.servers.nginx.config import collect_listens

    directives, errors = parse_nginx(text)
    assert not errors
    return collect_listens(directives, run_as_root=True).sockets


def _reuseport_listens(n):
    """n addresses on one port, each with reuseport beside the reuseport
    wildcard (so no pair conflicts): every two sockets were compared."""
    listens = "".join(f" listen 127.0.{i // 250}.{i % 250 + 1}:80 reuseport; listen [::{i + 1:x}]:80 reuseport;" for i in range(n))
    return _sockets("http { server { listen 80 reuseport; listen [::]:80 reuseport;" + listens + " } }\n")


def test_reuseport_sockets_on_one_port_are_compared_in_linear_time():
    from somaxlint.servers.nginx.config import bind_conflicts

    assert bind_conflicts(_reuseport_listens(10)) == []
    ratio = _ratio(_reuseport_listens, bind_conflicts, 2000)
    assert ratio < BOUND, f"doubling the reuseport listens multiplied the cost of finding bind conflicts by {ratio:.1f}"


def _pairwise_bind_conflicts(sockets):
    """The conflicts as every two sockets compared gave them (the
    reference the grouped lookup must agree with)."""
    from somaxlint.servers.nginx.config import _overlap, _position, unix_path

    out = []
    tcp = [s for s in sockets if s.family != "unix"]
    for i, a in enumerate(tcp):
        for b in tcp[i + 1:]:
            if a.port != b.port or (a.reuseport and b.reuseport) or not _overlap(a, b):
                continue
            if a.wildcard != b.wildcard and a.family == b.family:
                out.append((b, a) if a.wildcard else (a, b))
            else:
                first, second = sorted((a, b), key=_position)
                out.append((second, first))
    unix = [s for s in sockets if s.family == "unix"]
    for i, a in enumerate(unix):
        for b in unix[i + 1:]:
            if unix_path(a.address) == unix_path(b.address):
                first, second = sorted((a, b), key=_position)
                out.append((second, first))
    return out


def test_bind_conflicts_found_by_address_are_those_of_every_two_sockets():
    import random

    from somaxlint.servers.nginx.config import bind_conflicts

    targets = [
        "80", "*:80", "0.0.0.0:81", "127.0.0.1:80", "127.0.0.2:80", "[::]:80", "[::1]:80", "[::]:81", "[::ffff:127.0.0.1]:80",
        "[0:0:0:0:0:0:0:0]:80", "localhost:80", "unix:/run/a.sock", "unix:/run//a.sock", "unix:/run/b.sock",
    ]
    options = ["", " reuseport", " backlog=100", " ipv6only=off", " ipv6only=on reuseport", " default_server"]
    rng = random.Random(7)
    for _ in range(300):
        blocks = []
        for module in ("http", "stream"):
            listens = " ".join(f"listen {rng.choice(targets)}{rng.choice(options)};" for _ in range(rng.randint(0, 6)))
            blocks.append(f"{module} {{ server {{ {listens} }} }}")
        sockets = _sockets(" ".join(blocks) + "\n")
        assert bind_conflicts(sockets) == _pairwise_bind_conflicts(sockets)


# Findings moved to the chart's templates (--helm-chart-dir) -----------------------


def _rendered_findings(tmp_path, n):
    """A chart whose one template renders n lines, each with a finding:
    each finding split the whole rendered text and scanned every line of
    the template."""
    from somaxlint.findings import Finding, Related

    chart = tmp_path / f"chart{n}"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    lines = [f"  key{i}: value{i}" for i in range(n)]
    (chart / "templates" / "cm.yaml").write_text("data:\n" + "\n".join(lines) + "\n")
    rendered = "---\n# Source: chart/templates/cm.yaml\ndata:\n" + "\n".join(lines) + "\n"
    findings = [
        Finding("SMX001", "x", "warning", "m", Location("out.yaml", i + 4, 3), related=(Related(Location("out.yaml", i + 4, 3), "here"),), helm_source="chart/templates/cm.yaml")
        for i in range(n)
    ]
    return findings, {"out.yaml": rendered}, str(chart)


def test_findings_are_moved_to_their_templates_in_linear_time(tmp_path):
    from somaxlint.helm import map_findings

    findings, rendered, chart = _rendered_findings(tmp_path, 3)
    moved = map_findings(findings, rendered, chart, str(tmp_path))
    assert [(f.location.path, f.location.line, f.location.column) for f in moved] == [("chart3/templates/cm.yaml", i + 2, 3) for i in range(3)]
    assert [r.location.line for f in moved for r in f.related] == [2, 3, 4]
    ratio = _ratio(lambda n: _rendered_findings(tmp_path, n), lambda made: map_findings(*made, str(tmp_path)), 1000)
    assert ratio < BOUND, f"doubling the findings and the lines of the template multiplied the cost of moving them by {ratio:.1f}"


def _refused_config(n):
    """A main configuration of n servers, each with a typo, an undefined
    variable, an empty upstream and a directive out of its context: every
    one a refusal (SMX024), 4n in all."""
    from somaxlint.load.nginx_text import parse_nginx

    servers = "".join(
        f"upstream u{i} {{ }}\n"
        f"server {{ listen {2000 + i}; proxy_passs http://u{i}; add_header X $undefined_{i}; location / {{ worker_processes 2; }} }}\n"
        for i in range(n)
    )
    return "events {}\nhttp {\n" + servers + "}\n"


def test_what_nginx_refuses_costs_linear_time():
    """Each directive is looked up in the table once per context; each
    unknown name is compared with the table's names (a bounded set), each
    variable with the build's: never with the configuration's others."""
    from somaxlint.model.sources import TextSource
    from somaxlint.servers.nginx.build import build_of
    from somaxlint.servers.nginx.config import ParseCache, resolve
    from somaxlint.servers.nginx.instances import _no_includes
    from somaxlint.servers.nginx.refusals import refusals

    from types import SimpleNamespace

    build = build_of(SimpleNamespace(image="nginx:1.22.1"), (1, 22, 1), "the image tag")

    def check(text):
        config = resolve(TextSource("nginx.conf", text, "nginx.conf"), "/etc/nginx/nginx.conf", _no_includes(), ParseCache(), 10, 10)
        found = refusals(config, build, True)
        assert len(found) == 4 * text.count("upstream u"), [r.message for r in found[:8]]
        return found

    ratio = _ratio(_refused_config, check, 300)
    assert ratio < BOUND, f"doubling the refused directives multiplied the cost of SMX024 by {ratio:.1f}"


def test_the_ports_of_a_pods_containers_are_compared_in_linear_time():
    """n containers of one pod: half on one wildcard port (each after the
    first conflicts), half on addresses of their own on another port --
    looked up by address and family, never compared two by two."""
    from types import SimpleNamespace

    from somaxlint.findings import Location
    from somaxlint.model.pod_ports import pod_port_conflicts
    from somaxlint.servers import Listener

    def pod(n):
        workload = SimpleNamespace(init_containers=[], containers=[])
        servers = []
        for i in range(n):
            container = SimpleNamespace(name=f"c{i}")
            workload.containers.append(container)
            address, port = ("0.0.0.0", 80) if i % 2 else (f"10.0.{i // 256}.{i % 256}", 81)
            listener = Listener("redis", address, port, 511, "default", Location("a.yaml", i + 1, 1), False, "tcp-backlog")
            servers.append(SimpleNamespace(workload=workload, container=container, listeners=[listener], built=[listener]))
        return servers

    def check(servers):
        for s in servers:  # (each run starts from the listeners as built)
            s.listeners = list(s.built)
        found = pod_port_conflicts(servers)
        assert len(found) == len(servers) // 2 - 1
        return found

    ratio = _ratio(pod, check, 4000)
    assert ratio < BOUND, f"doubling a pod's containers multiplied the cost of comparing their ports by {ratio:.1f}"

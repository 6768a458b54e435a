"""The structural properties that keep somaxlint fast (not timings):
YAML is read from libyaml events, never through ruamel's round-trip
loader or composer; each file and each embedded config is parsed once,
however many pods mount it; lookups do not scan the whole input."""

import re
import ruamel.yaml.composer
import ruamel.yaml.constructor

import somaxlint.load as load_module
import somaxlint.servers.nginx.config as nginx_model
from somaxlint.engine import run
from somaxlint.load.yaml_stream import HAVE_LIBYAML
from somaxlint.settings import Settings

from conftest import REPO, config_map, deployment


def test_libyaml_is_the_reader():
    assert HAVE_LIBYAML


def test_each_input_parsed_once_and_never_composed(project, monkeypatch):
    shared = config_map(files={"nginx.conf": "events {}\nhttp { include conf.d/*.conf; server { listen 80; } }\n"})
    for i in range(20):
        project.write(f"app{i}.yaml", deployment(name=f"web{i}", volumes="- name: conf\n  configMap:\n    name: web-conf"))
    project.write("cm.yaml", shared)
    project.write("site/nginx.conf", "events {}\nhttp { include conf.d/*.conf; }\n")
    for i in range(5):
        project.write(f"site/conf.d/s{i}.conf", f"server {{ listen {8000 + i}; }}\n")

    calls = {"yaml": 0, "nginx": 0, "nginx files": 0}
    real_yaml, real_nginx = load_module.load_yaml, nginx_model.parse_nginx

    def count_nginx_files(text):
        calls["nginx files"] += 1
        return real_nginx(text)

    def count_yaml(text):
        calls["yaml"] += 1
        return real_yaml(text)

    def count_nginx(text):
        calls["nginx"] += 1
        return real_nginx(text)

    def forbidden(*args, **kwargs):
        raise AssertionError("the round-trip composer/constructor is not on the read path")

    monkeypatch.setattr(load_module, "load_yaml", count_yaml)
    monkeypatch.setattr(nginx_model, "parse_nginx", count_nginx)
    monkeypatch.setattr(load_module, "parse_nginx", count_nginx_files)
    monkeypatch.setattr(ruamel.yaml.composer.Composer, "__init__", forbidden)
    monkeypatch.setattr(ruamel.yaml.constructor.RoundTripConstructor, "__init__", forbidden)
    result = run([str(project.root)], Settings(kernel=(4, 19, 0), kernel_text="4.19"), str(project.root))

    assert len(result.model.servers) == 20 + 1  # 20 pods sharing one ConfigMap, one standalone site
    assert calls["yaml"] == 21  # one pass per YAML file
    # the shared ConfigMap's config once, and the image's conf.d/default.conf
    # (which its include reaches) once for all 20 pods
    assert calls["nginx"] == 2
    # standalone files: once each, by the loader; includes reuse that parse
    assert calls["nginx files"] == 6


def test_rules_about_backlogs_read_listeners_not_a_server():
    """SMX001/SMX002/SMX020/SMX021 read every server's listeners through one
    interface: no server's name or syntax appears in them, so a new server
    module needs no rule change."""
    from pathlib import Path

    from somaxlint.servers import modules

    rules = Path(__file__).parent.parent / "rules"
    names = {m.NAME for m in modules()}
    for stem in ("smx001_listen_backlog_truncated", "smx002_somaxconn_raised_backlog_not", "smx020_server_refuses_to_start", "smx021_queue_follows_low_somaxconn"):
        text = (rules / f"{stem}.py").read_text()
        # the code, not its documentation (docstrings, comments, SUMMARY)
        code = re.sub(r"#.*|^SUMMARY = .*", "", re.sub(r'"""[\s\S]*?"""', "", text), flags=re.M)
        mentioned = sorted(n for n in names if re.search(rf"\b{re.escape(n)}\b", code, re.I))
        assert mentioned == [], (stem, mentioned)


def test_every_server_module_declares_the_catalogue_fields():
    from somaxlint.servers import SERVER_MODULES, modules

    assert [m.NAME.replace("-", "_") for m in modules()] == list(SERVER_MODULES)
    for m in modules():
        for field in ("NAME", "TITLE", "IMAGES", "COMMANDS", "DEFAULT_BACKLOG", "KNOB", "SOURCE", "STARTUP_WARNING"):
            assert hasattr(m, field), (m.NAME, field)
        assert callable(getattr(m, "listeners")), m.NAME


def test_typing_is_imported_for_type_checkers_only():
    """Annotations are never evaluated (``from __future__ import
    annotations``), so ``typing`` is imported under ``if TYPE_CHECKING:``
    only: at run time it was a tenth of a commit-time run's imports."""
    import ast

    offenders = []
    for path in sorted((REPO / "linter").rglob("*.py")) + sorted((REPO / "rules").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # module level, outside any `if`
            if isinstance(node, ast.ImportFrom) and node.module == "typing" or isinstance(node, ast.Import) and any(a.name == "typing" for a in node.names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def test_the_launch_catalogue_is_what_each_server_module_declares():
    """``servers.LAUNCHED`` lets a container be matched without importing
    every server module; it must say what the modules say, in their order."""
    from somaxlint.servers import LAUNCHED, launched_modules

    declared = {m.NAME.replace("-", "_"): (m.COMMANDS, m.IMAGES, getattr(m, "INJECTED_AS", ())) for m in launched_modules()}
    assert list(LAUNCHED) == list(declared)
    assert LAUNCHED == declared
    # containers are matched by ``image_repository`` (the last component of
    # the image's path): an entry with a `/` would never match
    assert [i for _, images, _ in LAUNCHED.values() for i in images if "/" in i] == []


def test_no_module_imports_back_up_the_pipeline():
    """The imports between somaxlint's modules (at the top or inside a
    function, not those for type checkers only) form no cycle: data flows
    one way (DESIGN.md).  The cache wraps loading from outside (the loader
    never imports it) and the model's orchestration imports the server
    modules, which import only the model's parts below it."""
    import ast
    import os
    from pathlib import Path

    root = Path(__file__).parent.parent
    modules = {}
    for top, package in ((root / "linter", "somaxlint"), (root / "rules", "somaxlint.rules")):
        for path in top.rglob("*.py"):
            name = ".".join([package] + list(path.relative_to(top).with_suffix("").parts))
            modules[name.removesuffix(".__init__")] = path
    edges = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                node.body = []
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("somaxlint"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
        edges[name] = {t for t in targets if t in modules and t != name}

    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(modules):
        if name not in index:
            visit(name)
    assert cycles == []
    assert "somaxlint.cache" not in {t for t in edges["somaxlint.load.nginx_text"]}

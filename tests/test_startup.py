"""Start-up and teardown: a run imports what its inputs need and leaves no
work for the end of the process.  Counted, not timed: the modules a fresh
interpreter has imported, the regular expressions compiled, the objects
only the cyclic collector could free.  (bench/run.py --precommit times the
same thing against yamllint.)"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap

from conftest import REPO, config_map, deployment

NGINX = "events {}\nhttp {\n  server {\n    listen 8080 backlog=4096;\n  }\n}\n"


def fresh(code: str, cwd=None) -> dict:
    """Run ``code`` in a new interpreter that prints a JSON object last."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SOMAXLINT_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


MODULES = """
import sys
before = set(sys.modules)  # what the interpreter (and its site) imported
import io, json, contextlib
from somaxlint.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    status = main({argv!r})
print(json.dumps({{"status": status, "out": out.getvalue(), "modules": sorted(set(sys.modules) - before)}}))
"""


def modules_after(argv, cwd=None) -> dict:
    return fresh(MODULES.format(argv=list(argv)), cwd=cwd)


def under(modules, *prefixes):
    return sorted(m for m in modules if m in prefixes or m.startswith(tuple(p + "." for p in prefixes)))


def test_version_imports_neither_the_model_nor_the_rules_nor_a_parser():
    run = modules_after(["--version"])
    assert run["out"].startswith("somaxlint ")
    imported = run["modules"]
    assert under(imported, "somaxlint") == ["somaxlint", "somaxlint.cli", "somaxlint.patterns", "somaxlint.report"]
    assert under(imported, "ruamel", "crossplane", "dataclasses", "pickle", "subprocess") == []


def test_rules_catalogue_imports_no_parser():
    # (the rule modules import the model's types; the parsers stay out)
    imported = modules_after(["rules"])["modules"]
    assert under(imported, "somaxlint.engine", "somaxlint.cache", "ruamel", "_ruamel_yaml", "crossplane") == []


def write_commit(root):
    (root / ".git").mkdir()
    (root / "app.yaml").write_text(deployment() + "---\n" + config_map(files={"nginx.conf": NGINX}))
    (root / "site").mkdir()
    (root / "site" / "nginx.conf").write_text(NGINX.replace("8080", "9090"))


def test_a_commit_with_a_warm_cache_imports_no_parser(tmp_path):
    """The commit-time case: one manifest (Deployment + ConfigMap with an
    nginx.conf) and one nginx.conf.  Once their entries are in the cache,
    neither libyaml's binding nor crossplane is imported, and no chart or
    kustomization machinery either (no directory is walked)."""
    write_commit(tmp_path)
    argv = ["check", "app.yaml", "site/nginx.conf"]
    cold = modules_after(argv, cwd=tmp_path)
    assert under(cold["modules"], "ruamel.yaml", "crossplane")  # parsed
    assert (tmp_path / ".somaxlint_cache" / "load").is_dir()
    warm = modules_after(argv, cwd=tmp_path)
    assert (warm["status"], warm["out"]) == (cold["status"], cold["out"])
    assert under(warm["modules"], "ruamel", "_ruamel_yaml", "crossplane", "somaxlint.load.nginx_lexer") == []
    assert under(warm["modules"], "somaxlint.units", "subprocess", "tempfile") == []
    # records, not dataclasses: the decorator's per-class compiles and
    # inspect's import were 40% of this run
    assert under(warm["modules"], "dataclasses", "inspect", "typing", "pickle") == []  # _pickle only
    # only the server modules of the servers the containers start (nginx)
    assert [m for m in under(warm["modules"], "somaxlint.servers") if m.count(".") == 2] == ["somaxlint.servers.nginx"]
    uncached = modules_after(["check", "--no-cache", *argv[1:]], cwd=tmp_path)
    assert (uncached["status"], uncached["out"]) == (cold["status"], cold["out"])


COMPILED = """
import io, json, contextlib, re, sys
patterns = []
real = re._compile
def spy(pattern, flags):
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("re", "somaxlint.patterns")):
        frame = frame.f_back
    name = frame.f_globals.get("__name__", "") if frame else ""
    if name.startswith("somaxlint") and (pattern, flags) not in seen:
        patterns.append(name)
    seen.add((pattern, flags))
    return real(pattern, flags)
seen = set()
re._compile = spy
from somaxlint.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    status = main({argv!r})
from somaxlint import records
print(json.dumps({{"status": status, "compiled_inits": records._changed, "patterns": sorted(patterns)}}))
"""


def test_a_warm_commit_compiles_no_record_code_and_only_the_patterns_it_uses(tmp_path, monkeypatch):
    """Compiling was a fifth of a warm commit: the records' __init__ code
    (kept beside the bytecode after the first run) and the module-level
    patterns of code the run never reaches (compiled on first use now)."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    monkeypatch.setenv("PYTHONPYCACHEPREFIX", str(tmp_path / "pycache"))
    repo = tmp_path / "repo"
    repo.mkdir()
    write_commit(repo)
    argv = ["check", "app.yaml", "site/nginx.conf"]
    first = fresh(COMPILED.format(argv=argv), cwd=repo)
    assert first["compiled_inits"] is True
    warm = fresh(COMPILED.format(argv=argv), cwd=repo)
    assert (warm["status"], warm["compiled_inits"]) == (first["status"], False)
    # the nginx image, version and embedded-config patterns, and the shell
    # reader's words: each is used by this commit
    assert warm["patterns"] == [
        "somaxlint.model.filesystem",
        "somaxlint.model.shell",
        "somaxlint.servers.nginx",
        "somaxlint.servers.nginx",
        "somaxlint.servers.nginx",
        "somaxlint.servers.nginx",
    ]


def test_units_are_imported_only_where_a_chart_or_kustomization_is(tmp_path):
    write_commit(tmp_path)
    # the walk of the directory saw neither a Chart.yaml nor a kustomization
    assert under(modules_after(["check", "."], cwd=tmp_path)["modules"], "somaxlint.units") == []
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(config_map())
    assert under(modules_after(["check", "."], cwd=tmp_path)["modules"], "somaxlint.units")
    # a template named alone is read through its chart
    assert under(modules_after(["check", "chart/templates/cm.yaml"], cwd=tmp_path)["modules"], "somaxlint.units")
    kustomized = tmp_path / "overlay"
    kustomized.mkdir()
    (kustomized / "kustomization.yaml").write_text("resources: []\n")
    (chart / "Chart.yaml").unlink()
    assert under(modules_after(["check", "."], cwd=tmp_path)["modules"], "somaxlint.units")


COMPILES = """
import json, re, sys
compiled = []
real = re._compile
def spy(pattern, flags):
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("re"):
        frame = frame.f_back
    compiled.append(frame.f_globals.get("__name__") if frame else None)
    return real(pattern, flags)
re._compile = spy
import somaxlint.cli, somaxlint.engine, somaxlint.cache, somaxlint.load, somaxlint.load.yaml_stream, somaxlint.load.nginx_text, somaxlint.load.positioned
print(json.dumps(sorted(set(compiled))))
"""


def test_the_loader_compiles_no_regular_expression_at_import():
    """Patterns of the loader are compiled when a file needs them: a run
    whose files all come from the cache compiles none of them."""
    compiled = fresh(COMPILES)
    mine = [m for m in compiled if m and m.startswith(("somaxlint.load", "somaxlint.cache", "somaxlint.cli", "somaxlint.engine"))]
    assert mine == []


# Teardown -----------------------------------------------------------------------


def test_parsing_nginx_leaves_no_reference_cycle():
    """crossplane's recursive ``_parse`` closure would keep every payload
    alive until a collection that never comes (the collector is off during
    a run): parse_nginx empties its cells."""
    from somaxlint.load.nginx_text import parse_nginx

    collecting = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        for _ in range(5):
            directives, errors = parse_nginx("events {}\nhttp {\n  include x;\n  server { listen 80; }\n}\n")
        parse_nginx("http { server { listen 80 }")  # an error path
        assert gc.collect() == 0
        assert [d.name for d in directives] == ["events", "http"] and not errors
    finally:
        if collecting:
            gc.enable()


def test_resolving_includes_leaves_no_reference_cycle():
    from somaxlint.model.sources import TextSource
    from somaxlint.servers.nginx.config import Opener, ParseCache, resolve

    main = TextSource("nginx.conf", "events {}\nhttp {\n  include conf.d/*.conf;\n}\n", "main")
    site = TextSource("site.conf", "server { listen 81; }\n", "site")
    opener = Opener(lambda path: site if path.endswith("site.conf") else None, lambda pattern: ["/etc/nginx/conf.d/site.conf"], lambda path: "missing", "/etc/nginx")
    collecting = gc.isenabled()
    gc.disable()
    try:
        cache = ParseCache()
        resolve(main, "/etc/nginx/nginx.conf", opener, cache, 10, 5)  # parses once
        gc.collect()
        config = resolve(main, "/etc/nginx/nginx.conf", opener, cache, 10, 5)
        assert [d.name for d in config.directives[1].block] == ["server"]
        del config
        assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()


def test_the_command_ends_without_teardown_but_with_its_whole_report(tmp_path):
    """``python -m somaxlint`` (like the console script) flushes the report and
    ends the process with os._exit: the exit status and every byte are
    there, in a pipe and in an --output file."""
    write_commit(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "somaxlint", "check", "--no-cache", "--format", "json", "app.yaml", "site/nginx.conf"]
    piped = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert piped.returncode == 1
    assert json.loads(piped.stdout)["findings"]
    written = subprocess.run(command + ["--output", "report.json"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert written.returncode == 1 and written.stdout == ""
    assert (tmp_path / "report.json").read_text() == piped.stdout
    version = subprocess.run([sys.executable, "-m", "somaxlint", "--version"], capture_output=True, text=True, env=env)
    assert (version.returncode, version.stdout.split()[0]) == (0, "somaxlint")
    usage = subprocess.run([sys.executable, "-m", "somaxlint", "--fail-on", "never"], capture_output=True, text=True, env=env)
    assert usage.returncode == 2 and "somaxlint: error:" in usage.stderr


UNTIL_THE_END = """
import gc, sys, weakref
import somaxlint.cli as cli, somaxlint.engine as engine
run = engine.run
def traced(*args, **kwargs):
    result = run(*args, **kwargs)
    weakref.finalize(result, sys.stderr.write, "result freed\\n")
    return result
engine.run = traced
gc.callbacks.append(lambda phase, info: phase == "start" and sys.stderr.write("collection\\n"))
sys.argv = ["somaxlint", "check", "--no-cache", "--format", "json", "app.yaml", "site/nginx.conf"]
{call}
"""


def test_the_command_neither_collects_nor_frees_the_run_before_it_ends(tmp_path):
    """Between the report and the end of the process, nothing: the collector
    stays off once ``main`` returns (turned back on, its first pass walked
    every object of the run) and the run's result is not freed object by
    object."""
    write_commit(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = UNTIL_THE_END.format(call="cli.console()")
    ended = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert ended.returncode == 1, ended.stderr
    assert json.loads(ended.stdout)["findings"]
    assert "collection" not in ended.stderr and "result freed" not in ended.stderr
    # in-process, nothing is held for a process end that does not come
    in_process = UNTIL_THE_END.format(call="status = cli.main()\nprint(cli._HELD_UNTIL_EXIT, status)")
    returned = subprocess.run([sys.executable, "-c", in_process], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert returned.returncode == 0, returned.stderr
    assert returned.stdout.splitlines()[-1] == "None 1"


def test_main_returns_in_process():
    """Tests and embedders call main(): it returns its status, never exits."""
    from somaxlint.cli import main

    assert main(["--version"]) == 0

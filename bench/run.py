"""somaxlint's speed against the parsers' own floor, in one process run.

    python bench/run.py                # full corpus: honest floor vs a full lint,
                                       # without the cache, filling it, and warm
    python bench/run.py --scaling      # 1x vs 2x corpus
    python bench/run.py --precommit    # commit time: one manifest + one nginx.conf vs
                                       # yamllint; the hook on a 3,000-file repository,
                                       # cold and warm (one file changed)
    python bench/run.py --repos        # 100 vs 200 apps x 3 environments (nearness)
    python bench/run.py --quick        # smoke run: the hook on a 60-file repository, once
    python bench/run.py --units        # a repository of kustomize overlays and Helm charts:
                                       # cold, warm, one base changed, the hook; N, 2N, 4N

The floor is what no linter of these inputs can beat: libyaml composing
every YAML file (PyYAML's CSafeLoader) and crossplane parsing every nginx
configuration with `single=True` -- the standalone files and the ones
embedded in ConfigMaps (every `*.conf` key of a ConfigMap, lexed from
memory by crossplane's own lexer) -- holding every tree until the end, with
the cyclic garbage collector off (as somaxlint runs).  Each measurement
runs in a fresh subprocess, alternating the commands compared, and reports
the median with the minimum and maximum; peak RSS is the subprocess's
maximum resident set.  Needs `pip install pyyaml yamllint`; for the
pre-commit comparison, a regular (not editable) install.

A measured command must exit 0 or 1 and print something (a clean text run
may print nothing only with status 0); anything else -- an import error
timed as if it were a lint, a usage error, a crash -- stops the benchmark
with the command, its status and the end of its stderr.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate  # noqa: E402

FLOOR = r"""
import gc, io, os, sys
gc.disable()
import yaml, crossplane, crossplane.lexer, crossplane.parser

# ConfigMap-embedded configs: crossplane.parse(single=True) over text in
# memory, tokenized by crossplane's own lexer (as a file would be).
memory = {}
file_lex = crossplane.parser.lex
def lex(name):
    if name in memory:
        return crossplane.lexer._balance_braces(crossplane.lexer._lex_file_object(io.StringIO(memory[name])), name)
    return file_lex(name)
crossplane.parser.lex = lex

def parse_text(text):
    memory["<embedded>"] = text
    return crossplane.parse("<embedded>", single=True)

root = sys.argv[1]
trees = []
embedded = 0
for dirpath, dirnames, names in os.walk(root):
    dirnames.sort()
    for name in sorted(names):
        path = os.path.join(dirpath, name)
        if name.endswith((".yaml", ".yml")):
            with open(path, encoding="utf-8") as handle:
                documents = list(yaml.compose_all(handle.read(), Loader=yaml.CSafeLoader))
            trees.append(documents)
            for doc in documents:
                if not isinstance(doc, yaml.MappingNode):
                    continue
                fields = {k.value: v for k, v in doc.value if isinstance(k, yaml.ScalarNode)}
                kind, data = fields.get("kind"), fields.get("data")
                if getattr(kind, "value", None) == "ConfigMap" and isinstance(data, yaml.MappingNode):
                    for key, value in data.value:
                        if str(key.value).endswith(".conf") and isinstance(value, yaml.ScalarNode):
                            trees.append(parse_text(value.value))
                            embedded += 1
        elif name.endswith(".conf"):
            trees.append(crossplane.parse(path, single=True))
print(len(trees), embedded)
"""


class MeasureError(SystemExit):
    """A measured command did not do its work: the figure would be a lie."""


# Measured commands run as users' do: with Python's bytecode cache (an
# environment that turns it off would time the compiling of every module
# of an editable install on every run).
MEASURED_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_measured(argv, cwd=None, allow_silent=False):
    """(seconds, peak RSS in MiB) of one run of ``argv``.  Its output goes
    to temporary files (a pipe could fill and stall it), then is checked:
    exit status 0 or 1, and something on stdout -- unless ``allow_silent``,
    and then only with status 0 (a clean text run prints nothing; a Python
    that cannot import the linter exits 1 with nothing on stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=MEASURED_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code  # reaped by wait4: Popen must not wait again
        out.seek(0)
        printed = out.read(4096)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    problem = None
    if code not in (0, 1):
        problem = f"exited with status {code}"
    elif "Traceback (most recent call last)" in stderr:
        problem = f"raised an exception (exit status {code})"
    elif not printed.strip() and not (allow_silent and code == 0):
        problem = f"printed nothing (exit status {code})"
    if problem:
        where = f" in {cwd}" if cwd else ""
        tail = stderr.strip()[-2000:] or "(nothing on stderr)"
        raise MeasureError(f"bench: the measured command {shlex.join(argv)}{where} {problem}:\n{tail}")
    return elapsed, usage.ru_maxrss / 1024


def floor_cmd(corpus):
    return [sys.executable, "-c", FLOOR, corpus]


def somaxlint_cmd(args):
    """The somaxlint measured: ``--lint-command`` (split like a shell
    would), else this interpreter's ``-m somaxlint``."""
    if getattr(args, "lint_command", None):
        return shlex.split(args.lint_command)
    return [sys.executable, "-m", "somaxlint"]


def hook_cmd(args):
    """somaxlint as a pre-commit hook runs it: the console script of this
    environment (``--lint-command`` overrides it)."""
    if getattr(args, "lint_command", None):
        return shlex.split(args.lint_command)
    return [os.path.join(os.path.dirname(sys.executable), "somaxlint")]


def lint_cmd(args, corpus, *extra):
    # The JSON report goes to stdout (a temporary file): that it is there
    # is the proof the run linted.
    return [*somaxlint_cmd(args), "check", "--format", "json", *extra, corpus]


class Runs:
    """Times and peak RSS of one command's runs."""

    def __init__(self):
        self.samples = []

    def add(self, sample):
        self.samples.append(sample)

    @property
    def time(self) -> float:
        return statistics.median(t for t, _ in self.samples)

    @property
    def rss(self) -> float:
        return statistics.median(r for _, r in self.samples)

    def spread(self, scale: float = 1.0, unit: str = "s", digits: int = 2) -> str:
        times = [t * scale for t, _ in self.samples]
        return f"{statistics.median(times):8.{digits}f} {unit} ({min(times):.{digits}f}-{max(times):.{digits}f})"


def alternate(commands, repeat):
    """Run the commands one after the other, ``repeat`` rounds.  Each is
    (argv, cwd, allow_silent, before): ``before()``, when given, runs
    untimed ahead of each run.  Returns name -> Runs."""
    out = {name: Runs() for name in commands}
    for _ in range(repeat):
        for name, (argv, cwd, allow_silent, before) in commands.items():
            if before is not None:
                before()
            out[name].add(run_measured(argv, cwd, allow_silent))
    return out


def pairs(a, b, repeat, cwd=None, allow_silent=False):
    """Alternate A and B `repeat` times; medians of time and RSS."""
    m = alternate({"a": (a, cwd, allow_silent, None), "b": (b, cwd, allow_silent, None)}, repeat)
    return {k: (v.time, v.rss) for k, v in m.items()}


def corpus_dir(scale, workdir):
    path = os.path.join(workdir, f"corpus-x{scale}")
    if not os.path.isdir(path):
        counts = generate(path, seed=1, scale=scale)
        with open(os.path.join(path, ".counts"), "w") as handle:
            handle.write(str(counts["documents"]))
    with open(os.path.join(path, ".counts")) as handle:
        return path, int(handle.read())


def _set_aside(path, trash):
    """Move ``path`` out of the way (into ``trash``, removed after the
    measured runs): the filling run starts from no cache.  Not deleted
    here: thousands of files deleted just before thousands are created
    make ext4's inode allocator skip the recently freed inodes one by one
    (``recently_deleted`` in the kernel's profile), which timed the
    benchmark's own clean-up instead of somaxlint."""
    count = iter(range(10**9))

    def set_aside():
        if os.path.exists(path):
            os.makedirs(trash, exist_ok=True)
            os.rename(path, os.path.join(trash, f"{os.path.basename(path)}-{os.getpid()}-{next(count)}"))

    return set_aside


def full(args, workdir):
    corpus, documents = corpus_dir(1, workdir)
    cache = os.path.join(workdir, "cache-full")
    _set_aside(cache, cache + "-trash")()
    run_measured(lint_cmd(args, corpus, "--cache-dir", cache, *args.lint_args))  # fills it for "warm"
    m = alternate(
        {
            "floor": (floor_cmd(corpus), None, False, None),
            "cold": (lint_cmd(args, corpus, "--no-cache", *args.lint_args), None, False, None),
            "filling": (lint_cmd(args, corpus, "--cache-dir", cache + "-filling", *args.lint_args), None, False, _set_aside(cache + "-filling", cache + "-trash")),
            "warm": (lint_cmd(args, corpus, "--cache-dir", cache, *args.lint_args), None, False, None),
        },
        args.repeat,
    )
    shutil.rmtree(cache + "-trash", ignore_errors=True)
    floor, cold, filling, warm = m["floor"], m["cold"], m["filling"], m["warm"]
    print(f"corpus: {documents} documents, 1000 nginx files ({corpus}); median (min-max) of {args.repeat} alternating runs")
    print(f"  floor (libyaml compose + crossplane, embedded configs too, GC off)  {floor.spread()}   peak RSS {floor.rss:7.1f} MiB")
    print(f"  somaxlint check, cold (--no-cache)                                   {cold.spread()}   peak RSS {cold.rss:7.1f} MiB")
    print(f"  somaxlint check, cold, filling an empty cache                        {filling.spread()}   peak RSS {filling.rss:7.1f} MiB")
    print(f"  somaxlint check, warm (every file in the cache)                      {warm.spread()}   peak RSS {warm.rss:7.1f} MiB")
    print(f"  cold / floor time      {cold.time / floor.time:5.2f}   (target <= 1.0)")
    print(f"  filling / floor time   {filling.time / floor.time:5.2f}")
    print(f"  warm / floor time      {warm.time / floor.time:5.2f}")
    print(f"  cold / floor RSS       {cold.rss / floor.rss:5.2f}")
    print(f"  peak RSS per document  {cold.rss * 1024 / documents:5.1f} KiB cold, {warm.rss * 1024 / documents:5.1f} KiB warm   (target < 43)")
    print(f"  documents per second (somaxlint, cold)  {documents / cold.time:8.0f}")


def scaling(args, workdir):
    one, docs1 = corpus_dir(1, workdir)
    two, docs2 = corpus_dir(2, workdir)
    m = pairs(lint_cmd(args, one, "--no-cache", *args.lint_args), lint_cmd(args, two, "--no-cache", *args.lint_args), args.repeat)
    t1, t2 = m["a"][0], m["b"][0]
    print(f"somaxlint on 1x ({docs1} documents) {t1:6.2f} s, on 2x ({docs2} documents) {t2:6.2f} s")
    print(f"  2x corpus / 1x corpus time  {t2 / t1:5.2f}   (target <= 2.1)")


def repos(args, workdir):
    """Many apps with dev/staging/prod copies of the same object names: the
    cost per file must not grow with the number of same-named copies."""
    from repos import generate as generate_repo

    paths = {}
    for apps in (100, 200):
        path = os.path.join(workdir, f"repo-{apps}")
        if not os.path.isdir(path):
            generate_repo(path, apps)
        paths[apps] = path
    m = pairs(lint_cmd(args, paths[100], "--no-cache", *args.lint_args), lint_cmd(args, paths[200], "--no-cache", *args.lint_args), max(args.repeat, 5))
    t1, t2 = m["a"][0], m["b"][0]
    print(f"medians of {max(args.repeat, 5)} alternating runs")
    print(f"  100 apps x 3 envs ( 600 files)  {t1:6.2f} s")
    print(f"  200 apps x 3 envs (1200 files)  {t2:6.2f} s")
    print(f"  200 / 100 time  {t2 / t1:5.2f}   (linear: <= 2.1)")


def precommit(args, workdir):
    """Commit time: one manifest (a Deployment, its ConfigMap, a Service)
    and one nginx.conf, as a hook runs on them, against yamllint on the
    same YAML file; with the cache (the same files linted again: every
    entry hits) and without it."""
    corpus, _ = corpus_dir(1, workdir)
    manifest = os.path.join(corpus, "manifests", "team-0", "app-00000.yaml")
    nginx_file = os.path.join(corpus, "nginx", "site-0000", "nginx.conf")
    cache = os.path.join(workdir, "cache-commit")
    # The console scripts of this environment, as a pre-commit hook runs
    # them.  Measure a regular install (`pip install .`): an editable one
    # adds an import hook to every module lookup.
    scripts = os.path.dirname(sys.executable)
    yamllint = [os.path.join(scripts, "yamllint"), "-d", "relaxed", manifest]
    cached = [*hook_cmd(args), "check", "--cache-dir", cache, manifest, nginx_file]
    uncached = [*hook_cmd(args), "check", "--no-cache", manifest, nginx_file]
    run_measured(cached, allow_silent=True)  # fills the cache
    repeat = max(args.repeat, 15)
    # Clean files: yamllint and somaxlint's text output may print nothing.
    m = alternate(
        {
            "yamllint": (yamllint, None, True, None),
            "cached": (cached, None, True, None),
            "uncached": (uncached, None, True, None),
        },
        repeat,
    )
    y, c, u = m["yamllint"], m["cached"], m["uncached"]
    print(f"commit time: one manifest + one nginx.conf; median (min-max) of {repeat} alternating runs")
    print(f"  yamllint (the YAML file alone)          {y.spread(1000, 'ms', 0)}")
    print(f"  somaxlint (both files, cache warm)      {c.spread(1000, 'ms', 0)}")
    print(f"  somaxlint (both files, --no-cache)      {u.spread(1000, 'ms', 0)}")
    print(f"  somaxlint / yamllint  {c.time / y.time:5.2f} with the cache, {u.time / y.time:5.2f} without   (target <= 0.5)")
    hook(args, workdir, apps=500, repeat=max(args.repeat, 5))


DEPLOYMENT_EDIT = "# edited for the benchmark: {}\n"


def hook(args, workdir, apps, repeat):
    """The pre-commit hook as it runs on a commit: one staged Deployment,
    and the repository read as context (the hook's `--default-context .`),
    or the context narrowed to the app's directory with `--context`.  Cold
    is without the cache; warm is with the cache of the previous run at
    the repository root, the staged file changed since (its entry misses,
    every other file's hits).  The repository is generated: `apps` apps x 3
    environments x 2 files (500 apps: 3,000 files), with a `.git` so the
    root is found as in a real checkout."""
    from repos import generate as generate_repo

    path = os.path.join(workdir, f"hook-repo-{apps}")
    if not os.path.isdir(path):
        generate_repo(path, apps)
        os.makedirs(os.path.join(path, ".git"))
    files = sum(len(names) for _, _, names in os.walk(os.path.join(path, "apps")))
    staged = "apps/app-0000/envs/prod/deployment.yaml"
    marker = DEPLOYMENT_EDIT.split(":")[0]
    with open(os.path.join(path, staged)) as handle:
        original = "".join(line for line in handle if not line.startswith(marker))
    edits = iter(range(10**9))

    def edit():
        with open(os.path.join(path, staged), "w") as handle:
            handle.write(original + DEPLOYMENT_EDIT.format(next(edits)))

    cache = os.path.join(path, ".somaxlint_cache")
    shutil.rmtree(cache, ignore_errors=True)
    whole = [*hook_cmd(args), "check", "--default-context", ".", staged]
    narrowed = [*hook_cmd(args), "check", "--no-cache", "--default-context", ".", "--context", "apps/app-0000", staged]
    scripts = os.path.dirname(sys.executable)
    yamllint = os.path.join(scripts, "yamllint")
    commands = {
        "cold": ([*hook_cmd(args), "check", "--no-cache", "--default-context", ".", staged], path, True, edit),
        "warm": (whole, path, True, edit),
        "narrowed": (narrowed, path, True, edit),
    }
    if os.path.exists(yamllint):
        commands["yamllint"] = ([yamllint, "-d", "relaxed", staged], path, True, None)
    edit()
    run_measured(whole, path, True)  # the cache as the previous commit left it
    m = alternate(commands, repeat)
    with open(os.path.join(path, staged), "w") as handle:
        handle.write(original)
    cold, warm, narrow = m["cold"], m["warm"], m["narrowed"]
    print(f"pre-commit hook on a generated repository of {files:,} files, one staged file; median (min-max) of {repeat} alternating runs")
    print(f"  context . (the hook's default), cold (--no-cache)        {cold.spread(1000, 'ms', 0)}   peak RSS {cold.rss:7.1f} MiB")
    print(f"  context . (the hook's default), warm (1 file changed)    {warm.spread(1000, 'ms', 0)}   peak RSS {warm.rss:7.1f} MiB")
    print(f"  --context apps/app-0000 (narrowed), --no-cache           {narrow.spread(1000, 'ms', 0)}   peak RSS {narrow.rss:7.1f} MiB")
    if "yamllint" in m:
        print(f"  yamllint on the staged file                              {m['yamllint'].spread(1000, 'ms', 0)}")
    print(f"  warm / cold  {warm.time / cold.time:5.2f}   (target <= 0.25)")
    if "yamllint" in m:
        print(f"  warm / yamllint on the staged file  {warm.time / m['yamllint'].time:5.2f}   (target <= 1.0)")


UNITS_EDIT = "# edited for the benchmark: {}\n"


def units(args, workdir):
    """A platform repository of kustomize overlays over shared bases and
    Helm charts rendered per values set (``bench/units.py``): a full run
    without the cache, warm (nothing changed since the previous run), with
    one base changed before each run (its overlays build again, nothing
    else), and the hook with one overlay file staged against yamllint on
    it; then the cold run at N, 2N and 4N overlays per base."""
    from units import generate as generate_units

    def repository(bases, overlays, charts, sets):
        path = os.path.join(workdir, f"units-{bases}x{overlays}-{charts}x{sets}")
        if not os.path.isdir(path):
            generate_units(path, bases, overlays, charts, sets)
        return path

    bases, overlays, charts, sets = 8, 20, 40, 2
    path = repository(bases, overlays, charts, sets)
    cache = os.path.join(path, ".somaxlint_cache")
    base_file = os.path.join(path, "bases", "base-00", "configmap.yaml")
    with open(base_file) as handle:
        original = "".join(line for line in handle if not line.startswith("# edited"))
    edits = iter(range(10**9))

    def edit_base():
        with open(base_file, "w") as handle:
            handle.write(original + UNITS_EDIT.format(next(edits)))

    staged = "overlays/base-01/env-01/sysctls.yaml"
    cli = [*somaxlint_cmd(args), "check", "--format", "json"]
    cold = [*cli, "--no-cache", "."]
    warm = [*cli, "."]
    hook = [*hook_cmd(args), "check", "--default-context", ".", staged]
    yamllint = [os.path.join(os.path.dirname(sys.executable), "yamllint"), "-d", "relaxed", staged]
    shutil.rmtree(cache, ignore_errors=True)
    run_measured(warm, path)  # fills the cache
    repeat = max(args.repeat, 3)
    commands = {
        "cold": (cold, path, False, None),
        "warm": (warm, path, False, None),
        "changed": (warm, path, False, edit_base),
        "hook": (hook, path, True, None),
    }
    if os.path.exists(yamllint[0]):
        commands["yamllint"] = (yamllint, path, True, None)
    m = alternate(commands, repeat)
    with open(base_file, "w") as handle:
        handle.write(original)
    c = m["cold"]
    renders = bases * overlays + charts * sets
    print(f"units: {bases} bases x {overlays} overlays, {charts} charts x {sets} values sets ({renders} renders); "
          f"median (min-max) of {repeat} alternating runs")
    print(f"  cold (--no-cache)                      {c.spread()}   peak RSS {c.rss:7.1f} MiB")
    print(f"  warm (nothing changed)                 {m['warm'].spread()}   warm / cold     {m['warm'].time / c.time:5.2f}   (target <= 0.15)")
    print(f"  one base changed ({overlays} overlays rebuilt)   {m['changed'].spread()}   changed / cold  {m['changed'].time / c.time:5.2f}   (target <= 0.3)")
    print(f"  hook, one overlay file staged, warm    {m['hook'].spread(1000, 'ms', 0)}", end="")
    if "yamllint" in m:
        print(f"   hook / yamllint {m['hook'].time / m['yamllint'].time:5.2f}   (target <= 2)")
        print(f"  yamllint on the staged file            {m['yamllint'].spread(1000, 'ms', 0)}")
    else:
        print()
    print("  doubling, cold (--no-cache), overlays per base (no charts):")
    times = []
    for count in (overlays // 4, overlays // 2, overlays):
        scaled = repository(bases, count, 0, 1)
        runs = alternate({"cold": ([*cli, "--no-cache", "."], scaled, False, None)}, repeat)["cold"]
        times.append(runs.time)
        step = f"   x{runs.time / times[-2]:4.2f} the previous" if len(times) > 1 else ""
        print(f"    {bases} x {count:3d} overlays   {runs.spread()}{step}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--precommit", action="store_true")
    parser.add_argument("--repos", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: the hook on a 60-file repository, once")
    parser.add_argument("--units", action="store_true", help="a repository of kustomize overlays and Helm charts: cold, warm, one base changed, the hook")
    parser.add_argument("--lint-command", metavar="CMD", help="the somaxlint command to measure (default: this Python's -m somaxlint, or its somaxlint script for the hook)")
    parser.add_argument("--workdir", default=os.path.join(HERE, "out"))
    parser.add_argument("lint_args", nargs="*", help="extra somaxlint arguments (after --)")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if args.quick:
        hook(args, args.workdir, apps=10, repeat=1)
    elif args.units:
        units(args, args.workdir)
    elif args.scaling:
        scaling(args, args.workdir)
    elif args.repos:
        repos(args, args.workdir)
    elif args.precommit:
        precommit(args, args.workdir)
    else:
        full(args, args.workdir)


if __name__ == "__main__":
    main()

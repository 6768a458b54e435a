"""somaxlint's speed against the parsers' own floor, in one process run.

    python bench/run.py                # full corpus: floor vs full lint
    python bench/run.py --scaling      # 1x vs 2x corpus
    python bench/run.py --precommit    # one manifest + one nginx file vs yamllint, and
                                       # the hook on a 3,000-file repository
    python bench/run.py --repos        # 100 vs 200 apps x 3 environments (nearness)
    python bench/run.py --quick        # smoke run: the hook on a 60-file repository, once

The floor is what no linter of these inputs can beat: libyaml composing
every YAML file (PyYAML's CSafeLoader) plus crossplane parsing every nginx
file with `single=True`.  Each measurement runs in a fresh subprocess,
alternating floor and somaxlint, and reports medians; peak RSS is the
subprocess's maximum resident set.  Needs `pip install pyyaml yamllint`;
for the pre-commit comparison, a regular (not editable) install.

A measured command must exit 0 or 1 and print something (a clean text run
may print nothing only with status 0); anything else -- an import error
timed as if it were a lint, a usage error, a crash -- stops the benchmark
with the command, its status and the end of its stderr.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate  # noqa: E402

FLOOR = r"""
import os, sys, yaml, crossplane
root = sys.argv[1]
trees = []
for dirpath, _, names in os.walk(root):
    for name in sorted(names):
        path = os.path.join(dirpath, name)
        if name.endswith((".yaml", ".yml")):
            with open(path, encoding="utf-8") as handle:
                trees.append(list(yaml.compose_all(handle.read(), Loader=yaml.CSafeLoader)))
        elif name.endswith(".conf"):
            trees.append(crossplane.parse(path, single=True))
print(len(trees))
"""


class MeasureError(SystemExit):
    """A measured command did not do its work: the figure would be a lie."""


def run_measured(argv, cwd=None, allow_silent=False):
    """(seconds, peak RSS in MiB) of one run of ``argv``.  Its output goes
    to temporary files (a pipe could fill and stall it), then is checked:
    exit status 0 or 1, and something on stdout -- unless ``allow_silent``,
    and then only with status 0 (a clean text run prints nothing; a Python
    that cannot import the linter exits 1 with nothing on stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
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
    would), else this interpreter's ``-m linter``."""
    if getattr(args, "lint_command", None):
        return shlex.split(args.lint_command)
    return [sys.executable, "-m", "linter"]


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


def pairs(a, b, repeat, cwd=None, allow_silent=False):
    """Alternate A and B `repeat` times; medians of time and RSS."""
    results = {"a": [], "b": []}
    for _ in range(repeat):
        results["a"].append(run_measured(a, cwd, allow_silent))
        results["b"].append(run_measured(b, cwd, allow_silent))
    return {k: (statistics.median(t for t, _ in v), statistics.median(r for _, r in v)) for k, v in results.items()}


def corpus_dir(scale, workdir):
    path = os.path.join(workdir, f"corpus-x{scale}")
    if not os.path.isdir(path):
        counts = generate(path, seed=1, scale=scale)
        with open(os.path.join(path, ".counts"), "w") as handle:
            handle.write(str(counts["documents"]))
    with open(os.path.join(path, ".counts")) as handle:
        return path, int(handle.read())


def full(args, workdir):
    corpus, documents = corpus_dir(1, workdir)
    m = pairs(floor_cmd(corpus), lint_cmd(args, corpus, *args.lint_args), args.repeat)
    (floor_t, floor_rss), (lint_t, lint_rss) = m["a"], m["b"]
    print(f"corpus: {documents} documents, 1000 nginx files ({corpus}); medians of {args.repeat} alternating runs")
    print(f"  floor (libyaml compose + crossplane single)  {floor_t:7.2f} s   peak RSS {floor_rss:7.1f} MiB")
    print(f"  somaxlint check                              {lint_t:7.2f} s   peak RSS {lint_rss:7.1f} MiB")
    print(f"  full / floor time  {lint_t / floor_t:5.2f}   (target <= 2.0)")
    print(f"  full / floor RSS   {lint_rss / floor_rss:5.2f}   (target <= 2.0)")
    print(f"  documents per second (somaxlint)  {documents / lint_t:8.0f}")


def scaling(args, workdir):
    one, docs1 = corpus_dir(1, workdir)
    two, docs2 = corpus_dir(2, workdir)
    m = pairs(lint_cmd(args, one, *args.lint_args), lint_cmd(args, two, *args.lint_args), args.repeat)
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
    m = pairs(lint_cmd(args, paths[100], *args.lint_args), lint_cmd(args, paths[200], *args.lint_args), max(args.repeat, 5))
    t1, t2 = m["a"][0], m["b"][0]
    print(f"medians of {max(args.repeat, 5)} alternating runs")
    print(f"  100 apps x 3 envs ( 600 files)  {t1:6.2f} s")
    print(f"  200 apps x 3 envs (1200 files)  {t2:6.2f} s")
    print(f"  200 / 100 time  {t2 / t1:5.2f}   (linear: <= 2.1)")


def precommit(args, workdir):
    corpus, _ = corpus_dir(1, workdir)
    manifest = os.path.join(corpus, "manifests", "team-0", "app-00000.yaml")
    nginx_file = os.path.join(corpus, "nginx", "site-0000", "conf.d", "server-0.conf")
    # The console scripts of this environment, as a pre-commit hook runs
    # them.  Measure a regular install (`pip install .`): an editable one
    # adds an import hook to every module lookup.
    scripts = os.path.dirname(sys.executable)
    yamllint = [os.path.join(scripts, "yamllint"), "-d", "relaxed", manifest]
    lint = [*hook_cmd(args), "check", manifest, nginx_file]
    # Clean files: yamllint and somaxlint's text output may print nothing.
    m = pairs(yamllint, lint, max(args.repeat, 10), allow_silent=True)
    (y, _), (s, _) = m["a"], m["b"]
    print(f"one manifest + one nginx file, medians of {max(args.repeat, 10)} alternating runs")
    print(f"  yamllint (the YAML file alone)  {y * 1000:7.0f} ms")
    print(f"  somaxlint (both files)          {s * 1000:7.0f} ms")
    print(f"  somaxlint / yamllint  {s / y:5.2f}   (target <= 1.0)")
    hook(args, workdir, apps=500, repeat=max(args.repeat, 5))


def hook(args, workdir, apps, repeat):
    """The pre-commit hook as it runs on a commit: one staged Deployment,
    and the repository read as context (the hook's `--default-context .`),
    or the context narrowed to the app's directory with `--context`.  The
    repository is generated: `apps` apps x 3 environments x 2 files (500
    apps: 3,000 files), with a `.git` so the root is found as in a real
    checkout."""
    from repos import generate as generate_repo

    path = os.path.join(workdir, f"hook-repo-{apps}")
    if not os.path.isdir(path):
        generate_repo(path, apps)
        os.makedirs(os.path.join(path, ".git"))
    files = sum(len(names) for _, _, names in os.walk(os.path.join(path, "apps")))
    staged = "apps/app-0000/envs/prod/deployment.yaml"
    whole = [*hook_cmd(args), "check", "--default-context", ".", staged]
    narrowed = [*hook_cmd(args), "check", "--default-context", ".", "--context", "apps/app-0000", staged]
    m = pairs(whole, narrowed, repeat, cwd=path, allow_silent=True)
    (w, w_rss), (n, n_rss) = m["a"], m["b"]
    print(f"pre-commit hook on a generated repository of {files:,} files, one staged file; medians of {repeat} alternating runs")
    print(f"  context . (the hook's default)          {w * 1000:7.0f} ms   peak RSS {w_rss:7.1f} MiB")
    print(f"  --context apps/app-0000 (narrowed)      {n * 1000:7.0f} ms   peak RSS {n_rss:7.1f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--precommit", action="store_true")
    parser.add_argument("--repos", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: the hook on a 60-file repository, once")
    parser.add_argument("--lint-command", metavar="CMD", help="the somaxlint command to measure (default: this Python's -m linter, or its somaxlint script for the hook)")
    parser.add_argument("--workdir", default=os.path.join(HERE, "out"))
    parser.add_argument("lint_args", nargs="*", help="extra somaxlint arguments (after --)")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if args.quick:
        hook(args, args.workdir, apps=10, repeat=1)
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

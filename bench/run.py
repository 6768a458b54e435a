"""somaxlint's speed against the parsers' own floor, in one process run.

    python bench/run.py                # full corpus: floor vs full lint
    python bench/run.py --scaling      # 1x vs 2x corpus
    python bench/run.py --precommit    # one manifest + one nginx file vs yamllint
    python bench/run.py --repos        # 100 vs 200 apps x 3 environments (nearness)

The floor is what no linter of these inputs can beat: libyaml composing
every YAML file (PyYAML's CSafeLoader) plus crossplane parsing every nginx
file with `single=True`.  Each measurement runs in a fresh subprocess,
alternating floor and somaxlint, and reports medians; peak RSS is the
subprocess's maximum resident set.  Needs `pip install pyyaml yamllint`;
for the pre-commit comparison, a regular (not editable) install.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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


def run_measured(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(argv[:4])} failed ({code}): {stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def floor_cmd(corpus):
    return [sys.executable, "-c", FLOOR, corpus]


def lint_cmd(corpus, *extra):
    return [sys.executable, "-m", "linter", "check", "--format", "json", "--output", os.devnull, *extra, corpus]


def pairs(a, b, repeat):
    """Alternate A and B `repeat` times; medians of time and RSS."""
    results = {"a": [], "b": []}
    for _ in range(repeat):
        results["a"].append(run_measured(a))
        results["b"].append(run_measured(b))
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
    m = pairs(floor_cmd(corpus), lint_cmd(corpus, *args.lint_args), args.repeat)
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
    m = pairs(lint_cmd(one, *args.lint_args), lint_cmd(two, *args.lint_args), args.repeat)
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
    m = pairs(lint_cmd(paths[100], *args.lint_args), lint_cmd(paths[200], *args.lint_args), max(args.repeat, 5))
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
    lint = [os.path.join(scripts, "somaxlint"), "check", manifest, nginx_file]
    m = pairs(yamllint, lint, max(args.repeat, 10))
    (y, _), (s, _) = m["a"], m["b"]
    print(f"one manifest + one nginx file, medians of {max(args.repeat, 10)} alternating runs")
    print(f"  yamllint (the YAML file alone)  {y * 1000:7.0f} ms")
    print(f"  somaxlint (both files)          {s * 1000:7.0f} ms")
    print(f"  somaxlint / yamllint  {s / y:5.2f}   (target <= 1.0)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--precommit", action="store_true")
    parser.add_argument("--repos", action="store_true")
    parser.add_argument("--workdir", default=os.path.join(HERE, "out"))
    parser.add_argument("lint_args", nargs="*", help="extra somaxlint arguments (after --)")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if args.scaling:
        scaling(args, args.workdir)
    elif args.repos:
        repos(args, args.workdir)
    elif args.precommit:
        precommit(args, args.workdir)
    else:
        full(args, args.workdir)


if __name__ == "__main__":
    main()

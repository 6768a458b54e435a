"""Fuzz the whole pipeline as a hostile pull request would: charts,
kustomizations, manifests and server configs of this repository's own
fixtures, mutated and laced with attacks, each linted through the command
line in a child process.

    python tools/fuzz_pipeline.py --minutes 10 [--seed N] [--keep DIR]

Every case is a repository beside a directory that must stay out of reach
(a canary file, a victim file), with a secret in the environment and a
listener on 127.0.0.1.  A case fails when any of these does not hold:

* the exit status is 0, 1 or 2, and no "internal error" is printed;
* the JSON report parses (exit 0 or 1);
* neither the canary nor the secret appears in any output;
* nothing beside the repository is created or changed, the temporary
  directory the run is given is empty after it, no marker file appears;
* the listener sees no connection;
* the run ends within its time bound (--case-timeout) and its memory
  bound (--memory, through prlimit when it is installed).

A failing case is kept (--keep) with the command that reproduces it.
Exit status: 0 when no case failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CANARY = "CANARY-outside-9d27e1"
SECRET = "SECRET-in-the-environment-31ac"
MARKER = "MARKER-ran"

# seed units: directories copied whole (charts, kustomizations, small
# repositories) and single files
SEED_DIRS = [
    "tests/repos/platform",
    "tests/units/fixtures/charts/web",
    "tests/units/fixtures/charts/umbrella",
    "tests/units/fixtures/charts/broken",
    "tests/units/fixtures/kustomize",
    "tests/real_servers/flux",
    "tests/real_servers/kong-charts",
    "tests/real_servers/traefik-helm-chart",
    "examples/incident",
]
SEED_FILE_DIRS = ["tests/rules/fixtures"]


def _attacks(port: int, marker: str) -> list:
    """Text a hostile pull request puts into a file (each a line or a few)."""
    url = f"http://127.0.0.1:{port}/x"
    return [
        '{{ .Files.Get "../../outside/canary.txt" }}',
        '{{ fail (.Files.Get "/proc/self/environ") }}',
        '{{ fail (printf "%s" (.Files.Get "../outside/canary.txt")) }}',
        "{{ range $p, $_ := .Files.Glob \"**\" }}{{ $p }}{{ end }}",
        '{{ getHostByName "127.0.0.1" }}',
        "{{ lookup \"v1\" \"Secret\" \"default\" \"x\" }}",
        "{{ repeat 100000000 \"x\" }}",
        "{{ env \"SOMAXLINT_FUZZ_SECRET\" }}",
        f"resources:\n- {url}",
        f"resources:\n- git::{url}?ref=--upload-pack=touch%20{marker}%3B",
        f"Resources:\n- \"file://../outside//x?ref=--upload-pack=touch {marker};\"",
        "resources:\n- ../../outside",
        "bases:\n- ../../../",
        f"helmCharts:\n- name: x\n  repo: {url}",
        "configMapGenerator:\n- name: x\n  files: [../../outside/canary.txt]",
        "include /etc/passwd;",
        "include ../../outside/*;",
        "include ../../../../outside/canary.txt;",
        "load_module /tmp/x.so;",
        "x: " + "9" * 5000,
        "a: &a [" + ",".join(["*a"] * 3) + "]",
        "- &x [" * 200 + "]" * 200,
        "{" * 3000,
        "server {" * 500,
        "<<: *undefined",
        "!!python/object/apply:os.system ['touch " + marker + "']",
        "\x00\xff\xfe",
        "kind: Pod\nspec:\n  containers: [{name: c, image: nginx, command: [sh, -c, 'touch " + marker + "']}]",
    ]


class Listener:
    """A TCP listener on 127.0.0.1 that counts connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def stop(self):
        self.stopped = True
        self.thread.join()
        self.sock.close()


def _snapshot(root: Path) -> dict:
    out = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            digest = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            out[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), st.st_size, digest, st.st_mtime_ns)
    return out


def _seed_files() -> list:
    files = []
    for top in SEED_FILE_DIRS:
        for path in sorted((REPO / top).rglob("*")):
            if path.is_file() and not path.is_symlink():
                files.append(path)
    return files


def _text_files(root: Path) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _mutate_text(rng: random.Random, data: bytes, donors: list, attacks: list) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        i = rng.randrange(len(lines) + 1)
        if op == 0 and lines:  # delete a line
            del lines[min(i, len(lines) - 1)]
        elif op == 1 and lines:  # duplicate a line
            j = min(i, len(lines) - 1)
            lines.insert(j, lines[j])
        elif op == 2 and donors:  # a line of another file
            donor = rng.choice(donors).split(b"\n")
            lines.insert(i, rng.choice(donor))
        elif op == 3:  # an attack, indented like its neighbour
            indent = b""
            if lines:
                near = lines[min(i, len(lines) - 1)]
                indent = near[: len(near) - len(near.lstrip())]
            attack = rng.choice(attacks).encode("utf-8", "surrogateescape")
            lines[i:i] = [indent + part for part in attack.split(b"\n")]
        elif op == 4 and lines:  # flip bytes
            j = min(i, len(lines) - 1)
            line = bytearray(lines[j])
            for _ in range(rng.randint(1, 3)):
                if line:
                    line[rng.randrange(len(line))] = rng.randrange(256)
            lines[j] = bytes(line)
        elif op == 5 and len(lines) > 2:  # swap two lines
            j, k = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[j], lines[k] = lines[k], lines[j]
        elif op == 6 and lines:  # truncate
            del lines[rng.randrange(len(lines)) :]
        else:  # repeat a block of lines
            if lines:
                j = rng.randrange(len(lines))
                block = lines[j : j + rng.randint(1, 8)]
                lines[j:j] = block * rng.randint(2, 20)
    return b"\n".join(lines)


def _links(rng: random.Random, repo: Path, outside: Path) -> None:
    """Symlinks a hostile tree holds: out of the root, loops, chains."""
    dirs = [p for p in repo.rglob("*") if p.is_dir() and not p.is_symlink()] or [repo]
    for _ in range(rng.randint(0, 3)):
        where = rng.choice(dirs)
        name = where / rng.choice(["link.yaml", "templates", "values.yaml", "nginx.conf", "a", "kustomization.yaml", "files"])
        if name.exists() or name.is_symlink():
            continue
        target = rng.choice([
            str(outside / "canary.txt"), str(outside), os.path.relpath(outside / "canary.txt", where), ".", "..", "a",
            "/proc/self/environ", "/dev/zero", "/etc/passwd", "does-not-exist",
        ])
        try:
            os.symlink(target, name)
        except OSError:
            pass


def build_case(rng: random.Random, case: Path, seeds: list, port: int) -> Path:
    outside = case / "outside"
    outside.mkdir(parents=True)
    (outside / "canary.txt").write_text(f"{CANARY}\n")
    (outside / "victim.txt").write_text("the victim's content\n")
    repo = case / "repo"
    repo.mkdir()
    (repo / ".git").mkdir()  # the repository root
    for source in rng.sample(SEED_DIRS, rng.randint(1, 3)):
        target = repo / source.replace("/", "_")
        shutil.copytree(REPO / source, target, symlinks=False)
    for source in rng.sample(seeds, min(len(seeds), rng.randint(0, 4))):
        target = repo / "files" / source.name
        target.parent.mkdir(exist_ok=True)
        if source.is_file():
            shutil.copyfile(source, target)
    files = _text_files(repo)
    donors = [f.read_bytes() for f in rng.sample(files, min(len(files), 6))]
    attacks = _attacks(port, str(case / MARKER))
    for path in rng.sample(files, min(len(files), rng.randint(1, 6))):
        path.write_bytes(_mutate_text(rng, path.read_bytes(), donors, attacks))
    config = b'kernel: "4.19"\n'
    if rng.random() < 0.1:  # (a configuration that does not load ends the run: exit 2, nothing linted)
        config = _mutate_text(rng, config, donors, attacks)
    (repo / ".somaxlint.yaml").write_bytes(config)
    _links(rng, repo, outside)
    return repo


STATS = {"exit": {}, "findings": 0, "rules": {}}


def run_case(case: Path, repo: Path, args, listener: Listener) -> list:
    """The problems of one case (empty: it held)."""
    tmp = case / "tmp"
    tmp.mkdir()
    home = case / "home"
    home.mkdir()
    before = _snapshot(case / "outside")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "SOMAXLINT_FUZZ_SECRET": SECRET,
        "GITHUB_TOKEN": SECRET,
        "http_proxy": f"http://127.0.0.1:{listener.port}",
        "https_proxy": f"http://127.0.0.1:{listener.port}",
    }
    prefix = []
    if shutil.which("prlimit"):
        prefix = ["prlimit", f"--as={args.memory}", "--"]
    problems = []
    seen = listener.connections
    for argv in (["--format", "json", "--kernel", "4.19", "."], ["explain", "--format", "json", "--kernel", "4.19", "."],
                 ["--format", "sarif", "--kernel", "4.19", "."]):
        started = time.monotonic()
        try:
            proc = subprocess.run(prefix + [sys.executable, "-m", "somaxlint"] + argv, cwd=repo, env=env,
                                  capture_output=True, timeout=args.case_timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"{' '.join(argv)}: more than {args.case_timeout} s")
            continue
        elapsed = time.monotonic() - started
        STATS["exit"][proc.returncode] = STATS["exit"].get(proc.returncode, 0) + 1
        if argv[0] == "--format" and argv[1] == "json" and proc.returncode in (0, 1):
            try:
                for finding in json.loads(proc.stdout)["findings"]:
                    STATS["findings"] += 1
                    STATS["rules"][finding["rule"]] = STATS["rules"].get(finding["rule"], 0) + 1
            except (ValueError, KeyError):
                pass
        out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
        if proc.returncode not in (0, 1, 2):
            problems.append(f"{' '.join(argv)}: exit {proc.returncode}: {out[-2000:]}")
        if "internal error" in out:
            problems.append(f"{' '.join(argv)}: internal error: {out[-2000:]}")
        if CANARY in out or SECRET in out:
            problems.append(f"{' '.join(argv)}: the canary or the secret is in the output")
        if proc.returncode in (0, 1) and argv[0] != "explain" or argv[:1] == ["explain"] and proc.returncode in (0, 1):
            try:
                json.loads(proc.stdout)
            except ValueError as exc:
                problems.append(f"{' '.join(argv)}: the report is not JSON ({exc})")
        if elapsed > args.case_timeout:
            problems.append(f"{' '.join(argv)}: {elapsed:.1f} s")
    if _snapshot(case / "outside") != before:
        problems.append("something beside the repository changed")
    if os.listdir(tmp):
        problems.append(f"the temporary directory is not empty: {os.listdir(tmp)[:5]}")
    for where in (case, repo, tmp, home):
        if (where / MARKER).exists():
            problems.append(f"a command ran: {where / MARKER}")
    time.sleep(0.05)
    if listener.connections != seen:
        problems.append(f"{listener.connections - seen} connection(s) to 127.0.0.1:{listener.port}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--cases", type=int, default=0, help="stop after this many cases (0: only the time limit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case-timeout", type=float, default=90.0, help="seconds a run may take")
    parser.add_argument("--memory", type=int, default=4 << 30, help="bytes of address space a run may have")
    parser.add_argument("--keep", type=Path, default=None, help="where failing cases are kept")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    seeds = _seed_files()
    listener = Listener()
    deadline = time.monotonic() + args.minutes * 60
    done = failed = 0
    started = time.monotonic()
    try:
        while time.monotonic() < deadline and (not args.cases or done < args.cases):
            case = Path(tempfile.mkdtemp(prefix="somaxlint-fuzz-"))
            case_seed = rng.randrange(1 << 30)
            try:
                repo = build_case(random.Random(case_seed), case, seeds, listener.port)
                problems = run_case(case, repo, args, listener)
            finally:
                done += 1
            if problems:
                failed += 1
                print(f"case {done} (seed {case_seed}): FAILED", flush=True)
                for problem in problems:
                    print(f"  {problem[:500]}", flush=True)
                if args.keep is not None:
                    args.keep.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(case), str(args.keep / f"case-{case_seed}"))
                    continue
            shutil.rmtree(case, ignore_errors=True)
    finally:
        listener.stop()
    elapsed = time.monotonic() - started
    print(f"{done} cases in {elapsed:.0f} s (seed {args.seed}): {failed} failed")
    exits = ", ".join(f"exit {k}: {v}" for k, v in sorted(STATS["exit"].items()))
    rules = ", ".join(f"{k} {v}" for k, v in sorted(STATS["rules"].items()))
    print(f"runs by status: {exits}; {STATS['findings']} findings ({rules})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

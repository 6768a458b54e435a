"""A pull request from a stranger, played as its author would play it.

Each test commits something hostile into a repository under review and
runs somaxlint on it through the command line, in a child process, with a
clean file beside the hostile one.  What must hold, whatever the input:

* commands: nothing in the tree makes anything run (a marker file that
  must not appear);
* network: nothing is fetched (a listener on 127.0.0.1 that must see no
  connection);
* reads: nothing outside the repository reaches any output (a canary
  file beside it, and a secret in the job's environment);
* writes: nothing outside the repository is created or changed (the
  directory beside it, compared before and after; the temporary
  directory the run is given, empty after it);
* resources: a small input costs bounded time and memory;
* the clean file's findings survive, and the exit status says what
  happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import config_map, deployment, position

CANARY = "CANARY-outside-4f1d9c"
SECRET = "SECRET-in-the-environment-7be2"
MARKER = "MARKER-ran"
SOMAXLINT = [sys.executable, "-m", "somaxlint"]
FORMATS = (("--format", "text"), ("--format", "json"), ("--format", "sarif"), ("--format", "github"), ("--format", "gitlab"))


def _kustomize():
    return shutil.which("kustomize") or shutil.which("kubectl")


def _helm_available():
    from somaxlint.units.helm_chart import _engine

    return _engine() is not None


needs_kustomize = pytest.mark.skipif(_kustomize() is None, reason="needs kustomize or kubectl (the test extra installs kubectl)")
needs_helm = pytest.mark.skipif(not _helm_available(), reason="needs Helm (the test extra installs the binding)")


class World:
    """A repository under review (``repo``) and, beside it, what must stay
    out of its reach (``outside``: a canary file, a victim file)."""

    def __init__(self, top: Path):
        self.top = top
        self.outside = top / "outside"
        self.outside.mkdir()
        (self.outside / "canary.txt").write_text(f"{CANARY}\n")
        (self.outside / "victim.txt").write_text("the victim's content\n")
        old = time.time() - 86400
        os.utime(self.outside / "victim.txt", (old, old))
        self.tmp = top / "tmp"
        self.tmp.mkdir()
        self.home = top / "home"
        self.home.mkdir()
        self.repo = top / "repo"
        self.repo.mkdir()
        subprocess.run(["git", "init", "-q", str(self.repo)], check=True)
        # the clean file beside every hostile one: nginx's default 511,
        # truncated to 128 on Linux 4.19
        self.control = deployment(name="control") + "---\n" + config_map(name="web-conf")
        self.write("control/app.yaml", self.control)
        self.before = self.snapshot()

    def write(self, name: str, text: str) -> Path:
        path = self.repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if text.startswith("\n") else text)
        return path

    def link(self, name: str, target) -> Path:
        path = self.repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        return path

    def snapshot(self) -> dict:
        """Every entry beside the repository: kind, mode, size, content hash,
        modification time."""
        out = {}
        for directory, dirnames, filenames in os.walk(self.outside):
            for name in dirnames + filenames:
                path = os.path.join(directory, name)
                st = os.lstat(path)
                digest = None
                if stat.S_ISREG(st.st_mode):
                    with open(path, "rb") as handle:
                        digest = hashlib.sha256(handle.read()).hexdigest()
                out[os.path.relpath(path, self.outside)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size, digest, st.st_mtime_ns)
        return out

    def env(self, **extra) -> dict:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),  # git is on it: kustomize would find it
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "SOMAXLINT_SECRET_TOKEN": SECRET,
            "GITHUB_TOKEN": SECRET,
        }
        env.update(extra)
        return env

    def run(self, *args, prefix=(), timeout=120, **env) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(prefix) + SOMAXLINT + list(args), cwd=self.repo, env=self.env(**env), capture_output=True, text=True, timeout=timeout,
        )

    def every_format(self, *args, prefix=()) -> dict:
        runs = {" ".join(f): self.run(*f, "--kernel", "4.19", *args, prefix=prefix) for f in FORMATS}
        runs["explain"] = self.run("explain", "--kernel", "4.19", *args, prefix=prefix)
        runs["explain json"] = self.run("explain", "--format", "json", "--kernel", "4.19", *args, prefix=prefix)
        return runs

    def findings(self, *args, prefix=(), **env) -> tuple:
        proc = self.run("--format", "json", "--kernel", "4.19", *args, prefix=prefix, **env)
        assert proc.returncode in (0, 1), proc.stderr
        return proc, json.loads(proc.stdout)["findings"]

    def assert_contained(self):
        """Nothing beside the repository changed, nothing left in the
        temporary directory, no marker anywhere."""
        assert self.snapshot() == self.before
        assert os.listdir(self.tmp) == []
        for where in (self.top, self.repo, self.tmp, self.home):
            assert not (where / MARKER).exists()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.assert_contained()


def _where(f) -> tuple:
    return (f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"])


def assert_control(world: World, findings) -> None:
    """The clean file's finding, exactly where its listen is."""
    line, column = position(world.control, "listen 80;")
    assert ("SMX001", "control/app.yaml", line, column) in [_where(f) for f in findings]


def assert_nothing_leaked(runs: dict) -> None:
    for name, proc in runs.items():
        text = proc.stdout + proc.stderr
        assert CANARY not in text, name
        assert SECRET not in text, name


# A wrapper under which this process's children can make no namespace:
# somaxlint then runs its renderers without them (the weaker sandbox).
WITHOUT_NAMESPACES = (
    "unshare", "--user", "--map-root-user", "sh", "-c",
    "for n in user net mnt; do echo 0 > /proc/sys/user/max_${n}_namespaces; done; exec \"$@\"", "sh",
)


def _namespaces_or_skip(mode: str):
    if mode == "without namespaces":
        if shutil.which("unshare") is None or subprocess.run(["unshare", "--user", "--map-root-user", "true"]).returncode != 0:
            pytest.skip("this kernel lets no user namespace be made here, so the weaker sandbox is the only one")
        return WITHOUT_NAMESPACES
    return ()


# 1. Commands ------------------------------------------------------------------------

UPLOAD_PACK = "file://{repo}//app?ref=--upload-pack=touch%20{marker}%3B"

# Spellings kustomize accepts and a check by key name and text does not see.
SPELLINGS = {
    "a key in another case": "Resources:\n- \"{url}\"\n",
    "a !!binary string": "resources:\n- !!binary {b64}\n",
    "a duplicate key": "resources: [ok.yaml]\nresources:\n- \"{url}\"\n",
    "behind a megabyte of comment": "#" + "x" * (1 << 20) + "\nresources:\n- \"{url}\"\n",
}


@needs_kustomize
@pytest.mark.parametrize("mode", ["in namespaces", "without namespaces"])
@pytest.mark.parametrize("spelling", sorted(SPELLINGS) + ["UTF-16"])
def test_a_kustomization_cannot_make_git_run_a_command(world, spelling, mode):
    prefix = _namespaces_or_skip(mode)
    url = UPLOAD_PACK.format(repo=world.repo, marker=world.top / MARKER)
    text = SPELLINGS["a key in another case"] if spelling == "UTF-16" else SPELLINGS[spelling]
    import base64

    text = text.replace("{url}", url).replace("{b64}", base64.b64encode(url.encode()).decode())
    path = world.repo / "app" / "kustomization.yaml"
    path.parent.mkdir()
    if spelling == "UTF-16":
        path.write_bytes(text.encode("utf-16"))
    else:
        path.write_text(text)
    world.write("app/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    subprocess.run(["git", "-C", str(world.repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(world.repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"], check=True)
    proc, findings = world.findings(".", prefix=prefix)
    assert not (world.top / MARKER).exists()
    assert_control(world, findings)
    [built] = [f for f in findings if f["location"]["path"] == "app/kustomization.yaml"]
    assert built["rule"] == "SMX000"
    assert proc.returncode == 1


# 2. Network -------------------------------------------------------------------------


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()


@needs_kustomize
def test_a_kustomization_cannot_reach_the_network(world):
    listener = Listener()
    try:
        # a spelling the pre-check reads since, but the namespace is what stops it
        world.write("app/kustomization.yaml", f"RESOURCES:\n- http://127.0.0.1:{listener.port}/x.yaml\n")
        proc, findings = world.findings(".")
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()
    assert_control(world, findings)
    assert [_where(f)[:2] for f in findings if f["location"]["path"].startswith("app/")] == [("SMX000", "app/kustomization.yaml")]


@needs_kustomize
def test_the_network_namespace_stops_a_fetch_the_pre_check_does_not_see(world):
    """The pre-check is only a message: a URL it cannot read (somaxlint's
    YAML reader keeps a !!binary scalar as its base64 text; kustomize
    decodes it) reaches the build, and the build reaches nothing."""
    import base64

    listener = Listener()
    try:
        url = base64.b64encode(f"http://127.0.0.1:{listener.port}/x.yaml".encode()).decode()
        world.write("app/kustomization.yaml", f"resources:\n- !!binary {url}\n")
        proc, findings = world.findings(".")
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        listener.close()
    assert_control(world, findings)
    assert [_where(f)[:2] for f in findings if f["location"]["path"].startswith("app/")] == [("SMX000", "app/kustomization.yaml")]


# 3. Reads ---------------------------------------------------------------------------


def _chart(world: World, name: str, templates: dict, extra: dict = None) -> Path:
    world.write(f"{name}/Chart.yaml", f"apiVersion: v2\nname: {os.path.basename(name)}\nversion: 0.1.0\n")
    world.write(f"{name}/values.yaml", "{}\n")
    for file, text in templates.items():
        world.write(f"{name}/templates/{file}", text)
    for file, text in (extra or {}).items():
        world.write(f"{name}/{file}", text)
    return world.repo / name


@needs_helm
def test_a_chain_of_symlinks_cannot_bring_a_file_from_outside_into_a_report(world):
    _chart(world, "charts/leak", {"cm.yaml": '{{ fail (printf "%s|%s" (.Files.Get "files/canary") (.Files.Get "files/env")) }}\n'})
    # each hop inside the repository but the last one
    world.link("charts/leak/files", "../../shared")
    world.link("shared/canary", world.outside / "canary.txt")
    world.link("shared/env", "/proc/self/environ")
    _chart(world, "charts/clean", {"cm.yaml": config_map(name="clean-conf")})
    runs = world.every_format(".")
    assert_nothing_leaked(runs)
    findings = json.loads(runs["--format json"].stdout)["findings"]
    assert_control(world, findings)
    leak = [f for f in findings if f["location"]["path"].startswith("charts/leak")]
    assert [(_where(f), f["message"]) for f in leak] == [
        (("SMX000", "charts/leak/files/canary", 1, 1), "chart not rendered: this symlink leads outside the repository, which somaxlint never reads")
    ]
    # the clean chart beside it is rendered: its ConfigMap's nginx.conf is read
    assert [_where(f)[:2] for f in findings if f["location"]["path"].startswith("charts/clean")] == [("SMX001", "charts/clean/templates/cm.yaml")]
    assert runs["--format json"].returncode == 1


@needs_kustomize
def test_a_base_beside_the_repository_is_never_built_through_lexical_dotdot(world):
    sibling = world.top / "sibling"
    sibling.mkdir()
    (sibling / "kustomization.yaml").write_text("resources: [deploy.yaml]\n")
    (sibling / "deploy.yaml").write_text(deployment(name=CANARY.lower()) + "---\n" + config_map())
    world.write("d1/d2/keep", "")
    world.link("link", "d1/d2")
    # resolved through the link this stays inside; joined as kustomize
    # joins it, it is the sibling
    world.write("kustomization.yaml", "resources:\n- link/../../sibling\n")
    runs = world.every_format(".")
    for name, proc in runs.items():
        assert CANARY.lower() not in proc.stdout + proc.stderr, name
    findings = json.loads(runs["--format json"].stdout)["findings"]
    assert [(_where(f), f["message"]) for f in findings if f["location"]["path"] == "kustomization.yaml"] == [
        (("SMX000", "kustomization.yaml", 2, 3), "kustomization not built: link/../../sibling: it is outside the repository")
    ]


# 4. Writes --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["the cache is a symlink", "its entries are a symlink", "its marker is a symlink"])
def test_a_committed_cache_cannot_write_outside_the_repository(world, layout):
    if layout == "the cache is a symlink":
        (world.outside / "cache").mkdir()
        world.link(".somaxlint_cache", world.outside / "cache")
    elif layout == "its entries are a symlink":
        (world.outside / "entries").mkdir()
        world.link(".somaxlint_cache/load", world.outside / "entries")
    else:
        (world.repo / ".somaxlint_cache" / "load").mkdir(parents=True)
        world.link(".somaxlint_cache/load/.pruned", world.outside / "victim.txt")
        world.link(".somaxlint_cache/.gitignore", world.outside / "victim.txt")
    world.before = world.snapshot()
    for _ in range(2):  # filling the cache, then reading it
        proc = world.run("--kernel", "4.19", ".")
        assert proc.returncode == 1, proc.stderr
        assert "control/app.yaml" in proc.stdout
    assert (world.outside / "victim.txt").read_text() == "the victim's content\n"
    if layout != "its marker is a symlink":
        assert "the cache is not used (somaxlint never writes through a symlink)" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root (CI runs as root)")
def test_an_output_that_is_a_device_is_written_in_place_never_replaced(world, tmp_path):
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    proc = world.run("--kernel", "4.19", "--format", "sarif", "--output", str(device), ".")
    assert proc.returncode == 1, proc.stderr
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert os.listdir(tmp_path / "repo") == os.listdir(world.repo)  # no temporary file left
    proc = world.run("--kernel", "4.19", "--format", "json", "--output", "/dev/stdout", ".")
    assert proc.returncode == 1, proc.stderr
    assert_control(world, json.loads(proc.stdout)["findings"])


# 5. Resources -----------------------------------------------------------------------

# The command, reporting its own peak memory (KiB) on its last stderr line.
MEASURED = (
    "import resource, sys\n"
    "from somaxlint.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "sys.stderr.write('\\npeak %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(status)\n"
)


def _measured(world: World, *args, limit_bytes=None, timeout=120):
    prefix = ["prlimit", f"--as={limit_bytes}", "--"] if limit_bytes else []
    started = time.monotonic()
    proc = subprocess.run(
        prefix + [sys.executable, "-c", MEASURED] + list(args), cwd=world.repo, env=world.env(), capture_output=True, text=True, timeout=timeout,
    )
    elapsed = time.monotonic() - started
    peak = int(proc.stderr.rsplit("peak ", 1)[1]) * 1024 if "\npeak " in proc.stderr else None
    return proc, elapsed, peak


@needs_helm
@pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")
def test_a_tiny_chart_that_renders_gigabytes_costs_bounded_memory_and_time(world):
    chart = _chart(world, "charts/bomb", {"cm.yaml": '{{ repeat 200000000 "x" }}\n'})
    assert sum(p.stat().st_size for p in chart.rglob("*") if p.is_file()) < 400
    proc, elapsed, peak = _measured(world, "--format", "json", "--kernel", "4.19", ".", limit_bytes=3 << 30)
    assert proc.returncode == 1, proc.stderr[-2000:]
    findings = json.loads(proc.stdout)["findings"]
    assert_control(world, findings)
    [bomb] = [f for f in findings if f["location"]["path"].startswith("charts/bomb")]
    assert _where(bomb) == ("SMX000", "charts/bomb/Chart.yaml", 1, 1)
    assert "the bound on one rendered stream" in bomb["message"] or "ran out of memory" in bomb["message"]
    assert elapsed < 60
    assert peak is not None and peak < 600 * 1024 * 1024, peak


@needs_helm
def test_symlink_loops_in_a_chart_end_the_copy_at_once(world):
    chart = _chart(world, "charts/loops", {"cm.yaml": config_map(name="loops")}, {"values.schema.json": "{}\n"})
    os.symlink(".", chart / "a")
    os.symlink(".", chart / "b")
    started = time.monotonic()
    proc, findings = world.findings(".")
    assert time.monotonic() - started < 30
    assert_control(world, findings)
    assert [(_where(f), f["message"]) for f in findings if f["location"]["path"].startswith("charts/")] == [
        (("SMX000", "charts/loops/a", 1, 1), "chart not rendered: symlink loop: it leads back to a directory it is inside of")
    ]


@needs_helm
@needs_kustomize
def test_one_broken_chart_loses_nothing_else(world):
    # a dangling link in a chart with a schema (the copy used to fail for
    # the whole run, with a temporary path in the message)
    broken = _chart(world, "charts/broken", {"cm.yaml": config_map(name="b")}, {"values.schema.json": "{}\n"})
    os.symlink("nowhere", broken / "templates" / "dangling.yaml")
    _chart(world, "charts/good", {"app.yaml": deployment(name="good") + "---\n" + config_map(name="web-conf")})
    world.write("k/kustomization.yaml", "resources: [app.yaml]\n")
    world.write("k/app.yaml", deployment(name="kapp") + "---\n" + config_map(name="web-conf"))
    proc, findings = world.findings(".")
    assert_control(world, findings)
    by_path = {}
    for f in findings:
        by_path.setdefault(f["location"]["path"].split("/")[0] + "/" + f["location"]["path"].split("/")[1], []).append(f)
    [dangling] = by_path["charts/broken"]
    assert (_where(dangling), dangling["message"]) == (
        ("SMX000", "charts/broken/templates/dangling.yaml", 1, 1), "chart not rendered: this symlink leads to nothing"
    )
    assert [f["rule"] for f in by_path["charts/good"]] == ["SMX001"]
    assert [f["rule"] for f in by_path["k/app.yaml"]] == ["SMX001"]
    assert "somaxlint-" not in proc.stdout + proc.stderr


def test_a_deeply_nested_pyproject_is_a_configuration_error(world):
    world.write("pyproject.toml", "[tool.somaxlint]\nkernel = \"4.19\"\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    proc = world.run(".")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("somaxlint: error: configuration: ")
    assert "internal error" not in proc.stderr


# 6. The pull request does not set its own bar ---------------------------------------


def _hostile_config(world: World):
    world.write(".somaxlint.yaml", 'kernel: "6.1"\nrules: {SMX001: off}\nexclude: ["control/*"]\nlimits: {max_file_size: 1}\n')
    text = world.control.replace("listen 80;", "listen 80;  # somaxlint: ignore SMX001 -- looks fine")
    world.write("control/app.yaml", text)
    return text


def test_the_trees_configuration_and_suppressions_do_not_apply_under_a_trusted_configuration(world):
    text = _hostile_config(world)
    trusted = world.top / "trusted.yaml"
    trusted.write_text('kernel: "4.19"\n')
    plain = world.run("--format", "json", ".")
    assert plain.returncode == 0 and json.loads(plain.stdout)["findings"] == []  # what the pull request asks for
    proc = world.run("--format", "json", "--trusted-config", str(trusted), ".")
    assert proc.returncode == 1, proc.stderr
    line, column = position(text, "listen 80;")
    assert [_where(f) for f in json.loads(proc.stdout)["findings"]] == [("SMX001", "control/app.yaml", line, column)]
    assert "somaxlint: trusted mode: .somaxlint.yaml is not read (the configuration is --trusted-config)" in proc.stderr
    # the trusted configuration may honour the tree's suppressions
    trusted.write_text('kernel: "4.19"\ninline_suppressions: true\n')
    proc = world.run("--format", "json", "--trusted-config", str(trusted), ".")
    assert proc.returncode == 0 and json.loads(proc.stdout)["findings"] == []


def test_a_trusted_configuration_must_come_from_outside_the_tree(world):
    world.write("trusted.yaml", 'kernel: "4.19"\n')
    proc = world.run("--trusted-config", "trusted.yaml", ".")
    assert proc.returncode == 2
    assert "--trusted-config must come from outside the repository under review" in proc.stderr
    (world.top / "trusted.yaml").write_text('kernel: "4.19"\n')
    world.write("baseline.json", json.dumps({"version": 1, "entries": []}))
    proc = world.run("--trusted-config", str(world.top / "trusted.yaml"), "--baseline", "baseline.json", ".")
    assert proc.returncode == 2
    assert "the baseline must come from outside the repository under review" in proc.stderr


@needs_helm
def test_a_trusted_configuration_renders_only_in_the_sandbox(world):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--user", "--map-root-user", "true"]).returncode != 0:
        pytest.skip("no user namespace can be made here, so no way to take them away")
    _chart(world, "charts/web", {"app.yaml": deployment(name="web") + "---\n" + config_map(name="web-conf")})
    trusted = world.top / "trusted.yaml"
    trusted.write_text('kernel: "4.19"\n')
    proc, findings = world.findings("--trusted-config", str(trusted), ".", prefix=WITHOUT_NAMESPACES)
    assert_control(world, findings)
    [chart] = [f for f in findings if f["location"]["path"].startswith("charts/")]
    assert _where(chart) == ("SMX019", "charts/web/Chart.yaml", 1, 1)
    assert chart["message"].startswith("chart not rendered: no network namespace can be made here")
    # without the trusted configuration it renders, and says how
    proc, findings = world.findings(".", prefix=WITHOUT_NAMESPACES)
    assert [f["rule"] for f in findings if f["location"]["path"].startswith("charts/")] == ["SMX001"]
    assert "rendered without their own network and mount namespaces" in proc.stderr


# 7. The Action uploads only what it wrote --------------------------------------------


def _action():
    from test_recipes import _yaml

    return _yaml().load((Path(__file__).resolve().parent.parent / "action.yml").read_text(encoding="utf-8"))


def _installed(tmp_path) -> Path:
    """An environment whose somaxlint is this one."""
    venv = tmp_path / "env"
    if not venv.exists():
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "somaxlint").symlink_to(Path(sys.executable).parent / "somaxlint")
    return venv


def test_the_action_never_uploads_a_report_it_did_not_write(world, tmp_path):
    from test_recipes import _action_inputs, _run_action

    action = _action()
    forged = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "somaxlint"}}, "results": []}]}
    world.write("somaxlint.sarif", json.dumps(forged))
    inputs = _action_inputs(action, paths=".", args="--select NO-SUCH-RULE", **{"sarif-category": "c"})
    status, outputs, proc = _run_action(action, inputs, tmp_path, world.repo, _installed(tmp_path), only={"lint"})
    assert status == 0 and outputs["lint"]["exit-code"] == "2", proc.stderr
    assert "sarif-file" not in outputs["lint"]  # nothing to upload
    inputs = _action_inputs(action, paths=".", args="--kernel 4.19", **{"sarif-category": "c"})
    status, outputs, proc = _run_action(action, inputs, tmp_path, world.repo, _installed(tmp_path), only={"lint"})
    written = Path(outputs["lint"]["sarif-file"])
    assert written != world.repo / "somaxlint.sarif" and not str(written).startswith(str(world.repo))
    assert json.loads(written.read_text())["runs"][0]["results"]  # the run's own findings
    assert json.loads((world.repo / "somaxlint.sarif").read_text()) == forged  # left alone, and not used
    shutil.rmtree(written.parent)


def test_the_action_reads_its_configuration_from_the_base_not_the_pull_request(world, tmp_path):
    from test_recipes import _action_inputs, _run_action

    git = ["git", "-C", str(world.repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    world.write(".somaxlint.yaml", 'kernel: "4.19"\n')
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "base"], check=True)
    base = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    _hostile_config(world)
    subprocess.run(git + ["commit", "-qam", "the pull request"], check=True)
    action = _action()
    inputs = _action_inputs(action, paths=".", **{"sarif-category": "c", "config-ref": base})
    status, outputs, proc = _run_action(action, inputs, tmp_path, world.repo, _installed(tmp_path), only={"lint"})
    assert outputs["lint"]["exit-code"] == "1", proc.stderr
    written = Path(outputs["lint"]["sarif-file"])
    results = json.loads(written.read_text())["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["SMX001"]
    assert "suppressions" not in results[0]
    shutil.rmtree(written.parent)


# 8. The same sandbox for an unprivileged user ---------------------------------------


@pytest.fixture
def as_nobody(tmp_path_factory):
    """somaxlint runnable by an unprivileged user: its package and the
    libraries it loads copied where anyone may read them, Debian's Python
    to run them (this process's may live under /root), setpriv to become
    nobody.  (name, argv prefix, the world-readable directory.)"""
    if os.geteuid() != 0:
        pytest.skip("becoming another user needs root (CI runs as root)")
    python = "/usr/bin/python3"
    if shutil.which("setpriv") is None or not os.path.exists(python):
        pytest.skip("needs setpriv (util-linux) and the system's python3: .ci/run installs both")
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True).stdout.strip()
    if version != str(tuple(sys.version_info[:2])):
        pytest.skip(f"the system's Python is {version}, not this one's: the copied C extensions would not load")
    import importlib.util
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="somaxlint-nobody-"))
    os.chmod(top, 0o755)
    lib = top / "lib"
    lib.mkdir()
    for name in ("somaxlint", "somaxlint.rules", "ruamel", "crossplane", "jsonschema", "jsonschema_specifications", "referencing", "rpds", "attrs", "attr"):
        spec = importlib.util.find_spec(name)
        source = spec.submodule_search_locations[0]  # a package (ruamel: a namespace package)
        target = lib.joinpath(*name.split("."))
        if not target.exists():  # (the rules live beside the engine in a checkout)
            shutil.copytree(source, target, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    clib = importlib.util.find_spec("_ruamel_yaml")
    shutil.copy2(clib.origin, lib)
    (top / "bin").mkdir()
    kubectl = os.path.realpath(_kustomize())
    shutil.copy2(kubectl, top / "bin" / os.path.basename(kubectl))
    for path in [top] + list(top.rglob("*")):
        os.chmod(path, 0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", f"PYTHONPATH={lib}", f"PATH={top / 'bin'}:/usr/bin:/bin", python]
    yield prefix, top
    shutil.rmtree(top, ignore_errors=True)


@needs_kustomize
def test_an_unprivileged_user_gets_the_same_sandbox(as_nobody):
    prefix, top = as_nobody
    if subprocess.run(prefix[:4] + ["unshare", "--user", "--map-root-user", "true"]).returncode != 0:
        pytest.skip("this kernel lets no unprivileged user make a user namespace")
    repo = top / "repo"
    (repo / "base").mkdir(parents=True)
    (repo / "prod").mkdir()
    (repo / "base" / "app.yaml").write_text(deployment() + "---\n" + config_map())
    (repo / "base" / "kustomization.yaml").write_text("resources: [app.yaml]\n")
    marker = top / MARKER
    url = UPLOAD_PACK.format(repo=repo, marker=marker)
    (repo / "prod" / "kustomization.yaml").write_text(f'resources: [../base]\n')
    (repo / "evil").mkdir()
    (repo / "evil" / "kustomization.yaml").write_text(f'Resources:\n- "{url}"\n')
    for path in [repo] + list(repo.rglob("*")):
        os.chmod(path, 0o777 if path.is_dir() else 0o644)
    proc = subprocess.run(
        prefix + ["-m", "somaxlint", "--no-cache", "--format", "json", "--kernel", "4.19", "prod", "evil"],
        cwd=repo, capture_output=True, text=True, timeout=120, env={"HOME": str(top), "LANG": "C.UTF-8"},
    )
    assert proc.returncode == 1, proc.stderr
    assert "without their own network and mount namespaces" not in proc.stderr  # the user namespace made them
    findings = json.loads(proc.stdout)["findings"]
    line, column = position(config_map(), "listen 80;")
    assert [_where(f) for f in findings] == [
        ("SMX001", "base/app.yaml", deployment().count("\n") + 1 + line, column),
        ("SMX000", "evil/kustomization.yaml", 2, 3),
    ]
    assert not marker.exists()


@needs_helm
def test_a_cancelled_run_stops_its_renderers_and_removes_their_copies(world):
    # two units that render for hours, side by side
    for name in ("a", "b"):
        _chart(world, f"charts/{name}", {"slow.yaml": "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n"})
    proc = subprocess.Popen(SOMAXLINT + ["--format", "json", "."], cwd=world.repo, env=world.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len([n for n in os.listdir(world.tmp) if n.startswith("somaxlint-render-")]) < 2:
        time.sleep(0.05)
    assert len(os.listdir(world.tmp)) == 2  # both renders under way
    time.sleep(0.5)
    started = time.monotonic()
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert proc.returncode == 143, err
    assert out == "" and err == "somaxlint: interrupted\n"
    # the fixture checks the temporary directory is empty; no renderer of
    # this run is left (each works in its copy under the run's TMPDIR:
    # another run on the machine is not this one's)
    assert _workers_in(world.tmp) == []


def _workers_in(tmp: Path) -> list:
    """The Helm workers whose working directory is under ``tmp``."""
    found = []
    for pid in subprocess.run(["pgrep", "-f", "helm_worker.py"], capture_output=True, text=True).stdout.split():
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue  # gone meanwhile
        if cwd == str(tmp) or cwd.startswith(str(tmp) + "/"):
            found.append((pid, cwd))
    return found


def test_the_pipeline_fuzzer_runs_and_finds_nothing_in_a_few_cases(tmp_path):
    """tools/fuzz_pipeline.py (the ten-minute run of the README) kept
    working: a few seeded cases, each checked as the long run checks them."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent.parent / "tools" / "fuzz_pipeline.py"), "--cases", "3", "--seed", "7",
         "--keep", str(tmp_path / "kept")],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 cases in " in proc.stdout and ": 0 failed" in proc.stdout
    assert not (tmp_path / "kept").exists()

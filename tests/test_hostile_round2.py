"""Hostile input, round 2: nothing outside the lint root is opened, listed
or echoed, whatever the route; one hostile name cannot forge anything in
any output channel; results do not depend on listing or argument order;
unreadable directories and FIFOs are errors, never silence or a hang."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.parse

import pytest

from conftest import REPO, config_map, deployment

SENTINEL_DIR = "SENTINEL-dir-5d1e"
SENTINEL_NAME = "SENTINEL-name-8a3f.conf"
SENTINEL_CONTENT = "SENTINEL-content-c0b2"
SENTINELS = (SENTINEL_DIR, SENTINEL_NAME, SENTINEL_CONTENT)
LEAVES = "leads outside the lint root"


@pytest.fixture
def outside(tmp_path_factory):
    """A directory beside (never under) the project's root, whose names and
    content must never appear anywhere."""
    top = tmp_path_factory.mktemp("elsewhere") / SENTINEL_DIR
    top.mkdir()
    (top / SENTINEL_NAME).write_text(f"server {{ listen 1 backlog=99999; }} # {SENTINEL_CONTENT}\n")
    (top / "app.yaml").write_text(deployment(name=SENTINEL_CONTENT) + "---\n" + config_map())
    (top / "cfg.yaml").write_text(f"kernel: {SENTINEL_CONTENT}\n")
    (top / "pyproject.toml").write_text(f'[tool.somaxlint]\nkernel = "{SENTINEL_CONTENT}"\n')
    (top / "baseline.json").write_text(
        json.dumps({"version": 1, "entries": [{"rule": "SMX001", "path": SENTINEL_NAME, "fingerprint": "0" * 32, "message": SENTINEL_CONTENT}]})
    )
    return top


@pytest.fixture
def touched(monkeypatch):
    """Every path Python opens or lists while the fixture is active (audit
    hooks see os.scandir, os.listdir and open)."""
    seen = []
    active = [True]

    def hook(event, args):
        if active[0] and event in ("open", "os.scandir", "os.listdir") and args and isinstance(args[0], (str, bytes)):
            seen.append(os.path.abspath(os.fsdecode(args[0])))

    sys.addaudithook(hook)
    yield seen
    active[0] = False


def _into(paths, directory):
    real = os.path.realpath(directory)
    return [p for p in paths if p == real or p.startswith(real + os.sep) or p == str(directory) or p.startswith(str(directory) + os.sep)]


def _every_format(project, *args):
    """stdout and stderr of the run in each format, and its JSON findings."""
    runs = {fmt: project.run("--format", fmt, *args) for fmt in ("text", "json", "sarif", "github", "gitlab")}
    runs["explain"] = project.run("explain", *args)
    runs["explain-json"] = project.run("explain", "--format", "json", *args)
    return runs


def _assert_nothing_echoed(runs):
    for name, run in runs.items():
        for sentinel in SENTINELS:
            assert sentinel not in run.out + run.err, (name, sentinel)


# 1. Outside the lint root, by every route ------------------------------------------------


def test_a_directory_argument_that_is_a_symlink_out_is_an_error_there(project, outside, touched):
    os.symlink(outside, project.root / "k8s")
    project.write("ok.yaml", deployment() + "---\n" + config_map())
    touched.clear()
    runs = _every_format(project, "k8s", "ok.yaml")
    _assert_nothing_echoed(runs)
    # nothing under it opened (listing: see the test below)
    assert not [p for p in _into(touched, outside) if os.path.isfile(p)]
    findings = runs["json"].json["findings"]
    k8s = [f for f in findings if f["location"]["path"] == "k8s"]
    assert [(f["rule"], f["location"]["line"], LEAVES in f["message"]) for f in k8s] == [("SMX000", 1, True)]
    assert any(f["location"]["path"] == "ok.yaml" for f in findings)  # the rest is still linted
    assert runs["text"].status == 1


def test_a_file_argument_through_a_symlinked_directory_is_an_error_there(project, outside, touched):
    os.symlink(outside, project.root / "k8s")
    touched.clear()
    run = project.run("--format", "json", f"k8s/{SENTINEL_NAME}", "k8s/app.yaml")
    assert not _into(touched, outside)
    assert [(f["rule"], f["location"]["path"], LEAVES in f["message"]) for f in run.json["findings"]] == [
        ("SMX000", f"k8s/{SENTINEL_NAME}", True),
        ("SMX000", "k8s/app.yaml", True),
    ]
    assert SENTINEL_CONTENT not in run.out + run.err
    assert run.status == 1


def test_a_directory_argument_that_is_a_symlink_out_is_not_even_listed(project, outside, touched):
    os.symlink(outside, project.root / "k8s")
    touched.clear()
    project.run("--format", "json", "k8s")
    assert not _into(touched, outside)


def test_a_walked_symlink_out_is_skipped_by_name_and_never_entered(project, outside, touched):
    os.symlink(outside, project.root / "escape")
    os.symlink(outside / SENTINEL_NAME, project.root / "link.conf")
    project.write("ok.yaml", deployment() + "---\n" + config_map())
    touched.clear()
    runs = _every_format(project, ".")
    assert not _into(touched, outside)
    _assert_nothing_echoed(runs)
    skipped = {s["path"]: s["reason"] for s in runs["json"].json["summary"]["skipped_files"]}
    assert skipped == {"escape": "symlink that leads outside the lint root", "link.conf": "symlink that leads outside the lint root"}


def test_include_globs_never_list_through_a_symlink_out(project, outside, touched):
    conf = project.root / "conf"
    conf.mkdir()
    os.symlink(outside, conf / "escape")
    os.symlink("/", conf / "root")
    (conf / "real").mkdir()
    (conf / "real" / "a.conf").write_text("server { listen 8081 backlog=99999; }\n")
    text = (
        "events {}\nhttp {\n"
        "    include conf/*/*.conf;\n"  # conf/escape, conf/root: named, not listed
        "    include conf/escape/*.conf;\n"  # the static part leads out
        f"    include conf/escape/{SENTINEL_NAME};\n"  # a plain path through the link
        "    include conf/*/etc/*;\n"  # the host's /etc through conf/root
        "}\n"
    )
    project.write("nginx.conf", text)
    touched.clear()
    runs = _every_format(project, ".")
    assert not _into(touched, outside)
    assert not [p for p in touched if p.startswith("/etc")]
    _assert_nothing_echoed(runs)
    smx013 = [(f["location"]["line"], f["message"]) for f in runs["json"].json["findings"] if f["rule"] == "SMX013"]
    via = "include not followed: the pattern reaches conf/escape (and 1 more), a symlink that leads outside the lint root: nothing there is listed or read"
    outside_message = "include not followed: the path is outside the lint root and is not read"
    assert smx013 == [(3, via), (4, outside_message), (5, outside_message), (6, via)]
    # the file under the root is read all the same
    assert any(f["rule"] == "SMX001" and f["location"]["path"] == "conf/real/a.conf" for f in runs["json"].json["findings"])


def test_a_file_included_many_times_is_resolved_once(project, monkeypatch):
    """A snippet included by three servers: its real path is asked of the
    file system once in the run (the containment check and the read share
    it), and every include reaches it."""
    project.write("site/snippets/common.conf", "server_tokens off;\n")
    servers = "".join(f"    server {{\n        listen {port} backlog=99999;\n        include snippets/common.conf;\n    }}\n" for port in (81, 82, 83))
    project.write("site/nginx.conf", "events {}\nhttp {\n" + servers + "}\n")
    asked = []
    realpath = os.path.realpath
    monkeypatch.setattr(os.path, "realpath", lambda path, **kw: asked.append(path) or realpath(path, **kw))
    run = project.run("check", "--no-cache", "--format", "json", ".")
    assert asked.count(os.path.join(str(project.root), "site", "snippets", "common.conf")) == 1
    found = sorted((f["rule"], f["location"]["path"], f["location"]["line"]) for f in run.json["findings"])
    assert found == [("SMX001", "site/nginx.conf", line) for line in (4, 8, 12)]


def test_a_path_without_a_real_path_is_outside_every_root(tmp_path):
    from somaxlint.discover import RootFS

    rootfs = RootFS([str(tmp_path)], 1 << 20)
    assert rootfs.realpath(str(tmp_path / "a\0b")) is None
    assert not rootfs.inside(str(tmp_path / "a\0b"))
    assert not rootfs.isfile(str(tmp_path / "a\0b"))
    assert rootfs.inside(str(tmp_path / "missing")) and not rootfs.isfile(str(tmp_path / "missing"))


def test_config_discovery_never_reads_a_symlink_out(project, outside, touched):
    project.write("ok.yaml", deployment() + "---\n" + config_map())
    os.symlink(outside / "cfg.yaml", project.root / ".somaxlint.yaml")
    touched.clear()
    run = project.run("ok.yaml")
    assert not _into(touched, outside)
    assert run.status == 2 and run.out == ""
    assert run.err == (
        f"somaxlint: error: configuration: {project.root}/.somaxlint.yaml: a symlink that leads outside the repository "
        "(or directory) holding it; somaxlint does not read it (put the file itself there)\n"
    )
    os.unlink(project.root / ".somaxlint.yaml")
    # named with --config: the same
    os.symlink(outside / "cfg.yaml", project.root / "named.yaml")
    run = project.run("--config", "named.yaml", "ok.yaml")
    assert run.status == 2 and SENTINEL_CONTENT not in run.err and "named.yaml: a symlink that leads outside" in run.err
    # a pyproject.toml that leads out is passed over, unread
    os.symlink(outside / "pyproject.toml", project.root / "pyproject.toml")
    touched.clear()
    run = project.run("--kernel", "4.19", "ok.yaml")
    assert not _into(touched, outside)
    assert run.status == 1 and SENTINEL_CONTENT not in run.out + run.err
    # inside the root, a symlinked configuration is read as usual
    os.unlink(project.root / "pyproject.toml")
    project.write("conf/somaxlint.yaml", 'kernel: "4.19"\n')
    os.symlink("conf/somaxlint.yaml", project.root / ".somaxlint.yaml")
    assert "SMX001" in project.run("ok.yaml").out


def test_sub_path_and_host_path_never_reach_the_host(project, outside, touched):
    mounts = (
        "- name: conf\n  mountPath: /etc/nginx/nginx.conf\n  subPath: nginx.conf\n"
        f"- name: conf\n  mountPath: /etc/nginx/a.conf\n  subPath: ../../{outside.name}/{SENTINEL_NAME}\n"
        f"- name: host\n  mountPath: /etc/nginx/host\n"
    )
    volumes = f"- name: conf\n  configMap:\n    name: web-conf\n- name: host\n  hostPath:\n    path: {outside}\n"
    nginx = "events {}\nhttp {\n    include a.conf;\n    include host/*.conf;\n    server { listen 80; }\n}\n"
    project.write("k8s.yaml", deployment(mounts=mounts, volumes=volumes) + "---\n" + config_map(files={"nginx.conf": nginx}))
    touched.clear()
    runs = _every_format(project, ".")
    assert not _into(touched, outside)
    _assert_nothing_echoed(runs)
    messages = sorted((f["location"]["line"], f["message"]) for f in runs["json"].json["findings"] if f["rule"] == "SMX013")
    # located at the includes (lines of the ConfigMap), naming the volume, never the host path
    assert [m for _, m in messages] == [
        "include not followed: no mount of the container provides it",
        "include not followed: it is in a mount whose content is not in the input (hostPath volume 'host': content not in the input)",
    ]


def test_a_baseline_that_leads_out_is_refused(project, outside, touched):
    project.write("ok.yaml", deployment() + "---\n" + config_map())
    os.symlink(outside / "baseline.json", project.root / "baseline.json")
    touched.clear()
    run = project.run("--kernel", "4.19", "--baseline", "baseline.json", "ok.yaml")
    assert not _into(touched, outside)
    assert SENTINEL_CONTENT not in run.err and SENTINEL_NAME not in run.err
    assert run.status == 2 and LEAVES in run.err


def test_confined_says_why_a_file_named_by_an_option_is_not_read(project, outside):
    from somaxlint.discover import confined

    os.symlink(outside / "baseline.json", project.root / "baseline.json")
    (project.root / "mine.json").write_text("{}")
    os.symlink("mine.json", project.root / "alias.json")
    root = str(project.root)
    assert confined(os.path.join(root, "baseline.json"), root) == f"{root}/baseline.json: the path {LEAVES} through a symlink; somaxlint does not read it"
    assert confined(os.path.join(root, "mine.json"), root) is None
    assert confined(os.path.join(root, "alias.json"), root) is None
    assert confined(os.path.join(root, "missing.json"), root) is None


def test_a_report_is_never_written_through_a_symlink_out(project, outside):
    project.write("ok.yaml", deployment() + "---\n" + config_map())
    os.symlink(outside / "cfg.yaml", project.root / "report.json")
    before = (outside / "cfg.yaml").read_text()
    run = project.run("--format", "json", "--output", "report.json", "ok.yaml")
    assert run.status == 2 and run.out == ""
    assert run.err == f"somaxlint: error: --output report.json: cannot write: the path {LEAVES} through a symlink\n"
    assert (outside / "cfg.yaml").read_text() == before
    assert sorted(os.listdir(outside)) == sorted(["app.yaml", "baseline.json", "cfg.yaml", "pyproject.toml", SENTINEL_NAME])
    # a symlink inside the root is written through as before
    (project.root / "reports").mkdir()
    os.symlink("reports/r.json", project.root / "r.json")
    assert project.run("--format", "json", "--output", "r.json", "ok.yaml").status in (0, 1)
    assert json.loads((project.root / "reports" / "r.json").read_text())["version"] == 1


# 2. One hostile name through every output channel ----------------------------------------

HOSTILE = "javascript:alert(1)\n::error file=x::forged\x1b]8;;http://evil\x1b\\\u202eevil"
# What no output may carry raw (newlines only as somaxlint's own line ends,
# carriage returns only in progress lines).
RAW = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _hostile_project(project):
    """The hostile name as a directory path (its `//` is one separator), a
    file under it, and as workload, container and ConfigMap names."""
    name = json.dumps(HOSTILE)  # a YAML double-quoted scalar
    workload = deployment(name=name, volumes=f"- name: conf\n  configMap:\n    name: {name}").replace("- name: nginx", f"- name: {name}")
    project.write(os.path.join(HOSTILE, "app.yaml"), workload + "---\n" + config_map(name=name), dedent=False)
    project.write(os.path.join(HOSTILE, "nginx.conf"), "events {}\nhttp { server { listen 8080 backlog=99999; } }\n", dedent=False)
    return os.path.normpath(HOSTILE)


def _check_channel(name, text, own_commands=0):
    assert not RAW.search(text), (name, RAW.search(text))
    # carriage returns only where progress redraws its line (and clears it)
    assert "\r" not in re.sub(r"\rsomaxlint: (reading \d+/\d+ files|rendering charts and kustomizations|modelling|checking) *|\r *\r", "", text), name
    commands = [line for line in text.split("\n") if line.startswith("::")]
    assert len(commands) == own_commands, (name, commands)
    assert not any(line.lstrip().startswith("::error file=x") for line in text.split("\n")), name


def test_one_hostile_name_forges_nothing_in_any_channel(project):
    directory = _hostile_project(project)
    project.monkeypatch.setattr("somaxlint.cli._Progress.DELAY", 0)
    args = ("--kernel", "4.19", "--progress", "--statistics", ".")
    runs = {fmt: project.run("--format", fmt, *args) for fmt in ("text", "json", "sarif", "github", "gitlab")}
    runs["explain"] = project.run("explain", "--kernel", "4.19", "--progress", ".")
    runs["explain-json"] = project.run("explain", "--format", "json", "--kernel", "4.19", ".")
    findings = runs["json"].json["findings"]
    assert {f["location"]["path"] for f in findings} >= {f"{directory}/app.yaml", f"{directory}/nginx.conf"}
    assert any(HOSTILE in f["message"].replace("\\x0a", "\n").replace("\\x1b", "\x1b").replace("\\u202e", "\u202e") for f in findings)
    for name, run in runs.items():
        assert run.status == 1 or name.startswith("explain"), (name, run.err)
        _check_channel(f"{name} stdout", run.out, own_commands=len(findings) if name == "github" else 0)
        _check_channel(f"{name} stderr", run.err)
        assert "somaxlint: reading " in run.err or name == "explain-json", name  # progress was shown
    # the same visible escapes everywhere a person reads the message
    shown = "javascript:alert(1)\\x0a::error file=x::forged\\x1b]8;;http://evil\\x1b\\\\u202eevil"
    assert shown in runs["text"].out and shown in runs["explain"].out
    assert shown in runs["json"].json["findings"][0]["message"] or any(shown in f["message"] for f in findings)
    github = runs["github"].out
    assert "\\x1b]8;;http%3A//evil" in github or "\\x1b]8;;http://evil" in github
    # SARIF: every URI a relative reference under %SRCROOT%, never a scheme
    sarif = runs["sarif"].json["runs"][0]
    locations = [a["location"] for a in sarif["artifacts"]] + [
        loc["physicalLocation"]["artifactLocation"] for r in sarif["results"] for loc in r["locations"] + r.get("relatedLocations", [])
    ]
    for location in locations:
        uri = location["uri"]
        assert location.get("uriBaseId") == "%SRCROOT%", uri
        assert urllib.parse.urlsplit(uri).scheme == "" and not uri.lower().startswith("javascript:"), uri
        assert urllib.parse.unquote(uri).startswith(directory), uri
    # explain json keeps names exact (JSON-escaped, ASCII only)
    listeners = runs["explain-json"].json["listeners"]
    assert any(r["workload"] == f"Deployment/default/{HOSTILE}" for r in listeners)
    assert runs["explain-json"].out.isascii() and runs["sarif"].out.isascii() and runs["gitlab"].out.isascii()


def test_stale_baseline_entries_and_usage_errors_with_a_hostile_name_stay_one_line(project):
    directory = _hostile_project(project)
    run = project.run("--kernel", "4.19", "--write-baseline", "baseline.json", ".")
    assert run.status == 0
    _check_channel("write-baseline stderr", run.err)
    # the findings go: every baseline entry is stale, and says so on stderr
    shutil.rmtree(project.root / directory.split(os.sep)[0])
    project.write("ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    for fmt in ("text", "json", "github", "sarif", "gitlab"):
        run = project.run("--format", fmt, "--kernel", "4.19", "--baseline", "baseline.json", ".")
        stale = [line for line in run.err.split("\n") if line.startswith("somaxlint: stale baseline entry")]
        assert len(stale) >= 2, run.err
        _check_channel(f"stale {fmt}", run.err)
    # a usage error naming the hostile path
    run = project.run(HOSTILE + "-missing")
    assert run.status == 2
    _check_channel("usage error", run.err)
    assert run.err.count("\n") == 1


def test_workflow_commands_and_uris_escape_every_control_character():
    from somaxlint.report import escape_control, uri_reference, workflow_data, workflow_property

    assert workflow_data(HOSTILE) == "javascript:alert(1)%0A::error file=x::forged\\x1b]8;;http://evil\\x1b\\\\u202eevil"
    assert workflow_property("a:b,c%d\r\ne\x1b\u202e") == "a%3Ab%2Cc%25d%0D%0Ae\\x1b\\u202e"
    assert escape_control("a\u2028b\u200fc\ufeffd\udcff") == "a\\u2028b\\u200fc\\ufeffd\\udcff"
    assert uri_reference("javascript:alert(1)/x y") == "javascript%3Aalert(1)/x%20y"
    assert uri_reference("//evil.example/x") == "evil.example/x"
    assert uri_reference("caf\u00e9/\udcff") == "caf%C3%A9/%FF"


def test_a_file_name_that_is_not_utf8_is_reported_not_a_crash(project):
    if sys.platform == "darwin":
        pytest.skip("macOS file names are UTF-8")
    path = os.path.join(os.fsencode(project.root), b"caf\xe9.conf")
    with open(path, "wb") as handle:
        handle.write(b"events {}\nhttp { server { listen 80 backlog=99999; } }\n")
    for fmt in ("text", "json", "sarif", "github", "gitlab"):
        run = project.run("--format", fmt, "--kernel", "4.19", ".")
        assert run.status == 1, (fmt, run.err)
        assert "internal error" not in run.out + run.err
    assert "caf\\xe9.conf:2:" in project.run("--kernel", "4.19", ".").out


# 3. Determinism and semantics ---------------------------------------------------------------


def test_glob_truncation_at_the_include_limit_does_not_depend_on_listing_order(project, monkeypatch):
    project.write(".somaxlint.yaml", 'kernel: "4.19"\nlimits:\n  max_include_files: 2\n')
    project.write("nginx.conf", "events {}\nhttp {\n    include servers/*/*.inc;\n}\n")
    for number, name in enumerate(["e/x", "a/y", "c/x", "b/z", "a/x", "d/x"]):
        project.write(f"servers/{name}.inc", f"server {{ listen {8001 + number} backlog=99999; }}\n")

    def ports():
        run = project.run("--format", "json", ".")
        return sorted(f["message"].split(" on ")[1].split(" ")[0] for f in run.json["findings"] if f["rule"] == "SMX001"), run.out

    forward, out = ports()
    real_scandir = os.scandir

    class Reversed:
        """os.scandir listing in reverse name order (as a file system may)."""

        def __init__(self, path="."):
            with real_scandir(path) as entries:
                self.entries = iter(sorted(entries, key=lambda e: e.name, reverse=True))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.entries)

        def close(self):
            pass

    monkeypatch.setattr(os, "scandir", Reversed)
    backward, out_backward = ports()
    # glob(3)'s order is the byte order of the whole path: a/x, a/y first
    assert forward == backward == ["0.0.0.0:8002", "0.0.0.0:8005"]
    assert out == out_backward
    assert "the pattern matches more than 2 files; only the first were read" in out


@pytest.mark.parametrize("named", ["x.conf", "link.conf", "sub", "app.yaml"])
def test_argument_order_never_changes_the_output_or_the_status(project, named):
    project.write("x.conf", "this is not { nginx at all\n")  # walked: skipped; named: SMX000
    os.symlink("x.conf", project.root / "link.conf")
    project.write("sub/nginx.conf", "events {}\nhttp { server { listen 80 backlog=99999; } }\n")
    project.write("app.yaml", deployment() + "---\n" + config_map())
    for fmt in ("text", "json", "sarif"):
        one = project.run("--format", fmt, "--kernel", "4.19", ".", named)
        other = project.run("--format", fmt, "--kernel", "4.19", named, ".")
        assert (one.status, one.out, one.err) == (other.status, other.out, other.err), fmt
    named_alone = project.run("--format", "json", "--kernel", "4.19", ".", "x.conf")
    assert named_alone.status == 1
    assert [f["location"]["path"] for f in named_alone.json["findings"] if f["rule"] == "SMX000"] == ["x.conf"]


def test_a_missing_argument_error_does_not_depend_on_the_order(project):
    one = project.run("b-missing", "a-missing")
    other = project.run("a-missing", "b-missing")
    assert one.err == other.err == "somaxlint: error: a-missing: no such file or directory\n"


def test_an_unreadable_directory_is_an_error_naming_it(project, without_dac_override):
    prefix = without_dac_override
    project.write("ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    locked = project.root / "locked"
    locked.mkdir()
    (locked / "app.yaml").write_text(deployment())
    os.chmod(locked, 0)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))

    def run(*args):
        return subprocess.run(prefix + [sys.executable, "-m", "somaxlint", "--format", "json", *args], cwd=project.root, capture_output=True, text=True, env=env)

    try:
        for args, path in ((["."], "locked"), (["locked"], "locked"), (["locked", "ok.yaml"], "locked")):
            proc = run(*args)
            assert proc.returncode == 1, (args, proc.stderr)
            findings = json.loads(proc.stdout)["findings"]
            assert [(f["rule"], f["location"]["path"], f["location"]["line"]) for f in findings] == [("SMX000", path, 1)], args
            assert "cannot list the directory: Permission denied" in findings[0]["message"]
            assert "nothing to lint" not in proc.stderr
    finally:
        os.chmod(locked, 0o755)


def test_a_fifo_swapped_in_after_discovery_does_not_block(project, monkeypatch):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    import somaxlint.engine

    project.write("app.yaml", deployment() + "---\n" + config_map())
    project.write("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    real_discover = somaxlint.engine.discover

    def swapping(*args, **kwargs):
        found = real_discover(*args, **kwargs)
        os.unlink(project.root / "b.yaml")
        os.mkfifo(project.root / "b.yaml")
        return found

    monkeypatch.setattr(somaxlint.engine, "discover", swapping)

    def hung(signum, frame):
        raise TimeoutError("reading a FIFO blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        run = project.run("--format", "json", "--kernel", "4.19", ".")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    smx000 = [(f["location"]["path"], f["message"]) for f in run.json["findings"] if f["rule"] == "SMX000"]
    assert smx000 == [("b.yaml", "cannot parse YAML: cannot read: not a regular file")]
    assert any(f["rule"] == "SMX001" and f["location"]["path"] == "app.yaml" for f in run.json["findings"])
    assert run.status == 1
    # present at discovery: skipped, never opened
    monkeypatch.setattr(somaxlint.engine, "discover", real_discover)
    run = project.run("--format", "json", "--kernel", "4.19", ".")
    assert {"path": "b.yaml", "reason": "not a regular file"} in run.json["summary"]["skipped_files"]


def test_a_file_swapped_for_a_symlink_out_after_discovery_is_not_read(project, outside, monkeypatch, touched):
    import somaxlint.engine

    project.write("b.conf", "events {}\n")
    real_discover = somaxlint.engine.discover

    def swapping(*args, **kwargs):
        found = real_discover(*args, **kwargs)
        os.unlink(project.root / "b.conf")
        os.symlink(outside / SENTINEL_NAME, project.root / "b.conf")
        return found

    monkeypatch.setattr(somaxlint.engine, "discover", swapping)
    touched.clear()
    run = project.run("--format", "json", ".")
    assert SENTINEL_CONTENT not in run.out
    assert [f["rule"] for f in run.json["findings"]] == ["SMX000"]
    assert run.status == 1


# 4. Files read besides the inputs: never a FIFO, never unbounded ----------------------------


def _cli(project, *args, timeout=30):
    """The command line in a child process: a read that blocks fails the
    test by its timeout instead of hanging the suite."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-m", "somaxlint", *args], cwd=project.root, capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.mark.parametrize("fifo, args, message", [
    (".somaxlint.yaml", (), "configuration: {root}/.somaxlint.yaml: cannot read: not a regular file"),
    ("named.yaml", ("--config", "named.yaml"), "configuration: named.yaml: cannot read: not a regular file"),
    ("pyproject.toml", (), "configuration: {root}/pyproject.toml: cannot read: not a regular file"),
    ("baseline.json", ("--baseline", "baseline.json"), "baseline.json: cannot read: not a regular file"),
])
def test_a_fifo_as_configuration_or_baseline_is_an_error_not_a_hang(project, fifo, args, message):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    subprocess.run(["git", "init", "-q", str(project.root)], check=True)
    project.write("app.yaml", deployment() + "---\n" + config_map())
    os.mkfifo(project.root / fifo)
    proc = _cli(project, *args, "app.yaml")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "somaxlint: error: " + message.format(root=project.root) + "\n"


def test_a_configuration_over_the_size_limit_is_an_error(project):
    from somaxlint.config import MAX_CONFIG_BYTES

    project.write("ok.yaml", deployment() + "---\n" + config_map())
    project.write(".somaxlint.yaml", "kernel: '5.15'\n# " + "x" * MAX_CONFIG_BYTES + "\n")
    run = project.run("ok.yaml")
    assert run.status == 2 and run.err.endswith(f".somaxlint.yaml: cannot read: larger than {MAX_CONFIG_BYTES} bytes\n")


def test_a_fifo_a_kustomization_names_is_an_error_at_its_entry_and_kustomize_is_not_run(project):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    project.write("k/app.yaml", deployment() + "---\n" + config_map())
    project.write("k/kustomization.yaml", "resources:\n- app.yaml\n- pipe.yaml\n")
    os.mkfifo(project.root / "k" / "pipe.yaml")
    proc = _cli(project, "--format", "json", "k")
    findings = json.loads(proc.stdout)["findings"]
    got = [(f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"]) for f in findings]
    assert got == [("SMX001", "k/app.yaml", 36, 13), ("SMX000", "k/kustomization.yaml", 3, 3)]
    assert findings[1]["message"] == "kustomization not built: pipe.yaml: not a regular file (the tool would wait on it forever)"
    # the app is still checked, linked as it is, and says so
    assert findings[0]["assumptions"][-1] == (
        "kustomize did not build this kustomization (see the SMX000 at it): its resources linked as they are, without patches or generators"
    )
    assert proc.returncode == 1


def test_an_included_file_over_the_size_limit_is_named_as_such_not_as_missing(project):
    project.write("site/nginx.conf", "events {}\nhttp {\n  include conf.d/*.conf;\n}\n")
    project.write("site/conf.d/big.conf", "server { listen 80 backlog=9000; }\n" + "#" * 5000 + "\n")
    run = project.run("--max-file-size", "1000", "site")
    assert run.status == 1
    assert run.lines[:2] == [
        "site/conf.d/big.conf:1:1: SMX000 [error] cannot parse nginx: cannot read: file is larger than the limit of "
        "1000 bytes (raise it with --max-file-size)",
        "site/nginx.conf:3:3: SMX013 [warning] include not followed: the file cannot be read: larger than the limit of 1000 bytes",
    ]

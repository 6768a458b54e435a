"""Shared helpers: run the CLI in-process on files written to a temp dir."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from somaxlint.cli import main

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@dataclass
class Run:
    status: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)

    @property
    def lines(self):
        """Finding lines only (related-fact lines are indented)."""
        return [line for line in self.out.splitlines() if line and not line.startswith(" ")]

    def codes(self):
        return [line.split(": ", 1)[1].split(" ", 1)[0] for line in self.lines]


class Project:
    """A temporary directory of input files and a way to lint it."""

    def __init__(self, root: Path, monkeypatch):
        self.root = root
        self.monkeypatch = monkeypatch

    def write(self, name: str, text: str, dedent: bool = True) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if dedent else text, encoding="utf-8", newline="")
        return path

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def run(self, *args: str, stdin: bytes = b"", cwd: Path = None) -> Run:
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdout, sys.stderr, sys.stdin, os.getcwd()
        os.chdir(cwd or self.root)
        sys.stdout, sys.stderr, sys.stdin = out, err, _Stdin(stdin)
        try:
            status = main(list(args))
        finally:
            sys.stdout, sys.stderr, sys.stdin = saved[:3]
            os.chdir(saved[3])
        return Run(status, out.getvalue(), err.getvalue())

    def explain(self, *args: str) -> list:
        run = self.run("explain", "--format", "json", *args)
        return json.loads(run.out)["listeners"]


class _Stdin:
    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)

    def isatty(self):
        return False


@pytest.fixture
def without_dac_override(tmp_path_factory):
    """The argv prefix under which file permissions apply to this process's
    children: nothing for an ordinary user; for root, `setpriv` dropping the
    capabilities that bypass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH),
    as a CI job running as root needs."""
    probe = tmp_path_factory.mktemp("probe") / "locked"
    probe.mkdir()
    os.chmod(probe, 0)
    try:
        os.listdir(probe)
        bypassed = True
    except PermissionError:
        bypassed = False
    finally:
        os.chmod(probe, 0o755)
    if not bypassed:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv (util-linux) cannot drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    return Project(tmp_path, monkeypatch)


def corpus_or_skip() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not beside this checkout ({CORPUS}); it is in CI")
    return CORPUS


# Manifests the tests build on -------------------------------------------------


def deployment(
    name="web",
    namespace="default",
    mounts="""\
        - name: conf
          mountPath: /etc/nginx/nginx.conf
          subPath: nginx.conf""",
    volumes="""\
      - name: conf
        configMap:
          name: web-conf""",
    pod_extra="",
    container_extra="",
    image="nginx:1.25",
) -> str:
    return (
        f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
{textwrap.indent(textwrap.dedent(pod_extra).rstrip() + chr(10), '      ') if pod_extra else ''}      containers:
      - name: nginx
        image: {image}
{textwrap.indent(textwrap.dedent(container_extra).rstrip() + chr(10), '        ') if container_extra else ''}        volumeMounts:
{textwrap.indent(textwrap.dedent(mounts), '        ')}
      volumes:
{textwrap.indent(textwrap.dedent(volumes), '      ')}
"""
    )


def config_map(name="web-conf", namespace="default", files=None) -> str:
    files = files or {"nginx.conf": "events {}\nhttp {\n    server {\n        listen 80;\n    }\n}\n"}
    out = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n"
    for key, text in files.items():
        out += f"  {key}: |\n" + textwrap.indent(text, "    ")
    return out


def position(text: str, needle: str, nth: int = 1):
    """(line, column) of the nth occurrence of ``needle`` in ``text``,
    counted from 1 -- so tests state where a directive is in the file they
    wrote, independently of the linter."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def pytest_terminal_summary(terminalreporter):
    lab = sys.modules.get("lab")  # the kernel tests' helpers, when they ran
    if lab is not None and any(lab.TALLY.values()):
        tally = ", ".join(f"{count} {what}" for what, count in lab.TALLY.items())
        terminalreporter.write_line(f"kernel checks: {tally}")
    bind = sys.modules.get("test_bind_truth")
    if bind is not None and any(bind.BIND_TALLY.values()):
        terminalreporter.write_line("bind checks: " + ", ".join(f"{n} {what}" for what, n in bind.BIND_TALLY.items()))


# Broken and hostile inputs, shared by the tests that must survive them:
# (file name, bytes, the first finding line expected, or None for "some
# SMX000 on this file", or "" for "no SMX000 at all").
HOSTILE_INPUTS = [
    ("latin1.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n", "latin1.yaml:3:21: SMX000 [error] cannot parse YAML: not valid UTF-8 (byte 0xe9 at offset 51)"),
    ("binary.yaml", b"apiVersion: v1\n\x00\x01\x02", "binary.yaml:2:1: SMX000 [error] cannot parse YAML: binary file (contains NUL bytes)"),
    ("truncated.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x", None),
    ("tabs.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n", None),
    ("scalar.yaml", b"just a string\n", ""),
    ("list.yaml", b"- a\n- b\n", ""),
    ("empty.yaml", b"", ""),
    ("bom.yaml", b"\xef\xbb\xbf" + config_map(name="other").encode(), ""),
    ("huge.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: 99999999999999999999999999999\n  containers: []\n", "huge.yaml:5:16: SMX000 [error] invalid Kubernetes object: spec.hostNetwork must be a boolean, not an integer"),
    ("unknown.yaml", b"apiVersion: example.com/v9\nkind: Gizmo\nmetadata: {name: g}\nspec: {x: 1}\n", ""),
    ("latin1.conf", b"events {}\n# caf\xe9\nhttp { server { listen 80 backlog=10; } }\n", ""),
    ("recursive.yaml", b"kind: X\na: &x\n  b: *x\n", "recursive.yaml:3:6: SMX000 [error] cannot parse YAML: recursive alias 'x' (a node cannot contain itself)"),
    ("nul-include.conf", b"events {}\nhttp { include a\x00b/*.conf; server { listen 80 backlog=10; } }\n", ""),
    ("sysctl-types.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext:\n    sysctls: [{name: net.core.somaxconn, value: 1024}, {name: kernel.sem}, {value: x}]\n  containers: [{name: c, image: nginx}]\n", ""),
    ("wrong.yaml", b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {sysctls: x}\n  containers: {}\n", "wrong.yaml:5:30: SMX000 [error] invalid Kubernetes object: spec.securityContext.sysctls must be a list, not a string"),
]

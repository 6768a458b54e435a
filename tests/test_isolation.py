"""One bad input never costs another file its findings.

For every hostile input of the suite (``conftest.HOSTILE_INPUTS``) and the
classes below, a clean nginx file and a clean manifest linted beside it keep
exactly the findings they have when linted alone, and the hostile file's
own failure is a located SMX000 naming it (never `<somaxlint>`).
"""

from __future__ import annotations

import pytest

from conftest import HOSTILE_INPUTS

CLEAN_CONF = "http {\n    server {\n        listen 8080 backlog=8192;\n    }\n}\n"
CLEAN_YAML = """\
apiVersion: v1
kind: Pod
metadata: {name: clean}
spec:
  containers:
    - name: redis
      image: redis:7.2
      args: ["--tcp-backlog", "8192"]
"""

BIG = "9" * 5000

# (file name, bytes): inputs that once took other files' findings with them
CLASSES = [
    ("huge-backlog.conf", f"http {{ server {{ listen 80 backlog={BIG}; }} }}\n".encode()),
    ("esc-in-a-scalar.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: \"\x1b\"}\n"),
    (
        "del-in-nad-config.yaml",
        b'apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: n}\nspec:\n'
        b'  config: \'{"cniVersion":"0.3.1","plugins":[{"type":"tuning","sysctl":{"net.core.somaxconn":"\x7f"}}]}\'\n',
    ),
    ("deep-locations.conf", ("http { server { listen 81; " + "location / { " * 300 + "}" * 300 + " } }\n").encode()),
    ("complex-key.yaml", b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  ? [x]\n  : y\n"),
]


def _findings(run):
    import json

    return json.loads(run.out)["findings"]


@pytest.mark.parametrize("name, data", [(n, d) for n, d, _ in HOSTILE_INPUTS] + CLASSES, ids=lambda v: v if isinstance(v, str) else "")
def test_a_clean_file_beside_a_hostile_one_keeps_exactly_its_findings(project, name, data):
    project.write("clean.conf", CLEAN_CONF, dedent=False)
    project.write("clean.yaml", CLEAN_YAML, dedent=False)
    alone = _findings(project.run("--format", "json", "--kernel", "5.15", "clean.conf", "clean.yaml"))
    assert sorted(f["location"]["path"] for f in alone) == ["clean.conf", "clean.yaml"]
    project.write_bytes(name, data)
    run = project.run("--format", "json", "--kernel", "5.15", ".")
    together = _findings(run)
    clean = [f for f in together if f["location"]["path"] in ("clean.conf", "clean.yaml")]
    key = lambda f: (f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"], f["severity"], f["message"])
    assert sorted(map(key, clean)) == sorted(map(key, alone))
    assert all(f["location"]["path"] != "<somaxlint>" for f in together)
    assert all("internal error" not in f["message"] for f in together), [f["message"] for f in together if "internal error" in f["message"]]
    assert run.status in (0, 1)

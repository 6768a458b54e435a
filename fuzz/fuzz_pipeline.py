"""Coverage-guided fuzz target over the whole pipeline (atheris).

Each input is split at NUL bytes into a Kubernetes YAML file, an nginx
file and, when there are more parts, a kustomization (``k/kustomization.yaml``,
beside a ``k/app.yaml`` it may name) and a Helm template
(``chart/templates/t.yaml`` of a fixed chart), written to a scratch
directory beside two clean control files, and linted with every output
format: the real kustomize and Helm render them, in their sandbox.  Anything but a clean return
is a bug: the linter must turn every input into findings, never into an
exception.  For every input it also checks that

* no finding says "internal error" (a caught bug is still a bug);
* the control files keep exactly the findings they have when linted alone
  (one bad input never costs another file its findings, as
  tests/test_isolation.py checks for the known hostile inputs) -- unless
  the input names them or includes files, when it may rightly change them;
* no output carries a raw control, bidi or line-separator character, and
  the only workflow commands in the GitHub output are somaxlint's own, one
  per finding; SARIF URIs are relative references, never a scheme;
* no render leaves its temporary directory behind.

    pip install atheris
    mkdir -p fuzz/corpus
    timeout 660 python fuzz/fuzz_pipeline.py -max_total_time=600 fuzz/corpus fuzz/seeds

(`fuzz/seeds` holds the starting inputs; atheris writes what it finds to
`fuzz/corpus`, which git ignores, and a crashing input to `crash-*`.
libFuzzer prints the executions count as `stat::number_of_executed_units`
at the end.)
"""

import io
import json
import os
import re
import sys
import tempfile
import urllib.parse

import atheris

with atheris.instrument_imports():
    import somaxlint.load  # noqa: F401  (instrumented: imported here, not on first use)
    import somaxlint.model  # noqa: F401
    import somaxlint.rules  # noqa: F401
    import somaxlint.servers.nginx.instances  # noqa: F401
    from somaxlint.engine import run
    from somaxlint.report import explain, github, gitlab, json_report, sarif, text
    from somaxlint.settings import Settings

SCRATCH = tempfile.mkdtemp(prefix="somaxlint-fuzz-")
YAML_PATH = os.path.join(SCRATCH, "input.yaml")
NGINX_PATH = os.path.join(SCRATCH, "nginx.conf")
KUSTOMIZATION_DIR = os.path.join(SCRATCH, "k")
CHART_DIR = os.path.join(SCRATCH, "chart")
APP = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n"
    "      containers: [{name: redis, image: redis:7.2, args: [--tcp-backlog, '1024']}]\n"
)

# The control files (the names are distinctive: an input that mentions them,
# or includes anything, may rightly change their findings).
CONTROL_MARK = b"ctl-5e2b"
CONTROL = {
    "ctl-5e2b.conf": "http {\n    server {\n        listen 8080 backlog=8192;\n    }\n}\n",
    "ctl-5e2b.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ctl-5e2b}\nspec:\n  containers:\n"
        '    - name: redis\n      image: redis:7.2\n      args: ["--tcp-backlog", "8192"]\n'
    ),
}
# Inputs that can reach the control files or change what holds for every
# pod: includes (nginx or YAML merge of file names), the kubelet's
# configuration, CNI configurations, the control names.
MAY_INTERACT = (CONTROL_MARK, b"include", b"Kubelet", b"kubelet", b"cni", b"plugins")

RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _settings() -> Settings:
    return Settings(kernel=(4, 19, 0), kernel_text="4.19")


def _key(f):
    return (f.rule, f.location.path, f.location.line, f.location.column, f.severity, f.message)


def _control_findings():
    alone = tempfile.mkdtemp(prefix="somaxlint-fuzz-control-")
    for name, body in CONTROL.items():
        with open(os.path.join(alone, name), "w", encoding="utf-8") as handle:
            handle.write(body)
    result = run([alone], _settings(), alone)
    found = sorted(_key(f) for f in result.findings)
    assert {k[1] for k in found} == set(CONTROL), found  # each control file has findings of its own
    return found


for _name, _body in CONTROL.items():
    with open(os.path.join(SCRATCH, _name), "w", encoding="utf-8") as _handle:
        _handle.write(_body)
CONTROL_FINDINGS = _control_findings()


def _check_outputs(result, settings) -> None:
    outputs = {}
    for name, write in (
        ("text", lambda sink: text.write(result.findings, sink, colour=False)),
        ("json", lambda sink: json_report.write(result.findings, result.summary, sink)),
        ("github", lambda sink: github.write(result.findings, sink)),
        ("gitlab", lambda sink: gitlab.write(result.findings, sink)),
        ("sarif", lambda sink: sarif.write(result, settings, sink)),
        ("explain", lambda sink: explain.write_text(result.model, sink)),
        ("explain-json", lambda sink: explain.write_json(result.model, sink)),
    ):
        sink = io.StringIO()
        write(sink)
        outputs[name] = sink.getvalue()
    for name, out in outputs.items():
        raw = RAW.search(out)
        assert raw is None, f"{name}: raw {raw.group()!r} in the output"
    lines = outputs["github"].split("\n")[:-1]
    assert len(lines) == len(result.findings) and all(line.startswith("::") for line in lines), "github: forged lines"
    for name, out in outputs.items():
        if name != "github":
            assert not any(line.startswith("::") for line in out.split("\n")), f"{name}: a line starts with ::"
    document = json.loads(outputs["sarif"])
    for artifact in document["runs"][0]["artifacts"]:
        uri = artifact["location"]["uri"]
        if artifact["location"].get("uriBaseId"):
            assert urllib.parse.urlsplit(uri).scheme == "", f"sarif: {uri!r} has a scheme"


def _place(path: str, data) -> None:
    """Write ``data`` at ``path`` (None: nothing there)."""
    if data is None:
        if os.path.isdir(path):
            import shutil

            shutil.rmtree(path)
        elif os.path.exists(path):
            os.unlink(path)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def _renders_left() -> list:
    return [n for n in os.listdir(tempfile.gettempdir()) if n.startswith("somaxlint-render-")]


def TestOneInput(data: bytes) -> None:
    parts = data.split(b"\x00", 3)
    parts += [None] * (4 - len(parts))
    yaml_part, nginx_part, kustomization_part, template_part = parts
    _place(YAML_PATH, yaml_part)
    _place(NGINX_PATH, nginx_part or b"")
    if kustomization_part is None:
        _place(KUSTOMIZATION_DIR, None)
    else:
        _place(os.path.join(KUSTOMIZATION_DIR, "kustomization.yaml"), kustomization_part)
        _place(os.path.join(KUSTOMIZATION_DIR, "app.yaml"), APP.encode())
    if template_part is None:
        _place(CHART_DIR, None)
    else:
        _place(os.path.join(CHART_DIR, "Chart.yaml"), b"apiVersion: v2\nname: fuzz\nversion: 0.1.0\n")
        _place(os.path.join(CHART_DIR, "values.yaml"), b"backlog: 1024\n")
        _place(os.path.join(CHART_DIR, "templates", "t.yaml"), template_part)
    before = set(_renders_left())
    settings = _settings()
    result = run([SCRATCH], settings, SCRATCH)
    _check_outputs(result, settings)
    for finding in result.findings:
        assert finding.location.line >= 1 and finding.location.column >= 1
        assert "internal error" not in finding.message, finding.message
    assert set(_renders_left()) <= before, "a render left its temporary directory"
    if not any(mark in data for mark in MAY_INTERACT):
        control = sorted(_key(f) for f in result.findings if f.location.path in CONTROL)
        assert control == CONTROL_FINDINGS, f"the control files' findings changed: {control} != {CONTROL_FINDINGS}"


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

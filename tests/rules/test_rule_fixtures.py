"""Every rule against its failing and passing fixtures (checkov style).

`fixtures/<CODE>/fail-*.{yaml,conf}` must produce exactly the findings
their header lists; `pass-*` files must produce none.  A fixture may be a
directory (a small repository: rules about how files relate); its header
lines are read from every file in it, and its expectations name the file:
`expect web.yaml:18:37 info`.  Header lines:

    # somaxlint-test: args --kernel 4.19        (extra command-line arguments)
    # somaxlint-test: expect 12:7 error         (line:column severity, one per finding)
    # somaxlint-test: config kubelet.allowedUnsafeSysctls=net.core.*   (written to .somaxlint.yaml)

The rule under test is selected alone (`--select CODE`), so each fixture
shows one rule's behaviour, with exact positions and severities.
"""

import re
import shutil
from pathlib import Path

import pytest

from somaxlint.rulebook import all_rules

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = re.compile(r"#\s*somaxlint-test:\s*(args|expect|config)\s+(.*?)\s*$", re.M)


def _cases():
    for directory in sorted(FIXTURES.iterdir()):
        for path in sorted(directory.iterdir()):
            yield pytest.param(directory.name, path, id=f"{directory.name}/{path.name}")


def _header(text):
    args, expect, config = [], [], []
    for kind, value in HEADER.findall(text):
        if kind == "args":
            args.extend(value.split())
        elif kind == "expect":
            expect.append(value)
        else:
            config.append(value)
    return args, sorted(expect), config


def _config_yaml(entries):
    out = []
    for entry in entries:
        key, _, value = entry.partition("=")
        if key == "kubelet.allowedUnsafeSysctls":
            out.append(f"kubelet:\n  allowedUnsafeSysctls: [{', '.join(repr(v) for v in value.split(','))}]\n")
        elif key == "node.somaxconn":
            out.append(f'node:\n  sysctls:\n    net.core.somaxconn: "{value}"\n')
        elif "." in key:  # nginx.version=1.24.0
            section, _, name = key.partition(".")
            out.append(f"{section}:\n  {name}: {value!r}\n")
        else:
            out.append(f"{key}: {value!r}\n")
    return "".join(out)


@pytest.mark.parametrize("code, path", list(_cases()))
def test_fixture(project, code, path):
    if path.is_dir():
        text = "".join(p.read_text() for p in sorted(path.rglob("*")) if p.is_file())
        shutil.copytree(path, project.root / path.name)
    else:
        text = path.read_text()
        shutil.copy(path, project.root / path.name)
    args, expect, config = _header(text)
    if config:
        project.write(".somaxlint.yaml", _config_yaml(config))
    run = project.run("--format", "json", "--select", code, *args, path.name)
    prefix = path.name + "/"

    def where(f):
        loc = f["location"]
        shown = loc["path"][len(prefix):] + ":" if path.is_dir() else ""
        return f"{shown}{loc['line']}:{loc['column']} {f['severity']}"

    got = sorted(where(f) for f in run.json["findings"])
    assert all(f["rule"] == code for f in run.json["findings"])
    if path.name.startswith("fail-"):
        assert expect, "a failing fixture must list what it expects"
        assert got == expect, [f["message"] for f in run.json["findings"]]
        assert run.status == 1
    else:
        assert got == [], [f["message"] for f in run.json["findings"]]
        assert run.status == 0


def test_every_rule_has_failing_and_passing_fixtures():
    names = {p.name for p in FIXTURES.iterdir()}
    for rule in all_rules():
        if rule.code in ("SMX000", "SMX013", "SMX014", "SMX019"):
            continue  # input-level rules: covered by the loading, hostile-input, CI and repository tests
        assert rule.code in names, f"{rule.code} has no fixtures"
        files = [p.name for p in (FIXTURES / rule.code).iterdir()]
        assert any(f.startswith("fail-") for f in files) and any(f.startswith("pass-") for f in files), rule.code

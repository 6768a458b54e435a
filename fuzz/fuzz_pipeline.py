"""Coverage-guided fuzz target over the whole pipeline (atheris).

Each input is split into a Kubernetes YAML file and an nginx file (at the
first NUL byte), written to a scratch directory, and linted with every
output format.  Anything but a clean return is a bug: the linter must turn
every input into findings, never into an exception.

    pip install atheris
    mkdir -p fuzz/corpus
    python fuzz/fuzz_pipeline.py -max_total_time=600 fuzz/corpus fuzz/seeds

(`fuzz/seeds` holds the starting inputs; atheris writes what it finds to
`fuzz/corpus`, which git ignores, and a crashing input to `crash-*`.)
"""

import io
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from linter.engine import run
    from linter.report import explain, github, gitlab, json_report, sarif, text
    from linter.settings import Settings

SCRATCH = tempfile.mkdtemp(prefix="somaxlint-fuzz-")
YAML_PATH = os.path.join(SCRATCH, "input.yaml")
NGINX_PATH = os.path.join(SCRATCH, "nginx.conf")


def TestOneInput(data: bytes) -> None:
    yaml_part, _, nginx_part = data.partition(b"\x00")
    with open(YAML_PATH, "wb") as handle:
        handle.write(yaml_part)
    with open(NGINX_PATH, "wb") as handle:
        handle.write(nginx_part)
    settings = Settings(kernel=(4, 19, 0), kernel_text="4.19")
    result = run([SCRATCH], settings, SCRATCH)
    sink = io.StringIO()
    text.write(result.findings, sink, colour=False)
    json_report.write(result.findings, result.summary, sink)
    github.write(result.findings, sink)
    gitlab.write(result.findings, sink)
    sarif.write(result, settings, sink)
    explain.write_json(result.model, sink)
    for finding in result.findings:
        assert finding.location.line >= 1 and finding.location.column >= 1


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

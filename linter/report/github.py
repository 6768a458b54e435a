"""`--format github`: GitHub Actions workflow commands, one per finding
(`::error file=…,line=…,col=…,title=…::message`), shown as annotations.

Escaping follows the Actions toolkit (toCommandValue / escapeData /
escapeProperty): `%`, CR and LF in the message, and also `:` and `,` in
properties, so that file content can never end the command early or start
another one; every other control character (ESC, C1, bidi overrides, line
separators) is made visible (``somaxlint.report.workflow_data``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, TextIO

from somaxlint.findings import Finding
from somaxlint.report import workflow_data, workflow_property

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


escape_data = workflow_data
escape_property = workflow_property


def write(findings: List[Finding], out: TextIO) -> None:
    for f in findings:
        loc = f.location
        properties = ",".join(
            (
                f"file={escape_property(loc.path)}",
                f"line={loc.line}",
                f"col={loc.column}",
                f"title={escape_property(f'{f.rule} {f.name}')}",
            )
        )
        out.write(f"::{_LEVEL.get(f.severity, 'warning')} {properties}::{escape_data(f.message)}\n")

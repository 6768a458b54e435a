"""`--format gitlab`: GitLab Code Quality report (a JSON array of issues
with description, check_name, fingerprint, severity and location)."""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, TextIO

from somaxlint.findings import Finding
from somaxlint.report import escape_control, write_json

_SEVERITY = {"error": "major", "warning": "minor", "info": "info"}


def write(findings: List[Finding], out: TextIO) -> None:
    issues = [
        {
            "type": "issue",
            "description": f"{f.rule} {escape_control(f.message)}",
            "check_name": f"{f.rule} {f.name}",
            "categories": ["Bug Risk"],
            "fingerprint": f.fingerprint,
            "severity": "critical" if f.rule == "SMX000" else _SEVERITY.get(f.severity, "minor"),
            "location": {
                "path": f.location.path,
                "positions": {"begin": {"line": f.location.line, "column": f.location.column}},
            },
        }
        for f in findings
    ]
    write_json(issues, out)

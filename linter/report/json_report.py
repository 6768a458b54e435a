"""`--format json`: the stable machine-readable form (documented in the
README).  Keys are only ever added, never renamed or removed.  Paths are
exact; text for people (messages, labels, assumptions, reasons) has its
control characters made visible, as in every format."""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, TextIO

from somaxlint.findings import Finding
from somaxlint.report import escape_control, write_json

SCHEMA_VERSION = 1


def finding_dict(f: Finding) -> dict:
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity,
        "message": escape_control(f.message),
        "location": {**f.location.as_dict(), "approximate": f.location.approximate},
        "related": [{"location": r.location.as_dict(), "label": escape_control(r.label)} for r in f.related],
        "assumptions": [escape_control(a) for a in f.assumptions],
        "helm_source": f.helm_source,
        "fingerprint": f.fingerprint,
    }


def write(findings: List[Finding], summary, out: TextIO) -> None:
    doc = {
        "version": SCHEMA_VERSION,
        "findings": [finding_dict(f) for f in findings],
        "summary": {
            "files": summary.files,
            "skipped": summary.skipped_not_kubernetes + summary.skipped_other,
            "skipped_not_kubernetes": summary.skipped_not_kubernetes,
            "unparsable": summary.unparsable,
            "skipped_files": [{"path": s.display, "reason": escape_control(s.reason)} for s in summary.skipped],
        },
    }
    write_json(doc, out)

"""`--format json`: the stable machine-readable form (documented in the
README).  Keys are only ever added, never renamed or removed."""

from __future__ import annotations

import json
from typing import List, TextIO

from linter.findings import Finding

SCHEMA_VERSION = 1


def finding_dict(f: Finding) -> dict:
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity,
        "message": f.message,
        "location": {**f.location.as_dict(), "approximate": f.location.approximate},
        "related": [{"location": r.location.as_dict(), "label": r.label} for r in f.related],
        "assumptions": list(f.assumptions),
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
            "skipped_files": [{"path": s.display, "reason": s.reason} for s in summary.skipped],
        },
    }
    json.dump(doc, out, indent=2, sort_keys=False, ensure_ascii=True)
    out.write("\n")

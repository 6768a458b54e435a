"""A suppression that silences nothing, or names no rule.

## What it does
With `--report-unused-suppressions`, reports every suppression comment
(`# somaxlint: ignore SMX001 -- reason`) and every `somaxlint.io/ignore`
annotation that matched no finding. Always reports a suppression comment
that does not name the rule it is meant to silence.

## Why it matters
A suppression outlives the problem it excused: once the configuration is
fixed, a stale suppression would hide the next real finding on that line.
A suppression without a rule code would silence everything, so it is
refused.

## Example
```yaml
# somaxlint: ignore SMX001 -- nodes run 5.15   (nothing on the next line is truncated any more)
```

## How to fix
Remove the suppression, or name the rule it is for.
"""

from __future__ import annotations

from somaxlint.findings import Finding

CODE = "SMX014"
NAME = "unused-suppression"
SEVERITY = "warning"
SUMMARY = "A suppression silences nothing, or names no rule"


def check(model):
    # Suppressions are matched in the filter stage, after every other rule
    # ran; see findings_for().
    return ()


def findings_for(index, report_unused: bool):
    for location, message in index.malformed:
        yield Finding(CODE, NAME, SEVERITY, message, location, subject=message)
    if not report_unused:
        return
    seen = set()
    for suppression in index.all():
        if suppression.used or id(suppression) in seen:
            continue
        seen.add(id(suppression))
        what = "annotation" if suppression.kind == "annotation" else "suppression comment"
        rules = ", ".join(suppression.rules)
        yield Finding(
            CODE,
            NAME,
            SEVERITY,
            f"{what} for {rules} silences nothing: no such finding here any more",
            suppression.location,
            subject=f"{suppression.kind}|{rules}",
        )

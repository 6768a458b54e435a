"""The rule catalogue: one module per rule.

Each module defines ``CODE``, ``NAME``, ``SEVERITY`` (the default, used
when the finding is certain), ``SUMMARY`` (one line) and ``check(model)``,
a pure function of the model that yields findings.  Its docstring holds the
rule's documentation in fixed sections (What it does / Why it matters /
Example / How to fix), from which ``somaxlint rules``, the SARIF rule help
and the README's rule table are generated.

This package is installed as ``linter.rules``.
"""

# Order is the catalogue's order.
RULE_MODULES = (
    "smx000_unparsable_input",
    "smx001_listen_backlog_truncated",
    "smx013_include_outside_input",
    "smx014_unused_suppression",
    "smx015_listen_bind_conflict",
)

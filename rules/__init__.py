"""The rule catalogue: one module per rule.

Each module defines ``CODE``, ``NAME``, ``SEVERITY`` (the default, used
when the finding is certain), ``SUMMARY`` (one line) and ``check(model)``,
a pure function of the model that yields findings.  Its docstring holds the
rule's documentation in fixed sections (What it does / Why it matters /
Example / How to fix), from which ``somaxlint rules``, the SARIF rule help
and the README's rule table are generated.

This package is installed as ``somaxlint.rules``.
"""

# Order is the catalogue's order.
RULE_MODULES = (
    "smx000_unparsable_input",
    "smx001_listen_backlog_truncated",
    "smx002_somaxconn_raised_backlog_not",
    "smx003_unsafe_sysctl_not_allowed",
    "smx004_sysctl_rejected_by_pod_security",
    "smx005_sysctl_with_host_network",
    "smx006_syncookies_disabled",
    "smx007_sysctl_applied_after_listen",
    "smx008_duplicate_listen_options",
    "smx009_invalid_listen_backlog",
    "smx010_invalid_sysctl_value",
    "smx011_init_sysctl_unprivileged",
    "smx012_controller_backlog_follows_somaxconn",
    "smx013_include_outside_input",
    "smx014_unused_suppression",
    "smx015_listen_bind_conflict",
    "smx016_duplicate_object",
    "smx017_ambiguous_reference",
    "smx018_server_config_unresolved",
    "smx019_unit_not_rendered",
    "smx020_server_refuses_to_start",
    "smx021_queue_follows_low_somaxconn",
    "smx022_stream_duplicate_listen",
    "smx023_duplicate_listen",
    "smx024_nginx_refuses_config",
    "smx025_container_not_placed",
    "smx026_pod_port_conflict",
    "smx027_queue_too_small",
    "smx028_server_refuses_config",
)

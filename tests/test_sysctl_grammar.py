"""Sysctl values read as the kernel reads them (somaxlint.model.sysctl_value),
and the same reading through the CLI: the namespace model, explain, and
the rules that look at values (SMX006, SMX010).

The expected values of the tables are what Linux 6.18.44 stored when each
string was written as runc writes it (tests/kernel/test_kernel_truth.py
checks the table against the running kernel); the older-kernel cases are
settled from kernel source (linter/facts.py cites file:line per version).
"""

import json

import pytest

from conftest import config_map, deployment, position
from somaxlint import facts
from somaxlint.model.sysctl_value import kernel_reads

MODERN = (6, 18, 44)

# (written as-is, the value the kernel stores, or None: EINVAL and unchanged)
SOMAXCONN = [
    ("0x800", 2048),
    ("0X1F", 31),
    ("0100", 64),
    ("00", 0),
    ("0x0", 0),
    ("-0", 0),
    (" 42", 42),
    ("\t\n 42", 42),
    ("42\n", 42),
    ("42 ", 42),
    ("42\t", 42),
    ("5 6", 5),
    ("5 6 7", 5),
    ("2147483647", 2147483647),
    ("00000000000000000064", 52),  # 20 characters: octal
    ("42\r", None),
    ("5,6", None),
    ("-1", None),
    ("+5", None),
    ("08", None),
    ("0x", None),
    ("0xg", None),
    ("1e3", None),
    ("42abc", None),
    ("- 5", None),
    ("--5", None),
    ("2147483648", None),
    ("4294967296", None),
    ("18446744073709551616", None),
    ("000000000000000000064", None),  # 21 characters
    ("\n", None),
    (" ", None),
]


@pytest.mark.parametrize("data, expected", SOMAXCONN, ids=[repr(d) for d, _ in SOMAXCONN])
def test_somaxconn_grammar_on_a_modern_kernel(data, expected):
    reading = kernel_reads("net.core.somaxconn", data, MODERN)
    assert reading.certain
    if expected is None:
        assert reading.refused and reading.first.errno == "EINVAL"
    else:
        assert reading.value == expected and reading.first.errno is None


def test_an_empty_write_sets_nothing_and_succeeds():
    reading = kernel_reads("net.core.somaxconn", "", MODERN)
    assert reading.empty and not reading.refused


SYNCOOKIES_U8 = [("0", 0), ("00", 0), ("0x0", 0), ("0x2", 2), (" 1", 1), ("2 3", 2), ("255", 255), ("-0", None), ("-1", None), ("256", None), ("300", None)]


@pytest.mark.parametrize("data, expected", SYNCOOKIES_U8, ids=[repr(d) for d, _ in SYNCOOKIES_U8])
def test_syncookies_is_an_unsigned_byte_from_5_13(data, expected):
    reading = kernel_reads("net.ipv4.tcp_syncookies", data, (5, 15, 0))
    assert reading.value == expected and reading.refused == (expected is None)


def test_syncookies_is_an_int_before_5_13_and_unknown_kernels_say_both():
    assert kernel_reads("net.ipv4.tcp_syncookies", "-0", (5, 10, 0)).value == 0
    assert kernel_reads("net.ipv4.tcp_syncookies", "-1", (5, 10, 0)).value == -1
    reading = kernel_reads("net.ipv4.tcp_syncookies", "-0", None)
    assert [(o.value, o.errno, o.when) for o in reading.outcomes] == [
        (None, "EINVAL", "Linux 5.13 or later"),
        (0, None, "Linux 5.4 to 5.12"),
    ]


@pytest.mark.parametrize(
    "data, expected",
    [("5000", (5000,)), ("5000 6000", (5000, 6000)), ("0x1388 0x1770", (5000, 6000)), ("5000 6000 7000", (5000, 6000)), ("5000-6000", None), ("70000 80000", None)],
)
def test_port_range_is_a_vector_of_two(data, expected):
    reading = kernel_reads("net.ipv4.ip_local_port_range", data, MODERN)
    assert (reading.first.values or None) == expected


# --------------------------------------------------------------------------
# Older kernels (settled from source: linter/facts.py)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel, text, expected",
    [
        ((4, 1, 3), "4.1.3", [(65536, None)]),  # no upper bound from 4.1
        ((4, 0, 5), "4.0.5", [(None, "EINVAL")]),  # extra2 = &ushort_max
        ((3, 11, 0), "3.11", [(None, "EINVAL")]),
        ((3, 10, 99), "3.10.99", [(None, "EINVAL")]),  # backported to 3.10.y
        ((3, 10, 0), "3.10.0-1160.el7.x86_64", [(None, "EINVAL")]),  # RHEL 7
        ((3, 10, 4), "3.10.4", [(65536, None)]),  # unbounded proc_dointvec
        ((3, 10, 0), "3.10", [(None, "EINVAL"), (65536, None)]),  # patch level unknown
        ((3, 2, 0), "3.2", [(65536, None)]),
    ],
)
def test_somaxconn_above_65535_by_kernel_version(kernel, text, expected):
    reading = kernel_reads("net.core.somaxconn", "65536", kernel, text)
    assert [(o.value, o.errno) for o in reading.outcomes] == expected


def test_old_kernels_truncate_instead_of_refusing_and_reread_a_retried_rest():
    # before 5.1 the minmax conversion truncates to an int, unchecked
    assert kernel_reads("net.core.somaxconn", "4294967296", (4, 19, 0)).value == 0
    assert kernel_reads("net.core.somaxconn", "4294967296", (5, 4, 0)).refused
    # without strict writes (3.x, 4.0-4.3) the retried rest is read again
    assert kernel_reads("net.core.somaxconn", "5 6", (4, 0, 0)).value == 6
    assert [o.value for o in kernel_reads("net.core.somaxconn", "5 6", (4, 4, 0)).outcomes] == [5, 6]
    assert kernel_reads("net.core.somaxconn", "5 6", (4, 19, 0)).value == 5


def test_a_16_bit_accept_queue_limit_wraps_in_listen():
    assert facts.kernel_clamp(100000, facts.Backlog16(65536)) == 0
    assert facts.kernel_clamp(100000, facts.Backlog16(70000)) == 70000 - 65536
    assert facts.kernel_clamp(511, facts.Backlog16(65536)) == 511
    assert facts.kernel_clamp(70000, facts.Backlog16(-1)) == 70000 - 65536  # -1 clamps nothing
    assert facts.kernel_clamp(100000, 65536) == 65536
    assert facts.kernel_clamp(-1, 4096) == 4096


# --------------------------------------------------------------------------
# Through the CLI
# --------------------------------------------------------------------------

CONFIG = {"nginx.conf": "events {}\nhttp {\n    server {\n        listen 80 backlog=100000;\n    }\n}\n"}


def _sysctls(*pairs):
    items = "".join(f"  - name: {name}\n    value: {json.dumps(value)}\n" for name, value in pairs)
    return "securityContext:\n  sysctls:\n" + items


def _findings(project, *args):
    run = project.run("--format", "json", *args, ".")
    return [(f["rule"], f["severity"], f["location"]["line"], f["location"]["column"], f["message"]) for f in run.json["findings"]]


@pytest.mark.parametrize("value, somaxconn", [("0x800", 2048), (" 3000", 3000), ("0100", 64), ("4096 8192", 4096), ("00", 0)])
def test_pod_sysctl_values_reach_the_namespace_as_the_kernel_reads_them(project, value, somaxconn):
    project.write("d.yaml", deployment(pod_extra=_sysctls(("net.core.somaxconn", value))) + "---\n" + config_map(files=CONFIG))
    [listener] = project.explain("--kernel", "5.15", ".")
    assert (listener["somaxconn"], listener["somaxconn_possible"], listener["effective_backlog"]) == (somaxconn, [somaxconn], somaxconn)


def test_a_refused_pod_sysctl_leaves_the_kernel_default_and_smx010_says_why(project):
    text = deployment(pod_extra=_sysctls(("net.core.somaxconn", "08"))) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    [listener] = project.explain("--kernel", "5.15", ".")
    assert (listener["somaxconn"], listener["effective_backlog"], listener["somaxconn_source"]) == (4096, 4096, None)
    line, column = position(text, '"08"')
    assert [f for f in _findings(project, "--kernel", "5.15", "--select", "SMX010")] == [
        (
            "SMX010",
            "error",
            line,
            column,
            "net.core.somaxconn='08': the kernel refuses it (EINVAL: a leading 0 makes '08' octal, and '8' is not an "
            "octal digit): the write fails and the value stays unchanged (securityContext.sysctls of Deployment/default/web)",
        )
    ]


def test_octal_is_a_warning_and_hex_is_fine(project):
    text = deployment(pod_extra=_sysctls(("net.core.somaxconn", "0100"), ("net.ipv4.tcp_max_syn_backlog", "0x800"))) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    line, column = position(text, '"0100"')
    assert _findings(project, "--kernel", "5.15", "--select", "SMX010") == [
        (
            "SMX010",
            "warning",
            line,
            column,
            "net.core.somaxconn='0100': the kernel reads it as 64: a leading 0 makes 0100 octal: 64 "
            "(securityContext.sysctls of Deployment/default/web)",
        )
    ]


@pytest.mark.parametrize("value", ["0", "00", "0x0", " 0\n"])
def test_syncookies_zero_however_spelled_is_smx006_and_not_smx010(project, value):
    text = deployment(pod_extra=_sysctls(("net.ipv4.tcp_syncookies", value))) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    findings = _findings(project, "--kernel", "5.15", "--select", "SMX006,SMX010")
    line, column = position(text, json.dumps(value))
    read = "" if value.strip() == "0" else f" (the kernel reads {value.strip()!r} as 0)"
    assert findings == [
        (
            "SMX006",
            "warning",
            line,
            column,
            f"net.ipv4.tcp_syncookies = 0{read} (securityContext.sysctls of Deployment/default/web): without syncookies the "
            "SYN queue of every listener in Deployment/default/web is bounded by its backlog and tcp_max_syn_backlog, and "
            "SYNs are dropped under a burst or flood. Leave it at the default 1",
        )
    ]


@pytest.mark.parametrize(
    "command, somaxconn",
    [
        ('["sysctl", "-w", "net.core.somaxconn=0x800"]', 2048),
        ('["sh", "-c", "sysctl -w net.core.somaxconn=\' 0100\'"]', 64),
        ('["sh", "-c", "echo 0x5dc > /proc/sys/net/core/somaxconn"]', 1500),
        ('["sh", "-c", "printf %s 3000 > /proc/sys/net/core/somaxconn"]', 3000),
        ('["sh", "-c", "echo 2000 3000 | tee /proc/sys/net/core/somaxconn"]', 2000),
    ],
)
def test_init_container_writes_use_the_same_grammar(project, command, somaxconn):
    init = f"initContainers:\n- name: tune\n  image: busybox\n  command: {command}\n  securityContext:\n    privileged: true"
    project.write("d.yaml", deployment(pod_extra=init) + "---\n" + config_map(files=CONFIG))
    [listener] = project.explain("--kernel", "5.15", ".")
    assert (listener["somaxconn"], listener["effective_backlog"]) == (somaxconn, somaxconn)


def test_a_refused_init_container_write_keeps_the_previous_value(project):
    pod = _sysctls(("net.core.somaxconn", "3000")) + 'initContainers:\n- name: tune\n  image: busybox\n  command: ["sysctl", "-w", "net.core.somaxconn=9e3"]\n  securityContext: {privileged: true}'
    project.write("d.yaml", deployment(pod_extra=pod) + "---\n" + config_map(files=CONFIG))
    [listener] = project.explain("--kernel", "5.15", ".")
    assert (listener["somaxconn"], listener["somaxconn_origin"]) == (
        3000,
        "securityContext.sysctls of Deployment/default/web, which lowers it from the kernel default 4096",
    )


def test_cni_tuning_and_node_values_use_the_same_grammar(project):
    project.write("cni/net.conflist", json.dumps({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "tuning", "sysctl": {"net.core.somaxconn": "0x5dc"}}]}))
    project.write(".somaxlint.yaml", 'cni:\n  default: [cni/net.conflist]\nnode:\n  sysctls:\n    net.core.somaxconn: " 0x800"\n')
    project.write("d.yaml", deployment() + "---\n" + config_map(files=CONFIG))
    project.write("h.yaml", deployment(name="host", pod_extra="hostNetwork: true").replace("name: web-conf", "name: web-conf"))
    listeners = {l["workload"]: l for l in project.explain("--kernel", "5.15", ".")}
    assert listeners["Deployment/default/web"]["somaxconn"] == 1500
    assert listeners["Deployment/default/host"]["somaxconn"] == 2048


# --------------------------------------------------------------------------
# Kernels before 4.1: explain and SMX010 agree with the source
# --------------------------------------------------------------------------


def _old_kernel_case(project, kernel):
    text = deployment(pod_extra=_sysctls(("net.core.somaxconn", "65536"))) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    [listener] = project.explain("--kernel", kernel, ".")
    findings = _findings(project, "--kernel", kernel, "--select", "SMX010")
    return text, listener, findings


def test_linux_4_0_refuses_65536_so_nothing_wraps(project):
    text, listener, findings = _old_kernel_case(project, "4.0")
    assert (listener["somaxconn"], listener["somaxconn_possible"], listener["effective_backlog"]) == (128, [128], 128)
    line, column = position(text, '"65536"')
    assert findings == [
        (
            "SMX010",
            "error",
            line,
            column,
            "net.core.somaxconn='65536': the kernel refuses it (EINVAL: above 65535 (the maximum on this kernel)): the write "
            "fails and the value stays unchanged (securityContext.sysctls of Deployment/default/web)",
        )
    ]


def test_linux_3_2_accepts_65536_and_the_queue_wraps_to_0(project):
    _, listener, findings = _old_kernel_case(project, "3.2")
    assert (listener["somaxconn"], listener["effective_backlog"]) == (65536, 0)
    assert [f[:2] for f in findings] == [("SMX010", "error")]
    assert "the kernel accepts it as 65536, but before Linux 4.1 the accept-queue limit is 16 bits wide: a backlog clamped to it keeps its low 16 bits (0)" in findings[0][4]


def test_linux_3_10_depends_on_the_patch_level_and_says_both(project):
    _, listener, findings = _old_kernel_case(project, "3.10")
    assert (listener["somaxconn"], listener["somaxconn_possible"], listener["effective_backlog"]) == (128, [128, 65536], 128)
    assert "upstream 3.10.0 to 3.10.10" in listener["assumptions"][0]
    [(code, severity, _, _, message)] = findings
    assert (code, severity) == ("SMX010", "error")
    assert message.startswith(
        "net.core.somaxconn='65536': on 3.10.17 or later, RHEL/CentOS 7's 3.10.0 the kernel refuses it (EINVAL: above 65535 "
        "(the maximum on this kernel)): the write fails and the value stays unchanged; on upstream 3.10.0 to 3.10.10 the "
        "kernel accepts it as 65536, but before Linux 4.1 the accept-queue limit is 16 bits wide"
    )
    # RHEL/CentOS 7 says which
    _, listener, _ = _old_kernel_case(project, "3.10.0-1160.el7.x86_64")
    assert (listener["somaxconn"], listener["somaxconn_possible"]) == (128, [128])


def test_linux_4_1_accepts_65536_without_wrapping(project):
    _, listener, findings = _old_kernel_case(project, "4.1")
    assert (listener["somaxconn"], listener["effective_backlog"]) == (65536, 65536)
    assert findings == []

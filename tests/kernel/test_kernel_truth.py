"""Every listener somaxlint predicts, checked against Linux and nginx.

For each case: manifests are written, `somaxlint explain --format json
--kernel $(uname -r)` predicts the listeners, and the same namespace is
built for real -- its own netns, somaxconn set the way the manifest sets it
(or left at the kernel default), the same nginx config started in it --
and `ss` reports the kernel's Send-Q for every LISTEN socket.

Sysctl values: a table of tricky strings is written to /proc/sys in a
namespace exactly as runc writes a pod sysctl (as-is), as `sysctl -w` and as
`echo >` write them, and the kernel's stored value (or its EINVAL) is
compared with somaxlint's reading of the same string
(somaxlint.model.sysctl_value); then whole manifests (pod sysctls spelled in
hex, octal, with blanks or refused; a pod that lowers somaxconn; a server
container that sets somaxconn before it execs nginx, or after) are
predicted and reproduced.

What cannot be checked here: kernels before 4.1 (the 16-bit accept-queue
limit, the 65535 bound on somaxconn from 3.11 to 4.0, the unbounded 3.10.0
to 3.10.10 sysctl), the pre-5.1 unchecked conversions and the pre-4.5
re-read of a retried write -- this machine runs one modern kernel.  Those
are settled from kernel source (linter/facts.py cites file:line per
version) and tested without a kernel in tests/test_sysctl_grammar.py.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest

from lab import NGINX, TALLY, expected_sockets, kernel_lab, manifests, netns, predict, runnable_config  # noqa: F401 (fixtures)
from lab import deployment_with, findings, read_sysctl, write_like_runc

SERVER = "events {}\nhttp {\n%s}\n"


def _http(*servers: str, main: str = "") -> str:
    return main + SERVER % "".join(f"    server {{\n        {s}\n    }}\n" for s in servers)


def _check(netns, tmp_path, config: str, somaxconn, how="sysctls", extra_files=None):
    """Predict, reproduce, compare; returns the number of sockets compared."""
    lint_dir = tmp_path / "manifests"
    lint_dir.mkdir(exist_ok=True)
    if extra_files is None:
        (lint_dir / "app.yaml").write_text(manifests({"nginx.conf": config}, somaxconn, how))
    else:
        (lint_dir / "app.yaml").write_text(manifests(extra_files, somaxconn, how, mount="conf.d"))
    listeners = predict(lint_dir)
    expected = expected_sockets(listeners)

    ns = netns()
    if somaxconn is not None:
        ns.sysctl("net.core.somaxconn", somaxconn)
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    conf_d = None
    if extra_files is not None:
        conf_d = run_dir / "conf.d"
        conf_d.mkdir(exist_ok=True)
        for name, text in extra_files.items():
            (conf_d / name).write_text(text)
        from somaxlint.facts import NGINX_IMAGE_FILES

        config = NGINX_IMAGE_FILES["/etc/nginx/nginx.conf"]
    conf = run_dir / "nginx.conf"
    conf.write_text(runnable_config(config, run_dir, conf_d))
    ns.start_nginx(conf)
    actual = ns.listeners()
    assert actual == expected, f"predicted {expected}, kernel says {actual}\nconfig:\n{conf.read_text()}"
    assert expected, "a case must compare at least one listener"
    TALLY["sockets compared"] += len(expected)
    return len(expected)


def test_fresh_namespace_default_is_what_somaxlint_assumes_for_this_kernel(netns, tmp_path):
    (tmp_path / "app.yaml").write_text(manifests({"nginx.conf": _http("listen 127.0.0.1:8080;")}, None, "sysctls"))
    [listener] = predict(tmp_path)
    assert listener["assumptions"] == []
    assert int(netns().sysctl("net.core.somaxconn")) == listener["somaxconn"]


CASES = {
    "default backlog": (_http("listen 127.0.0.1:8080;"), None),
    "default backlog, old-kernel size": (_http("listen 127.0.0.1:8080;"), 128),
    "backlog below somaxconn": (_http("listen 127.0.0.1:8080 backlog=100;"), 1000),
    "backlog equal to somaxconn": (_http("listen 127.0.0.1:8080 backlog=1000;"), 1000),
    "backlog above somaxconn": (_http("listen 127.0.0.1:8080 backlog=5000;"), 1000),
    "backlog far above 65535, default somaxconn": (_http("listen 127.0.0.1:8080 backlog=100000;"), None),
    "backlog 70000 under somaxconn 100000": (_http("listen 127.0.0.1:8080 backlog=70000;"), 100000),
    "backlog wrapping negative in nginx's int": (_http("listen 127.0.0.1:8080 backlog=3000000000;"), 9000),
    "backlog wrapping to 1": (_http("listen 127.0.0.1:8080 backlog=4294967297;"), None),
    "somaxconn raised, backlog not": (_http("listen 127.0.0.1:8080;"), 8096),
    "somaxconn raised with a matching backlog": (_http("listen 127.0.0.1:8080 backlog=8096;"), 8096),
    "servers sharing one address:port": (
        _http("listen 127.0.0.1:8080 default_server;", "listen 127.0.0.1:8080 backlog=2048; server_name b;", "listen 127.0.0.1:8080; server_name c;"),
        1024,
    ),
    "wildcard with a plain specific address": (_http("listen 8080;", "listen 127.0.0.1:8080; server_name s;"), None),
    "wildcard carrying the backlog, specific address plain": (
        _http("listen 8080 backlog=700;", "listen 127.0.0.2:8080; server_name s;"),
        600,
    ),
    "reuseport, one socket per worker": (_http("listen 127.0.0.1:8080 reuseport backlog=1000;", main="worker_processes 3;\n"), 700),
    "ipv4 and ipv6, wildcard and specific": (
        _http("listen 8081;", "listen 127.0.0.1:8082 backlog=50;", "listen [::]:8083 backlog=5000;", "listen [::1]:8084 backlog=200;"),
        2000,
    ),
    "unix socket": (None, 300),  # built per test: the path lives in tmp_path
    "stream listeners": (
        "events {}\nstream {\n    server {\n        listen 127.0.0.1:9000 backlog=77;\n        proxy_pass 127.0.0.1:9;\n    }\n"
        "    server {\n        listen [::1]:9001;\n        proxy_pass 127.0.0.1:9;\n    }\n}\n",
        256,
    ),
}


# somaxconn set through the pod's sysctls and through an init container;
# kernel-default cases have nothing to set and run once.
PARAMS = [(case, how) for case in sorted(CASES) for how in (("sysctls", "init") if CASES[case][1] else ("default",))]


@pytest.mark.parametrize("case, how", PARAMS)
def test_prediction_matches_the_kernel(netns, tmp_path, case, how):
    config, somaxconn = CASES[case]
    if case == "unix socket":
        config = _http(f"listen unix:{tmp_path}/app.sock backlog=9000;", f"listen unix:{tmp_path}/small.sock;")
    _check(netns, tmp_path, config, somaxconn, how)


def test_includes_from_a_mounted_conf_d(netns, tmp_path):
    files = {
        "a.conf": "server {\n    listen 127.0.0.1:8080 backlog=3000;\n}\n",
        "b.conf": "server {\n    listen 127.0.0.1:8081;\n    server_name b;\n}\n",
    }
    assert _check(netns, tmp_path, "", 1500, "sysctls", extra_files=files) == 2


REFUSED = {
    "backlog=0": ("listen 127.0.0.1:8080 backlog=0;", 'invalid backlog "backlog=0"'),
    "backlog=-1": ("listen 127.0.0.1:8080 backlog=-1;", 'invalid backlog "backlog=-1"'),
    "backlog=abc": ("listen 127.0.0.1:8080 backlog=abc;", 'invalid backlog "backlog=abc"'),
    "backlog wrapping to 0": ("listen 127.0.0.1:8080 backlog=4294967296;", 'invalid backlog "backlog=4294967296"'),
}


def _rule_codes(config: str, tmp_path) -> list:
    """somaxlint's findings on this config (as a standalone file)."""
    lint_dir = tmp_path / "lint"
    lint_dir.mkdir(exist_ok=True)
    (lint_dir / "nginx.conf").write_text(config)
    return _codes(lint_dir)


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_nginx_refuses_what_smx009_reports(netns, tmp_path, case):
    directive, message = REFUSED[case]
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(_http(directive), tmp_path))
    result = netns().nginx_test(conf)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    TALLY["refusals confirmed"] += 1
    assert "SMX009" in _rule_codes(_http(directive), tmp_path)


@pytest.mark.parametrize(
    "wildcard, specific",
    [("listen 8080;", "listen 127.0.0.2:8080 backlog=300;"), ("listen [::]:8080;", "listen [::1]:8080 reuseport;")],
)
def test_specific_address_with_options_beside_a_wildcard_cannot_start(netns, tmp_path, wildcard, specific):
    # nginx -t accepts it; binding fails.  somaxlint says so (SMX015).
    config = _http(wildcard, specific + " server_name s;")
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    ns = netns()
    assert ns.nginx_test(conf).returncode == 0
    started = ns.exec([NGINX, "-p", str(tmp_path), "-c", str(conf)], check=False)
    ns.pidfiles.append(tmp_path / "nginx.pid")
    assert started.returncode != 0 and "Address already in use" in started.stderr
    TALLY["refusals confirmed"] += 1
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(manifests({"nginx.conf": config}, None, "sysctls"))
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", "--select", "SMX015", str(tmp_path / "m")], capture_output=True, text=True
    )
    assert proc.returncode == 1 and " SMX015 [error] " in proc.stdout


@pytest.mark.parametrize(
    "first, second",
    [("backlog=1024", "backlog=1024"), ("backlog=1024", "reuseport"), ("rcvbuf=64k", "deferred")],
)
def test_nginx_refuses_what_smx008_reports(netns, tmp_path, first, second):
    config = _http(f"listen 127.0.0.1:8080 {first};", f"listen 127.0.0.1:8080 {second}; server_name b;")
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    result = netns().nginx_test(conf)
    assert result.returncode != 0
    assert "duplicate listen options for 127.0.0.1:8080" in result.stderr
    TALLY["refusals confirmed"] += 1
    assert "SMX008" in _rule_codes(config, tmp_path)


def test_nginx_accepts_what_smx008_and_smx009_let_pass(netns, tmp_path):
    config = _http("listen 127.0.0.1:8080 backlog=1024;", "listen 127.0.0.1:8080 default_server; server_name b;", "listen 8080 backlog=5;")
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    assert netns().nginx_test(conf).returncode == 0
    codes = _rule_codes(config, tmp_path)
    assert "SMX008" not in codes and "SMX009" not in codes


# --------------------------------------------------------------------------
# A randomised batch
# --------------------------------------------------------------------------

ADDRESSES = ["127.0.0.1", "127.0.0.2", "*", "[::1]", "[::]"]
BACKLOGS = [None, 1, 50, 128, 511, 512, 1000, 4096, 5000, 65535, 65536, 100000]
SOMAXCONNS = [None, 128, 1024, 70000]


def _random_config(rng: random.Random, port: int) -> str:
    stream = rng.random() < 0.25
    workers = rng.choice([1, 2])
    used = set()
    servers = []
    for i in range(rng.randint(1, 3)):
        address = rng.choice(ADDRESSES)
        p = port + rng.randint(0, 2)
        options = []
        key = (address, p)
        if stream and key in used:
            continue  # nginx before 1.25.5 has no stream virtual servers
        if key not in used:
            # socket options only once per address:port, as nginx demands
            backlog = rng.choice(BACKLOGS)
            if backlog is not None:
                options.append(f"backlog={backlog}")
            if rng.random() < 0.2:
                options.append("reuseport")
        used.add(key)
        target = f"{address}:{p}" if address != "*" else str(p)
        listen = " ".join([f"listen {target}"] + options) + ";"
        if stream:
            servers.append(f"    server {{\n        {listen}\n        proxy_pass 127.0.0.1:9;\n    }}\n")
        else:
            servers.append(f"    server {{\n        {listen}\n        server_name s{i};\n    }}\n")
    module = "stream" if stream else "http"
    return f"worker_processes {workers};\nevents {{}}\n{module} {{\n" + "".join(servers) + "}\n"


def test_randomised_batch(kernel_lab, tmp_path):
    seed = int(os.environ.get("SOMAXLINT_E2E_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)
    from lab import NetNS

    compared = refused = 0
    namespaces = {}
    try:
        for index in range(60):
            somaxconn = rng.choice(SOMAXCONNS)
            config = _random_config(rng, 10000 + index * 10)
            case_dir = tmp_path / f"case{index}"
            (case_dir / "manifests").mkdir(parents=True)
            (case_dir / "manifests" / "app.yaml").write_text(manifests({"nginx.conf": config}, somaxconn, rng.choice(["sysctls", "init"])))
            expected = expected_sockets(predict(case_dir / "manifests"))
            if somaxconn not in namespaces:
                ns = NetNS(tmp_path)
                if somaxconn is not None:
                    ns.sysctl("net.core.somaxconn", somaxconn)
                namespaces[somaxconn] = (ns, [])
            ns, seen = namespaces[somaxconn]
            before = ns.listeners()
            conf = case_dir / "nginx.conf"
            conf.write_text(runnable_config(config, case_dir))
            if "SMX015" in _codes(case_dir / "manifests"):
                # somaxlint says nginx cannot bind these sockets: check that.
                started = ns.exec([NGINX, "-p", str(case_dir), "-c", str(conf)], check=False)
                ns.pidfiles.append(case_dir / "nginx.pid")
                assert started.returncode != 0 and "Address already in use" in started.stderr, (
                    f"seed {seed}, case {index}: SMX015 predicted a bind failure, nginx said {started.stderr!r}\n{config}"
                )
                refused += 1
                TALLY["refusals confirmed"] += 1
                continue
            try:
                ns.start_nginx(conf)
            except AssertionError as exc:
                raise AssertionError(f"seed {seed} (rerun with SOMAXLINT_E2E_SEED={seed}), case {index}: {exc}") from None
            after = ns.listeners()
            for row in before:
                after.remove(row)
            assert after == expected, (
                f"seed {seed} (rerun with SOMAXLINT_E2E_SEED={seed}), case {index}: predicted {expected}, "
                f"kernel says {after}\n{config}"
            )
            compared += len(expected)
            TALLY["sockets compared"] += len(expected)
    finally:
        for ns, _ in namespaces.values():
            ns.close()
    assert compared >= 60 and refused + compared > 0


def _codes(directory) -> list:
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", "--format", "json", "--kernel", os.uname().release, str(directory)],
        capture_output=True,
        text=True,
    )
    import json

    return [f["rule"] for f in json.loads(proc.stdout)["findings"]]


# --------------------------------------------------------------------------
# Sysctl values as the kernel reads them
# --------------------------------------------------------------------------


SYSCTL_TALLY_KEY = "sysctl writes compared"

# (sysctl, the string written, the value to reset to first)
WRITES = [("net.core.somaxconn", data, "777") for data in (
    "0x800", "0X1F", "0100", "00", "0x0", "-0", " 42", "\t\n 42", "42\n", "42 ", "42\t", "5 6", "5 6 7",
    "2147483647", "00000000000000000064", "", "42\r", "5,6", "-1", "+5", "08", "0x", "0xg", "1e3", "42abc",
    "- 5", "--5", "2147483648", "4294967296", "18446744073709551616", "000000000000000000064", "\n", " ",
    "\xa042",
)] + [("net.ipv4.tcp_syncookies", data, "1") for data in (
    "0", "00", "0x0", "-0", "-1", "2", "0x2", " 2", "2 0", "255", "256", "1e0", "",
)] + [("net.ipv4.tcp_max_syn_backlog", data, "128") for data in ("-5", "0x10", "5 6", "2147483648")] + [
    ("net.ipv4.ip_local_port_range", data, "32768 60999")
    for data in ("5000", "5000 6000", "0x1388 0x1770", "5000 6000 7000", "5000-6000", "6000 5000", "70000 80000", "5000\t6000")
]


def _expected(name, data, before):
    """What somaxlint says the kernel stores (and whether it refuses)."""
    from somaxlint.facts import parse_kernel_version
    from somaxlint.model.sysctl_value import kernel_reads

    release = os.uname().release
    reading = kernel_reads(name, data, parse_kernel_version(release), release)
    assert reading.certain, f"{name}={data!r}: one kernel, one outcome"
    outcome = reading.first
    if name == "net.ipv4.ip_local_port_range" and outcome.values:
        values = list(outcome.values) + [int(v) for v in before.split()][len(outcome.values):]
        if values[0] > values[1]:  # ipv4_local_port_range(): low above high
            return before, True
        return " ".join(str(v) for v in values), False
    if outcome.values:
        return str(outcome.values[0]), outcome.errno is not None
    return before, outcome.errno is not None


def test_sysctl_values_read_as_the_kernel_reads_them(netns):
    """Each string written as runc writes it: stored value and EINVAL match."""
    ns = netns()
    mismatches = []
    for name, data, reset in WRITES:
        assert write_like_runc(ns, name, reset) is None
        before = read_sysctl(ns, name)
        error = write_like_runc(ns, name, data)
        stored = read_sysctl(ns, name)
        expected, refused = _expected(name, data, before)
        if (stored, error is not None) != (expected, refused):
            mismatches.append(f"{name}={data!r}: kernel stored {stored!r} (errno {error}), somaxlint says {expected!r} (refused {refused})")
    assert not mismatches, "\n".join(mismatches)
    TALLY[SYSCTL_TALLY_KEY] = TALLY.get(SYSCTL_TALLY_KEY, 0) + len(WRITES)
    assert len([w for w in WRITES if w[0] == "net.core.somaxconn"]) >= 25


SHELL_WRITES = ["0x800", " 0100", "3000 5000", "08", "-1", "0X1F", "1e3", "00"]


@pytest.mark.parametrize("tool", ["sysctl -w", "echo", "printf"])
def test_sysctl_and_echo_writes_read_as_somaxlint_reads_them(netns, tool):
    """The init-container path: the command parsed by somaxlint
    (somaxlint.model.shell), run for real by the same shell in a namespace."""
    import shlex

    from somaxlint.model.shell import sysctl_writes

    ns = netns()
    mismatches = []
    for value in SHELL_WRITES:
        write_like_runc(ns, "net.core.somaxconn", "777")
        if tool == "sysctl -w":
            script = f"sysctl -q -w net.core.somaxconn={shlex.quote(value)}"
        elif tool == "echo":
            script = f"echo {shlex.quote(value)} > /proc/sys/net/core/somaxconn"
        else:
            script = f"printf %s {shlex.quote(value)} > /proc/sys/net/core/somaxconn"
        run = ns.exec(["sh", "-c", script], check=False)
        stored = read_sysctl(ns, "net.core.somaxconn")
        [write] = sysctl_writes(["sh", "-c", script])
        expected, refused = _expected("net.core.somaxconn", write.data, "777")
        if (stored, run.returncode != 0) != (expected, refused):
            mismatches.append(f"{script!r}: kernel stored {stored} (exit {run.returncode}), somaxlint says {expected} (refused {refused})")
    assert not mismatches, "\n".join(mismatches)
    TALLY[SYSCTL_TALLY_KEY] = TALLY.get(SYSCTL_TALLY_KEY, 0) + len(SHELL_WRITES)


BIG_BACKLOG = _http("listen 127.0.0.1:8080 backlog=100000;", "listen 127.0.0.1:8081;  server_name b;")


@pytest.mark.parametrize("value", ["0x800", "0100", " 3000\n", "3000 5000", "00", "08", "-1", "1e3", ""])
def test_pod_sysctl_spellings_end_to_end(netns, tmp_path, value):
    """A pod sysctl spelled as hex, octal, with blanks, two numbers -- or
    refused: explain's Send-Q for nginx against the kernel's, the value
    written as runc writes it; SMX010 says a refused write fails."""
    pod = f"      securityContext:\n        sysctls:\n        - name: net.core.somaxconn\n          value: {json.dumps(value)}\n"
    lint_dir = tmp_path / "manifests"
    lint_dir.mkdir()
    (lint_dir / "app.yaml").write_text(deployment_with({"nginx.conf": BIG_BACKLOG}, pod=pod))
    expected = expected_sockets(predict(lint_dir))
    ns = netns()
    error = write_like_runc(ns, "net.core.somaxconn", value)
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(BIG_BACKLOG, tmp_path))
    ns.start_nginx(conf)
    assert ns.listeners() == expected
    TALLY["sockets compared"] += len(expected)
    smx010 = [f for f in findings(lint_dir, "--select", "SMX010")]
    if error is not None:
        assert [f["severity"] for f in smx010] == ["error"]
        assert "the kernel refuses it (EINVAL" in smx010[0]["message"] and "the value stays unchanged" in smx010[0]["message"]
        TALLY["refusals confirmed"] += 1
    else:
        assert all(f["severity"] == "warning" for f in smx010)


def test_syncookies_zero_however_spelled_is_off_in_the_kernel_and_smx006(netns, tmp_path):
    ns = netns()
    for value in ("00", "0x0", " 0"):
        pod = f"      securityContext:\n        sysctls:\n        - name: net.ipv4.tcp_syncookies\n          value: {json.dumps(value)}\n"
        lint_dir = tmp_path / f"m{len(value)}{value.strip()}"
        lint_dir.mkdir()
        (lint_dir / "app.yaml").write_text(deployment_with({"nginx.conf": BIG_BACKLOG}, pod=pod))
        write_like_runc(ns, "net.ipv4.tcp_syncookies", "1")
        assert write_like_runc(ns, "net.ipv4.tcp_syncookies", value) is None
        assert read_sysctl(ns, "net.ipv4.tcp_syncookies") == "0"
        assert [(f["rule"], f["severity"]) for f in findings(lint_dir, "--select", "SMX006,SMX010")] == [("SMX006", "warning")]
        TALLY[SYSCTL_TALLY_KEY] = TALLY.get(SYSCTL_TALLY_KEY, 0) + 1


# --------------------------------------------------------------------------
# Lowering is not raising
# --------------------------------------------------------------------------


def test_a_pod_that_lowers_somaxconn_truncates_and_smx001_says_it_lowered(netns, tmp_path):
    config = _http("listen 127.0.0.1:8080 backlog=2048;", "listen 127.0.0.1:8081; server_name b;")
    pod = '      securityContext:\n        sysctls:\n        - name: net.core.somaxconn\n          value: "1024"\n'
    lint_dir = tmp_path / "manifests"
    lint_dir.mkdir()
    (lint_dir / "app.yaml").write_text(deployment_with({"nginx.conf": config}, pod=pod))
    listeners = predict(lint_dir)
    ns = netns()
    default = int(ns.sysctl("net.core.somaxconn"))
    assert default > 1024, "the kernel default must be above the pod's value for this case"
    write_like_runc(ns, "net.core.somaxconn", "1024")
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    ns.start_nginx(conf)
    assert ns.listeners() == expected_sockets(listeners) == [("127.0.0.1", 8080, 1024), ("127.0.0.1", 8081, 511)]
    TALLY["sockets compared"] += 2
    got = [(f["rule"], f["severity"], f["message"]) for f in findings(lint_dir, "--select", "SMX001,SMX002")]
    assert len(got) == 1 and got[0][:2] == ("SMX001", "error")
    assert f"is truncated to 1024 by net.core.somaxconn 1024 (securityContext.sysctls of Deployment/e2e/web, which lowers it from the kernel default {default})" in got[0][2]


# --------------------------------------------------------------------------
# The server's own container sets somaxconn before (or after) it starts nginx
# --------------------------------------------------------------------------

OWN_CONFIG = _http("listen 127.0.0.1:8080 backlog=5000;", "listen 127.0.0.1:8081; server_name b;")


@pytest.mark.parametrize(
    "script, applied, rules",
    [
        ("sysctl -w net.core.somaxconn=6000 && exec {nginx}", True, []),
        ("echo 0x1770 > /proc/sys/net/core/somaxconn; exec {nginx}", True, []),
        ("{nginx}; sysctl -w net.core.somaxconn=6000", False, [("SMX001", "error"), ("SMX007", "error")]),
    ],
)
def test_server_container_sets_somaxconn_in_its_own_command(netns, tmp_path, script, applied, rules):
    """The container's command run for real in a namespace (nginx started
    by it), against explain for a manifest with that command."""
    manifest_script = script.format(nginx="nginx -g 'daemon off;'")
    container = f"        command: {json.dumps(['sh', '-c', manifest_script])}\n        securityContext:\n          privileged: true\n"
    lint_dir = tmp_path / "manifests"
    lint_dir.mkdir()
    (lint_dir / "app.yaml").write_text(deployment_with({"nginx.conf": OWN_CONFIG}, container=container))
    listeners = predict(lint_dir)
    expected = expected_sockets(listeners)
    ns = netns()
    default = int(ns.sysctl("net.core.somaxconn"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(OWN_CONFIG, tmp_path))
    ns.pidfiles.append(tmp_path / "nginx.pid")
    run = ns.exec(["sh", "-c", script.format(nginx=f"{NGINX} -p {tmp_path} -c {conf}")], check=False)
    assert run.returncode == 0, run.stderr
    assert ns.listeners() == expected
    assert default < 5000 and expected[0] == ("127.0.0.1", 8080, 5000 if applied else default)
    assert int(ns.sysctl("net.core.somaxconn")) == 6000  # written in every case; only the order differs
    TALLY["sockets compared"] += len(expected)
    got = sorted((f["rule"], f["severity"]) for f in findings(lint_dir, "--select", "SMX001,SMX007,SMX011"))
    assert got == rules

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
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from lab import NGINX, TALLY, expected_sockets, kernel_lab, manifests, netns, predict, runnable_config  # noqa: F401 (fixtures)
from lab import deployment_with, findings, read_sysctl, write_like_runc
import lab

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
#
# Each case is a whole pod: an nginx config (http, stream and mail servers,
# several listens on a few shared ports, IPv4, IPv6 and dual-stack
# (`[::]`, `ipv6only=on|off`), host names from the pod's hosts file,
# `unix:` sockets, `reuseport` with 1-4 workers, `bind`, `default_server`,
# backlogs at every boundary) and a manifest that may set somaxconn in
# several ways at once (a CNI tuning conflist named by `cni.default`, a
# Multus NetworkAttachmentDefinition the pod selects, the pod's sysctls,
# privileged init containers running `sysctl -w`, `echo >` or `printf >`),
# each value spelled in decimal, hex, octal, with blanks, two numbers, or
# refused.  The image tag is the local nginx's version, so version-dependent
# predictions (SMX022) are this nginx's.
#
# The lab reproduces the pod in a namespace of its own: the kubelet's hosts
# file with the pod's hostAliases, every write in the pod's order (CNI
# conflist, Multus network, pod sysctls as runc writes them -- CNI and
# runc write the value as-is -- then each init container's command run by
# `sh -c`), then nginx.  Where the pod's sysctls and a CNI plugin both set
# somaxconn, which one the runtime applies last is not documented: the lab
# builds one namespace per order: the prediction must list exactly the
# values the kernel ends up with (`somaxconn_possible`); its numbers
# (`effective_backlog`, `ss_line`) assume the first of them, with an
# assumption saying so, and are compared in the namespace that has that
# value (nginx must start in the other one too).  A write
# the kernel refuses makes the real pod fail (the runtime fails the
# sandbox, the init container exits non-zero): SMX010 must say so; the lab
# then goes on with the value unchanged, as the model does.
#
# Compared: `nginx -t` refusing <=> a refusal predicted (SMX008, SMX009,
# SMX022, SMX023, SMX015 for a bind() that `nginx -t` makes too; the rule
# matching nginx's message: TEST_REFUSALS), nginx stopping at start-up
# <=> a start failure predicted (SMX015: EADDRINUSE, or a socket Linux
# refuses; START_FAILURES), and then every listener `explain` lists says
# why nginx does not start (`bind_conflict`); for a started nginx every
# `ss -lntH` line (single-spaced) with the predicted `ss_line`s and every
# UNIX socket's Send-Q (`ss -lxH`) with `effective_backlog`.
#
# Known gaps of somaxlint (found by this batch, reported, not fixed here)
# are not generated by default; each has a seed kept as a strict-xfail
# regression case below (`allow=` turns the construct back on).  There are
# none at present.

SOMAXCONN = "net.core.somaxconn"
NGINX_VERSION = lab.nginx_version() if os.path.exists(NGINX) else "1.25.5"
RELEASE = os.uname().release
PORTS = (8000, 8001, 8002)
# hostAliases of every generated pod (one entry per address, in this
# order); what each name then resolves to in the pod's /etc/hosts
HOST_ALIASES = [
    ("127.0.0.3", ["svc.local"]),
    ("127.0.0.4", ["both.local"]),
    ("::1", ["both.local"]),
    ("127.0.0.5", ["two.local"]),
    ("127.0.0.6", ["two.local"]),
]
NAMES = {
    "localhost": ["127.0.0.1", "::1"],
    "ip6-localhost": ["::1"],
    "ip6-loopback": ["::1"],
    "svc.local": ["127.0.0.3"],
    "both.local": ["127.0.0.4", "::1"],
    "two.local": ["127.0.0.5", "127.0.0.6"],
}
SOMAXCONN_TARGETS = [0, 1, 128, 511, 512, 1000, 4095, 4097, 65535, 65536, 100000, 2147483647]
REFUSED_SYSCTL = ["08", "-1", "1e3", "0x", "abc", "5,6", "42\r", "2147483648", "0x80000000"]
REFUSED_BACKLOG = ["0", "-1", str(2**32 - 1), str(2**32), str(2**63 - 1), str(2**63), str(2**64 + 1), "0x10", "+5", "1k"]
# `nginx -t` refusals somaxlint predicts: what nginx's message contains, and
# the rules whose finding predicts it (nginx 1.22.1 sources)
TEST_REFUSALS = [
    ("duplicate listen options", ("SMX008",)),  # ngx_http_add_addresses (src/http/ngx_http.c)
    ("invalid backlog", ("SMX009",)),  # ngx_http_core_listen and its stream and mail twins
    # ngx_stream_core_listen (before 1.25.5: SMX022) and ngx_mail_core_listen
    # (SMX023) refuse a duplicate with the same words
    ("address and port pair", ("SMX022", "SMX023")),
    ("a duplicate listen ", ("SMX023",)),  # ngx_http_add_server (src/http/ngx_http.c)
    ("a duplicate default server", ("SMX023",)),  # ngx_http_add_addresses
    # bind() of an IPv4-mapped address on an IPv6-only socket
    # (ngx_open_listening_sockets binds at `nginx -t` too)
    ("(22: Invalid argument)", ("SMX015",)),
]
# start-up failures `nginx -t` does not see: what nginx's message contains,
# and the rule that predicts it
START_FAILURES = [
    ("(98: Address already in use)", "SMX015"),  # bind() in ngx_open_listening_sockets
    ("(95: Operation not supported)", "SMX015"),  # setsockopt(SO_REUSEPORT) on a unix: socket (Linux 6.13+)
]

# constructs somaxlint mispredicts (see the regression cases): the reason
# and what the failure message then contains (a string, or all of a tuple)
KNOWN_GAPS: Dict[str, Tuple[str, object]] = {}

ROUND2_TALLY = ["IPv4", "IPv6", "dual-stack", "unix", "stream", "mail", "host names", "refusals", "bind conflicts", "start failures", "CNI/pod-sysctl orders"]
for _key in ROUND2_TALLY:
    TALLY.setdefault(_key, 0)


@dataclass
class PodCase:
    config: str
    conflist: Optional[str] = None  # somaxconn in the cni.default conflist's tuning plugin
    nad: Optional[str] = None  # ... in the Multus network the pod selects
    pod: Optional[str] = None  # the pod's securityContext.sysctls value
    init: List[str] = field(default_factory=list)  # one `sh -c` script per privileged init container
    names: int = 0  # listens naming a host


def _resolve(target: str) -> List[Tuple[str, Optional[int]]]:
    """The (address, port) keys nginx binds for a listen target."""
    if target.startswith("unix:"):
        return [(target, None)]
    host, _, port = target.rpartition(":")
    if not host or host in ("*", "0.0.0.0"):
        return [("0.0.0.0", int(port or target))]
    host = host.strip("[]")
    return [(a, int(port)) for a in NAMES.get(host, [host])]


def _spell(rng: random.Random, value: int, blanks: bool) -> str:
    """``value`` as a sysctl string the kernel reads as ``value`` (or, for
    two numbers, the first)."""
    forms = [str(value), hex(value), "0X%X" % value, "0%o" % value if value else "0", f"00{value}" if value < 8 else str(value)]
    if blanks:
        forms += [f" {value}", f"\t{value}", f"{value}\n", f"{value} ", f" {hex(value)}\n", f"{value} {rng.choice(SOMAXCONN_TARGETS)}"]
    return rng.choice(forms)


def _sysctl_value(rng: random.Random, blanks: bool = True) -> Tuple[str, Optional[int]]:
    if rng.random() < 0.06:
        value = rng.choice([v for v in REFUSED_SYSCTL if blanks or v.strip() == v and " " not in v])
        return value, None
    target = rng.choice(SOMAXCONN_TARGETS)
    return _spell(rng, target, blanks), target


def _init_script(rng: random.Random, allow=frozenset()) -> Tuple[str, Optional[int]]:
    import shlex

    form = rng.choice(["sysctl -w", "sysctl", "echo", "printf"])
    if form.startswith("sysctl"):
        # no blanks: procps and busybox sysctl treat them differently
        value, target = _sysctl_value(rng, blanks=False)
        return f"{form} {SOMAXCONN}={shlex.quote(value)}", target
    value, target = _sysctl_value(rng)
    value = value.replace("\r", "")  # echo and printf: no carriage return in a script
    if form == "echo":
        return f"echo {shlex.quote(value)} > /proc/sys/net/core/somaxconn", target if value.strip() else None
    return f"printf %s {shlex.quote(value)} > /proc/sys/net/core/somaxconn", target


def _backlog(rng: random.Random, somaxconn: int) -> str:
    if rng.random() < 0.04:
        return rng.choice(REFUSED_BACKLOG)
    around = [somaxconn - 1, somaxconn, somaxconn + 1] if somaxconn > 1 else [1, 2]
    return str(rng.choice(around * 3 + [1, 2, 511, 512, 65535, 65536, 2**31 - 1, 2**31, 2**31 + 1, 2**32 + 1, 2**32 + 2, 2**33 + 7]))


def _target(rng: random.Random, port: int, unix_paths: List[str], allow, ipv6_only: bool) -> str:
    if ipv6_only:
        # no IPv4 socket: a dual-stack [::] can start beside the rest
        kinds = ["[::]", "[::]", "[::]", "unix"]
    else:
        kinds = ["127.0.0.1", "127.0.0.1", "127.0.0.2", "wild", "[::1]", "[::1]", "[::]", "name", "name", "unix"]
    # an IPv4-mapped address now and then: nginx refuses it unless the
    # listen says ipv6only=off (SMX015), and then it takes IPv4 (SMX015 beside
    # an IPv4 socket on its address)
    kind = rng.choice(kinds) if rng.random() >= 0.01 else "[::ffff:127.0.0.1]"
    if kind == "unix":
        return "unix:" + rng.choice(unix_paths)
    if kind == "wild":
        return rng.choice(["", "*:", "0.0.0.0:"]) + str(port)
    if kind == "name":
        return f"{rng.choice(sorted(NAMES))}:{port}"
    return f"{kind}:{port}"


def _random_case(rng: random.Random, case_dir: Path, default_somaxconn: int, allow=frozenset()) -> PodCase:
    case = PodCase("")
    # the namespace: any of the four writers, each maybe refused
    intended = default_somaxconn
    if rng.random() < 0.3:
        case.conflist, target = _sysctl_value(rng)
        intended = target if target is not None else intended
    if rng.random() < 0.15:
        case.nad, target = _sysctl_value(rng)
        intended = target if target is not None else intended
    if rng.random() < 0.45:
        case.pod, target = _sysctl_value(rng)
        intended = target if target is not None else intended
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        script, target = _init_script(rng, allow)
        case.init.append(script)
        intended = target if target is not None else intended

    workers = rng.choice([1, 1, 2, 3, 4])
    ipv6_only = rng.random() < 0.2
    unix_paths = [str(case_dir / "a.sock"), str(case_dir / "b.sock")]
    modules = [m for m, p in (("http", 0.85), ("stream", 0.4), ("mail", 0.25)) if rng.random() < p] or ["http"]
    optioned: Dict[Tuple[str, Tuple], bool] = {}  # (module, key) -> a listen there has socket options
    defaults = set()  # http keys with a default_server
    default_targets: List[str] = []  # ... as the listens write them
    unix_module: Dict[str, str] = {}
    blocks = []
    for number, module in enumerate(modules):
        servers = []
        written: List[str] = []  # the module's listen targets so far
        for s in range(rng.randint(1, 3)):
            listens = []
            in_server = set()
            for _ in range(rng.randint(1, 3 if module == "http" else 2)):
                # a port of the module's own, or any: shared ports across modules are bind conflicts
                port = rng.choice(PORTS) if rng.random() < 0.35 else PORTS[number]
                target = _target(rng, port, unix_paths, allow, ipv6_only)
                # now and then default_server again on an address that has
                # one: nginx refuses it in another server (SMX023)
                again = module == "http" and bool(default_targets) and rng.random() < 0.025
                if again:
                    target = rng.choice(default_targets)
                # ... and a stream or mail listen on an earlier one's path
                # or address (SMX022 before nginx 1.25.5, SMX023)
                repeat = module in ("stream", "mail") and bool(written) and rng.random() < 0.04
                if repeat:
                    target = rng.choice([t for t in written if t.startswith("unix:")] or written)
                keys = _resolve(target)
                unix = target.startswith("unix:")
                roll = rng.random()
                # what nginx refuses and somaxlint predicts: keep some
                taken = [k for k in keys if (module, k) in optioned]
                if module == "stream" and taken and roll > 0.3 and not repeat:
                    continue  # SMX022 (nginx < 1.25.5): kept 30% of the time
                if module == "mail" and taken and roll > 0.1 and not repeat:
                    continue  # SMX023 (mail has no virtual servers): kept 10% of the time
                if module == "http" and in_server & set(keys) and roll > 0.05:
                    continue  # SMX023 (one server listening twice): kept 5% of the time
                if unix and unix_module.get(target, module) != module and roll > 0.2:
                    continue  # SMX015 (one path in two modules): kept 20% of the time
                options = []
                if rng.random() < 0.55:
                    options.append(f"backlog={_backlog(rng, intended)}")
                if module != "mail" and rng.random() < 0.2 and (not unix or roll < 0.2):
                    options.append("reuseport")  # on a unix: path (SMX015): kept 20% of the time
                if not unix and rng.random() < (0.5 if "[" in target else 0.05):
                    options.append(rng.choice(["ipv6only=on", "ipv6only=off", "ipv6only=off" if ipv6_only else "ipv6only=on"]))
                if rng.random() < 0.05:
                    options.append("bind")
                if module == "http" and any(optioned.get((module, k)) for k in keys) and options and rng.random() < 0.85:
                    options = []  # SMX008 (duplicate listen options): kept 15% of the time
                if module == "http" and (again or rng.random() < 0.12):
                    if not (defaults & set(keys)) or again:
                        options.append("default_server")
                        defaults.update(keys)
                        default_targets.append(target)
                for k in keys:
                    optioned[(module, k)] = optioned.get((module, k), False) or bool([o for o in options if o != "default_server"])
                in_server.update(keys)
                if unix:
                    unix_module.setdefault(target, module)
                written.append(target)
                if not unix and target.split(":")[0].strip("[]") in NAMES:
                    case.names += 1
                listens.append(" ".join([f"listen {target}"] + options) + ";")
            if not listens:
                continue
            body = "".join(f"        {l}\n" for l in listens)
            if module == "http":
                body += f"        server_name s{s};\n"
            elif module == "stream":
                body += "        proxy_pass 127.0.0.1:9;\n"
            else:
                body += "        protocol smtp;\n"
            servers.append(f"    server {{\n{body}    }}\n")
        if servers:
            head = "    auth_http 127.0.0.1:9/auth;\n" if module == "mail" else ""
            blocks.append(f"{module} {{\n{head}" + "".join(servers) + "}\n")
    if not blocks:
        blocks.append(f"http {{\n    server {{\n        listen 127.0.0.1:{PORTS[0]};\n    }}\n}}\n")
    case.config = f"worker_processes {workers};\nevents {{}}\n" + "".join(blocks)
    return case


def _pod_manifest(case: PodCase) -> str:
    spec = "      hostAliases:\n" + "".join(f'      - ip: "{ip}"\n        hostnames: {json.dumps(names)}\n' for ip, names in HOST_ALIASES)
    if case.pod is not None:
        spec += f"      securityContext:\n        sysctls:\n        - name: {SOMAXCONN}\n          value: {json.dumps(case.pod)}\n"
    if case.init:
        spec += "      initContainers:\n" + "".join(
            f"      - name: tune{i}\n        image: busybox:1.36\n        command: {json.dumps(['sh', '-c', script])}\n"
            "        securityContext:\n          privileged: true\n"
            for i, script in enumerate(case.init)
        )
    annotations = "      annotations:\n        k8s.v1.cni.cncf.io/networks: tuned\n" if case.nad is not None else ""
    out = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: e2e\nspec:\n"
        "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n"
        f"{annotations}    spec:\n{spec}      containers:\n      - name: nginx\n        image: nginx:{NGINX_VERSION}\n"
        "        volumeMounts:\n        - name: conf\n          mountPath: /etc/nginx/nginx.conf\n          subPath: nginx.conf\n"
        "      volumes:\n      - name: conf\n        configMap:\n          name: web-conf\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-conf\n  namespace: e2e\ndata:\n"
        "  nginx.conf: |\n" + textwrap.indent(case.config, "    ")
    )
    if case.nad is not None:
        conf = {"cniVersion": "0.3.1", "name": "tuned", "plugins": [
            {"type": "macvlan", "master": "eth0"}, {"type": "tuning", "sysctl": {SOMAXCONN: case.nad}},
        ]}
        out += (
            "---\napiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: tuned\n"
            f"  namespace: e2e\nspec:\n  config: {json.dumps(json.dumps(conf))}\n"
        )
    return out


def _lint(case: PodCase, case_dir: Path):
    """explain's listeners and the findings for the case's manifests."""
    lint_dir = case_dir / "m"
    lint_dir.mkdir(parents=True)
    (lint_dir / "app.yaml").write_text(_pod_manifest(case))
    settings = f"kernel: {json.dumps(RELEASE)}\n"
    if case.conflist is not None:
        (lint_dir / "cni").mkdir()
        conflist = {"cniVersion": "1.0.0", "name": "podnet", "plugins": [
            {"type": "bridge", "bridge": "cni0"}, {"type": "tuning", "sysctl": {SOMAXCONN: case.conflist}},
        ]}
        (lint_dir / "cni" / "10-podnet.conflist").write_text(json.dumps(conflist, indent=2))
        settings += "cni:\n  default: m/cni/10-podnet.conflist\n"
    (case_dir / "somaxlint.yaml").write_text(settings)
    common = ["--format", "json", "--config", str(case_dir / "somaxlint.yaml"), "--kernel", RELEASE, str(lint_dir)]
    status, out, err = lab.lint_in_process("explain", *common)
    assert status == 0, err
    listeners = json.loads(out)["listeners"]
    status, out, err = lab.lint_in_process(*common)
    assert status in (0, 1), err
    return listeners, json.loads(out)["findings"]


def _namespace(case: PodCase, workdir: Path, cni_last: bool):
    """The pod's namespace, its somaxconn written as the pod writes it;
    (namespace, the writes the kernel refused)."""
    ns = lab.PodNetNS(workdir, HOST_ALIASES)
    refused = []
    cni = [("CNI conflist", v) for v in (case.conflist,) if v is not None] + [("Multus network", v) for v in (case.nad,) if v is not None]
    pod = [("pod sysctls", case.pod)] if case.pod is not None else []
    try:
        for who, value in (pod + cni if cni_last else cni + pod):
            error = write_like_runc(ns, SOMAXCONN, value)
            if error is not None:
                refused.append(f"{who} {value!r}: errno {error}")
        for script in case.init:
            run = ns.exec(["sh", "-c", script], check=False)
            if run.returncode != 0:
                refused.append(f"init container {script!r}: exit {run.returncode} {run.stderr.strip()}")
    except BaseException:
        ns.close()
        raise
    return ns, refused


def _family(ss_line: str) -> str:
    local = ss_line.split()[3]
    return "dual-stack" if local.startswith("*:") else "IPv6" if local.startswith("[") else "IPv4"


def _run_case(case: PodCase, case_dir: Path, where: str) -> str:
    """Predict, reproduce, compare; how nginx ended (refused, EADDRINUSE, started)."""
    listeners, found = _lint(case, case_dir)
    rules = {f["rule"] for f in found}
    manifest = (case_dir / "m" / "app.yaml").read_text()
    context = f"{where}\n--- manifest ---\n{manifest}"
    if case.conflist is not None:
        context += f"--- cni.default conflist: somaxconn {case.conflist!r}\n"
    orders = [False, True] if case.pod is not None and (case.conflist is not None or case.nad is not None) else [False]
    namespaces = []
    try:
        ns_values, refused = [], []
        for cni_last in orders:
            ns, why = _namespace(case, case_dir, cni_last)
            namespaces.append(ns)
            ns_values.append(int(ns.sysctl(SOMAXCONN)))
            refused = refused or why
        values = set(ns_values)
        if len(orders) > 1:
            TALLY["CNI/pod-sysctl orders"] += 1
        # the namespace's somaxconn
        for l in listeners:
            assert set(l["somaxconn_possible"]) == values, (
                f"{context}\nkernel somaxconn {sorted(values)} (CNI and pod-sysctl orders: {len(orders)}), "
                f"predicted {l['somaxconn_possible']} ({l['somaxconn_origin']}; {l['assumptions']})"
            )
        # explain's numbers assume the first possible value (with an
        # assumption saying so): compared in the namespace that has it
        assumed = listeners[0]["somaxconn"] if listeners else None
        smx010 = [f["message"] for f in found if f["rule"] == "SMX010" and f["severity"] == "error"]
        assert bool(smx010) == bool(refused), f"{context}\nkernel refused: {refused}\nSMX010 errors: {smx010}"

        conf = case_dir / "nginx.conf"
        conf.write_text(lab.runnable_config_all(case.config, case_dir))
        test = namespaces[0].nginx_test(conf)
        predicted = _test_refusals(found)
        # explain lists every socket of an nginx that does not start, each
        # saying why in `bind_conflict` (and with no `ss_line`)
        silent = [f"{l['module']} {l['address']}:{l['port']}" for l in listeners if l["bind_conflict"] is None or l["ss_line"] is not None]
        if test.returncode != 0:
            message = test.stderr.strip().splitlines()[0] if test.stderr.strip() else "(no message)"
            expected = [codes for text, codes in TEST_REFUSALS if text in message]
            assert expected and all(set(codes) & predicted for codes in expected), (
                f"{context}\nnginx -t refuses: {message}\nsomaxlint predicts the refusals {sorted(predicted) or 'none'}"
            )
            assert not silent, f"{context}\nnginx -t refuses: {message}\nexplain does not say so for {silent}"
            TALLY["refusals"] += 1
            TALLY["refusals confirmed"] += 1
            return "refused"
        assert not predicted, f"{context}\nnginx -t accepts the config; somaxlint predicts the refusals {sorted(predicted)}"
        failures = _start_failures(found)

        conflicts = [l for l in listeners if l["bind_conflict"] is not None]
        for index, ns in enumerate(list(namespaces)):
            if index:
                # each order is the same pod started afresh: the first
                # nginx stopped, its UNIX socket files gone
                namespaces.pop(0).close()
                (case_dir / "nginx.pid").unlink(missing_ok=True)
                for sock in case_dir.glob("*.sock"):
                    sock.unlink()
            outcome, stderr = ns.start_nginx_until_bound(conf)
            if outcome == "EADDRINUSE":
                assert "SMX015" in failures and conflicts, (
                    f"{context}\nnginx stops: {stderr.strip()}\nsomaxlint predicts no bind conflict (SMX015)"
                )
                assert not silent, f"{context}\nnginx stops: {stderr.strip()}\nexplain does not say so for {silent}"
                TALLY["bind conflicts"] += 1
                TALLY["refusals confirmed"] += 1
                return "EADDRINUSE"
            if outcome == "failed":
                expected = [code for text, code in START_FAILURES if text in stderr]
                assert expected and set(expected) <= failures, (
                    f"{context}\nnginx fails to start: {stderr.strip()}\nsomaxlint predicts the start failures "
                    f"{sorted(failures) or 'none'} ({sorted(rules)})"
                )
                assert not silent, f"{context}\nnginx fails to start: {stderr.strip()}\nexplain does not say so for {silent}"
                TALLY["start failures"] += 1
                TALLY["refusals confirmed"] += 1
                return "failed"
            assert outcome == "started", f"{context}\nnginx fails to start: {stderr.strip()}\nsomaxlint: {sorted(rules)}"
            assert not failures and not conflicts, (
                f"{context}\nnginx starts; somaxlint predicts the start failures {sorted(failures)}, "
                f"explain: {[l['bind_conflict'] for l in conflicts]}"
            )
            kernel_tcp, kernel_unix = ns.ss_tcp_lines(), ns.ss_unix()
            tcp = [l for l in listeners if l["family"] != "unix"]
            unix = [l for l in listeners if l["family"] == "unix"]
            lines = sorted(l["ss_line"] for l in tcp for _ in range(l["sockets"]) if l["ss_line"] is not None)
            sockets = sorted((l["address"][len("unix:"):], l["effective_backlog"]) for l in unix for _ in range(l["sockets"]))
            report = (
                f"{context}\nkernel (order {index + 1} of {len(orders)}):\n  " + "\n  ".join(kernel_tcp + [f"unix {p} Send-Q {q}" for p, q in kernel_unix])
                + "\npredicted:\n  " + "\n  ".join(lines + [f"unix {p} Send-Q {q}" for p, q in sockets])
            )
            if ns_values[index] != assumed or ns_values.index(assumed) != index:
                continue  # the order the prediction does not assume: its value is checked above
            assert lines == kernel_tcp and len(lines) == sum(l["sockets"] for l in tcp), report
            assert sockets == kernel_unix, report
            for line in lines:
                TALLY[_family(line)] += 1
            TALLY["unix"] += len(sockets)
            TALLY["stream"] += sum(l["sockets"] for l in listeners if l["module"] == "stream")
            TALLY["mail"] += sum(l["sockets"] for l in listeners if l["module"] == "mail")
            TALLY["host names"] += case.names
            TALLY["sockets compared"] += len(lines) + len(sockets)
        return "started"
    finally:
        for ns in namespaces:
            ns.close()


def _test_refusals(found) -> set:
    """The rules whose findings say `nginx -t` refuses the config (SMX015:
    the bind() of an IPv4-mapped address, which `nginx -t` makes too)."""
    out = set()
    for f in found:
        if f["rule"] in ("SMX008", "SMX009", "SMX022", "SMX023"):
            out.add(f["rule"])
        elif f["rule"] == "SMX015" and "(22: Invalid argument)" in f["message"]:
            out.add(f["rule"])
    return out


def _start_failures(found) -> set:
    """The rules whose findings say nginx passes `nginx -t` and stops at
    start-up."""
    return {f["rule"] for f in found if f["rule"] == "SMX015" and "(22: Invalid argument)" not in f["message"]}


def _default_somaxconn() -> int:
    ns = lab.PodNetNS(Path("/tmp"))
    try:
        return int(ns.sysctl(SOMAXCONN))
    finally:
        ns.close()


CASES_PER_SEED = 18
# A seed whose cases nginx happens to refuse nearly all (about one in a
# thousand) goes on with a few more, until nginx has started twice
EXTRA_CASES = 6
FIXED_SEEDS = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765, 10946]
FRESH_SEED = int(os.environ.get("SOMAXLINT_E2E_SEED") or random.SystemRandom().randrange(2**32))


@pytest.fixture
def every_module(kernel_lab):
    """nginx with its stream and mail modules (the batch generates both)."""
    missing = [m for m in (lab.STREAM_MODULE, lab.MAIL_MODULE) if not os.path.exists(m)]
    if missing:
        reason = f"the random batch needs nginx's stream and mail modules (libnginx-mod-stream, libnginx-mod-mail): {missing} missing"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return True


def _batch(seed: int, tmp_path: Path, allow=frozenset()) -> None:
    rng = random.Random(seed)
    default = _default_somaxconn()
    outcomes = []
    for index in range(CASES_PER_SEED + EXTRA_CASES):
        if index >= CASES_PER_SEED and outcomes.count("started") >= 2:
            break
        case_dir = tmp_path / f"c{index}"
        case_dir.mkdir()
        case = _random_case(rng, case_dir, default, allow)
        where = f"seed {seed} (rerun with SOMAXLINT_E2E_SEED={seed}), case {index}" + (f", allowing {sorted(allow)}" if allow else "")
        outcomes.append(_run_case(case, case_dir, where))
    # a generator that stopped starting nginx would compare nothing
    assert outcomes.count("started") >= 2, f"seed {seed}: nginx started in {outcomes.count('started')} of {len(outcomes)} cases"


@pytest.mark.parametrize(
    "seed", FIXED_SEEDS + [FRESH_SEED], ids=[str(s) for s in FIXED_SEEDS] + [f"fresh-{FRESH_SEED}"]
)
def test_randomised_batch(every_module, tmp_path, monkeypatch, seed):
    print(f"random batch seed {seed} (rerun with SOMAXLINT_E2E_SEED={seed})")
    monkeypatch.setenv("SOMAXLINT_CACHE_DIR", str(tmp_path / "cache"))
    _batch(seed, tmp_path)
    TALLY[f"random seeds (fresh: {FRESH_SEED})"] = TALLY.get(f"random seeds (fresh: {FRESH_SEED})", 0) + 1


def _stream(*servers: str) -> str:
    return "events {}\nstream {\n" + "".join(f"    server {{\n        {s}\n        proxy_pass 127.0.0.1:9;\n    }}\n" for s in servers) + "}\n"


def _mail(*servers: str) -> str:
    return (
        "events {}\nmail {\n    auth_http 127.0.0.1:9/auth;\n"
        + "".join(f"    server {{\n        {s}\n        protocol smtp;\n    }}\n" for s in servers)
        + "}\n"
    )


_BEFORE_STREAM_VIRTUAL_SERVERS = tuple(int(n) for n in NGINX_VERSION.split(".")) < (1, 25, 5)

# Each construct the batch makes that nginx refuses (or that looks like one
# and is not), as a whole pod run through the batch's comparison: the
# config ({dir}: the case's directory), how nginx ends ("refused" at
# `nginx -t`, "EADDRINUSE" or "failed" at start-up, or "started") and the
# rule that says so
CONSTRUCTS = {
    "two mail listens on one address": (
        _mail("listen 127.0.0.1:8000;", "listen 127.0.0.1:8000;"), "refused", "SMX023",
    ),
    "two mail listens on one unix: path": (
        _mail("listen unix:{dir}/a.sock;", "listen unix:{dir}/a.sock;"), "refused", "SMX023",
    ),
    "two stream listens on one unix: path": (
        _stream("listen unix:{dir}/a.sock;", "listen unix:{dir}/a.sock;"),
        *(("refused", "SMX022") if _BEFORE_STREAM_VIRTUAL_SERVERS else ("started", None)),
    ),
    "one http server listening twice, once through a host name": (
        _http("listen localhost:8000;\n        listen 127.0.0.1:8000;"), "refused", "SMX023",
    ),
    "default_server on one address in two http servers": (
        _http("listen 127.0.0.1:8000 default_server;", "listen 127.0.0.1:8000 default_server; server_name b;"), "refused", "SMX023",
    ),
    "default_server on a wildcard and on an address of its port": (
        _http("listen 8000 default_server;", "listen 127.0.0.1:8000 default_server; server_name b;"), "started", None,
    ),
    "an IPv4-mapped address on an IPv6-only socket": (_http("listen [::ffff:127.0.0.1]:8000;"), "refused", "SMX015"),
    "an IPv4-mapped address sharing the IPv6 wildcard's socket": (
        _http("listen [::]:8000;", "listen [::ffff:127.0.0.1]:8000; server_name b;"), "started", None,
    ),
    "an IPv4-mapped address with ipv6only=off": (
        _http("listen [::ffff:127.0.0.1]:8000 ipv6only=off backlog=77;", "listen [::]:8000; server_name b;"), "started", None,
    ),
    "an IPv4-mapped address with ipv6only=off beside its IPv4 address": (
        _http("listen [::ffff:127.0.0.1]:8000 ipv6only=off;", "listen 127.0.0.1:8000; server_name b;"), "EADDRINUSE", "SMX015",
    ),
    "one unix: path in http and stream": (
        _http("listen unix:{dir}/a.sock;") + _stream("listen unix:{dir}/a.sock;").replace("events {}\n", ""), "EADDRINUSE", "SMX015",
    ),
    "reuseport on a unix: path": ("worker_processes 1;\n" + _http("listen unix:{dir}/a.sock reuseport;"), "failed", "SMX015"),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_refusals_of_the_batch_one_by_one(every_module, tmp_path, monkeypatch, name):
    from somaxlint.facts import parse_kernel_version
    from somaxlint.servers.nginx import REUSEPORT_INET_ONLY

    config, outcome, rule = CONSTRUCTS[name]
    if "reuseport" in config and parse_kernel_version(RELEASE) < REUSEPORT_INET_ONLY:
        pytest.skip(f"Linux {RELEASE} may accept SO_REUSEPORT on a UNIX socket (refused from 6.13)")
    monkeypatch.setenv("SOMAXLINT_CACHE_DIR", str(tmp_path / "cache"))
    case = PodCase(config.replace("{dir}", str(tmp_path / "c")))
    (tmp_path / "c").mkdir()
    assert _run_case(case, tmp_path / "c", name) == outcome
    found = json.loads(lab.lint_in_process("--format", "json", "--kernel", RELEASE, str(tmp_path / "c" / "m"))[1])["findings"]
    assert sorted({f["rule"] for f in found} & {"SMX008", "SMX009", "SMX015", "SMX022", "SMX023"}) == ([rule] if rule else [])


def test_init_container_write_with_a_quoted_newline(every_module, tmp_path, monkeypatch):
    """`echo '3000<newline>' > /proc/sys/...`: the newline belongs to the
    quoted word, and the write happens (somaxlint.model.shell)."""
    monkeypatch.setenv("SOMAXLINT_CACHE_DIR", str(tmp_path / "cache"))
    case = PodCase(
        _http("listen 127.0.0.1:8000 backlog=5000;"),
        init=["echo 'ignored\nline' && echo '3000\n' > /proc/sys/net/core/somaxconn", "printf %s ' 0x7d0\n' > /proc/sys/net/core/somaxconn"],
    )
    (tmp_path / "c").mkdir()
    assert _run_case(case, tmp_path / "c", "quoted newline") == "started"
    status, out, err = lab.lint_in_process("explain", "--format", "json", "--kernel", RELEASE, str(tmp_path / "c" / "m"))
    [listener] = json.loads(out)["listeners"]
    assert listener["somaxconn"] == 2000 and listener["effective_backlog"] == 2000


# A seed per known gap: the batch with that construct allowed fails there,
# with nginx's message.  When somaxlint learns the case, the xfail turns
# into an unexpected pass: drop the gap from KNOWN_GAPS and the case here.
# (None is known: the test is defined only while one is, so that no empty
# parameter set shows as a skipped test.)
GAP_SEEDS: Dict[str, int] = {}


def _randomised_batch_known_gap(every_module, tmp_path, monkeypatch, gap, seed):
    monkeypatch.setenv("SOMAXLINT_CACHE_DIR", str(tmp_path / "cache"))
    try:
        _batch(seed, tmp_path, allow=frozenset([gap]))
    except AssertionError as exc:
        signature = KNOWN_GAPS[gap][1]
        if not all(part in str(exc) for part in ((signature,) if isinstance(signature, str) else signature)):
            raise RuntimeError(f"seed {seed} fails for another reason than {gap}:\n{exc}") from None
        raise


if GAP_SEEDS:
    test_randomised_batch_known_gap = pytest.mark.parametrize(
        "gap, seed",
        [pytest.param(g, s, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=KNOWN_GAPS[g][0])) for g, s in GAP_SEEDS.items()],
    )(_randomised_batch_known_gap)


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


SHELL_WRITES = ["0x800", " 0100", "3000 5000", "08", "-1", "0X1F", "1e3", "00", "3000\n", " 0x800\n\n"]


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

"""Every listener somaxlint predicts, checked against Linux and nginx.

For each case: manifests are written, `somaxlint explain --format json
--kernel $(uname -r)` predicts the listeners, and the same namespace is
built for real -- its own netns, somaxconn set the way the manifest sets it
(or left at the kernel default), the same nginx config started in it --
and `ss` reports the kernel's Send-Q for every LISTEN socket.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from lab import NGINX, TALLY, expected_sockets, kernel_lab, manifests, netns, predict, runnable_config  # noqa: F401 (fixtures)

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
        from linter.facts import NGINX_IMAGE_FILES

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
        [sys.executable, "-m", "linter", "--select", "SMX015", str(tmp_path / "m")], capture_output=True, text=True
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
        [sys.executable, "-m", "linter", "--format", "json", "--kernel", os.uname().release, str(directory)],
        capture_output=True,
        text=True,
    )
    import json

    return [f["rule"] for f in json.loads(proc.stdout)["findings"]]

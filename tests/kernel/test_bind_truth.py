"""Which sockets nginx can open side by side, and the `ss -lntH` line of
each, checked against the kernel.

* Overlapping sockets (a dual-stack `[::]` beside an IPv4 wildcard, the
  same port in `http` and `stream`, a specific address with options beside
  a wildcard): nginx must fail with EADDRINUSE exactly where somaxlint
  reports SMX015, and start where it does not (`reuseport` on both,
  nginx's default ipv6only=on).
* Host names in `listen`: the namespace gets the pod's /etc/hosts as the
  kubelet writes it (`ip netns exec` bind-mounts /etc/netns/NAME/hosts over
  /etc/hosts), with the manifest's hostAliases; nginx then resolves the
  names as it would in the pod.
* For every socket nginx opens, `explain`'s predicted `ss_line` must equal
  the kernel's `ss -lntH` line with its columns single-spaced.

What the test changes from the pod: only the paths of pid, logs and temp
files (lab.runnable_config) and the stream module's load_module line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab import NGINX, TALLY, kernel_lab, manifests, netns, predict, runnable_config  # noqa: F401 (fixtures)
from somaxlint.servers.nginx.config import KUBELET_HOSTS

BIND_TALLY = {"ss lines compared": 0, "bind conflicts confirmed": 0, "host names resolved": 0}


def _ss_lines(ns) -> list:
    return sorted(" ".join(line.split()) for line in ns.exec(["ss", "-lntH"]).stdout.splitlines())


def _smx015(config: str, tmp_path: Path) -> str:
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / "app.yaml").write_text(manifests({"nginx.conf": config}, None, "sysctls"))
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", "--select", "SMX015", "--format", "json", str(tmp_path / "m")],
        capture_output=True,
        text=True,
    )
    return proc.stdout


CONFLICTS = {
    "dual-stack beside the IPv4 wildcard": "http {\n    server {\n        listen 8080;\n        listen [::]:8080 ipv6only=off;\n    }\n}\n",
    "same port in http and stream": (
        "http {\n    server { listen 8080; }\n}\nstream {\n    server { listen 8080; proxy_pass 127.0.0.1:9; }\n}\n"
    ),
    "same address in http and stream": (
        "http {\n    server { listen 127.0.0.1:8080; }\n}\nstream {\n    server { listen 127.0.0.1:8080; proxy_pass 127.0.0.1:9; }\n}\n"
    ),
    "stream wildcard beside an http address": (
        "http {\n    server { listen 127.0.0.1:8080; }\n}\nstream {\n    server { listen 8080; proxy_pass 127.0.0.1:9; }\n}\n"
    ),
    "dual-stack in stream beside http's IPv4": (
        "http {\n    server { listen 127.0.0.1:8080; }\n}\nstream {\n    server { listen [::]:8080 ipv6only=off; proxy_pass 127.0.0.1:9; }\n}\n"
    ),
}

STARTS = {
    "IPv6 wildcard is IPv6-only by default": "http {\n    server {\n        listen 8080 backlog=300;\n        listen [::]:8080;\n    }\n}\n",
    "reuseport on both in http and stream": (
        "worker_processes 1;\nhttp {\n    server { listen 8080 reuseport backlog=77; }\n}\n"
        "stream {\n    server { listen 8080 reuseport backlog=99; proxy_pass 127.0.0.1:9; }\n}\n"
    ),
    "dual-stack alone": "http {\n    server { listen [::]:8080 ipv6only=off backlog=1000; }\n}\n",
    "different ports in http and stream": (
        "http {\n    server { listen 8080; listen [::1]:8081 backlog=12; }\n}\n"
        "stream {\n    server { listen 127.0.0.1:8082 backlog=3000; proxy_pass 127.0.0.1:9; }\n}\n"
    ),
    "specific addresses side by side": (
        "http {\n    server { listen 127.0.0.1:8080 backlog=5; listen 127.0.0.2:8080 backlog=6; listen [::1]:8080 backlog=7; }\n}\n"
    ),
}


@pytest.mark.parametrize("name", sorted(CONFLICTS))
def test_overlapping_sockets_stop_nginx_where_smx015_says(netns, tmp_path, name):
    config = "events {}\n" + CONFLICTS[name]
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    ns = netns()
    assert ns.nginx_test(conf).returncode == 0  # nginx -t does not bind
    started = ns.exec([NGINX, "-p", str(tmp_path), "-c", str(conf)], check=False)
    ns.pidfiles.append(tmp_path / "nginx.pid")
    assert started.returncode != 0 and "Address already in use" in started.stderr, started.stderr
    BIND_TALLY["bind conflicts confirmed"] += 1
    TALLY["refusals confirmed"] += 1
    assert '"rule": "SMX015"' in _smx015(config, tmp_path)
    listeners = predict(tmp_path / "m")
    assert [l["bind_conflict"] is not None for l in listeners] == [True] * len(listeners)
    assert [l["ss_line"] for l in listeners] == [None] * len(listeners)


@pytest.mark.parametrize("name", sorted(STARTS))
def test_sockets_that_do_not_overlap_start_and_ss_shows_the_predicted_lines(netns, tmp_path, name):
    config = "events {}\n" + STARTS[name]
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    ns = netns()
    ns.start_nginx(conf)
    assert '"rule": "SMX015"' not in _smx015(config, tmp_path)
    listeners = predict(tmp_path / "m")
    predicted = sorted(l["ss_line"] for l in listeners for _ in range(l["sockets"]))
    assert predicted == _ss_lines(ns)
    BIND_TALLY["ss lines compared"] += len(predicted)


def test_host_names_resolve_through_the_pods_hosts_file(netns, tmp_path):
    config = (
        "events {}\nhttp {\n    server {\n        listen localhost:8080 backlog=123;\n"
        "        listen cache.local:8081 backlog=9;\n        listen ip6-localhost:8082;\n    }\n}\n"
    )
    aliases = '      hostAliases:\n      - ip: "127.0.0.9"\n        hostnames: ["cache.local"]\n'
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(manifests({"nginx.conf": config}, None, "sysctls").replace("      containers:\n", aliases + "      containers:\n", 1))
    listeners = predict(tmp_path / "m")
    assert sorted((l["address"], l["port"]) for l in listeners) == [
        ("127.0.0.1", 8080), ("127.0.0.9", 8081), ("::1", 8080), ("::1", 8082),
    ]
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    ns = netns()
    etc = Path("/etc/netns") / ns.name
    etc.mkdir(parents=True)
    try:
        # the kubelet's file (pkg/kubelet/kubelet_pods.go), the pod's own IP
        # line left out (no listen names it), then the hostAliases
        lines = ["# Kubernetes-managed hosts file."] + [f"{ip}\t{' '.join(names)}" for ip, names in KUBELET_HOSTS]
        lines += ["", "# Entries added by HostAliases.", "127.0.0.9\tcache.local"]
        (etc / "hosts").write_text("\n".join(lines) + "\n")
        ns.start_nginx(conf)
        kernel = _ss_lines(ns)
    finally:
        shutil.rmtree(etc, ignore_errors=True)
    assert sorted(l["ss_line"] for l in listeners) == kernel
    BIND_TALLY["host names resolved"] += len(kernel)
    BIND_TALLY["ss lines compared"] += len(kernel)


def test_nginx_before_1_25_5_refuses_two_stream_listens_where_smx022_says(netns, tmp_path):
    version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip().rsplit("/", 1)[-1]
    major, minor, patch = (int(p) for p in version.split("."))
    config = (
        "events {}\nstream {\n    server { listen 8090; proxy_pass 127.0.0.1:9; }\n"
        "    server { listen 8090; proxy_pass 127.0.0.1:10; }\n}\n"
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(runnable_config(config, tmp_path))
    ns = netns()
    refused = ns.nginx_test(conf)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "app.yaml").write_text(manifests({"nginx.conf": config}, None, "sysctls").replace("image: nginx:1.25", f"image: nginx:{version}"))
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", "--select", "SMX022", "--format", "json", str(tmp_path / "m")], capture_output=True, text=True
    )
    if (major, minor, patch) < (1, 25, 5):
        assert refused.returncode != 0 and 'duplicate "0.0.0.0:8090" address and port pair' in refused.stderr, refused.stderr
        assert '"rule": "SMX022"' in proc.stdout
        TALLY["refusals confirmed"] += 1
    else:
        assert refused.returncode == 0, refused.stderr
        assert '"rule": "SMX022"' not in proc.stdout

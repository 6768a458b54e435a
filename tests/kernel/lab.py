"""Real network namespaces and real nginx, to check every number somaxlint
predicts against the kernel's own answer (`ss -lnt` Send-Q).

Each namespace is created with a unique name and removed, with every nginx
started in it, even when a test fails.  Servers bind only loopback or
wildcard addresses inside their own namespace, where only `lo` exists.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# sockets compared with the kernel, and startups nginx refused as predicted
# (printed at the end of the run by tests/conftest.py)
TALLY = {"sockets compared": 0, "refusals confirmed": 0}
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
_counter = itertools.count()


def _unavailable() -> Optional[str]:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "iproute2 (`ip`) is not installed"
    if not os.path.exists(NGINX):
        return "nginx is not installed"
    name = f"smx-probe-{os.getpid()}"
    proc = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"cannot create a network namespace: {proc.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


@pytest.fixture(scope="session")
def kernel_lab():
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"kernel tests cannot run in CI: {reason}")
        pytest.skip(reason)
    return True


class NetNS:
    """One network namespace with its own loopback and somaxconn."""

    def __init__(self, workdir: Path):
        self.name = f"smx-{os.getpid()}-{next(_counter)}"
        self.workdir = workdir
        self.pidfiles: List[Path] = []
        _run(["ip", "netns", "add", self.name])
        self.exec(["ip", "link", "set", "lo", "up"])

    def exec(self, argv, check=True) -> subprocess.CompletedProcess:
        return _run(["ip", "netns", "exec", self.name] + list(argv), check=check)

    def sysctl(self, name: str, value=None) -> str:
        if value is not None:
            self.exec(["sysctl", "-q", "-w", f"{name}={value}"])
        return self.exec(["sysctl", "-n", name]).stdout.strip()

    def nginx_test(self, conf_path: Path) -> subprocess.CompletedProcess:
        return self.exec([NGINX, "-t", "-q", "-p", str(conf_path.parent), "-c", str(conf_path)], check=False)

    def start_nginx(self, conf_path: Path) -> None:
        pidfile = conf_path.parent / "nginx.pid"
        self.pidfiles.append(pidfile)
        proc = self.exec([NGINX, "-p", str(conf_path.parent), "-c", str(conf_path)], check=False)
        if proc.returncode != 0:
            raise AssertionError(f"nginx failed to start: {proc.stderr}\n{conf_path.read_text()}")
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text().strip():
                return
            time.sleep(0.02)
        raise AssertionError("nginx wrote no pid file")

    def listeners(self) -> List[Tuple[str, Optional[int], int]]:
        """(address, port, Send-Q) of every TCP and unix LISTEN socket."""
        out = []
        for line in self.exec(["ss", "-lntH"]).stdout.splitlines():
            fields = line.split()
            address, port = fields[3].rsplit(":", 1)
            address = address.strip("[]")
            if address == "*":
                address = "0.0.0.0"
            out.append((address, int(port), int(fields[2])))
        for line in self.exec(["ss", "-lxH"]).stdout.splitlines():
            fields = line.split()
            # Netid State Recv-Q Send-Q Local Port Peer Port
            if len(fields) >= 5 and fields[1] == "LISTEN":
                out.append(("unix:" + fields[4], None, int(fields[3])))
        return sorted(out, key=lambda t: (t[0], t[1] or 0, t[2]))

    def close(self) -> None:
        for pidfile in self.pidfiles:
            try:
                pid = int(pidfile.read_text().strip())
            except (OSError, ValueError):
                continue
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        # Workers die with their namespace's last reference; kill any
        # process still inside before deleting it.
        pids = _run(["ip", "netns", "pids", self.name], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        _run(["ip", "netns", "del", self.name], check=False)


def _run(argv, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {proc.stderr}")
    return proc


@pytest.fixture
def netns(kernel_lab, tmp_path):
    created = []

    def make(pod: bool = False):
        """A namespace; ``pod``: one whose processes see the hosts file the
        kubelet writes for a pod (PodNetNS), as a pod's server does."""
        ns = PodNetNS(tmp_path) if pod else NetNS(tmp_path)
        created.append(ns)
        return ns

    yield make
    for ns in created:
        ns.close()


# --------------------------------------------------------------------------
# Manifests and the real config that reproduces them
# --------------------------------------------------------------------------


def runnable_config(text: str, workdir: Path, conf_d: Optional[Path] = None) -> str:
    """The same nginx config, rewritten only for paths: pid, logs and temp
    files under ``workdir``, the stream module loaded, includes of
    /etc/nginx/conf.d pointed at ``conf_d``."""
    head = f"pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
    if re.search(r"^\s*stream\s*\{", text, re.M):
        head = f"load_module {STREAM_MODULE};\n" + head
    temp = "".join(
        f"    {d} {workdir}/{d.split('_')[0]};\n"
        for d in ("client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path")
    )
    body = re.sub(r"^\s*(pid|error_log|user)\s[^;]*;\s*$", "", text, flags=re.M)
    body = re.sub(r"(^\s*http\s*\{)", lambda m: m.group(1) + f"\n    access_log off;\n{temp}", body, count=1, flags=re.M)
    body = body.replace("include /etc/nginx/mime.types;", "")
    if conf_d is not None:
        body = body.replace("/etc/nginx/conf.d/", f"{conf_d}/")
    return head + body


def manifests(config: Dict[str, str], somaxconn: Optional[int], how: str, mount: str = "subPath", name: str = "web") -> str:
    """A Deployment running nginx with ``config`` from a ConfigMap."""
    pod = ""
    if somaxconn is not None and how == "sysctls":
        pod = f'      securityContext:\n        sysctls:\n        - name: net.core.somaxconn\n          value: "{somaxconn}"\n'
    elif somaxconn is not None and how == "init":
        pod = (
            "      initContainers:\n      - name: tune\n        image: busybox\n"
            f'        command: ["sh", "-c", "sysctl -w net.core.somaxconn={somaxconn}"]\n'
            "        securityContext:\n          privileged: true\n"
        )
    if mount == "subPath":
        mounts = "        - name: conf\n          mountPath: /etc/nginx/nginx.conf\n          subPath: nginx.conf\n"
    else:
        mounts = "        - name: conf\n          mountPath: /etc/nginx/conf.d\n"
    data = "".join(f"  {key}: |\n" + textwrap.indent(text, "    ") for key, text in config.items())
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: e2e\nspec:\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n"
        f"    spec:\n{pod}      containers:\n      - name: nginx\n        image: nginx:1.25\n        volumeMounts:\n{mounts}"
        f"      volumes:\n      - name: conf\n        configMap:\n          name: {name}-conf\n"
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-conf\n  namespace: e2e\ndata:\n{data}"
    )


def predict(directory: Path) -> List[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", "explain", "--format", "json", "--kernel", os.uname().release, str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["listeners"]


def expected_sockets(listeners: List[dict]) -> List[Tuple[str, Optional[int], int]]:
    """What ss should list: one row per socket (reuseport: per worker)."""
    out = []
    for l in listeners:
        count = l["sockets"]
        assert count is not None, "use a numeric worker_processes in kernel tests"
        out.extend([(l["address"], l["port"], l["effective_backlog"])] * count)
    return sorted(out, key=lambda t: (t[0], t[1] or 0, t[2]))


# --------------------------------------------------------------------------
# Sysctl writes as runc, procps sysctl and a shell make them (for the
# sysctl-value checks; nothing above depends on this)
# --------------------------------------------------------------------------

_RUNC_WRITE = r"""
import json, os, sys
path, data = sys.argv[1], json.loads(sys.argv[2]).encode("utf-8", "surrogateescape")
fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
error = None
try:
    # runc: sysctlFile.WriteString(value); Go's File.Write retries a short
    # write with the rest (and issues one zero-byte write for "").
    total = 0
    while True:
        n = os.write(fd, data[total:])
        total += n
        if total >= len(data) or n == 0:
            break
except OSError as exc:
    error = exc.errno
finally:
    os.close(fd)
print(json.dumps(error))
"""


def proc_sys_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def write_like_runc(ns: "NetNS", name: str, data: str) -> Optional[int]:
    """Write ``data`` to the sysctl exactly as runc writes a pod sysctl's
    value (as-is, retrying short writes); the errno, or None."""
    proc = ns.exec([sys.executable, "-c", _RUNC_WRITE, proc_sys_path(name), json.dumps(data)])
    return json.loads(proc.stdout)


def read_sysctl(ns: "NetNS", name: str) -> str:
    with_tabs = ns.exec(["cat", proc_sys_path(name)]).stdout
    return " ".join(with_tabs.split())


def deployment_with(config: Dict[str, str], pod: str = "", container: str = "", name: str = "web") -> str:
    """A Deployment running nginx with ``config`` (nginx.conf from a
    ConfigMap), with extra YAML at pod level and in the nginx container
    (each already indented for its place: pod fields by 6 spaces,
    container fields by 8)."""
    data = "".join(f"  {key}: |\n" + textwrap.indent(text, "    ") for key, text in config.items())
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: e2e\nspec:\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n"
        f"    spec:\n{pod}      containers:\n      - name: nginx\n        image: nginx:1.25\n{container}"
        "        volumeMounts:\n        - name: conf\n          mountPath: /etc/nginx/nginx.conf\n          subPath: nginx.conf\n"
        f"      volumes:\n      - name: conf\n        configMap:\n          name: {name}-conf\n"
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-conf\n  namespace: e2e\ndata:\n{data}"
    )


def findings(directory: Path, *args: str) -> List[dict]:
    """somaxlint's findings (JSON) on ``directory`` for this kernel."""
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", "--format", "json", "--kernel", os.uname().release, *args, str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


# --------------------------------------------------------------------------
# Whole pods, one namespace each (the random batch): the pod's /etc/hosts,
# the mail module, somaxlint run in-process, and nginx started until it
# binds or fails
# --------------------------------------------------------------------------

MAIL_MODULE = "/usr/lib/nginx/modules/ngx_mail_module.so"


def nginx_version() -> str:
    """The local nginx's version ("1.22.1"): manifests name it as the
    image tag, so version-dependent predictions (SMX022) are this nginx's."""
    return subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip().rsplit("/", 1)[-1]


def runnable_config_all(text: str, workdir: Path) -> str:
    """``runnable_config``, with the mail module loaded too when the
    config has a ``mail`` block."""
    conf = runnable_config(text, workdir)
    if re.search(r"^\s*mail\s*\{", text, re.M):
        conf = f"load_module {MAIL_MODULE};\n" + conf
    return conf


def lint_in_process(*args: str) -> Tuple[int, str, str]:
    """somaxlint's CLI run in this process (a subprocess costs 0.5 s of
    interpreter start-up per call): (status, stdout, stderr)."""
    import io

    from somaxlint.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        status = main(list(args))
    finally:
        sys.stdout, sys.stderr = saved
    return status, out.getvalue(), err.getvalue()


def kubelet_hosts(host_aliases) -> str:
    """/etc/hosts as the kubelet writes it for a pod (its own IP line left
    out: no listen names it), then ``host_aliases`` [(ip, [names])]."""
    from somaxlint.servers.nginx.config import KUBELET_HOSTS

    lines = ["# Kubernetes-managed hosts file."] + [f"{ip}\t{' '.join(names)}" for ip, names in KUBELET_HOSTS]
    if host_aliases:
        lines += ["", "# Entries added by HostAliases."] + [f"{ip}\t{' '.join(names)}" for ip, names in host_aliases]
    return "\n".join(lines) + "\n"


class PodNetNS(NetNS):
    """A NetNS whose processes see the pod's /etc/hosts (`ip netns exec`
    bind-mounts /etc/netns/NAME/hosts over /etc/hosts)."""

    def __init__(self, workdir: Path, host_aliases=()):
        super().__init__(workdir)
        self.etc = Path("/etc/netns") / self.name
        try:
            self.etc.mkdir(parents=True)
            (self.etc / "hosts").write_text(kubelet_hosts(host_aliases))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.etc, ignore_errors=True)

    def ss_tcp_lines(self) -> List[str]:
        """`ss -lntH`, columns single-spaced, sorted."""
        return sorted(" ".join(line.split()) for line in self.exec(["ss", "-lntH"]).stdout.splitlines())

    def ss_unix(self) -> List[Tuple[str, int]]:
        """(path, Send-Q) of every listening UNIX socket, sorted."""
        out = []
        for line in self.exec(["ss", "-lxH"]).stdout.splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[1] == "LISTEN":
                out.append((fields[4], int(fields[3])))
        return sorted(out)

    def start_nginx_until_bound(self, conf_path: Path) -> Tuple[str, str]:
        """Start nginx; ("started", "") once it has daemonized, or
        ("EADDRINUSE", stderr) at its first `bind() ... (98: Address
        already in use)` -- nginx is stopped there rather than waiting out
        its four retries 500 ms apart, which bind the same sockets again and
        fail the same way -- or ("failed", stderr)."""
        pidfile = conf_path.parent / "nginx.pid"
        self.pidfiles.append(pidfile)
        argv = ["ip", "netns", "exec", self.name, NGINX, "-p", str(conf_path.parent), "-c", str(conf_path)]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        try:
            for line in proc.stderr:
                lines.append(line)
                if "(98: Address already in use)" in line:
                    proc.kill()
                    return "EADDRINUSE", "".join(lines)
            status = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stderr.close()
        if status != 0:
            return "failed", "".join(lines)
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text().strip():
                return "started", ""
            time.sleep(0.02)
        return "failed", "nginx wrote no pid file"

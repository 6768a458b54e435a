"""Facts the linter relies on, as data, each with its source.

Every number here is restated, with the evidence behind it, in the project's
fact sheet on listen queues (kernel source, Kubernetes source, server source,
and experiments on a real kernel).  Facts the sheet marks *unconfirmed* are
not encoded as hard rules.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

# --------------------------------------------------------------------------
# Linux kernel
# --------------------------------------------------------------------------

# include/linux/socket.h `#define SOMAXCONN`; raised 128 -> 4096 by commit
# 19f92a030ca6 "net: increase SOMAXCONN to 4096", first released in v5.4.
# A new network namespace starts at this constant, whatever the node's value
# (net/core/net_namespace.c net_defaults_init_net()).
SOMAXCONN_OLD = 128
SOMAXCONN_NEW = 4096
SOMAXCONN_RAISED_IN = (5, 4)
SOMAXCONN_SOURCE = (
    "Linux include/linux/socket.h SOMAXCONN, the initial net.core.somaxconn "
    "of every new network namespace (128 before Linux 5.4, 4096 from 5.4)"
)

# net/core/sysctl_net_core.c: proc_dointvec_minmax with extra1 = SYSCTL_ZERO
# and no upper bound.
SOMAXCONN_MAX = 2**31 - 1

# Before Linux 4.1 sk_max_ack_backlog was an unsigned short, so a clamped
# backlog of 65536 or more wrapped (golang src/net/sock_linux.go, go#41470).
BACKLOG_U32_SINCE = (4, 1)

# net/socket.c __sys_listen(): `if ((unsigned int)backlog > somaxconn)
# backlog = somaxconn;`.
UINT_MAX = 2**32 - 1


def kernel_clamp(backlog: int, somaxconn: int) -> int:
    """The accept-queue limit the kernel stores for ``listen(fd, backlog)``.

    The comparison is unsigned, so any negative backlog becomes somaxconn.
    """
    as_unsigned = backlog & UINT_MAX
    return somaxconn if as_unsigned > somaxconn else as_unsigned


_KERNEL_RE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_kernel_version(text: str) -> Optional[Tuple[int, int, int]]:
    """``"6.18.44-fc-v669"`` -> ``(6, 18, 44)``; None when not a version."""
    match = _KERNEL_RE.match(str(text))
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def default_somaxconn(kernel: Tuple[int, int, int]) -> int:
    """net.core.somaxconn of a fresh network namespace on ``kernel``."""
    return SOMAXCONN_NEW if kernel[:2] >= SOMAXCONN_RAISED_IN else SOMAXCONN_OLD


# --------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------

# src/os/unix/ngx_linux_config.h `#define NGX_LISTEN_BACKLOG 511`; docs:
# "backlog is set to -1 on FreeBSD, DragonFly BSD, and macOS, and to 511 on
# other platforms".  Containers run Linux.
NGINX_DEFAULT_BACKLOG = 511
NGINX_DEFAULT_BACKLOG_SOURCE = (
    "nginx default listen backlog on Linux (NGX_LISTEN_BACKLOG 511)"
)

# ngx_http_core_server(): a server without `listen` listens on *:80 when
# started as root and *:8000 otherwise.
NGINX_DEFAULT_PORT_ROOT = 80
NGINX_DEFAULT_PORT_NONROOT = 8000

# Options that set lsopt.set (and lsopt.bind) in ngx_http_core_listen(): at
# most one `listen` per address:port may carry them, and a specific address
# carrying them gets its own socket even beside a wildcard.
NGINX_SOCKET_OPTIONS = (
    "bind",
    "setfib",
    "fastopen",
    "backlog",
    "rcvbuf",
    "sndbuf",
    "accept_filter",
    "deferred",
    "ipv6only",
    "reuseport",
    "multipath",
    "so_keepalive",
)

# The official OpenResty image (openresty/docker-openresty): its main config
# /usr/local/openresty/nginx/conf/nginx.conf has no server and ends its
# http {} with `include /etc/nginx/conf.d/*.conf;` (nginx.conf @ 0cc831bd);
# conf.d/default.conf (nginx.vh.default.conf @ eb5fca6e) holds the one
# server, `listen 80;`.  Only what decides the sockets is modelled.
OPENRESTY_IMAGE_MAIN_CONF = "/usr/local/openresty/nginx/conf/nginx.conf"
OPENRESTY_IMAGE_FILES = {
    OPENRESTY_IMAGE_MAIN_CONF: "events {\n    worker_connections  1024;\n}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n}\n",
    "/etc/nginx/conf.d/default.conf": "server {\n    listen       80;\n    server_name  localhost;\n}\n",
}

# The official image's /etc/nginx/nginx.conf (docker-nginx mainline) loads
# /etc/nginx/conf.d/*.conf inside http {}; its conf.d/default.conf listens
# on port 80.  Modelled when a pod mounts only conf.d/ or nothing at all.
NGINX_IMAGE_MAIN_CONF = "/etc/nginx/nginx.conf"
NGINX_IMAGE_FILES = {
    "/etc/nginx/nginx.conf": """\
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;


events {
    worker_connections  1024;
}


http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
""",
    "/etc/nginx/mime.types": "types {\n}\n",
    "/etc/nginx/conf.d/default.conf": """\
server {
    listen       80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
}
""",
}

# --------------------------------------------------------------------------
# Kubernetes
# --------------------------------------------------------------------------

POD_SPEC_PATHS = {
    # kind -> path from the object to its PodSpec
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
    "DeploymentConfig": ("spec", "template", "spec"),
}


# --------------------------------------------------------------------------
# Kubernetes sysctl policy
# --------------------------------------------------------------------------

# The kubelet's safe set (pkg/kubelet/sysctl/safe_sysctls.go; the doc list at
# kubernetes.io/docs/tasks/administer-cluster/sysctl-cluster/).  Each entry:
# (name, first Kubernetes minor it is safe in, kernel the kubelet requires
# before adding it to the safe set, or None).  "Initial" entries date from
# the 2016 sysctl support; 1.37 entries are unreleased and not listed.
SAFE_SYSCTLS = (
    ("kernel.shm_rmid_forced", (1, 0), None),
    ("net.ipv4.ip_local_port_range", (1, 0), None),
    ("net.ipv4.tcp_syncookies", (1, 0), None),
    ("net.ipv4.ping_group_range", (1, 18), None),
    ("net.ipv4.ip_unprivileged_port_start", (1, 22), None),
    ("net.ipv4.ip_local_reserved_ports", (1, 27), (3, 16)),
    ("net.ipv4.tcp_keepalive_time", (1, 29), (4, 5)),
    ("net.ipv4.tcp_fin_timeout", (1, 29), (4, 6)),
    ("net.ipv4.tcp_keepalive_intvl", (1, 29), (4, 5)),
    ("net.ipv4.tcp_keepalive_probes", (1, 29), (4, 5)),
    ("net.ipv4.tcp_rmem", (1, 32), (4, 15)),
    ("net.ipv4.tcp_wmem", (1, 32), (4, 15)),
)
SAFE_SYSCTLS_SOURCE = "the kubelet's safe sysctl set (pkg/kubelet/sysctl/safe_sysctls.go)"

# Pod Security Admission, baseline "sysctls" check (policy/check_sysctls.go):
# allowed names by policy version.  Restricted inherits baseline.  Names are
# compared literally (no "/" -> "." conversion).
PSA_ALLOWED_SYSCTLS = (
    ((1, 0), ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
              "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start")),
    ((1, 27), ("net.ipv4.ip_local_reserved_ports",)),
    ((1, 29), ("net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
               "net.ipv4.tcp_keepalive_probes")),
    ((1, 32), ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")),
)

# kubelet namespace.go: sysctls known to be namespaced (allowedUnsafeSysctls
# entries must be among them) -- exact names and prefixes.
NAMESPACED_SYSCTL_PREFIXES = ("net.", "fs.mqueue.", "kernel.shm", "kernel.msg")
NAMESPACED_SYSCTLS = ("kernel.sem",)


def safe_in(name: str, kubernetes, kernel) -> bool:
    """Whether the kubelet treats ``name`` as safe.  An unknown version is
    taken to be a current one (as an unknown kernel is taken to be 5.4 or
    later): every entry above is in released Kubernetes and every kernel
    gate is older than 5.4."""
    for safe_name, since, kernel_gate in SAFE_SYSCTLS:
        if safe_name != name:
            continue
        if kubernetes is not None and kubernetes < since:
            return False
        if kernel_gate is not None and kernel is not None and kernel[:2] < kernel_gate:
            return False
        return True
    return False


def psa_allowed(version) -> set:
    """Sysctl names PSA baseline allows at policy ``version`` (None:
    "latest", which includes every released addition)."""
    allowed = set()
    for since, names in PSA_ALLOWED_SYSCTLS:
        if version is None or version >= since:
            allowed.update(names)
    return allowed


def matches_pattern(name: str, pattern: str) -> bool:
    """kubelet allowlist patterns: exact names, or a prefix ending in *."""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern

"""Facts the linter relies on, as data, each with its source.

Every number here is restated, with the evidence behind it, in the project's
fact sheet on listen queues (kernel source, Kubernetes source, server source,
and experiments on a real kernel).  Facts the sheet marks *unconfirmed* are
not encoded as hard rules.
"""

from __future__ import annotations

import re

from somaxlint.patterns import LazyPattern
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
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
# and no upper bound (from 4.1; see below).
SOMAXCONN_MAX = 2**31 - 1

# --------------------------------------------------------------------------
# net.core.somaxconn and the accept-queue limit before Linux 4.1
#
# Settled from kernel trees (repository @ commit, file:line):
#
# * the sysctl handler:
#   - 3.9.6 (opennetworklinux/linux-3.9.6 @ d0512f069337), 3.10.4
#     (iamroot-x86-10/linux-3.10.4 @ f2f4c758b0ce) and 3.10.10
#     (keshonok/linux-3.10.10-sync_sockets @ a02af78028ff):
#     net/core/sysctl_net_core.c:203-207 `.proc_handler = proc_dointvec`, no
#     bound at all (any int, negatives too);
#   - v3.11 (PKUCloud/samsara-linux-3.11 @ 86ed6ac244e1, "Initial version of
#     Linux-3.11") net/core/sysctl_net_core.c:340-346 and 4.0.5
#     (zhanglin496/linux-4.0.5 @ ecb857bb49a0) :401-407:
#     `.extra1 = &zero, .extra2 = &ushort_max, .proc_handler =
#     proc_dointvec_minmax` -- 0 to 65535, anything else EINVAL (upstream
#     commit 5f671d6b4ec3, linked from h2o/h2o#183; its own text is not in
#     the archive);
#   - the same bound was backported to 3.10.y between 3.10.10 and 3.10.17
#     (Constellation/linux-3.10.17 @ d1e40e34a722 :205-211;
#     harviswang/linux-3.10.99 @ 4c64a6774469 :207-213) and is in RHEL 7's
#     3.10.0 (tremb1e/linux-3.10.0-1160.el7 @ 877199b513f5 :325-331);
#   - 4.1.3 (fsl-jyt/linux-4.1.3 @ 7f8506ec7850) :400-405: extra1 only, no
#     upper bound (commit becb74f0acca "net: increase sk_[max_]ack_backlog");
#     the same in 5.4.59 (BoKyoungHan/linux-5.4.59-vanilla @ 8b9bd8c4249b,
#     linux-5.4.59/net/core/sysctl_net_core.c:585-590, `.extra1 =
#     SYSCTL_ZERO, .proc_handler = proc_dointvec_minmax`).
# * the accept-queue limit: `unsigned short sk_max_ack_backlog;`
#   include/net/sock.h:371 @ 3.10.4, :374 @ 3.10.99, :409 @ RHEL 7 3.10.0,
#   :377 @ 3.11, :411 @ 4.0.5; `u32 sk_max_ack_backlog;` :408 @ 4.1.3.
# * listen(): net/socket.c `if ((unsigned int)backlog > somaxconn) backlog =
#   somaxconn;` (:1535 @ 3.10.4, :1536 @ 3.10.99, :1483 @ 4.0.5), then
#   net/ipv4/af_inet.c inet_listen() `sk->sk_max_ack_backlog = backlog;`
#   (:239 @ 3.10.x, :238 @ 4.0.5): the int is stored in the 16-bit field.
#
# So: from 3.11 to 4.0 (and 3.10.17+, RHEL 7) a somaxconn above 65535 is
# refused and the namespace keeps its value -- no listen() backlog can
# exceed 65535, nothing wraps.  Only where the sysctl is unbounded (before
# 3.10, and 3.10.0-3.10.10 upstream) is a value above 65535 accepted, and
# then a backlog clamped to it keeps only its low 16 bits (65536 -> 0).
# --------------------------------------------------------------------------

BACKLOG_U32_SINCE = (4, 1)
SOMAXCONN_BOUNDED_SINCE = (3, 11)  # upstream; 3.10.y from between .10 and .17
SOMAXCONN_BOUNDED_3_10_PATCH = 17  # first 3.10.y patch level known to have it
SOMAXCONN_UNBOUNDED_3_10_PATCH = 10  # last 3.10.y patch level known without it
SOMAXCONN_OLD_MAX = 65535  # USHRT_MAX, extra2 from 3.11 to 4.0
SOMAXCONN_HANDLER_SOURCE = (
    "net/core/sysctl_net_core.c: proc_dointvec_minmax, 0 to INT_MAX from Linux 4.1, 0 to 65535 from 3.11 "
    "(and 3.10.17+, RHEL 7), unbounded proc_dointvec before"
)

# The rest of the sysctl write grammar by version (see
# somaxlint.model.sysctl_value for the code it models):
# kernel/sysctl.c proc_get_long() uses strtoul_lenient() (overflow is EINVAL)
# and do_proc_dointvec_minmax_conv() converts through a checked int from
# 5.1 (lastweek/linux-AsyncXing-5.1.9 @ 260f0b7e614b kernel/sysctl.c:2204,
# :2653; wangliang-cs/linux-5.2.1 @ fc4ec72ddfe7 :2210, :2659); 5.0.1
# (VVvector/linux-5.0.1 @ 0fa9cb14d4ed) still has simple_strtoul (:2138)
# and `int val = *negp ? -*lvalp : *lvalp;` (:2582).
# Linux refuses SO_REUSEPORT on sockets other than inet ones (a `unix:`
# listen with reuseport) with EOPNOTSUPP from 6.13: net/core/sock.c
# sk_setsockopt, commit 5b0af621c3f6 "net: restrict SO_REUSEPORT to inet
# sockets" (CVE-2024-57903), also in the stable kernels of January 2025
# (6.6.70, 5.15.176 and others), which is why an older version number
# settles nothing.
REUSEPORT_INET_ONLY = (6, 13, 0)

SYSCTL_CHECKED_PARSE_SINCE = (5, 1)
# do_proc_dointvec_conv() refuses values above INT_MAX from 4.1 (4.1.3
# kernel/sysctl.c:1973); 4.0.5 stores `*negp ? -*lvalp : *lvalp` unchecked.
SYSCTL_INT_CHECKS_SINCE = (4, 1)
# kernel/sysctl.c `sysctl_writes_strict = SYSCTL_WRITES_STRICT` (the rest of
# a short write, retried at a non-zero position, is ignored): 4.4.121
# (AnTuanHa/linux-stable-v4.4.121 @ 2fbc93135f8d kernel/sysctl.c:177, a
# stable backport) and every 5.x tree; 4.4.1 (zanpocc/linux-4.4.1 @
# d4321c96f179 :176) and 4.1.3 (:175) say SYSCTL_WRITES_WARN, and the 3.10
# and 3.11 trees have no such setting: there the retried rest is read
# again.  4.5 as the first mainline release with STRICT is inferred from
# these trees (not confirmed from a 4.5 tree); 4.4.y says both.
STRICT_WRITES_SINCE = (4, 5)
# net.ipv4.tcp_syncookies: proc_dointvec up to 5.12 (zhangyinjun/linux-5.12.9
# @ 38c16b0cce67 net/ipv4/sysctl_net_ipv4.c:931-933), proc_dou8vec_minmax
# (0-255, no sign) in 5.15 (yhuan416/linux-5.15.24 @ 0ea83df25009 :956-960),
# from "tcp: convert elligible sysctls to u8" (netdev, 2021-03-25, net-next
# for 5.13).
SYNCOOKIES_U8_SINCE = (5, 13)
SYNCOOKIES_HANDLER_SOURCE = (
    "net/ipv4/sysctl_net_ipv4.c tcp_syncookies: proc_dou8vec_minmax (0 to 255) from Linux 5.13, proc_dointvec before"
)


def somaxconn_handler_options(kernel, kernel_text: Optional[str] = None):
    """(proc_dointvec_minmax?, its upper bound, the kernels it is for) for
    net.core.somaxconn on ``kernel``: several when the patch level decides
    and the input does not say it."""
    major_minor = kernel[:2]
    if major_minor >= BACKLOG_U32_SINCE:
        return [(True, None, "")]
    if major_minor >= SOMAXCONN_BOUNDED_SINCE:
        return [(True, SOMAXCONN_OLD_MAX, "")]
    if major_minor == (3, 10):
        patch = kernel[2]
        rhel = bool(kernel_text and ".el7" in kernel_text)
        if rhel or patch >= SOMAXCONN_BOUNDED_3_10_PATCH:
            return [(True, SOMAXCONN_OLD_MAX, "")]
        if 0 < patch <= SOMAXCONN_UNBOUNDED_3_10_PATCH:
            return [(False, None, "")]
        return [
            (True, SOMAXCONN_OLD_MAX, "3.10.17 or later, RHEL/CentOS 7's 3.10.0"),
            (False, None, "upstream 3.10.0 to 3.10.10"),
        ]
    return [(False, None, "")]


def strict_write_options(kernel):
    """(strict writes?, the kernels it is for) on ``kernel``."""
    if kernel[:2] >= STRICT_WRITES_SINCE:
        return [(True, "")]
    if kernel[:2] == (4, 4):
        return [(True, "4.4.y with the strict-writes backport"), (False, "early 4.4.y")]
    return [(False, "")]


class Backlog16(int):
    """A net.core.somaxconn value held by a kernel whose accept-queue limit
    (sk_max_ack_backlog) is 16 bits wide (before 4.1) and whose sysctl
    accepted it although it is above 65535 or negative: ``kernel_clamp``
    keeps the low 16 bits of what listen() stores.  Only the model creates
    these; as a number it is the value /proc/sys shows."""

    backlog_bits = 16


# net/socket.c __sys_listen(): `if ((unsigned int)backlog > somaxconn)
# backlog = somaxconn;`.
UINT_MAX = 2**32 - 1


def kernel_clamp(backlog: int, somaxconn: int) -> int:
    """The accept-queue limit the kernel stores for ``listen(fd, backlog)``.

    The comparison is unsigned (both sides: a negative somaxconn, which
    only an unbounded pre-3.11 sysctl accepts, clamps nothing), so any
    negative backlog becomes somaxconn.  Before 4.1 the stored limit is 16
    bits wide (``Backlog16``)."""
    as_unsigned = backlog & UINT_MAX
    stored = somaxconn if as_unsigned > (somaxconn & UINT_MAX) else as_unsigned
    bits = getattr(somaxconn, "backlog_bits", 32)
    return stored & ((1 << bits) - 1)


_KERNEL_RE = LazyPattern(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


def parse_kernel_version(text: str) -> Optional[Tuple[int, int, int]]:
    """``"6.18.44-fc-v669"`` -> ``(6, 18, 44)``; None when not a version."""
    match = _KERNEL_RE.match(str(text))
    if not match:
        return None
    major, minor, patch = match.groups()
    if max(len(major), len(minor), len(patch or "")) > 9:
        return None  # (thousands of digits are no version, and cost their square to convert)
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
    # Argo Rollouts (argoproj.io/v1alpha1): a Deployment's shape; one that
    # names a Deployment in spec.workloadRef runs that Deployment's pods
    "Rollout": ("spec", "template", "spec"),
}

# Kinds that never carry a pod template: not searched for one.  Any other
# kind (a custom resource: a Knative Service, a KEDA ScaledJob, an Argo
# Experiment, an operator's CR) is searched by shape -- a mapping whose
# `containers` is a list of mappings with an `image` is a PodSpec.
NO_POD_KINDS = frozenset((
    "ConfigMap", "Secret", "Service", "Namespace", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
    "ClusterRoleBinding", "Ingress", "IngressClass", "NetworkPolicy", "PersistentVolumeClaim", "PersistentVolume",
    "StorageClass", "CustomResourceDefinition", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Endpoints",
    "EndpointSlice", "LimitRange", "ResourceQuota", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "APIService", "PriorityClass", "NetworkAttachmentDefinition", "KubeletConfiguration", "Event", "Lease",
    "CSIDriver", "RuntimeClass", "Certificate", "Issuer", "ClusterIssuer", "ServiceMonitor", "PodMonitor",
    "PrometheusRule", "Gateway", "HTTPRoute", "VirtualService", "DestinationRule", "Route",
))
# Keys that say a mapping with an `image` is a container, when it stands
# outside any pod template (an Argo Workflow step, a Tekton step)
CONTAINER_KEYS = ("command", "args", "ports", "volumeMounts", "env", "script")


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

"""A sysctl value that Kubernetes or the kernel rejects, or that the kernel
silently truncates.

## What it does
Checks the values written to the pod's network namespace (pod sysctls,
init container writes, CNI tuning):

* in `securityContext.sysctls`, a `value` that is not a string
  (`value: 1024` -- the API field is a string), or a missing one (a
  warning: an empty string is written, which sets nothing);
* `net.core.somaxconn`: an integer from 0 to 2147483647 (the kernel answers
  `EINVAL` otherwise); above 65535 on kernels before 4.1, where the accept
  queue limit was 16 bits wide and wraps (65536 becomes 0);
* `net.ipv4.tcp_syncookies`: an integer from 0 to 255 (0, 1 and 2 are the
  documented values);
* `net.ipv4.ip_local_port_range`: two integers separated by whitespace,
  the low end not above the high end (`5000-6000` and `6000 5000` are
  refused with `EINVAL`, seen on Linux 6.18);
* `net.ipv4.ip_unprivileged_port_start`: an integer from 0 to 65535, and no
  higher than the low end of `ip_local_port_range` when the pod sets both
  (the kernel refuses either write with `EINVAL`).

## Why it matters
A value the API refuses keeps the pod from being created; one the kernel
refuses fails the write (the runtime fails the sandbox, an init container
exits with an error) and the namespace keeps its default; a wrapped value
silently shrinks the queue.

## Example
```yaml
sysctls:
  - name: net.core.somaxconn
    value: 65536       # not a string; and 0 on a 3.10 kernel
```

## How to fix
Quote the value, and keep it in the range the kernel accepts.
"""

from __future__ import annotations

from linter import facts
from linter.findings import Finding
from linter.model.netns import POD_SYSCTLS

CODE = "SMX010"
NAME = "invalid-sysctl-value"
SEVERITY = "error"
SUMMARY = "A sysctl value that Kubernetes or the kernel rejects or truncates"


def _int(text: str):
    text = text.strip()
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        return -int(text[1:])
    return int(text) if text.isascii() and text.isdigit() else None


def _problems(setting, kernel):
    raw = setting.raw.strip()
    name = setting.name
    if setting.how == POD_SYSCTLS and not isinstance(setting.raw_value, str):
        if setting.raw_value is None:
            # runc writes the empty string: a zero-byte write, which changes
            # nothing (seen on Linux 6.18)
            yield "warning", f"sysctl {name} has no value, so nothing is set"
            return
        yield "error", f"sysctl {name}: value {raw} must be a string (quote it): the API server refuses the pod"
    if name == "net.core.somaxconn":
        value = _int(raw)
        if value is None or value < 0 or value > facts.SOMAXCONN_MAX:
            yield "error", f"net.core.somaxconn={raw!r} is not an integer from 0 to {facts.SOMAXCONN_MAX}: the kernel refuses it (EINVAL)"
        elif value > 65535 and kernel is not None and kernel[:2] < facts.BACKLOG_U32_SINCE:
            yield "error", (
                f"net.core.somaxconn={value} on Linux {kernel[0]}.{kernel[1]}: before 4.1 the accept queue limit is 16 bits, "
                f"so a backlog clamped to it wraps to {value % 65536}"
            )
    elif name == "net.ipv4.tcp_syncookies":
        # an unsigned byte: anything else is EINVAL (0, 1 and 2 are the
        # documented values; 3 is accepted and acts like 1)
        value = _int(raw)
        if value is None or not 0 <= value <= 255:
            yield "error", f"net.ipv4.tcp_syncookies={raw!r}: the kernel refuses it (EINVAL); use 0, 1 or 2"
    elif name == "net.ipv4.ip_local_port_range":
        parts = raw.split()
        if len(parts) != 2 or any(_int(p) is None for p in parts):
            yield "error", f"net.ipv4.ip_local_port_range={raw!r} must be two integers separated by a space, e.g. \"32768 60999\" (the kernel refuses it: EINVAL)"
        elif _int(parts[0]) > _int(parts[1]):
            yield "error", f"net.ipv4.ip_local_port_range={raw!r}: the low end is above the high end (the kernel refuses it: EINVAL)"
    elif name == "net.ipv4.ip_unprivileged_port_start":
        value = _int(raw)
        if value is None or not 0 <= value <= 65535:
            yield "error", f"net.ipv4.ip_unprivileged_port_start={raw!r} is not an integer from 0 to 65535: the kernel refuses it"


def check(model):
    kernel = model.settings.kernel
    for ns in model.namespaces:
        workload = ns.workload
        for setting in ns.settings:
            for severity, message in _problems(setting, kernel):
                yield Finding(
                    CODE,
                    NAME,
                    severity,
                    f"{message} ({setting.detail})",
                    setting.value_location or setting.location,
                    subject=f"{workload.ref}|{setting.how}|{setting.name}|{message}",
                    helm_source=workload.obj.helm_source,
                    objects=(workload.ref,),
                )
        yield from _port_overlap(ns)


def _port_overlap(ns):
    start = ns.last("net.ipv4.ip_unprivileged_port_start")
    local = ns.last("net.ipv4.ip_local_port_range")
    if start is None or local is None:
        return
    value, parts = _int(start.raw), local.raw.split()
    if value is None or len(parts) != 2 or _int(parts[0]) is None:
        return
    low = _int(parts[0])
    if value > low:
        workload = ns.workload
        yield Finding(
            CODE,
            NAME,
            SEVERITY,
            f"net.ipv4.ip_unprivileged_port_start={value} is above the low end {low} of net.ipv4.ip_local_port_range: "
            "the kernel refuses whichever of the two is written second (EINVAL), and the order is not defined",
            start.value_location or start.location,
            subject=f"{workload.ref}|port-overlap",
            helm_source=workload.obj.helm_source,
            objects=(workload.ref,),
        )

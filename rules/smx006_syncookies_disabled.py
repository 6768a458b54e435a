"""`net.ipv4.tcp_syncookies` is set to 0 for the pod.

## What it does
Reports a pod network namespace where `net.ipv4.tcp_syncookies` is set to
0 (pod sysctls, a privileged init container, or the CNI tuning plugin).

## Why it matters
With syncookies (the default, 1) a full SYN queue does not drop SYNs. With
0 the SYN queue is bounded -- by the listen backlog, and once fewer than a
quarter of `net.ipv4.tcp_max_syn_backlog` slots remain SYNs from unproven
peers are dropped -- so a burst or a SYN flood makes the pod drop
connections (`TCPReqQFullDrop`, `ListenDrops`).

## Example
```yaml
sysctls:
  - name: net.ipv4.tcp_syncookies
    value: "0"
```

## How to fix
Leave `net.ipv4.tcp_syncookies` at its default 1 (or 2 to always send
cookies).
"""

from __future__ import annotations

from linter.findings import Finding

CODE = "SMX006"
NAME = "syncookies-disabled"
SEVERITY = "warning"
SUMMARY = "net.ipv4.tcp_syncookies is 0: the SYN queue is bounded and exposed to floods"


def check(model):
    for ns in model.namespaces:
        for setting in ns.settings:
            if setting.name != "net.ipv4.tcp_syncookies" or not setting.applies or setting.raw.strip() != "0":
                continue
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"net.ipv4.tcp_syncookies = 0 ({setting.detail}): without syncookies the SYN queue of every "
                f"listener in {ns.workload.ref} is bounded by its backlog and tcp_max_syn_backlog, and SYNs are "
                "dropped under a burst or flood. Leave it at the default 1",
                setting.value_location or setting.location,
                subject=f"{ns.workload.ref}|{setting.how}",
                helm_source=ns.workload.obj.helm_source,
                objects=(ns.workload.ref,),
            )

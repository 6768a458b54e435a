"""`net.ipv4.tcp_syncookies` is set to 0 for the pod.

## What it does
Reports a pod network namespace where `net.ipv4.tcp_syncookies` is set to
0 (pod sysctls, a privileged init container, a server container before its
server starts, or the CNI tuning plugin) -- 0 as the kernel reads the
value: `"00"`, `"0x0"` and `" 0"` are 0 too, and `"-0"` is 0 on kernels
before 5.13 (5.13 and later refuse a sign).

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

from somaxlint.findings import Finding

CODE = "SMX006"
NAME = "syncookies-disabled"
SEVERITY = "warning"
SUMMARY = "net.ipv4.tcp_syncookies is 0: the SYN queue is bounded and exposed to floods"


def check(model):
    for ns in model.namespaces:
        for setting in ns.settings:
            if setting.name != "net.ipv4.tcp_syncookies" or not setting.applies or setting.reading is None:
                continue
            zero = [o for o in setting.reading.outcomes if o.values and o.values[0] == 0]
            if not zero:
                continue
            raw = setting.raw.strip()
            read = "" if raw == "0" else f" (the kernel reads {raw!r} as 0)"
            when = ""
            if len(zero) != len(setting.reading.outcomes):
                when = " on " + ", ".join(o.when for o in zero if o.when)
            yield Finding(
                CODE,
                NAME,
                SEVERITY,
                f"net.ipv4.tcp_syncookies = 0{read}{when} ({setting.detail}): without syncookies the SYN queue of every "
                f"listener in {ns.workload.ref} is bounded by its backlog and tcp_max_syn_backlog, and SYNs are "
                "dropped under a burst or flood. Leave it at the default 1",
                setting.value_location or setting.location,
                subject=f"{ns.workload.ref}|{setting.how}",
                helm_source=ns.workload.obj.helm_source,
                objects=(ns.workload.ref,),
            )

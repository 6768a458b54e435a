"""A sysctl value that Kubernetes or the kernel rejects, or that the kernel
silently truncates.

## What it does
Reads every value written to the pod's network namespace (pod sysctls,
init container writes, a server container's own writes before its server
starts, CNI tuning) the way the kernel parses it -- base 0 (`0x800` is
2048, `0100` is octal 64), leading blanks skipped, one number per int
(the rest of the write ignored), a range per sysctl and kernel version --
and reports:

* in `securityContext.sysctls`, a `value` that is not a string
  (`value: 1024` -- the API field is a string), or a missing one (a
  warning: an empty string is written, which sets nothing);
* a value the kernel refuses (`EINVAL`): not a number, a character other
  than a space, tab or newline after it (`42\r`, `5,6`, `5000-6000`), a
  sign on an unsigned sysctl, `08` (octal without an 8), out of range --
  the write fails and the value stays what it was;
* a value the kernel reads differently from how it looks (a warning):
  octal (`0100` is 64), a second number that is ignored (`4096 8192`), an
  out-of-range number an old kernel truncates instead of refusing;
* `net.core.somaxconn`: 0 to 2147483647 from Linux 4.1; 0 to 65535 from
  3.11 to 4.0 (also 3.10.17+ and RHEL/CentOS 7's 3.10.0), so a larger value
  is refused there; an older 3.10 (or earlier) kernel accepts any int, and
  a backlog clamped to a value above 65535 wraps in the 16-bit accept-queue
  limit (65536 becomes 0);
* `net.ipv4.tcp_syncookies`: 0 to 255, no sign, from Linux 5.13 (an int
  before);
* `net.ipv4.ip_local_port_range`: one or two integers from 1 to 65535, the
  low end not above the high end (one number sets only the low end);
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
    value: 65536       # not a string; and refused on Linux 3.11 to 4.0
  - name: net.ipv4.tcp_syncookies
    value: "0x1 "      # fine: hexadecimal 1, trailing blank allowed
```

## How to fix
Quote the value, write it in decimal, and keep it in the range the kernel
accepts.
"""

from __future__ import annotations

from somaxlint.findings import Finding
from somaxlint.model.netns import POD_SYSCTLS

CODE = "SMX010"
NAME = "invalid-sysctl-value"
SEVERITY = "error"
SUMMARY = "A sysctl value that Kubernetes or the kernel rejects, truncates, or reads differently than it looks"

# Notes of the grammar that mean "the kernel read something else than the
# text suggests" (somaxlint.model.sysctl_value)
_SURPRISES = ("octal", "is ignored", "truncated", "reads again", "keep their current values")


def _outcome_problem(setting, outcome, kernel):
    """(severity, phrase) for one kernel's outcome, or None when fine."""
    name = setting.name
    if outcome.refused:
        return "error", f"refuses it ({outcome.errno}: {outcome.note}): the write fails and the value stays unchanged"
    if not outcome.values:
        return None  # an empty write: said below for pod sysctls
    value = outcome.values[0]
    if name == "net.core.somaxconn" and kernel is not None and kernel[:2] < (4, 1) and not 0 <= value <= 65535:
        return "error", (
            f"accepts it as {value}, but before Linux 4.1 the accept-queue limit is 16 bits wide: "
            f"a backlog clamped to it keeps its low 16 bits ({value & 0xFFFF})"
        )
    if name == "net.ipv4.ip_local_port_range" and len(outcome.values) == 2 and outcome.values[0] > outcome.values[1]:
        return "error", "refuses it (EINVAL): the low end is above the high end, so the write fails and the value stays unchanged"
    surprising = [part for part in outcome.note.split("; ") if any(word in part for word in _SURPRISES)]
    if surprising:
        shown = " ".join(str(v) for v in outcome.values)
        return "warning", f"reads it as {shown}: " + "; ".join(surprising)
    return None


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
    reading = setting.reading
    if reading is None:
        return
    if reading.empty:
        yield "warning", f"sysctl {name} has an empty value: nothing is written, so nothing is set"
        return
    found = [(o, _outcome_problem(setting, o, kernel)) for o in reading.outcomes]
    problems = [(o, p) for o, p in found if p is not None]
    if not problems:
        return
    shown = f"{name}={setting.raw!r}"
    if len(reading.outcomes) == 1 or len({p for _, p in problems}) == 1 and len(problems) == len(found):
        severity, phrase = problems[0][1]
        yield severity, f"{shown}: the kernel {phrase}"
        return
    # the run's kernel allows several behaviours: say each
    parts = []
    for outcome, problem in found:
        when = outcome.when or "otherwise"
        if problem is None:
            value = " ".join(str(v) for v in outcome.values) if outcome.values else "nothing"
            parts.append(f"on {when} the kernel reads it as {value}")
        else:
            parts.append(f"on {when} the kernel {problem[1]}")
    severity = "error" if all(p is not None and p[0] == "error" for _, p in found) else "warning"
    yield severity, f"{shown}: " + "; ".join(parts)


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
    if start is None or local is None or start.reading is None or local.reading is None:
        return
    value, low = start.reading.value, local.reading.value
    if value is None or low is None:
        return
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

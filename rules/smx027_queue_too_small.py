"""A server's own accept queue is far smaller than the namespace allows.

## What it does
Reports a listener whose backlog -- what the server passes to `listen()`
when nothing in the input sets it, the server's default -- is at most
`min_queue` (128 unless configured) and at most half of the lowest
`net.core.somaxconn` its network namespace may have: the kernel is not
what limits the queue, the server's own default is.  A backlog the input
sets is taken as the one the team wants. This is the
opposite of SMX001: nothing is truncated, the server asks for little.
The servers that do so by default include Kafka (`socket.listen.backlog.size`
50), every JDK `ServerSocket` and Jetty (50), Daphne and Twisted (50),
Python's `http.server` (5), MariaDB's autosized `back_log` (80 with the
default `max_connections`) and uWSGI (`--listen` 100). A listener whose
server keeps accepting until a connection limit of its own is reached
(Tomcat's `acceptCount` is only used past `maxConnections`) is not
reported. Info: the queue may be what the team wants; the message says
which knob raises it.

128 is Linux's own `SOMAXCONN` before 5.4, which the kernel raised to 4096
because it had become too small for bursts of connections (commit
19f92a030ca6, "net: increase SOMAXCONN to 4096"); the servers above
document their setting as one to raise with somaxconn for many clients
(Kafka: "you may also need to configure somaxconn and
tcp_max_syn_backlog"). Set `rules: {SMX027: {min_queue: N}}` to report
queues up to another size.

## Why it matters
When more connections arrive at once than the queue holds -- clients
reconnecting after a broker restart, a scale-out behind a load balancer, a
health-check storm -- the kernel drops the SYNs past the queue and
`TcpExtListenOverflows` climbs, while the pod's somaxconn would have
allowed a queue many times larger.

## Example
```yaml
containers:
  - name: broker
    image: apache/kafka:3.9.0
    # socket.listen.backlog.size unset: 50; the pod's somaxconn is 4096
```

## How to fix
Raise the server's own backlog (the message names its knob) to the burst
you expect, up to the pod's `net.core.somaxconn` (raise that too beyond
it), or configure `min_queue` to the size you accept.
"""

from __future__ import annotations

from somaxlint.servers import listener_fix, phrase

CODE = "SMX027"
NAME = "queue-too-small"
SEVERITY = "info"
SUMMARY = "A server asks for an accept queue far smaller than its namespace's somaxconn allows"

MIN_QUEUE = 128  # Linux's SOMAXCONN before 5.4
SUGGESTED = 511  # the default of nginx, Redis, Apache httpd and Node.js


def check(model):
    from somaxlint.model.processes import process_finding, verdict

    this = (CODE, NAME, SEVERITY)
    floor = model.settings.rule_options.get(CODE, {}).get("min_queue", MIN_QUEUE)
    for process in model.servers:
        values = process.somaxconn.values
        if not values:
            continue
        lowest = min(values)
        module = process.module
        if getattr(module, "ACCEPTS_UNTIL", None):
            continue  # the queue is used only past the server's own connection limit
        for listener in process.listeners:
            if not listener.serves:
                continue  # a control socket or admin endpoint: listed by explain only
            requested = listener.requested_backlog
            if listener.explicit or listener.above_somaxconn == "follows" or requested < 1:
                continue  # one the team chose, a queue that is somaxconn, or a value other rules report
            if requested > floor or 2 * requested > lowest:
                continue
            v = verdict(process, list(values), listener, limit=lowest)
            target = min(max(SUGGESTED, floor), lowest)
            message = (
                f"{phrase(module, listener)} on {listener.address_port}: the accept queue holds at most {requested + 1} "
                f"connections waiting for accept(), while net.core.somaxconn {lowest} in {process.label} would allow "
                f"{lowest}: more than {requested + 1} connections arriving at once, "
                f"faster than {module.TITLE} accepts them, are dropped (SYNs dropped, TcpExtListenOverflows). "
                f"To hold more, {_lower_first(listener_fix(module, listener, target))}"
            )
            extra = {"requested_backlog": requested, "somaxconn": lowest, "min_queue": floor}
            yield process_finding(this, process, listener, v, message, listener.address_port, extra)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]

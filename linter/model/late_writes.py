"""Sysctl writes that may land after a server already called listen().

The backlog is fixed when the server calls `listen()`; a later change of
net.core.somaxconn does not resize an existing queue (facts A1).  Writes
that can come after `listen()`:

* a `postStart` hook: Kubernetes runs it concurrently with the container's
  entrypoint, so it races the server;
* the server container's own command, after the statement that starts the
  server (`nginx; sysctl -w ...`, `nginx & sysctl -w ...`): certain;
* the server container's own command before its server starts, but in the
  background (`sysctl -w ... & exec nginx`): it races the server;
* another regular container of the pod (a sidecar), or a native sidecar
  init container (`restartPolicy: Always`): it runs beside the server --
  also a server container's own write before its own server starts, for
  the pod's *other* servers (its own listen() comes after it: the namespace
  model applies it, ``netns.own_writes``).

Which statement starts the server: ``netns.server_start`` (nginx through
``somaxlint.servers.nginx.main_config``, the other servers through their
``COMMANDS``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, List

from somaxlint.findings import Location
from somaxlint.load.positioned import as_seq, get_path
from somaxlint.model.netns import argv_location, server_start
from somaxlint.model.objects import Container, Workload
from somaxlint.model.shell import sysctl_writes
from somaxlint.records import record

LISTEN_TIME_SYSCTLS = ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog")

POST_START = "postStart hook"
AFTER_SERVER = "after the server starts"
BACKGROUND = "background command"
SIDECAR = "sidecar"
# a server container's write before its own server starts, seen from the
# pod's other servers
BESIDE_OTHER_SERVERS = "server container"


@record
class LateWrite:
    container: Container
    name: str
    value: str
    kind: str
    certain: bool
    location: Location
    server: str = "the server"  # the title of the server it races ("nginx")
    others: tuple = ()  # BESIDE_OTHER_SERVERS: the other server containers


def late_writes(workload: Workload, runs_server: Callable[[Container], bool]) -> List[LateWrite]:
    out: List[LateWrite] = []
    obj = workload.obj
    running = workload.containers + [c for c in workload.init_containers if c.sidecar]
    starts = {c.name: server_start(c) for c in running}
    servers = [c for c in running if runs_server(c) or starts[c.name][0] is not None]
    for container in running:
        hook = get_path(container.node, "lifecycle", "postStart", "exec", "command")
        hook_argv = [str(w) for w in as_seq(hook) if isinstance(w, (str, int))]
        for write in sysctl_writes(hook_argv):
            if write.name in LISTEN_TIME_SYSCTLS:
                location = obj.item_loc(hook, write.argv_index) if hook_argv else container.location
                out.append(LateWrite(container, write.name, write.value, POST_START, False, location))
        argv = container.command + container.args
        writes = [w for w in sysctl_writes(argv) if w.name in LISTEN_TIME_SYSCTLS]
        if not writes:
            continue
        start, title = starts[container.name]
        start = -1 if start is None else start
        title = title or "the server"
        others = tuple(c for c in servers if c is not container)
        for write in writes:
            location = argv_location(container, write.argv_index)
            if container in servers:
                if 0 <= start < write.statement:
                    out.append(LateWrite(container, write.name, write.value, AFTER_SERVER, True, location, title))
                elif 0 <= start and write.background:
                    out.append(LateWrite(container, write.name, write.value, BACKGROUND, False, location, title))
                elif 0 <= start and others:
                    # before its own server (the namespace model applies it),
                    # beside the pod's other servers
                    out.append(LateWrite(container, write.name, write.value, BESIDE_OTHER_SERVERS, False, location, title, others))
            elif servers or len(running) > 1:
                out.append(LateWrite(container, write.name, write.value, SIDECAR, False, location))
    return out


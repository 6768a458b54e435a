"""Sysctl writes that may land after a server already called listen().

The backlog is fixed when the server calls `listen()`; a later change of
net.core.somaxconn does not resize an existing queue (facts A1).  Writes
that can come after `listen()`:

* a `postStart` hook: Kubernetes runs it concurrently with the container's
  entrypoint, so it races the server;
* the server container's own command, after the statement that starts the
  server (`nginx; sysctl -w ...`, `nginx & sysctl -w ...`): certain;
* another regular container of the pod (a sidecar), or a native sidecar
  init container (`restartPolicy: Always`): it runs beside the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List

from linter.findings import Location
from linter.load.positioned import as_seq, get_path
from linter.model.netns import argv_location
from linter.model.objects import Container, Workload
from linter.model.shell import parse_commands, sysctl_writes

LISTEN_TIME_SYSCTLS = ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog")

POST_START = "postStart hook"
AFTER_SERVER = "after the server starts"
SIDECAR = "sidecar"


@dataclass
class LateWrite:
    container: Container
    name: str
    value: str
    kind: str
    certain: bool
    location: Location


def _server_statement(argv) -> int:
    for command in parse_commands(argv):
        for word in command.words:
            if word.rsplit("/", 1)[-1] in ("nginx", "openresty"):
                return command.statement
    return -1


def late_writes(workload: Workload, runs_server: Callable[[Container], bool]) -> List[LateWrite]:
    out: List[LateWrite] = []
    obj = workload.obj
    running = workload.containers + [c for c in workload.init_containers if c.sidecar]
    servers = [c for c in running if runs_server(c)]
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
        start = _server_statement(argv)
        for write in writes:
            location = argv_location(container, write.argv_index)
            if container in servers:
                if 0 <= start < write.statement:
                    out.append(LateWrite(container, write.name, write.value, AFTER_SERVER, True, location))
            elif servers or len(running) > 1:
                out.append(LateWrite(container, write.name, write.value, SIDECAR, False, location))
    return out


"""Valkey: Redis's fork keeps `tcp-backlog`, default 511, and the same
start-up warning (../shared/facts/servers.md §2.2, valkey-io/valkey @
55bbbe09: src/config.c tcp-backlog 511; checkTcpBacklogSettings).

Read beyond the sheet, at the same commit: Sentinel mode as Redis's
(redis.py), when the executable's name contains "valkey-sentinel" or
"redis-sentinel", or an argument is `--sentinel` (checkForSentinelMode(),
src/server.c:6555-6563), on VALKEY_SENTINEL_PORT 26379 (src/sentinel.c:52,
483); the cluster bus on the port + CLUSTER_PORT_INCR 10000
(src/cluster_legacy.c:1180, cluster_legacy.h:4). The official image's
entrypoint prepends valkey-server to a first argument starting with `-` or
ending in `.conf` (valkey-io/valkey-container @ ae6141ea,
8.0/debian/docker-entrypoint.sh:4-8)."""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List

from somaxlint.servers import Launch, Listener
from somaxlint.servers.redis import DEFAULT_BACKLOG, KNOB, STARTUP_WARNING, backlog_listeners  # noqa: F401

NAME = "valkey"
TITLE = "Valkey"
IMAGES = ("valkey",)
COMMANDS = ("valkey-server", "valkey-sentinel")
ENTRYPOINT_PREPENDS = {"valkey": ("-*", "*.conf")}
DEFAULT_PORT = 6379
SOURCE = "src/config.c createIntConfig(\"tcp-backlog\", ..., 511); servers.md §2.2"


def listeners(launch: Launch) -> List[Listener]:
    return backlog_listeners(NAME, launch)

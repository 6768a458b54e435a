"""Valkey: Redis's fork keeps `tcp-backlog`, default 511, and the same
start-up warning (../shared/facts/servers.md §2.2, valkey-io/valkey @
55bbbe09: src/config.c tcp-backlog 511; checkTcpBacklogSettings)."""

from __future__ import annotations

from typing import List

from linter.servers import Launch, Listener
from linter.servers.redis import DEFAULT_BACKLOG, KNOB, STARTUP_WARNING, backlog_listeners  # noqa: F401

NAME = "valkey"
TITLE = "Valkey"
IMAGES = ("valkey",)
COMMANDS = ("valkey-server",)
DEFAULT_PORT = 6379
SOURCE = "src/config.c createIntConfig(\"tcp-backlog\", ..., 511); servers.md §2.2"


def listeners(launch: Launch) -> List[Listener]:
    return backlog_listeners(NAME, launch)

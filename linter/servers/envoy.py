"""Envoy (and Istio's sidecar and gateways): without `tcp_backlog_size`,
a listener's backlog is the namespace's somaxconn.

Sources (../shared/facts/servers.md §2.11): `#define
ENVOY_TCP_BACKLOG_SIZE -1` on Linux (envoy/common/platform.h @ 759db7f3:
"default listen backlog size to net.core.somaxconn"); listener.proto
`tcp_backlog_size` ("If no value is provided net.core.somaxconn will be
used on Linux"). Istio never sets it (no `tcp_backlog_size` outside tests at
86c9f01), so sidecars (15001, 15006) and gateways follow the pod's
somaxconn. An explicit `tcp_backlog_size` in a bootstrap file is not read
here.
"""

from __future__ import annotations

from typing import List

from linter.servers import Launch, Listener
from linter.servers.traefik import follows

NAME = "envoy"
TITLE = "Envoy"
IMAGES = ("envoy", "envoy-distroless", "proxyv2")
COMMANDS = ("envoy", "pilot-agent")
DEFAULT_BACKLOG = "somaxconn"
DEFAULT_PORT = None
KNOB = "tcp_backlog_size on the listener (default: net.core.somaxconn)"
SOURCE = "envoy/common/platform.h ENVOY_TCP_BACKLOG_SIZE -1 (Linux); servers.md §2.11"
STARTUP_WARNING = ""


def listeners(launch: Launch) -> List[Listener]:
    return [follows(NAME, launch, "Envoy's default listen backlog is -1 on Linux")]

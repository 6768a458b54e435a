"""Containers of one pod share its network namespace: two that listen on
one port and overlapping addresses cannot both bind (SMX026).

Linux lets a second TCP socket bind an address and port another socket
of the namespace is listening on only when both set SO_REUSEPORT (and
share an owner); SO_REUSEADDR, which servers set, does not help against a
listening socket (net/ipv4/inet_connection_sock.c `inet_csk_bind_conflict`,
the same rule tests/kernel confirms for nginx's sockets, SMX015).  So
whichever container binds second gets `EADDRINUSE` and, as servers do,
exits: the pod crash-loops.  The kubelet starts a pod's containers one
after another in the order of the spec, without waiting for the first to
listen, so which one loses is a race; the later one in the spec is said
to, and its listener's backlog findings then rest on its winning.

Overlap, as the kernel sees it: the same address; or a wildcard and any
address of its family (`0.0.0.0`, `::`; `*` -- Redis's, uvicorn's default
-- takes both families).  An IPv4 and an IPv6 wildcard overlap only when
the IPv6 socket is dual-stack, which the servers' listeners do not say:
not reported.  Both sockets with SO_REUSEPORT (nginx's `reuseport`): not
reported either (each process then gets its own queue, if their owners
match).  A container that listens twice on one port is its own server's
matter (nginx: SMX015, SMX023).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.records import record, replace


@record
class PortConflict:
    """``listener`` of ``loser``'s container cannot bind while ``other``
    of ``winner``'s (earlier in the pod) listens."""

    loser: object  # ServerProcess
    listener: object  # Listener (the loser's, as the model keeps it)
    winner: object
    other: object


def _family(address: str) -> str:
    if address == "*":
        return "both"
    return "inet6" if ":" in address else "inet"


def _wildcard(address: str) -> bool:
    return address in ("*", "0.0.0.0", "::", "[::]")


def _normal(address: str) -> str:
    return "::" if address == "[::]" else address.strip("[]")


def _reuseport(server) -> Dict[int, bool]:
    """id(listener) -> whether its socket sets SO_REUSEPORT (nginx's
    `reuseport`; the other servers' listeners do not)."""
    sockets = getattr(server, "sockets", None)
    if not sockets:
        return {}
    return {id(listener): bool(getattr(socket, "reuseport", False)) for socket, listener in zip(sockets, server.listeners)}


def pod_port_conflicts(servers) -> List[PortConflict]:
    """Every listener that cannot bind beside an earlier container's of its
    pod; the losers' listeners are replaced (in ``servers``) by ones whose
    assumption says what their findings rest on."""
    by_pod: Dict[int, list] = {}
    for server in servers:
        if server.workload is not None and server.container is not None and server.listeners:
            by_pod.setdefault(id(server.workload), []).append(server)
    out: List[PortConflict] = []
    for group in by_pod.values():
        workload = group[0].workload
        order = {id(c): i for i, c in enumerate(list(workload.init_containers) + list(workload.containers))}
        group.sort(key=lambda s: order.get(id(s.container), len(order)))
        # per port: the sockets that bound, by normal address, and the
        # wildcards by family
        bound: Dict[int, Tuple[dict, dict]] = {}
        losses: Dict[int, List[Tuple[object, object, object]]] = {}
        for server in group:
            reuse = _reuseport(server)
            for listener in server.listeners:
                if listener.port is None or not listener.address:
                    continue
                by_address, wild = bound.setdefault(listener.port, ({}, {}))
                address = _normal(listener.address)
                hit = _overlapping(address, by_address, wild, server, reuse.get(id(listener), False))
                if hit is not None:
                    losses.setdefault(id(server), []).append((listener, hit[0], hit[1]))
                    continue
                entry = (server, listener, reuse.get(id(listener), False))
                by_address.setdefault(address, entry)
                if _wildcard(address):
                    wild.setdefault(_family(address), entry)
        for server in group:
            lost = losses.get(id(server))
            if not lost:
                continue
            replaced = {}
            for listener, winner, other in lost:
                note = (
                    f"container '{winner.container.name}' of this pod listens on {other.address_port} too and starts "
                    f"first: this container's bind() of {listener.address_port} fails with EADDRINUSE (SMX026); "
                    "what it gets if it binds first"
                )
                new = replace(listener, assumption=f"{note}; {listener.assumption}" if listener.assumption else note)
                replaced[id(listener)] = new
                out.append(PortConflict(server, new, winner, other))
            server.listeners = [replaced.get(id(l), l) for l in server.listeners]
    return out


def _overlapping(address: str, by_address: dict, wild: dict, server, reuseport: bool) -> Optional[Tuple[object, object]]:
    """(the winner, its listener): an earlier container's socket that
    overlaps ``address``, else None.  Looked up by address and family,
    the addresses of the port scanned only for a wildcard no wildcard of
    its family is bound before."""
    family = _family(address)

    def candidates():
        yield by_address.get(address)
        yield wild.get("both")
        if family == "both":
            yield wild.get("inet")
            yield wild.get("inet6")
        else:
            yield wild.get(family)
        if _wildcard(address):
            for other, entry in by_address.items():
                if family == "both" or _family(other) in (family, "both"):
                    yield entry

    for entry in candidates():
        if entry is None:
            continue
        winner, listener, other_reuse = entry
        if winner.container is server.container:
            continue  # the same container twice: its server's own matter
        if reuseport and other_reuse:
            continue
        return winner, listener
    return None

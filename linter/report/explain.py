"""`somaxlint explain`: per listening socket, the chain of facts from the
workload to the accept-queue limit the kernel will show as Send-Q.

Every line of the text form goes through ``escape_control`` (names, paths,
addresses and origins all come from the input); the JSON form is ASCII
only, with its text for people escaped the same way."""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional, TextIO

from somaxlint.findings import Location
from somaxlint import facts
from somaxlint.model import Model
from somaxlint.report import escape_control, write_json as _write_json
from somaxlint.servers import phrase
from somaxlint.servers.nginx.config import Socket


def _locator(model: Model):
    """Location -> dict, with locations in rendered charts and
    kustomizations moved back to the files people edit."""

    def loc(location: Optional[Location]) -> Optional[dict]:
        return model.relocate(location).as_dict() if location is not None else None

    return loc


def listener_records(model: Model) -> List[dict]:
    loc = _locator(model)
    governing = _governing(model)
    # a socket another container of the pod binds first (SMX026)
    lost = {id(c.listener): c for c in model.port_conflicts}
    records = []
    for server in model.servers:
        pairs = []
        if server.kind == "nginx":
            # nginx's records also say which config file and block
            refusals = _nginx_refusals(server, loc)
            for socket, listener in zip(server.sockets, server.listeners):
                pairs.append((listener, _record(server, socket, listener, loc, refusals.get(id(socket)))))
        else:
            for listener in server.listeners:
                pairs.append((listener, _process_record(server, listener, loc)))
        for listener, r in pairs:
            r["configuration"] = governing.get(id(server))
            conflict = lost.get(id(listener))
            if conflict is not None and r["bind_conflict"] is None:
                where = loc(conflict.other.bound_at or conflict.other.location)
                r["bind_conflict"] = (
                    f"container '{conflict.winner.container.name}' of this pod listens on {conflict.other.address_port} "
                    f"({where['path']}:{where['line']}:{where['column']}): bind() fails with EADDRINUSE (SMX026)"
                )
                r["ss_line"] = None
            records.append(r)
    records.sort(key=lambda r: (r["workload"] or "", r["container"] or "", r["config"]["path"], r["listen"]["path"], r["listen"]["line"], r["listen"]["column"], r["address"], r["port"] or 0))
    return records


def _governing(model: Model) -> dict:
    """id(server) -> the configuration file that governed it, as reports
    show paths (None: no configuration file)."""
    return {id(server): shown for shown, one in model.governed for server in one.servers}


# How a `bind_conflict` that is a reason, not the other socket's address,
# begins (no address does).
_DOES_NOT_START = "nginx does not start: "


def _nginx_refusals(server, loc) -> dict:
    """id(socket) -> why nginx never opens it (the record's `bind_conflict`):
    for two overlapping sockets, the other one's address (SMX015); for a
    socket Linux refuses, nginx's error (SMX015); for every other socket of
    an nginx that does not start, why it does not (the first refusal of its
    configuration: SMX009, SMX008, SMX022, SMX023, what else nginx refuses
    while it reads the configuration (SMX024), then SMX015).  A refusal
    that rests on an assumption (an SMX015 warning) is left to the
    finding."""

    def at(listen) -> str:
        where = loc(listen.directive.source.locate(listen.directive.line, listen.directive.column))
        return f"{where['path']}:{where['line']}:{where['column']}"

    out = {}
    reasons = []
    for listen in server.listen_set.listens:
        if listen.backlog_error is not None:
            reasons.append(f"{listen.backlog_error} at {at(listen)} (SMX009)")
            break
    codes = {"options": "SMX008", "pair": "SMX022", "listen": "SMX023", "default": "SMX023"}
    for duplicate in server.duplicates:
        code = "SMX023" if duplicate.kind == "pair" and duplicate.listen.module == "mail" else codes[duplicate.kind]
        reasons.append(f'{duplicate.message} at {at(duplicate.listen)} ({code})')
    for refusal in getattr(server, "refusals", ()):
        if refusal.certain and refusal.kind != "internal":
            d = refusal.directive
            where = loc(d.source.locate(d.line, d.column)) if d is not None else loc(server.config.main.locate(1, 1))
            reasons.append(f"{refusal.message} at {where['path']}:{where['line']}:{where['column']} (SMX024)")
            break  # (nginx stops at the first)
    for socket, other in server.bind_conflicts:
        out.setdefault(id(socket), other.address_port)
        out.setdefault(id(other), socket.address_port)
        reasons.append(f"listen {socket.address_port} overlaps listen {other.address_port} at {at(socket.owner or socket.listens[0])}: bind() fails with EADDRINUSE (SMX015)")
    for failure in server.start_failures:
        if failure.certain:
            out.setdefault(id(failure.socket), f"{_DOES_NOT_START}{failure.message} (SMX015)")
            reasons.append(f"{failure.message} at {at(failure.socket.owner or failure.socket.listens[0])} (SMX015)")
    if reasons:
        for socket in server.sockets:
            out.setdefault(id(socket), f"{_DOES_NOT_START}{reasons[0]}")
    return out


def _process_record(process, listener, _loc) -> dict:
    """The same keys as an nginx listener's, with `server` naming the kind;
    where a key has no meaning for the server (nginx's `module`), the server
    kind stands in."""

    somaxconn = process.somaxconn
    setting = somaxconn.setting
    effective = None
    if somaxconn.assumed is not None and listener.above_somaxconn in ("truncate", "follows"):
        effective = facts.kernel_clamp(listener.requested_backlog, somaxconn.assumed)
    elif somaxconn.assumed is not None and listener.requested_backlog <= somaxconn.assumed:
        effective = listener.requested_backlog
    assumptions = [somaxconn.assumption] if somaxconn.assumption else []
    if listener.assumption:
        assumptions.append(listener.assumption)
    if listener.above_somaxconn == "refuse" and somaxconn.assumed is not None and listener.requested_backlog > somaxconn.assumed:
        assumptions.append(f"{process.module.TITLE} refuses to start: its listen queue exceeds somaxconn (SMX020)")
    where = _loc(listener.location)
    socket_at = _loc(listener.bound_at) if listener.bound_at is not None else where
    return {
        "server": process.module.NAME,
        "workload": process.workload.ref,
        "workload_file": _loc(process.workload.obj.location),
        "unit": process.workload.obj.file.unit,
        "evaluated_with": None,
        "container": process.container.name,
        "config": dict(where, path_in_container=None),
        "module": process.module.NAME,
        "family": listener.kind,
        "address": listener.address,
        "port": listener.port,
        "sockets": listener.sockets,
        "listen": socket_at,
        "requested_backlog": listener.requested_backlog,
        "requested_backlog_source": where if listener.explicit else None,
        "requested_backlog_origin": f"{process.module.TITLE} {listener.origin}",
        "somaxconn": somaxconn.assumed,
        "somaxconn_possible": list(somaxconn.values),
        "somaxconn_source": _loc(setting.location) if setting is not None else None,
        "somaxconn_origin": setting.detail if setting is not None else None,
        "effective_backlog": effective,
        "assumptions": assumptions,
        "bind_conflict": None,
        "ss_line": _ss_line(effective, _process_ss_local(listener, getattr(process.module, "JVM", False))) if listener.above_somaxconn != "refuse" or effective is not None else None,
    }


def unresolved_records(model: Model) -> List[dict]:
    """Containers that run a server whose configuration is not readable:
    listed, never dropped, with the reason."""
    _loc = _locator(model)
    records = [
        {
            "workload": gap.workload.ref,
            "workload_file": _loc(gap.workload.obj.location),
            "unit": gap.workload.obj.file.unit,
            "container": gap.container.name,
            "server": gap.server,
            "config_path_in_container": gap.path,
            "reason": gap.reason,
            "location": _loc(gap.location),
        }
        for gap in model.unresolved
    ]
    records.sort(key=lambda r: (r["workload"], r["container"], r["location"]["path"], r["location"]["line"]))
    return records


def unplaced_records(model: Model) -> List[dict]:
    """Containers in no pod template somaxlint can place (SMX025): listed,
    never dropped, with the reason."""
    _loc = _locator(model)
    records = [
        {
            "object": gap.obj.ref,
            "object_file": _loc(gap.obj.location),
            "unit": gap.obj.file.unit,
            "image": gap.image or None,
            "path": ".".join(str(p) for p in gap.path),
            "reason": gap.reason,
            "location": _loc(gap.location),
        }
        for gap in model.inventory.unplaced
    ]
    records.sort(key=lambda r: (r["object"], r["path"], r["location"]["path"], r["location"]["line"]))
    return records


def _record(server, socket: Socket, listener, _loc, conflict: Optional[str]) -> dict:
    somaxconn = server.somaxconn
    setting = somaxconn.setting
    backlog_directive = socket.backlog_directive
    listen_directive = socket.directive
    main = server.config.main
    effective = facts.kernel_clamp(socket.requested_backlog, somaxconn.assumed) if somaxconn.assumed is not None else None
    return {
        "server": "nginx",
        "workload": server.workload.ref if server.workload else None,
        "workload_file": _loc(server.workload.obj.location) if server.workload else None,
        "unit": server.workload.obj.file.unit if server.workload else None,
        "evaluated_with": server.variant,
        "container": server.container.name if server.container else None,
        "config": _loc(main.locate(1, 1)) | {"path_in_container": server.config.main_path if server.workload else None},
        "module": socket.module,
        "family": socket.family,
        "address": socket.address,
        "port": socket.port,
        "sockets": socket.count,
        "listen": _loc(listen_directive.source.locate(listen_directive.line, listen_directive.column)),
        "requested_backlog": socket.requested_backlog,
        "requested_backlog_source": _loc(backlog_directive.source.locate(backlog_directive.line, backlog_directive.column)) if backlog_directive else None,
        "requested_backlog_origin": phrase(server.module, listener),
        "somaxconn": somaxconn.assumed,
        "somaxconn_possible": list(somaxconn.values),
        "somaxconn_source": _loc(setting.location) if setting is not None else None,
        "somaxconn_origin": setting.detail if setting is not None else None,
        "effective_backlog": effective,
        "assumptions": ([somaxconn.assumption] if somaxconn.assumption else [])
        + ([socket.assumption] if socket.assumption else [])
        # several stream servers on one socket: stream virtual servers
        # (nginx 1.25.5) are assumed when the version is not known
        + ([f"{server.version_source} (several stream servers share this socket: nginx 1.25.5 or later)"] if socket.module == "stream" and len(socket.listens) > 1 and server.version is None else [])
        + ([f"evaluated with {server.variant} (SMX017: equally near candidates)"] if server.variant else []),
        # why nginx never opens this socket (``_nginx_refusals``): the other
        # socket on an overlapping address and port (SMX015), else what
        # stops nginx
        "bind_conflict": conflict,
        "ss_line": _ss_line(effective, socket.ss_local) if conflict is None else None,
    }


def _ss_line(effective: Optional[int], local: Optional[str]) -> Optional[str]:
    """The line `ss -lntH` prints for the socket, columns single-spaced:
    state, Recv-Q (0 while nothing waits), Send-Q (the accept queue's
    limit), local and peer address."""
    if effective is None or local is None:
        return None
    return f"LISTEN 0 {effective} {local}"


def _process_ss_local(listener, jvm: bool = False) -> Optional[str]:
    """The local and peer columns `ss -lntH` prints for the socket.  A JVM
    binds through an IPv6 socket: every address is one dual-stack socket
    (`*:8080 *:*`), an IPv4 address prints mapped (`[::ffff:127.0.0.1]:8005
    *:*`), as measured with OpenJDK 17."""
    import ipaddress

    if listener.port is None or listener.kind == "unix":
        return None
    if listener.address == "*":
        # a JVM's one dual-stack socket; another server's every address is
        # one or two sockets, as its module counts them: no one line
        return f"*:{listener.port} *:*" if jvm and listener.sockets == 1 else None
    try:
        address = ipaddress.ip_address(listener.address)
    except ValueError:
        return None  # a host name: resolved at run time
    if address.version == 6:
        return f"[{address}]:{listener.port} [::]:*"
    if jvm:
        return f"[::ffff:{address}]:{listener.port} *:*"
    return f"{address}:{listener.port} 0.0.0.0:*"


# Keys of the JSON records that are text for people, not names or paths.
_PROSE = ("requested_backlog_origin", "somaxconn_origin", "reason")


def _for_people(record: dict) -> dict:
    out = dict(record)
    for key in _PROSE:
        if isinstance(out.get(key), str):
            out[key] = escape_control(out[key])
    if "assumptions" in out:
        out["assumptions"] = [escape_control(a) for a in out["assumptions"]]
    return out


def write_json(model: Model, out: TextIO) -> None:
    _write_json(
        {
            "listeners": [_for_people(r) for r in listener_records(model)],
            "unresolved": [_for_people(g) for g in unresolved_records(model)],
            "unplaced": [_for_people(g) for g in unplaced_records(model)],
        },
        out,
    )


def write_text(model: Model, out: TextIO) -> None:
    for line in text_lines(model):
        out.write(escape_control(line) + "\n")


def text_lines(model: Model) -> List[str]:
    """The text form, one unescaped line per item (``write_text`` escapes)."""
    records = listener_records(model)
    gaps = unresolved_records(model)
    unplaced = unplaced_records(model)
    if not records and not gaps and not unplaced:
        return ["no listening sockets found"]
    lines: List[str] = []
    current = None
    for r in records:
        head = (r["workload"], r["workload_file"] and r["workload_file"]["path"], r["evaluated_with"], r["container"], r["config"]["path"])
        if head != current:
            current = head
            if r["server"] != "nginx":
                unit = f" in {r['unit']}" if r["unit"] else ""
                lines.append(f"{r['workload']} ({r['workload_file']['path']}{unit})  container {r['container']}  ({r['server']})")
            elif r["workload"]:
                unit = f" in {r['unit']}" if r["unit"] else ""
                lines.append(
                    f"{r['workload']} ({r['workload_file']['path']}{unit})  container {r['container']}  "
                    f"(main config {r['config']['path_in_container']}, from {r['config']['path']})"
                )
            else:
                lines.append(f"standalone {r['config']['path']}")
        port = r["port"] if r["port"] is not None else "(port not in the input)"
        if r["family"] == "unix":
            where = r["address"] if r["address"].startswith("unix:") else "unix:" + r["address"]
        else:
            where = f"[{r['address']}]:{port}" if r["family"] == "inet6" else f"{r['address']}:{port}"
        listen = r["listen"]
        lines.append(f"  {r['module']} {where}  (listen at {listen['path']}:{listen['line']}:{listen['column']})")
        src = r["requested_backlog_source"]
        lines.append(f"    requested backlog  {r['requested_backlog']}  {r['requested_backlog_origin']}" + (f" at {src['path']}:{src['line']}:{src['column']}" if src else ""))
        ssrc = r["somaxconn_source"]
        lines.append(
            f"    net.core.somaxconn {r['somaxconn'] if r['somaxconn'] is not None else 'unknown'}  {r['somaxconn_origin'] or ''}"
            + (f" at {ssrc['path']}:{ssrc['line']}:{ssrc['column']}" if ssrc else "")
        )
        effective = r["effective_backlog"]
        why = " (reuseport)" if r["server"] == "nginx" else ""  # (another server's are its addresses: IPv4 and IPv6)
        sockets = "" if r["sockets"] == 1 else f" on each of {r['sockets'] if r['sockets'] else 'one socket per worker'} sockets{why}"
        lines.append(f"    accept queue limit {effective if effective is not None else 'unknown'} (ss -{'lx' if r['family'] == 'unix' else 'lnt'} Send-Q){sockets}")
        if r["ss_line"]:
            lines.append(f"    ss -lntH           {r['ss_line']}")
        conflict = r["bind_conflict"]
        if conflict and conflict.startswith(_DOES_NOT_START):
            lines.append(f"    {conflict}")
        elif conflict:
            lines.append(f"    nginx does not start: this socket and {conflict} overlap (EADDRINUSE, SMX015)")
        for assumption in r["assumptions"]:
            lines.append(f"    assumption: {assumption}")
    for g in gaps:
        loc = g["location"]
        unit = f" in {g['unit']}" if g["unit"] else ""
        what = f"{g['server']} config {g['config_path_in_container']} not resolved" if g["server"] else "server not known"
        lines.append(
            f"{g['workload']} ({g['workload_file']['path']}{unit})  container {g['container']}  "
            f"({what}: {g['reason']}; at {loc['path']}:{loc['line']}:{loc['column']})"
        )
    for g in unplaced:
        loc = g["location"]
        unit = f" in {g['unit']}" if g["unit"] else ""
        image = f"container (image {g['image']})" if g["image"] else "its pods"
        lines.append(f"{g['object']} ({g['object_file']['path']}{unit})  {image} not modelled: {g['reason']}; at {loc['path']}:{loc['line']}:{loc['column']}")
    return lines

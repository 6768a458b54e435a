"""PgBouncer's cases of the server kernel suite (test_servers_truth.py):
Debian's pgbouncer (1.18 on bookworm) run with the pgbouncer.ini a pod
mounts, as the edoburu/pgbouncer image runs it (`pgbouncer
/etc/pgbouncer/pgbouncer.ini`, its CMD, as user postgres).

What the test changes from the pod, besides what test_servers_truth.py
says for every server:

* pgbouncer refuses to run as root: it is run as Debian's postgres user
  with setpriv (the image's `USER postgres`); the temp dirs standing in for
  the container's filesystem are made traversable for that user;
* the ini's own absolute paths (`%include /etc/pgbouncer/...`) are
  ROOT-prefixed, as the command's config path is;
* with no pgbouncer.ini mounted, the edoburu image's entrypoint writes it
  from the environment before it runs the CMD (edoburu/docker-pgbouncer @
  91a581b7, entrypoint.sh): the test writes the lines that entrypoint
  writes for the settings that shape a listener (`listen_addr =
  ${LISTEN_ADDR:-0.0.0.0}`, `listen_port = ${LISTEN_PORT:-5432}`,
  `unix_socket_dir = ${UNIX_SOCKET_DIR}`, `listen_backlog` when
  LISTEN_BACKLOG is set) with its `[databases]` entry;
* every case's ini sets `unix_socket_dir =` (no Unix socket, as the edoburu
  image writes it): explain lists a Unix socket as a listener without a
  port, which the suite matches to the case's port.  The Unix socket's
  queue was measured by hand (`ss -lxH`: min(listen_backlog, somaxconn),
  as the TCP sockets').
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from server_case import Case, executable

SERVERS = ("pgbouncer",)
PROVIDED_BY = {"pgbouncer": "Debian package pgbouncer"}
# the edoburu image's CMD (its entrypoint runs it as given: no prepending)
IMAGE_CMD = {"pgbouncer": ("/usr/bin/pgbouncer", "/etc/pgbouncer/pgbouncer.ini")}

IMAGE = "edoburu/pgbouncer:1.18.0"  # the release Debian bookworm packages
INI = "/etc/pgbouncer/pgbouncer.ini"
EXTRA = "/etc/pgbouncer/tuning.ini"
PORT = 7020


def _ini(addr="*", backlog=None, tail=""):
    text = (
        "[databases]\n* = host=postgres port=5432\n\n[pgbouncer]\n"
        f"listen_addr = {addr}\nlisten_port = {PORT}\nunix_socket_dir =\nuser = postgres\n"
        "auth_file = /etc/pgbouncer/userlist.txt\nauth_type = md5\npool_mode = transaction\nmax_client_conn = 1000\n"
    )
    if backlog is not None:
        text += f"listen_backlog = {backlog}\n"
    return text + tail


def _case(somaxconn, *files, env=()):
    return Case("pgbouncer", PORT, somaxconn, IMAGE, command=("pgbouncer", INI), files=tuple(files), env=env)


CASES = {
    "pgbouncer: defaults, kernel default somaxconn": _case(None, (INI, _ini())),
    "pgbouncer: default listen_backlog above somaxconn 64": _case(64, (INI, _ini())),
    "pgbouncer: listen_backlog below somaxconn, one address": _case(1000, (INI, _ini("127.0.0.1", 300))),
    "pgbouncer: listen_backlog above somaxconn, from an %include": _case(
        1000, (INI, _ini("::", 300, tail=f"%include {EXTRA}\n")), (EXTRA, "listen_backlog = 2000\n")
    ),
    "pgbouncer: somaxconn raised by pod sysctl, listen_backlog 8192": _case(10000, (INI, _ini("0.0.0.0", 8192))),
    # no ini mounted: the image's entrypoint writes it from the environment
    "pgbouncer: edoburu image, LISTEN_BACKLOG below somaxconn": Case(
        "pgbouncer", PORT, 1000, IMAGE, env=(("LISTEN_PORT", str(PORT)), ("LISTEN_BACKLOG", "500"), ("DB_HOST", "postgres"))
    ),
}


def _entrypoint_ini(env: dict) -> str:
    """What edoburu's entrypoint.sh writes, for the listener's settings."""
    text = f"[databases]\n* = host={env.get('DB_HOST', 'postgres')} port=5432 auth_user=postgres\n\n[pgbouncer]\n"
    text += f"listen_addr = {env.get('LISTEN_ADDR') or '0.0.0.0'}\nlisten_port = {env.get('LISTEN_PORT') or '5432'}\n"
    text += f"unix_socket_dir = {env.get('UNIX_SOCKET_DIR', '')}\nuser = postgres\nauth_file = /etc/pgbouncer/userlist.txt\n"
    text += "auth_type = md5\n"
    if env.get("LISTEN_BACKLOG"):
        text += f"listen_backlog = {env['LISTEN_BACKLOG']}\n"
    return text


def runnable(case: Case, root: Path, argv, request):
    assert Path(argv[0]).name == "pgbouncer" and len(argv) == 2, argv
    ini = argv[1]
    if not ini.startswith(str(root)):
        # not mounted: the entrypoint writes it (see the docstring)
        assert ini == INI, argv
        target = root / INI.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_entrypoint_ini(dict(case.env)))
        ini = str(target)
    for path, _ in case.files:
        file = root / path.lstrip("/")
        file.write_text(re.sub(r"(?m)^%include /", f"%include {root}/", file.read_text()))
    for part in [root] + list(root.parents):
        if str(part) in ("/", "/tmp"):
            break
        os.chmod(part, os.stat(part).st_mode | 0o055)
    for directory, _, names in os.walk(root):
        for name in names:
            os.chmod(os.path.join(directory, name), 0o644)
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", executable("pgbouncer"), ini]

"""Every server configured by argv/env or by a config file it names
(linter/servers) checked against the real binary and the kernel.

For each case: a Deployment manifest is written whose container runs the
server the way a pod would (with a ConfigMap mounted where the server reads
its config file, for HAProxy, Apache httpd and PHP-FPM), `somaxlint explain
--format json --kernel $(uname -r)` predicts its listeners, and the pod is
reproduced: a fresh network namespace (lab.NetNS), net.core.somaxconn set
as the manifest's pod sysctls say (left at the kernel's fresh-namespace
default when they say nothing), and the real server started in it with the
container's argv.  `ss -lntH` then gives the kernel's Send-Q for every
socket on each listener's port, which must equal the predicted
`effective_backlog`.  Where the server refuses to start (uWSGI above
somaxconn) the refusal is checked instead, against SMX020; Redis's start-up
warning is checked against SMX001.

What the test changes from the pod, and nothing else:

* the argv is the container's `command` + `args`, word for word; where a
  manifest gives no `command`, the official image's entrypoint and CMD
  are applied as the image does: redis and memcached prepend
  `redis-server` / `memcached` to arguments starting with "-"; haproxy's
  CMD is `haproxy -f /usr/local/etc/haproxy/haproxy.cfg` and its
  docker-entrypoint.sh turns `haproxy ...` into `haproxy -W -db ...`
  (docker-library/haproxy @ ec437dd2, 2.6/docker-entrypoint.sh); httpd's
  CMD is `httpd-foreground`, a script running `httpd -DFOREGROUND "$@"`
  (docker-library/httpd @ 9b63b37c, 2.4/httpd-foreground), and the test
  runs that second command; php's fpm CMD is `php-fpm`;
* the command word is resolved on this machine (`gunicorn`, `uvicorn`: the
  scripts installed beside the running Python; `httpd`: Debian's
  `apache2`; `php-fpm`: Debian's `php-fpm8.x`; `traefik`: see below);
* the container's filesystem is stood in for by a temp dir, ROOT: every
  ConfigMap key is written at ROOT + its path in the container, and the
  image files the server reads besides are written there as the image has
  them -- for PHP-FPM, /usr/local/etc/php-fpm.conf (upstream's default,
  whose only uncommented lines are `[global]` and the include, with the
  image's `=NONE/` removed) and php-fpm.d/docker.conf, www.conf and
  zz-docker.conf as the image's Dockerfile writes them (docker-library/php
  @ 445bf414, Dockerfile-linux.template:531-571; www.conf reduced to its
  uncommented lines; for a tag naming an older build, as it wrote them
  before f26909cd: see PHP_OLD_LAYOUT_FILES), and the empty directory
  /usr/local/log (php-fpm's default error_log is log/php-fpm.log under
  --prefix, under the image's /usr/local/var without it, which the image
  has); a ConfigMap mounted as a directory replaces that directory, one
  mounted with subPath replaces that file;
* the paths given to the server are ROOT-prefixed: HAProxy's `-f
  /usr/local/etc/haproxy/haproxy.cfg` becomes `-f ROOT/usr/local/...`;
  Apache gets `-f ROOT/usr/local/apache2/conf/httpd.conf` (the path the
  official image compiles in; Debian's apache2 compiles in
  /etc/apache2/apache2.conf), and the config's one absolute path, its
  `ServerRoot "/usr/local/apache2"`, is rewritten to ROOT/usr/local/apache2,
  under which `modules` is a symlink to Debian's /usr/lib/apache2/modules
  and `logs` an empty directory (the manifests' httpd.conf states `PidFile
  logs/httpd.pid`, the image's compiled-in default, because Debian's
  compiled-in one is /run/apache2.pid, and loads mod_unixd inside
  `<IfModule !unixd_module>`: the image builds it as a module, Debian's
  apache2 has it built in and refuses to load it again); php-fpm gets `--prefix ROOT/usr/local
  --fpm-config ROOT/usr/local/etc/php-fpm.conf` (the image's compiled-in
  prefix and config; Debian's are /usr and /etc/php/8.x/fpm), so its
  `include=etc/php-fpm.d/*.conf` reads the stand-in directory;
* Go's `net.Listen` class (Traefik, Caddy): no Traefik binary is run.  A
  ten-line Go program, `net.Listen("tcp", ":8080")` then accept forever,
  is built with the packaged Go toolchain into a temp dir under the name
  `traefik`, and run with the manifest's command words (`traefik
  --entrypoints.web.address=:8080`, which it ignores: it listens on :8080,
  as Traefik with that entry point would); the manifest runs the official
  traefik image, which somaxlint recognises as a follows-somaxconn server;
* the working directory is a temp dir standing in for the manifest's
  `workingDir: /app`, holding the tiny app file (`app.py`);
* the environment is the manifest's `env` plus PATH, LANG and HOME=<temp
  dir> (gunicorn puts its control socket under $HOME/.gunicorn);
* memcached refuses to run as root without `-u root`: the manifests carry
  it in the command, so the argv stays identical;
* HAProxy runs as root, where the haproxy image runs it as user haproxy:
  the listen queue does not depend on the user, and every port is above
  1024 (httpd's and php-fpm's workers switch to the config's `User daemon`
  / `user = www-data`, users Debian has too, as in the images);
* Debian's builds stand in for the images' (HAProxy 2.6, httpd 2.4, PHP
  8.2 on bookworm); the image tags are the installed branches -- for PHP
  this matters: its default listen.backlog depends on the version, and the
  tag is derived from the php-fpm8.x installed (one case names the
  branch's x.y.0 build for the older pool files).

Redis, memcached, uWSGI, gunicorn and uvicorn stay in the foreground by
default (no config file for Redis: `daemonize no`); HAProxy by the
entrypoint's `-db` (or the command's), httpd by -DFOREGROUND, php-fpm by
the image's zz-docker.conf `daemonize = no` (or the command's -F): so no
option is added for that.  Every process and namespace is killed/deleted
in teardown, failures included.
"""

from __future__ import annotations

import glob
import json
import dataclasses
import os
import random
import posixpath
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from lab import kernel_lab, netns, predict  # noqa: F401 (fixtures)
from server_case import Case, executable as _executable, kits, runnable_by_kit

# sockets compared with the kernel, start-up refusals confirmed (uWSGI),
# start-up warnings confirmed (Redis); printed at the end of the run
SERVER_TALLY = {"sockets compared": 0, "refusals confirmed": 0, "start-up warnings confirmed": 0}
# sockets compared per server
SOCKETS_BY_SERVER: Dict[str, int] = {}

APP = '''\
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\\n"]


async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok\\n"})
'''

REDIS_WARNING = re.compile(
    r"WARNING: The TCP backlog setting of (\d+) cannot be enforced because "
    r"/proc/sys/net/core/somaxconn is set to the lower value of (\d+)"
)
UWSGI_REFUSAL = re.compile(r"Listen queue size is greater than the system max net\.core\.somaxconn \((\d+)\)\.")


def _php_fpm_binary() -> Optional[str]:
    """Debian's php-fpm8.x (the newest installed)."""
    found = sorted(glob.glob("/usr/sbin/php-fpm[0-9]*"), key=lambda p: tuple(int(n) for n in re.findall(r"\d+", Path(p).name)))
    return found[-1] if found else None


def _installed_branch(found: Optional[str], default: str) -> str:
    match = re.search(r"(\d+\.\d+)", Path(found).name) if found else None
    return match.group(1) if match else default


def _haproxy_branch() -> str:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        return "2.6"
    version = subprocess.run([haproxy, "-v"], capture_output=True, text=True, timeout=30).stdout
    match = re.search(r"version (\d+\.\d+)", version)
    return match.group(1) if match else "2.6"


# The image tags: the versions installed here.  PHP's matters: its default
# listen.backlog depends on it (linter/servers/php_fpm.py).
PHP_IMAGE = f"php:{_installed_branch(_php_fpm_binary(), '8.2')}-fpm"
HAPROXY_IMAGE = f"haproxy:{_haproxy_branch()}"

# The files of the official php fpm image the pool comes from
# (docker-library/php @ 445bf414, Dockerfile-linux.template:531-571; php-fpm.conf
# is upstream's php-fpm.conf.default with "=NONE/" removed, www.conf is
# upstream's www.conf.default -- both reduced to their uncommented lines --
# with the image's `;listen = 127.0.0.1:9000`).  Builds before f26909cd
# (2026-01-09), and the patch releases its template excepts, left www.conf's
# `listen = 127.0.0.1:9000` and set `listen = 9000` in zz-docker.conf, read
# after it, instead of docker.conf, read before it.
PHP_IMAGE_FILES = {
    "/usr/local/etc/php-fpm.conf": "[global]\ninclude=etc/php-fpm.d/*.conf\n",
    "/usr/local/etc/php-fpm.d/docker.conf": (
        "[global]\nerror_log = /proc/self/fd/2\n\nlog_limit = 8192\n\n[www]\naccess.log = /proc/self/fd/2\n\n"
        "clear_env = no\n\ncatch_workers_output = yes\ndecorate_workers_output = no\n\nlisten = 9000\n"
    ),
    "/usr/local/etc/php-fpm.d/www.conf": (
        "[www]\nuser = www-data\ngroup = www-data\n;listen = 127.0.0.1:9000\npm = dynamic\npm.max_children = 5\n"
        "pm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n"
    ),
    "/usr/local/etc/php-fpm.d/zz-docker.conf": "[global]\ndaemonize = no\n\n[www]\n",
}
PHP_OLD_LAYOUT_FILES = {
    "/usr/local/etc/php-fpm.conf": PHP_IMAGE_FILES["/usr/local/etc/php-fpm.conf"],
    "/usr/local/etc/php-fpm.d/docker.conf": PHP_IMAGE_FILES["/usr/local/etc/php-fpm.d/docker.conf"].replace("\n\nlisten = 9000\n", "\n"),
    "/usr/local/etc/php-fpm.d/www.conf": PHP_IMAGE_FILES["/usr/local/etc/php-fpm.d/www.conf"].replace(";listen", "listen"),
    "/usr/local/etc/php-fpm.d/zz-docker.conf": "[global]\ndaemonize = no\n\n[www]\nlisten = 9000\n",
}
# The first patch release of each branch built with `listen` in docker.conf.
PHP_DOCKER_CONF_LISTEN_FROM = {"8.2": 31, "8.3": 30, "8.4": 17, "8.5": 2}


def _php_old_layout(image: str) -> bool:
    version = image.partition(":")[2].partition("-")[0].split(".")
    branch = ".".join(version[:2])
    if tuple(int(n) for n in version[:2]) < (8, 2):
        return True
    return branch in PHP_DOCKER_CONF_LISTEN_FROM and len(version) > 2 and int(version[2]) < PHP_DOCKER_CONF_LISTEN_FROM[branch]


PHP_PREFIX = "/usr/local"  # the image's compiled-in prefix
HAPROXY_CFG = "/usr/local/etc/haproxy/haproxy.cfg"
HTTPD_ROOT = "/usr/local/apache2"  # the image's ServerRoot and compiled-in prefix
HTTPD_CONF = HTTPD_ROOT + "/conf/httpd.conf"
DEBIAN_APACHE_MODULES = "/usr/lib/apache2/modules"

# The program standing in for a Go server (see the module docstring).
GO_SERVER = """\
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", ":8080")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening on", ln.Addr())
	for {
		if conn, err := ln.Accept(); err == nil {
			conn.Close()
		}
	}
}
"""


def _redis(backlog, somaxconn, **kw):
    args = (("--tcp-backlog", str(backlog)) if backlog is not None else ()) + ("--port", "7001")
    return Case("redis", 7001, somaxconn, "redis:7.2", args=args, **kw)


def _memcached(options, somaxconn):
    return Case("memcached", 7002, somaxconn, "memcached:1.6", command=("memcached",) + options + ("-p", "7002", "-u", "root"))


def _uwsgi(options, somaxconn, refuses=False, env=()):
    command = ("uwsgi", "--http-socket", "127.0.0.1:7003") + options + ("--plugin", "python3", "--wsgi-file", "app.py")
    return Case("uwsgi", 7003, somaxconn, "python:3.11", command=command, env=env, refuses=refuses)


def _gunicorn(options, somaxconn, env=()):
    return Case("gunicorn", 7004, somaxconn, "python:3.11", command=("gunicorn", "--bind", "127.0.0.1:7004") + options + ("app:application",), env=env)


def _uvicorn(options, somaxconn, env=()):
    return Case("uvicorn", 7005, somaxconn, "python:3.11", command=("uvicorn", "--port", "7005") + options + ("app:app",), env=env)


def _haproxy(somaxconn, global_maxconn=None, defaults="", frontend="", bind="", second_bind=None, **kw):
    """haproxy.cfg from a ConfigMap at the image's path: one frontend
    binding 127.0.0.1:7006 (and :7016 when ``second_bind`` is given, with
    those options) in front of a backend that is never used."""
    text = "global\n" + (f"  maxconn {global_maxconn}\n" if global_maxconn is not None else "")
    text += "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n" + defaults
    text += f"frontend web\n  bind 127.0.0.1:7006{bind}\n"
    if second_bind is not None:
        text += f"  bind :7016{second_bind}\n"
    text += frontend + "  default_backend app\nbackend app\n  server a 127.0.0.1:7099\n"
    more = (7016,) if second_bind is not None else ()
    return Case("haproxy", 7006, somaxconn, HAPROXY_IMAGE, files=((HAPROXY_CFG, text),), more_ports=more, **kw)


def _apache(somaxconn, backlog=None, listen=("127.0.0.1:7007",), **kw):
    """httpd.conf from a ConfigMap at the official image's path, run by
    the image's CMD (httpd-foreground) unless ``command`` is given."""
    text = (
        f'ServerRoot "{HTTPD_ROOT}"\n'
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        # the official image builds mod_unixd (User, Group) as a module,
        # Debian's apache2 builds it in: the same text runs on both
        "<IfModule !unixd_module>\n  LoadModule unixd_module modules/mod_unixd.so\n</IfModule>\n"
        + "".join(f"Listen {spec}\n" for spec in listen)
        + (f"ListenBacklog {backlog}\n" if backlog is not None else "")
        + "User daemon\nGroup daemon\nServerName localhost\nPidFile logs/httpd.pid\nErrorLog /proc/self/fd/2\n"
    )
    ports = [int(spec.rsplit(":", 1)[-1]) for spec in listen]
    return Case("apache", ports[0], somaxconn, "httpd:2.4", files=((HTTPD_CONF, text),), more_ports=tuple(ports[1:]), **kw)


def _pool(listen=None, backlog=None, head="[www]\n", tail=""):
    """A pool file as a pod's ConfigMap would give it."""
    text = head
    text += "user = www-data\ngroup = www-data\n" if head == "[www]\n" else ""
    text += f"listen = {listen}\n" if listen is not None else ""
    text += f"listen.backlog = {backlog}\n" if backlog is not None else ""
    text += "pm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n" if head == "[www]\n" else ""
    return text + tail


def _php_fpm(somaxconn, files=(), image=PHP_IMAGE, **kw):
    """The official fpm image (tag: the PHP installed here), with the pool
    files the manifest mounts under /usr/local/etc/php-fpm.d."""
    files = tuple((f"{PHP_PREFIX}/etc/php-fpm.d/{name}", text) for name, text in files)
    return Case("php-fpm", 9000, somaxconn, image, files=files, **kw)


def _postgresql(args, somaxconn, **kw):
    # Debian bookworm's postgresql-15: the image tag names the same release
    return Case("postgresql", 7010, somaxconn, "postgres:15", args=tuple(args), **kw)


# the application a Node.js case runs (the manifest's `server.js`): an HTTP
# server on PORT, listen() without a backlog, as most applications call it
NODE_APP = """\
require("http").createServer((req, res) => res.end("ok\\n")).listen(Number(process.env.PORT));
"""


def _nodejs(somaxconn, args=("server.js",)):
    return Case("nodejs", 7011, somaxconn, "node:20", args=args, env=(("PORT", "7011"),))


def _mariadb(args, somaxconn, **kw):
    # Debian bookworm's MariaDB 10.11
    return Case("mariadb", 7012, somaxconn, "mariadb:10.11", args=tuple(args), **kw)


MARIADB_CNF = "/etc/mysql/custom.cnf"
REDIS_CONF = "/usr/local/etc/redis/redis.conf"
UWSGI_INI = "/etc/uwsgi/app.ini"


def _traefik(somaxconn):
    return Case("traefik", 8080, somaxconn, "traefik:v3.1", command=("traefik", "--entrypoints.web.address=:8080"))


# 1000 stands for a pod that sets somaxconn; 10000 for one that raises it
# above the kernel default; None for the kernel's fresh-namespace default.
PG_CONF = "/etc/postgresql/postgresql.conf"

CASES: Dict[str, Case] = {
    # MariaDB: back_log, autosized 50 + max_connections / 5 when unset
    "mariadb: defaults, kernel default somaxconn": _mariadb(("--port=7012",), None),
    "mariadb: max_connections 1000 above somaxconn 128": _mariadb(("--max-connections=1000", "--port=7012"), 128),
    "mariadb: back_log below somaxconn": _mariadb(("--back-log", "300", "--port=7012"), 1000),
    "mariadb: defaults-file mounted": _mariadb(
        (f"--defaults-file={MARIADB_CNF}",), 1000,
        files=((MARIADB_CNF, "[client]\nport = 9999\n[mysqld]\nmax_connections = 600   # pooled\nport = 7012\n"),),
    ),
    # Node.js: listen() without a backlog asks for 511; one dual-stack socket
    "nodejs: default backlog, kernel default somaxconn": _nodejs(None),
    "nodejs: default backlog above somaxconn 128": _nodejs(128),
    "nodejs: node with options before the script, somaxconn 300": _nodejs(300, args=("--max-old-space-size=256", "server.js")),
    # PostgreSQL 15: 2 x MaxBackends (max_connections + 3 autovacuum
    # workers + 8 background workers + 10 WAL senders + 1), every socket of
    # listen_addresses ('*': IPv4 and IPv6)
    "postgresql: defaults, kernel default somaxconn": _postgresql(("-p", "7010"), None),
    "postgresql: defaults above somaxconn 128": _postgresql(("-p", "7010"), 128),
    "postgresql: max_connections below somaxconn": _postgresql(("-c", "max_connections=300", "-p", "7010"), 1000),
    "postgresql: -N and the other backends above somaxconn": _postgresql(
        ("-N", "50", "-c", "max_worker_processes=2", "--max_wal_senders=0", "-p", "7010"), 100
    ),
    # a config_file of one's own: its settings, PostgreSQL's compiled-in
    # defaults for the rest
    "postgresql: config_file mounted": _postgresql(
        ("-c", f"config_file={PG_CONF}"), 1000,
        files=((PG_CONF, "listen_addresses = '127.0.0.1'   # one socket\nmax_connections = 40\nport = 7010\n"),),
    ),
    "redis: default tcp-backlog, kernel default somaxconn": _redis(None, None),
    # every bind address is a socket; unixsocket has the same backlog
    "redis: bind IPv4 and IPv6 loopback, and a Unix socket": Case(
        "redis", 7001, 1000, "redis:7.2",
        command=("redis-server", "--port", "7001", "--bind", "127.0.0.1", "-::1", "--tcp-backlog", "300", "--unixsocket", "redis.sock"),
    ),
    # `include`: read in place, later lines win
    "redis: include, then a later tcp-backlog": Case(
        "redis", 7001, 1000, "redis:7.2", args=(REDIS_CONF,),
        files=(
            (REDIS_CONF, "include /etc/redis/base.conf\ntcp-backlog 400\nport 7001\n"),
            ("/etc/redis/base.conf", "tcp-backlog 900\nbind 127.0.0.1\nport 7999\n"),
        ),
    ),
    "redis: include last, its tcp-backlog wins": Case(
        "redis", 7001, 1000, "redis:7.2", args=(REDIS_CONF,),
        files=(
            (REDIS_CONF, "tcp-backlog 400\nport 7001\ninclude /etc/redis/base.conf\n"),
            ("/etc/redis/base.conf", "tcp-backlog 250\n"),
        ),
    ),
    "redis: default tcp-backlog above somaxconn 128": _redis(None, 128),
    "redis: backlog below somaxconn": _redis(300, 1000),
    "redis: backlog equal to somaxconn": _redis(1000, 1000),
    "redis: backlog above somaxconn": _redis(5000, 1000),
    "redis: somaxconn raised by pod sysctl": Case(
        "redis", 7001, 10000, "redis:7.2", command=("redis-server", "--tcp-backlog", "8192", "--port", "7001")
    ),
    "redis: same backlog, kernel default somaxconn": Case(
        "redis", 7001, None, "redis:7.2", command=("redis-server", "--tcp-backlog", "8192", "--port", "7001")
    ),
    # `cluster-enabled yes`: the cluster bus on port + 10000, same backlog
    # (its nodes.conf is written in the working directory)
    "redis: cluster bus, backlog below somaxconn": Case(
        "redis", 7001, 1000, "redis:7.2",
        command=("redis-server", "--port", "7001", "--tcp-backlog", "300", "--cluster-enabled", "yes"), more_ports=(17001,),
    ),
    "memcached: default backlog, kernel default somaxconn": _memcached((), None),
    # every -l address is a socket (repeated -l are joined with ","); -s is
    # a Unix socket and no TCP one
    "memcached: -l IPv4 and IPv6 loopback, one with its own port": Case(
        "memcached", 7002, 1000, "memcached:1.6", command=("memcached", "-l", "127.0.0.1,[::1]:7022", "-l", "[::1]", "-p", "7002", "-b", "300", "-u", "root"),
        more_ports=(7022,),
    ),
    "memcached: -l localhost": Case("memcached", 7002, 128, "memcached:1.6", command=("memcached", "-l", "localhost", "-p", "7002", "-u", "root")),
    "memcached: -b below somaxconn": _memcached(("-b", "300"), 1000),
    "memcached: --listen-backlog= equal to somaxconn": _memcached(("--listen-backlog=1000",), 1000),
    "memcached: -b above somaxconn": _memcached(("-b", "5000"), 1000),
    "memcached: default backlog above somaxconn 512": _memcached((), 512),
    "memcached: somaxconn raised by pod sysctl": _memcached(("-b", "8192"), 10000),
    "memcached: same backlog, kernel default somaxconn": _memcached(("-b", "8192"), None),
    "uwsgi: default listen, kernel default somaxconn": _uwsgi((), None),
    # options applied in order: UWSGI_* first, then the command line with
    # an --ini read where it stands; every socket option a socket; the HTTP
    # router in front of the workers' own socket
    "uwsgi: the ini's listen over UWSGI_LISTEN": Case(
        "uwsgi", 7003, 1000, "python:3.11",
        command=("uwsgi", "--ini", UWSGI_INI, "--http-socket", "127.0.0.1:7003", "--plugin", "python3", "--wsgi-file", "app.py"),
        env=(("UWSGI_LISTEN", "200"),), files=((UWSGI_INI, "[uwsgi]\nlisten = 77\n"),),
    ),
    "uwsgi: a --listen before the --ini loses to it": Case(
        "uwsgi", 7003, 1000, "python:3.11",
        command=("uwsgi", "--listen", "300", "--ini", UWSGI_INI, "--http-socket", "127.0.0.1:7003", "--plugin", "python3", "--wsgi-file", "app.py"),
        files=((UWSGI_INI, "[uwsgi]\nlisten = 77\nhttp-socket = 127.0.0.1:7013\n"),), more_ports=(7013,),
    ),
    "uwsgi: --http router and the workers' socket": Case(
        "uwsgi", 7003, 1000, "python:3.11", command=("uwsgi", "--plugins", "http,python3", "--http", ":7003", "--listen", "60", "--wsgi-file", "app.py"),
    ),
    "uwsgi: a Unix --socket beside an --http-socket": Case(
        "uwsgi", 7003, 1000, "python:3.11",
        command=("uwsgi", "--socket", "app.sock", "--http-socket", "127.0.0.1:7003", "-l", "90", "--plugin", "python3", "--wsgi-file", "app.py"),
    ),
    "uwsgi: --listen below somaxconn": _uwsgi(("--listen", "200"), 1000),
    "uwsgi: -l equal to somaxconn": _uwsgi(("-l", "1000"), 1000),
    "uwsgi: --listen above somaxconn": _uwsgi(("--listen", "2000"), 1000, refuses=True),
    "uwsgi: default listen above somaxconn 64": _uwsgi((), 64, refuses=True),
    "uwsgi: UWSGI_LISTEN below somaxconn": _uwsgi((), 1000, env=(("UWSGI_LISTEN", "500"),)),
    "uwsgi: somaxconn raised by pod sysctl": _uwsgi(("--listen", "8192"), 10000),
    "uwsgi: same listen, kernel default somaxconn": _uwsgi(("--listen", "8192"), None, refuses=True),
    "gunicorn: default backlog, kernel default somaxconn": _gunicorn((), None),
    # every --bind is a socket; without one, 127.0.0.1:8000, or 0.0.0.0:$PORT
    "gunicorn: two --bind, IPv4 and IPv6 loopback": Case(
        "gunicorn", 7004, 1000, "python:3.11", command=("gunicorn", "--bind", "127.0.0.1:7004", "-b", "[::1]:7004", "--backlog", "300", "app:application")
    ),
    "gunicorn: bind and backlog in the config file": Case(
        "gunicorn", 7004, 1000, "python:3.11", command=("gunicorn", "-c", "/etc/gunicorn/conf.py", "app:application"),
        files=(("/etc/gunicorn/conf.py", 'bind = ["127.0.0.1:7004", "[::1]:7004"]\nbacklog = 300\n'),),
    ),
    "gunicorn: --bind over the config file's": Case(
        "gunicorn", 7014, 1000, "python:3.11", command=("gunicorn", "-c", "/etc/gunicorn/conf.py", "--bind", "127.0.0.1:7014", "app:application"),
        files=(("/etc/gunicorn/conf.py", 'bind = "127.0.0.1:7004"\nbacklog = 300\n'),),
    ),
    "gunicorn: no --bind": Case("gunicorn", 8000, 128, "python:3.11", command=("gunicorn", "app:application")),
    "gunicorn: PORT sets the default bind": Case("gunicorn", 7014, 1000, "python:3.11", command=("gunicorn", "app:application"), env=(("PORT", "7014"),)),
    "gunicorn: a unix: bind beside a TCP one": Case(
        "gunicorn", 7004, 1000, "python:3.11", command=("gunicorn", "-b", "unix:app.sock", "-b", "127.0.0.1:7004", "--backlog", "700", "app:application")
    ),
    "gunicorn: default backlog above somaxconn 1024": _gunicorn((), 1024),
    "gunicorn: --backlog below somaxconn": _gunicorn(("--backlog", "300"), 1000),
    "gunicorn: --backlog= equal to somaxconn": _gunicorn(("--backlog=1000",), 1000),
    "gunicorn: --backlog above somaxconn": _gunicorn(("--backlog", "5000"), 1000),
    "gunicorn: GUNICORN_CMD_ARGS backlog": _gunicorn((), 1000, env=(("GUNICORN_CMD_ARGS", "--backlog 700"),)),
    "gunicorn: somaxconn raised by pod sysctl": _gunicorn(("--backlog", "8192"), 10000),
    "gunicorn: same backlog, kernel default somaxconn": _gunicorn(("--backlog", "8192"), None),
    "uvicorn: default backlog, kernel default somaxconn": _uvicorn((), None),
    # every option from UVICORN_*; --uds a Unix socket; localhost two sockets
    "uvicorn: UVICORN_HOST and UVICORN_PORT": Case(
        "uvicorn", 7015, 1000, "python:3.11", command=("uvicorn", "app:app"),
        env=(("UVICORN_HOST", "0.0.0.0"), ("UVICORN_PORT", "7015"), ("UVICORN_BACKLOG", "300")),
    ),
    "uvicorn: --host localhost": Case("uvicorn", 7005, 128, "python:3.11", command=("uvicorn", "--host", "localhost", "--port", "7005", "app:app")),
    "uvicorn: --host ::": Case("uvicorn", 7005, 1000, "python:3.11", command=("uvicorn", "--host", "::", "--port", "7005", "--backlog", "400", "app:app")),
    "uvicorn: --workers 2 --host ::": Case(
        "uvicorn", 7005, 1000, "python:3.11", command=("uvicorn", "--workers", "2", "--host", "::", "--port", "7005", "--backlog", "500", "app:app")
    ),
    "uvicorn: default backlog above somaxconn 1024": _uvicorn((), 1024),
    "uvicorn: --backlog below somaxconn, --host 0.0.0.0": _uvicorn(("--backlog", "300", "--host", "0.0.0.0"), 1000),
    "uvicorn: --backlog equal to somaxconn": _uvicorn(("--backlog", "1000"), 1000),
    "uvicorn: --backlog above somaxconn": _uvicorn(("--backlog", "5000"), 1000),
    "uvicorn: UVICORN_BACKLOG below somaxconn": _uvicorn((), 1000, env=(("UVICORN_BACKLOG", "999"),)),
    "uvicorn: somaxconn raised by pod sysctl": _uvicorn(("--backlog", "8192"), 10000),
    "uvicorn: same backlog, kernel default somaxconn": _uvicorn(("--backlog", "8192"), None),
    # HAProxy: listener_backlog() -- bind backlog, frontend backlog, bind
    # maxconn, frontend maxconn (defaults' or global maxconn when unset)
    "haproxy: frontend backlog below somaxconn": _haproxy(1000, global_maxconn=3000, frontend="  backlog 300\n"),
    "haproxy: frontend backlog above somaxconn": _haproxy(1000, global_maxconn=3000, frontend="  backlog 5000\n"),
    "haproxy: bind backlog before frontend backlog": _haproxy(
        1000, global_maxconn=3000, frontend="  backlog 800\n", bind=" backlog 200", second_bind=""
    ),
    "haproxy: frontend maxconn only": _haproxy(1000, frontend="  maxconn 700\n"),
    "haproxy: bind maxconn before frontend maxconn": _haproxy(1000, frontend="  maxconn 700\n", bind=" maxconn 400", second_bind=""),
    "haproxy: frontend backlog before frontend maxconn": _haproxy(1000, frontend="  maxconn 700\n  backlog 250\n"),
    "haproxy: defaults maxconn": _haproxy(1000, global_maxconn=3000, defaults="  maxconn 600\n"),
    "haproxy: defaults backlog": _haproxy(1000, global_maxconn=3000, defaults="  backlog 450\n"),
    "haproxy: global maxconn only, below somaxconn": _haproxy(1000, global_maxconn=900),
    "haproxy: global maxconn only, kernel default somaxconn": _haproxy(None, global_maxconn=3000),
    "haproxy: global maxconn above somaxconn 128": _haproxy(128, global_maxconn=3000),
    "haproxy: -n on the command line replaces global maxconn": _haproxy(
        1000, global_maxconn=3000, args=("-f", HAPROXY_CFG, "-n", "500")
    ),
    "haproxy: command haproxy -f -db, frontend backlog": _haproxy(
        1000, global_maxconn=3000, frontend="  backlog 350\n", command=("haproxy", "-f", HAPROXY_CFG, "-db")
    ),
    # (no global maxconn: HAProxy raises its fd limit to about twice the
    # one set, and fails where the hard limit is lower -- 20000 here)
    "haproxy: somaxconn raised by pod sysctl": _haproxy(10000, frontend="  backlog 8192\n"),
    "haproxy: same backlog, kernel default somaxconn": _haproxy(None, frontend="  backlog 8192\n"),
    # Apache httpd: one global ListenBacklog, default 511
    "apache: default ListenBacklog, kernel default somaxconn": _apache(None),
    "apache: default ListenBacklog above somaxconn 128": _apache(128),
    "apache: ListenBacklog below somaxconn": _apache(1000, 300),
    "apache: ListenBacklog above somaxconn": _apache(1000, 5000),
    "apache: ListenBacklog for two Listen, one on a bare port": _apache(1000, 200, listen=("127.0.0.1:7007", "7017")),
    "apache: command httpd -DFOREGROUND": _apache(1000, 700, command=("httpd", "-DFOREGROUND")),
    "apache: somaxconn raised by pod sysctl": _apache(10000, 8192),
    "apache: same ListenBacklog, kernel default somaxconn": _apache(None, 8192),
    # PHP-FPM: listen.backlog; unset: the version's default
    "php-fpm: image's pool, kernel default somaxconn": _php_fpm(None),
    "php-fpm: image's pool, somaxconn 1000": _php_fpm(1000),
    "php-fpm: www.conf listen = 9000, listen.backlog below somaxconn": _php_fpm(1000, files=(("www.conf", _pool("9000", 300)),)),
    "php-fpm: www.conf listen = 127.0.0.1:9000, listen.backlog above somaxconn": _php_fpm(
        1000, files=(("www.conf", _pool("127.0.0.1:9000", 5000)),)
    ),
    "php-fpm: www.conf listen = 127.0.0.1:9000, no listen.backlog": _php_fpm(10000, files=(("www.conf", _pool("127.0.0.1:9000")),)),
    "php-fpm: zz-docker.conf listen.backlog": _php_fpm(
        10000, files=(("zz-docker.conf", _pool(backlog=2000, head="[global]\ndaemonize = no\n\n[www]\n")),)
    ),
    "php-fpm: www.conf and zz-docker.conf both set listen.backlog": _php_fpm(
        1000,
        files=(
            ("www.conf", _pool("9000", 300)),
            ("zz-docker.conf", _pool(backlog=700, head="[global]\ndaemonize = no\n\n[www]\n")),
        ),
    ),
    "php-fpm: php-fpm.d mounted whole, listen = 127.0.0.1:9000": _php_fpm(
        1000, files=(("www.conf", _pool("127.0.0.1:9000", 400)),), mount_dir=f"{PHP_PREFIX}/etc/php-fpm.d", command=("php-fpm", "-F")
    ),
    "php-fpm: a pool on a Unix socket beside the TCP one": _php_fpm(
        1000,
        files=(("zz-docker.conf", "[global]\ndaemonize = no\n\n[www]\n\n" + _pool("/run/php/api.sock", 300, head="[api]\n", tail="user = www-data\ngroup = www-data\npm = static\npm.max_children = 1\n")),),
    ),
    "php-fpm: a second pool in zz-docker.conf": _php_fpm(
        1000,
        files=(("zz-docker.conf", "[global]\ndaemonize = no\n\n[www]\n\n" + _pool("127.0.0.1:9001", 100, head="[api]\n", tail="user = www-data\ngroup = www-data\npm = static\npm.max_children = 1\n")),),
        more_ports=(9001,),
    ),
    # Go's net.Listen: the queue is somaxconn (a Go program named traefik)
    "traefik (Go net.Listen): kernel default somaxconn": _traefik(None),
    "traefik (Go net.Listen): somaxconn 128": _traefik(128),
    "traefik (Go net.Listen): somaxconn 1000": _traefik(1000),
    "traefik (Go net.Listen): somaxconn raised by pod sysctl": _traefik(10000),
}

# --------------------------------------------------------------------------
# Generated cases: the shapes every module must model -- a backlog or the
# default, every address a socket (IPv4 and IPv6 loopback, the wildcard),
# a Unix socket beside TCP -- spelled as each server spells them, with the
# backlog and the pod's somaxconn drawn from a seed: fixed seeds, and a
# fresh one per run (rerun a failure with SOMAXLINT_SERVERS_SEED=N).
# --------------------------------------------------------------------------

# the fixed seeds take each address shape in turn (seed % 4); a fresh seed draws one
SERVERS_FIXED_SEEDS = [0, 1, 2, 3]
SERVERS_FRESH_SEED = int(os.environ.get("SOMAXLINT_SERVERS_SEED") or random.SystemRandom().randrange(2**32))
ADDRESS_SHAPES = (["127.0.0.1"], ["::1"], ["127.0.0.1", "::1"], ["*"])


class _Draw(random.Random):
    def __init__(self, seed: int):
        super().__init__(seed)
        self.shape = ADDRESS_SHAPES[seed % 4] if seed in SERVERS_FIXED_SEEDS else None


def _draw(rng):
    """(backlog or None for the default, somaxconn or None for the kernel's,
    addresses: a non-empty subset of the loopbacks, or ["*"])."""
    backlog = rng.choice([None, rng.randint(16, 3000)])
    somaxconn = rng.choice([None, 64, 128, 1000, 4096])
    addresses = rng.shape or rng.choice(ADDRESS_SHAPES)
    return backlog, somaxconn, list(addresses)


def _hostport(address: str, port: int, wildcard: str = "0.0.0.0") -> str:
    host = wildcard if address == "*" else address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _gen_redis(rng, port):
    backlog, somaxconn, addresses = _draw(rng)
    command = ["redis-server", "--port", str(port)]
    if addresses != ["*"]:
        command += ["--bind"] + addresses
    if backlog is not None:
        command += ["--tcp-backlog", str(backlog)]
    if rng.random() < 0.5:
        command += ["--unixsocket", "redis.sock"]
    return Case("redis", port, somaxconn, "redis:7.2", command=tuple(command))


def _gen_memcached(rng, port):
    backlog, somaxconn, addresses = _draw(rng)
    command = ["memcached", "-p", str(port), "-u", "root"]
    if addresses != ["*"]:
        command += ["-l", ",".join(f"[{a}]" if ":" in a else a for a in addresses)]
    if backlog is not None:
        command += ["-b", str(backlog)]
    return Case("memcached", port, somaxconn, "memcached:1.6", command=tuple(command))


def _gen_gunicorn(rng, port):
    backlog, somaxconn, addresses = _draw(rng)
    command = ["gunicorn"]
    for address in addresses:
        command += ["--bind", _hostport(address, port)]
    if backlog is not None:
        command += ["--backlog", str(backlog)]
    if rng.random() < 0.5:
        command += ["--bind", "unix:app.sock"]
    return Case("gunicorn", port, somaxconn, "python:3.11", command=tuple(command + ["app:application"]))


def _gen_uvicorn(rng, port):
    backlog, somaxconn, _ = _draw(rng)
    host = rng.choice(["127.0.0.1", "::1", "0.0.0.0", "::", "localhost"])
    command = ["uvicorn", "--host", host, "--port", str(port)]
    if backlog is not None:
        command += ["--backlog", str(backlog)]
    return Case("uvicorn", port, somaxconn, "python:3.11", command=tuple(command + ["app:app"]))


def _gen_waitress(rng, port):
    backlog, somaxconn, addresses = _draw(rng)
    command = ["waitress-serve"] + [f"--listen={_hostport(a, port, wildcard='*')}" for a in addresses]
    if backlog is not None:
        command += [f"--backlog={backlog}"]
    return Case("waitress", port, somaxconn, "python:3.11", command=tuple(command + ["app:application"]))


def _gen_hypercorn(rng, port):
    backlog, somaxconn, addresses = _draw(rng)
    command = ["hypercorn"]
    for address in addresses:
        command += ["-b", _hostport(address, port)]
    if backlog is not None:
        command += ["--backlog", str(backlog)]
    return Case("hypercorn", port, somaxconn, "python:3.11", command=tuple(command + ["app:app"]))


def _gen_puma(rng, port):
    import servers_puma  # (its image, app and the argv made runnable)

    backlog, somaxconn, addresses = _draw(rng)
    words = []
    for address in addresses:
        url = "tcp://" + _hostport(address, port)
        words += ["-b", url + (f"?backlog={backlog}" if backlog is not None else "")]
    return servers_puma._puma(words, somaxconn, port)


def _gen_daphne(rng, port):
    import servers_daphne

    backlog, somaxconn, addresses = _draw(rng)
    words = []
    for address in dict.fromkeys("127.0.0.1" if a == "::1" else a for a in addresses):  # (IPv4 endpoints: no escaped colons)
        if address == "*":
            words += ["-b", "0.0.0.0", "-p", str(port)]
        else:
            words += ["-e", f"tcp:port={port}:interface={address}" + (f":backlog={backlog}" if backlog is not None else "")]
    return servers_daphne._daphne(words, somaxconn, port)


def _gen_apache(rng, port):
    backlog, somaxconn, addresses = _draw(rng)
    listen = tuple(str(port) if a == "*" else _hostport(a, port) for a in addresses)
    case = _apache(somaxconn, backlog, listen=listen)
    return dataclasses.replace(case, more_ports=tuple(sorted(set(case.more_ports) - {case.port})))  # (one port, two addresses)


def _gen_php_fpm(rng, port):
    backlog, somaxconn, addresses = _draw(rng)
    spell = {"*": str(port), "127.0.0.1": f"127.0.0.1:{port}", "::1": f"[::1]:{port + 100}"}
    files = [("www.conf", _pool(spell[addresses[0]], backlog))]
    more = (port + 100,) if addresses[0] == "::1" else ()
    if len(addresses) > 1:
        # a second pool, on the other address and a port of its own
        files.append(("zz-docker.conf", "[global]\ndaemonize = no\n\n[www]\n\n" + _pool(
            spell[addresses[1]], backlog, head="[api]\n", tail="user = www-data\ngroup = www-data\npm = static\npm.max_children = 1\n"
        )))
        more = (port + 100,)
    files = tuple((f"{PHP_PREFIX}/etc/php-fpm.d/{n}", t) for n, t in files)
    if addresses[0] == "::1":
        return Case("php-fpm", port + 100, somaxconn, PHP_IMAGE, files=files)
    return Case("php-fpm", port, somaxconn, PHP_IMAGE, files=files, more_ports=more)


def _gen_haproxy(rng, port):
    """HAProxy's precedence (bind backlog, frontend backlog, bind maxconn,
    frontend maxconn, global maxconn), each set or not."""
    somaxconn = rng.choice([None, 64, 128, 1000, 4096])
    values = [rng.randint(16, 3000) for _ in range(4)]
    chosen = [rng.random() < 0.5 for _ in range(4)]
    bind = (f" backlog {values[0]}" if chosen[0] else "") + (f" maxconn {values[2]}" if chosen[2] else "")
    frontend = (f"  backlog {values[1]}\n" if chosen[1] else "") + (f"  maxconn {values[3]}\n" if chosen[3] else "")
    return _haproxy(somaxconn, global_maxconn=rng.randint(200, 3000), frontend=frontend, bind=bind)


GENERATORS = {
    "redis": _gen_redis, "memcached": _gen_memcached, "gunicorn": _gen_gunicorn, "uvicorn": _gen_uvicorn,
    "waitress": _gen_waitress, "hypercorn": _gen_hypercorn, "puma": _gen_puma, "daphne": _gen_daphne,
    "apache": _gen_apache, "php-fpm": _gen_php_fpm, "haproxy": _gen_haproxy,
}


def _generated(seed: int) -> Dict[str, Case]:
    rng = _Draw(seed)
    fresh = " (fresh)" if seed == SERVERS_FRESH_SEED and seed not in SERVERS_FIXED_SEEDS else ""
    return {
        f"{server}: generated, seed {seed}{fresh} (SOMAXLINT_SERVERS_SEED={seed})": make(rng, 7200 + i)
        for i, (server, make) in enumerate(sorted(GENERATORS.items()))
    }


for _seed in SERVERS_FIXED_SEEDS + [SERVERS_FRESH_SEED]:
    CASES.update(_generated(_seed))

if PHP_IMAGE.partition(":")[2].rpartition("-")[0] in PHP_DOCKER_CONF_LISTEN_FROM:
    # an older build of the installed branch (`listen = 9000` in zz-docker.conf)
    CASES["php-fpm: older image build, www.conf listen = 127.0.0.1:9000 overridden"] = _php_fpm(
        1000, files=(("www.conf", _pool("127.0.0.1:9000", 600)),), image=PHP_IMAGE.replace("-fpm", ".0-fpm")
    )

# Each further server's cases, in servers_<name>.py (server_case.py)
KITS = kits()
for _kit in KITS:
    assert not set(_kit.CASES) & set(CASES), _kit.__name__
    CASES.update(_kit.CASES)

# Cases where somaxlint and the kernel disagree: case -> the disagreement.
DISAGREEMENTS: Dict[str, str] = {}


# --------------------------------------------------------------------------
# Helpers this suite needs beyond lab.py
# --------------------------------------------------------------------------


class _Tally:
    def pytest_terminal_summary(self, terminalreporter):
        if any(SERVER_TALLY.values()):
            terminalreporter.write_line("server checks: " + ", ".join(f"{n} {what}" for what, n in SERVER_TALLY.items()))
            terminalreporter.write_line(
                "sockets equal to the kernel's, per server: " + ", ".join(f"{s} {n}" for s, n in sorted(SOCKETS_BY_SERVER.items()))
            )


@pytest.fixture(scope="session", autouse=True)
def _print_tally(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("somaxlint-server-tally"):
        manager.register(_Tally(), "somaxlint-server-tally")


class _Process:
    def __init__(self, popen: subprocess.Popen, log: Path):
        self.popen = popen
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def processes(netns):
    """Servers started in namespaces; killed before lab's netns fixture
    deletes the namespaces (it then kills anything left inside)."""
    started: List[_Process] = []
    yield started
    for process in started:
        if process.popen.poll() is None:
            try:
                os.kill(process.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            process.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _manifest(case: Case) -> str:
    pod = ""
    if case.somaxconn is not None:
        pod = f'      securityContext:\n        sysctls:\n        - name: net.core.somaxconn\n          value: "{case.somaxconn}"\n'
    container = f"      - name: {case.server}\n        image: {case.image}\n"
    if case.command:
        container += f"        command: {json.dumps(list(case.command))}\n"
    if case.args:
        container += f"        args: {json.dumps(list(case.args))}\n"
    if case.working_dir is not None:
        container += f"        workingDir: {case.working_dir}\n"
    elif case.image.startswith("python:"):
        container += "        workingDir: /app\n"
    if case.env:
        container += f"        env: {json.dumps([{'name': k, 'value': v} for k, v in case.env])}\n"
    name = case.server
    volumes = config_map = ""
    if case.files:
        keys = [(posixpath.basename(path), path, text) for path, text in case.files]
        if case.mount_dir:
            assert all(posixpath.dirname(path) == case.mount_dir for _, path, _ in keys), case.files
            mounts = f"        - name: conf\n          mountPath: {case.mount_dir}\n"
        else:
            mounts = "".join(f"        - name: conf\n          mountPath: {path}\n          subPath: {key}\n" for key, path, _ in keys)
        container += "        volumeMounts:\n" + mounts
        volumes = f"      volumes:\n      - name: conf\n        configMap:\n          name: {name}-conf\n"
        config_map = f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-conf\n  namespace: e2e\ndata:\n" + "".join(
            f"  {key}: |\n" + textwrap.indent(text, "    ") for key, _, text in keys
        )
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: e2e\nspec:\n"
        f"  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n"
        f"    spec:\n{pod}      containers:\n{container}{volumes}{config_map}"
    )


def _findings(directory: Path) -> List[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "somaxlint", "--format", "json", "--kernel", os.uname().release, str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


def _port_rows(ns, port: int) -> List[Tuple[str, Optional[int], int]]:
    return [row for row in ns.listeners() if row[1] == port]


@pytest.fixture(scope="session")
def go_server(tmp_path_factory) -> Path:
    """The Go program standing in for Traefik, built once with the packaged
    toolchain (requested only by the Traefik cases)."""
    go = _executable("go")
    build = tmp_path_factory.mktemp("go")
    (build / "main.go").write_text(GO_SERVER)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(build),
        "GOCACHE": str(build / "cache"),
        "GOPATH": str(build / "gopath"),
        "GO111MODULE": "off",  # one file, no module, nothing to download
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
        "CGO_ENABLED": "0",  # no C compiler needed (golang-go without recommends)
    }
    proc = subprocess.run([go, "build", "-o", "traefik", "main.go"], cwd=build, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"go build failed:\n{proc.stderr}"
    return build / "traefik"


@pytest.fixture(scope="session")
def mariadb_template(tmp_path_factory) -> Path:
    """A data directory mariadb-install-db made once, as the image's first
    start does."""
    _executable("mariadbd")
    data = tmp_path_factory.mktemp("mariadb") / "data"
    proc = subprocess.run(
        [_executable("mariadb-install-db"), "--no-defaults", "--user=root", f"--datadir={data}", "--auth-root-authentication-method=normal"],
        capture_output=True, text=True, timeout=300, cwd="/",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return data


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory) -> Tuple[str, Path]:
    """Debian's postgres binary and a data directory initdb made once, as
    the image's first start makes PGDATA: initdb's postgresql.conf
    (max_connections 100 where shared memory allows: asserted) with the
    image's `listen_addresses = '*'` (docker-library/postgres Dockerfile:
    `sed ... listen_addresses ... '*'` into postgresql.conf.sample)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        _executable("postgres")  # skips, or fails under CI, with the package named
    binary = found[-1]
    base = tmp_path_factory.mktemp("postgres")
    _traversable(base)
    data = base / "template"
    data.mkdir(mode=0o700)
    shutil.chown(data, "postgres", "postgres")
    initdb = str(Path(binary).parent / "initdb")
    proc = subprocess.run(
        ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", initdb, "-D", str(data), "--auth=trust", "--no-sync"],
        capture_output=True, text=True, timeout=300, cwd="/",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    conf = data / "postgresql.conf"
    text = conf.read_text()
    assert re.search(r"(?m)^max_connections = 100\b", text), "initdb chose another max_connections than the image's 100"
    conf.write_text(text + "\nlisten_addresses = '*'\n")
    return binary, data


def _traversable(path: Path) -> None:
    """The postgres user can reach ``path`` (pytest's temporary
    directories are the root user's, mode 0700)."""
    for part in [path] + list(path.parents):
        if str(part) in ("/", "/tmp"):
            break
        os.chmod(part, os.stat(part).st_mode | 0o011)


def _materialise(case: Case, root: Path) -> None:
    """ROOT: the image's files the server reads, then the manifest's
    ConfigMap keys at their paths in the container (see the docstring)."""
    if case.server == "php-fpm":
        for path, text in (PHP_OLD_LAYOUT_FILES if _php_old_layout(case.image) else PHP_IMAGE_FILES).items():
            _write(root, path, text)
        # the default error_log's directory: PREFIX/log under --prefix, the
        # image's /usr/local/var/log without it (used when no docker.conf)
        (root / PHP_PREFIX.lstrip("/") / "log").mkdir(parents=True)
    if case.server == "apache":
        server_root = root / HTTPD_ROOT.lstrip("/")
        (server_root / "logs").mkdir(parents=True)
        (server_root / "modules").symlink_to(DEBIAN_APACHE_MODULES)
    if case.mount_dir:
        shutil.rmtree(root / case.mount_dir.lstrip("/"), ignore_errors=True)
    for path, text in case.files:
        if case.server == "apache":
            # the config's one absolute path: its ServerRoot
            assert text.count(HTTPD_ROOT) == 1 and f'ServerRoot "{HTTPD_ROOT}"' in text, text
            text = text.replace(f'ServerRoot "{HTTPD_ROOT}"', f'ServerRoot "{root}{HTTPD_ROOT}"')
        if case.server == "php-fpm":
            # a pool on a socket path: under ROOT (its directory made, as the image has /run)
            for found in re.finditer(r"(?m)^\s*listen\s*=\s*(/\S+)", text):
                (root / found.group(1).lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            text = re.sub(r"(?m)^(\s*listen\s*=\s*)/", lambda m: f"{m.group(1)}{root}/", text)
        if case.server == "redis":
            # an `include` of an absolute path: where the case wrote it
            text = re.sub(r"(?m)^(\s*include\s+)/", lambda m: f"{m.group(1)}{root}/", text)
        _write(root, path, text)


def _write(root: Path, path: str, text: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _runnable(case: Case, root: Path, request) -> List[str]:
    """The container's argv as run here (see the docstring)."""
    argv = case.argv()
    mounted = {path for path, _ in case.files}
    argv = [str(root) + word if word in mounted else word for word in argv]
    word = argv[0]
    if case.server == "apache":
        if word == "httpd-foreground":  # the script: exec httpd -DFOREGROUND "$@"
            argv = ["httpd", "-DFOREGROUND"] + argv[1:]
        assert argv[0] == "httpd" and "-f" not in argv and "-d" not in argv, argv
        return [_executable("apache2"), "-f", str(root) + HTTPD_CONF] + argv[1:]
    if case.server == "php-fpm":
        assert word == "php-fpm" and not {"-p", "--prefix", "-y", "--fpm-config"} & set(argv), argv
        binary = _php_fpm_binary() or _executable("php-fpm")
        prefix = str(root) + PHP_PREFIX
        return [binary, "--prefix", prefix, "--fpm-config", f"{prefix}/etc/php-fpm.conf"] + argv[1:]
    if case.server == "traefik":
        assert word == "traefik", argv
        return [str(request.getfixturevalue("go_server"))] + argv[1:]
    if case.server == "mariadb":
        # the image's datadir and socket stood in for; no file but the
        # case's own read (Debian's /etc/mysql is not the image's): its
        # --defaults-file first, else --no-defaults; as root (the image's
        # gosu mysql: the queue does not depend on the user)
        assert word == "mariadbd", argv
        template = request.getfixturevalue("mariadb_template")
        data = root.parent / "mariadb-data"
        subprocess.run(["cp", "-a", str(template), str(data)], check=True)
        words = argv[1:]
        first = [w for w in words if w.startswith("--defaults-file=")]
        rest = [w for w in words if not w.startswith("--defaults-file=")]
        head = [first[0].replace("=", f"={root}", 1)] if first else ["--no-defaults"]
        return [_executable("mariadbd")] + head + ["--user=root", f"--datadir={data}", f"--socket={root.parent}/mariadb.sock", "--skip-grant-tables"] + rest
    by_kit = runnable_by_kit(KITS, case, root, argv, request)
    if by_kit is not None:
        return by_kit
    if case.server == "postgresql":
        # the image's PGDATA and socket directory stood in for, run as its
        # postgres user (the entrypoint's gosu); a mounted config_file at
        # its ROOT path
        assert word == "postgres" and not {"-D", "-k"} & set(argv), argv
        binary, template = request.getfixturevalue("postgres_template")
        data = root.parent / "pgdata"
        subprocess.run(["cp", "-a", str(template), str(data)], check=True)
        sockets = root.parent / "sockets"
        sockets.mkdir()
        shutil.chown(sockets, "postgres", "postgres")
        words = [w.replace("config_file=", f"config_file={root}", 1) if w.startswith("config_file=") else w for w in argv[1:]]
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", binary, "-D", str(data), "-k", str(sockets)] + words
    return [_executable(word)] + argv[1:]


def _start(ns, processes, case: Case, workdir: Path, request) -> _Process:
    root = workdir / "root"
    root.mkdir()
    if case.server == "postgresql":
        _traversable(workdir)
    _materialise(case, root)
    argv = _runnable(case, root, request)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(workdir)}
    env.update(dict(case.env))
    log = workdir / f"{case.server}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            ["ip", "netns", "exec", ns.name] + argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    process = _Process(popen, log)
    processes.append(process)
    return process


def _wait(ns, process: _Process, case: Case):
    """The server's sockets on each of the case's ports once it is up, or
    None once it has exited."""
    timeout = case.timeout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            return None
        rows = {port: _port_rows(ns, port) for port in case.ports}
        ready = "Ready to accept connections" in process.output() if case.server == "redis" else True
        if case.ready is not None:
            ready = case.ready in process.output()
        if all(rows.values()) and ready:
            time.sleep(0.05)  # a server may bind IPv4 and IPv6 one after the other
            return {port: _port_rows(ns, port) for port in case.ports}
        time.sleep(0.02)
    raise AssertionError(f"{case.argv()} did not listen on ports {case.ports} within {timeout}s:\n{process.output()}")


def _run_case(netns, processes, tmp_path: Path, case: Case, request):
    """Predict, reproduce; returns (explain's records per port, ss rows per
    port or None if the server exited, the process, the manifests'
    directory).  The process also carries ``ns`` (its namespace) and
    ``predicted`` (every record explain gives for the server)."""
    lint_dir = tmp_path / "manifests"
    lint_dir.mkdir()
    (lint_dir / "app.yaml").write_text(_manifest(case))
    records: Dict[int, List[dict]] = {}
    predicted = []
    for listener in predict(lint_dir):
        if listener["server"] == case.server:
            # a Go server's port is in its own configuration, which
            # somaxlint does not read (traefik.py): the case's port
            follows = listener["requested_backlog"] == -1
            port = case.port if listener["port"] is None and follows and listener["family"] != "unix" else listener["port"]
            predicted.append(dict(listener, port=port))
            if port is not None:
                records.setdefault(port, []).append(predicted[-1])
    assert sorted(records) == sorted(case.ports) and all(len({r["address"] for r in rs}) == len(rs) for rs in records.values()), (
        f"explain found {case.server} listeners {records}, the case expects one on each address of each of {case.ports}"
    )

    ns = netns(pod=True)  # (its /etc/hosts: the kubelet's, `localhost` as IPv4 and IPv6)
    if case.somaxconn is not None:
        ns.sysctl("net.core.somaxconn", case.somaxconn)
    for record in predicted:
        assert int(ns.sysctl("net.core.somaxconn")) == record["somaxconn"], "the namespace's somaxconn is not the one predicted"
    workdir = tmp_path / "app"
    workdir.mkdir()
    (workdir / "app.py").write_text(APP)
    (workdir / "server.js").write_text(NODE_APP)
    for name, text in case.app_files:
        (workdir / name).write_text(text)
    process = _start(ns, processes, case, workdir, request)
    rows = _wait(ns, process, case)
    process.ns, process.predicted = ns, predicted
    return records, rows, process, lint_dir


def _claimed(predicted: List[dict], rows: List[Tuple[str, Optional[int], int]]):
    """Each predicted record's sockets among ``rows`` (one port's, or the
    whole namespace's): a record on an address takes the rows on that
    address, one on every address (`*`) the IPv4 and IPv6 wildcards left;
    a Unix socket is matched by being one (its path in the container is
    not its path here).  Returns (record, its rows) pairs and the rows no
    record claims."""
    left = list(rows)
    pairs = []
    for record in sorted(predicted, key=lambda r: r["address"] == "*"):
        if record["family"] == "unix":
            mine = [r for r in left if r[0].startswith("unix:")][: record["sockets"]]
        elif record["address"] == "*":
            mine = [r for r in left if r[1] == record["port"] and r[0] in ("0.0.0.0", "::")]
        elif record["port"] is None:
            # a port the kernel picks (uWSGI's workers' socket behind its router)
            mine = [r for r in left if r[1] is not None and r[0] in (record["address"], "::ffff:" + record["address"])][:1]
        else:
            mine = [r for r in left if r[1] == record["port"] and r[0] in (record["address"], "::ffff:" + record["address"])]
        for row in mine:
            left.remove(row)
        pairs.append((record, mine))
    return pairs, left


def _params():
    for name in sorted(CASES):
        marks = [pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[name])] if name in DISAGREEMENTS else []
        yield pytest.param(name, id=name, marks=marks)


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(_params()))
def test_prediction_matches_the_real_server(netns, processes, tmp_path, request, name):
    case = CASES[name]
    records, rows_by_port, process, lint_dir = _run_case(netns, processes, tmp_path, case, request)
    record = records[case.port][0]
    output = process.output()

    if rows_by_port is None:
        # The server exited: the truth is a refusal.
        refusal = UWSGI_REFUSAL.search(output)
        assert process.popen.returncode != 0 and refusal, f"{case.argv()} exited {process.popen.returncode}:\n{output}"
        assert int(refusal.group(1)) == record["somaxconn"]
        assert record["effective_backlog"] is None, f"somaxlint predicts a queue of {record['effective_backlog']}; uWSGI refused"
        smx020 = [f for f in _findings(lint_dir) if f["rule"] == "SMX020"]
        assert len(smx020) == 1, "uWSGI refused to start and somaxlint reports no SMX020"
        assert refusal.group(0) in smx020[0]["message"], smx020[0]["message"]
        SERVER_TALLY["refusals confirmed"] += 1
        assert case.refuses, "the case was built for a server that starts"
        return

    wrong = []
    for port, rows in sorted(rows_by_port.items()):
        pairs, left = _claimed(records[port], rows)
        for predicted, mine in pairs:
            assert predicted["effective_backlog"] is not None, f"somaxlint predicts a refusal; {case.server} listens: {rows}"
            if not mine:
                wrong.append(f"predicted {predicted['address']}:{port}, kernel says {rows}")
            elif sorted({row[2] for row in mine}) != [predicted["effective_backlog"]]:
                wrong.append(f"predicted Send-Q {predicted['effective_backlog']} on {predicted['address']}:{port}, kernel says {mine}")
        if left:
            wrong.append(f"on port {port} the kernel lists sockets no prediction names: {left}")
    assert not wrong, "\n".join(wrong) + "\n" + _manifest(case)
    SERVER_TALLY["sockets compared"] += sum(len(rows) for rows in rows_by_port.values())
    SOCKETS_BY_SERVER[case.server] = SOCKETS_BY_SERVER.get(case.server, 0) + sum(len(rows) for rows in rows_by_port.values())
    assert not case.refuses, "the case was built for a server that refuses to start"

    if case.server == "redis":
        # Redis's own start-up warning against SMX001's message naming it.
        warning = REDIS_WARNING.search(output)
        smx001 = [f for f in _findings(lint_dir) if f["rule"] == "SMX001"]
        if record["effective_backlog"] < record["requested_backlog"]:
            assert warning, f"Redis did not warn about tcp-backlog {record['requested_backlog']}:\n{output}"
            assert (int(warning.group(1)), int(warning.group(2))) == (record["requested_backlog"], record["somaxconn"])
            # one finding per socket the backlog is cut on (a Unix socket too), each naming the warning
            assert smx001 and all(warning.group(0) in f["message"] for f in smx001), smx001
            SERVER_TALLY["start-up warnings confirmed"] += 1
        else:
            assert not warning and not smx001, (warning, smx001)


SOCKET_COUNT_CASES = [
    "redis: default tcp-backlog, kernel default somaxconn",
    "memcached: default backlog, kernel default somaxconn",
    "uvicorn: --backlog below somaxconn, --host 0.0.0.0",
    "haproxy: bind backlog before frontend backlog",
    "apache: ListenBacklog for two Listen, one on a bare port",
    "php-fpm: image's pool, kernel default somaxconn",
    "traefik (Go net.Listen): kernel default somaxconn",
]
# case -> the disagreement (socket counts)
SOCKET_COUNT_DISAGREEMENTS: Dict[str, str] = {}  # none left: a failing case goes here with its numbers


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, id=n, marks=[pytest.mark.xfail(strict=True, reason=SOCKET_COUNT_DISAGREEMENTS[n])] if n in SOCKET_COUNT_DISAGREEMENTS else [])
        for n in SOCKET_COUNT_CASES
    ],
)
def test_wildcard_listeners_socket_count(netns, processes, tmp_path, request, name):
    """explain's `sockets` for a listener on every address, against the
    LISTEN sockets the server really opens on that port."""
    records, rows_by_port, process, _ = _run_case(netns, processes, tmp_path, CASES[name], request)
    assert rows_by_port is not None, process.output()
    for port, rows in rows_by_port.items():
        pairs, left = _claimed(records[port], rows)
        for record, mine in pairs:
            assert len(mine) == record["sockets"], f"explain predicts {record['sockets']} socket(s) on {record['address']}:{port}, kernel lists {rows}"
        assert not left, f"on port {port} the kernel lists sockets no prediction names: {left}"


# case -> the sockets its server opens that explain does not predict (or
# predicts wrongly), in the namespace as a whole: each is a class the module
# does not model yet.  A case that agrees is not listed; a listed case that
# starts agreeing fails (strict), so the list only shrinks.
EVERY_SOCKET_DISAGREEMENTS: Dict[str, str] = {}


def _settled(ns, timeout: float = 5.0):
    """The namespace's listening sockets once they stop changing (a server
    may open its control or admin sockets after its main one)."""
    deadline = time.monotonic() + timeout
    rows = ns.listeners()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        again = ns.listeners()
        if again == rows:
            return rows
        rows = again
    return rows


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, id=n, marks=[pytest.mark.xfail(strict=True, reason=EVERY_SOCKET_DISAGREEMENTS[n])] if n in EVERY_SOCKET_DISAGREEMENTS else [])
        for n in sorted(CASES)
        if not CASES[n].refuses
    ],
)
def test_every_socket_the_server_opens_is_predicted(netns, processes, tmp_path, request, name):
    """Not only the case's ports: every TCP and Unix listening socket in the
    pod's namespace is one explain predicts, with its queue -- a socket the
    user did not write (a control socket, an admin endpoint, a Unix socket)
    shows here as a disagreement, not as silence."""
    case = CASES[name]
    _, rows_by_port, process, _ = _run_case(netns, processes, tmp_path, case, request)
    assert rows_by_port is not None, process.output()
    rows = _settled(process.ns)
    pairs, left = _claimed(process.predicted, rows)
    wrong = [f"predicted {r['address']}:{r['port']} ({r['family']}), kernel has no such socket" for r, mine in pairs if not mine]
    wrong += [
        f"predicted Send-Q {r['effective_backlog']} on {r['address']}:{r['port']}, kernel says {mine}"
        for r, mine in pairs
        if mine and sorted({row[2] for row in mine}) != [r["effective_backlog"]]
    ]
    wrong += [f"the kernel lists a socket no prediction names: {row}" for row in left]
    # the line explain says `ss -lntH` prints, as it prints it
    lines = process.ns.ss_tcp_lines()
    wrong += [f"explain's ss_line {r['ss_line']!r} is not among {lines}" for r, _ in pairs if r["ss_line"] and r["ss_line"] not in lines]
    assert not wrong, "\n".join(wrong)
    SERVER_TALLY.setdefault("cases agreeing on every socket", 0)
    SERVER_TALLY["cases agreeing on every socket"] += 1


# Configurations the server refuses before it listens (SMX028), each run
# with the real server: it must exit printing the message the finding quotes.
REFUSED_CASES: Dict[str, Case] = {
    "apache: ListenBacklog 0": _apache(1000, 0),
    "apache: two Listen of one address and port": _apache(1000, listen=("127.0.0.1:7007", "127.0.0.1:7017", "127.0.0.1:7007")),
    "apache: Listen inside a VirtualHost": _apache(1000),
}
_VHOST = "<VirtualHost *:7007>\n  Listen 127.0.0.1:7027\n</VirtualHost>\n"
REFUSED_CASES["apache: Listen inside a VirtualHost"] = Case(
    "apache", 7007, 1000, "httpd:2.4",
    files=tuple((path, text + _VHOST) for path, text in REFUSED_CASES["apache: Listen inside a VirtualHost"].files),
)


@pytest.mark.parametrize("name", sorted(REFUSED_CASES))
def test_a_refused_configuration_is_what_the_server_refuses(netns, processes, tmp_path, request, name):
    case = REFUSED_CASES[name]
    lint_dir = tmp_path / "manifests"
    lint_dir.mkdir()
    (lint_dir / "app.yaml").write_text(_manifest(case))
    assert [l for l in predict(lint_dir) if l["server"] == case.server] == [], "a refused configuration has no listener"
    [finding] = [f for f in _findings(lint_dir) if f["rule"] == "SMX028"]
    quoted = re.search(r'exits: "([^"]+)"', finding["message"]).group(1)

    ns = netns(pod=True)
    workdir = tmp_path / "app"
    workdir.mkdir()
    process = _start(ns, processes, case, workdir, request)
    try:
        process.popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{case.server} did not exit: it accepted the configuration somaxlint says it refuses ({quoted})")
    output = process.output()
    assert process.popen.returncode != 0 and quoted in output, f"{case.server} exited {process.popen.returncode}:\n{output}"
    assert not [row for row in ns.listeners() if row[1] is not None], "a server that refused its configuration listens"
    SERVER_TALLY["refusals confirmed"] += 1

"""What a case of the server kernel suite (test_servers_truth.py) is, and
what each server's cases need from the machine.

A server's cases live in their own file beside this one,
``servers_<name>.py``, which the suite loads (see ``kits``).  Such a file
defines:

* ``SERVERS``: explain's ``server`` names its cases are about;
* ``CASES``: name -> ``Case``, each name starting with the server's;
* optionally ``PROVIDED_BY`` (command word -> the package that installs
  it, named when it is missing), ``ENTRYPOINT``/``IMAGE_CMD``/
  ``SCRIPT_SUFFIXES`` (the official image's entrypoint and CMD, as below),
  and ``runnable(case, root, argv, request) -> argv``: the container's argv
  made runnable on this machine (``root`` stands in for the container's
  filesystem, with the case's ConfigMap keys written at their paths);
  without it, the command word is resolved with ``executable``.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent

# The official images' entrypoints: `docker-entrypoint.sh -x` runs `server -x`.
ENTRYPOINT = {"redis": "redis-server", "memcached": "memcached", "haproxy": "haproxy", "postgresql": "postgres", "nodejs": "node", "mariadb": "mariadbd"}
# node's entrypoint also prepends `node` to a script that is not a command,
# redis's `redis-server` to a first argument ending in .conf
SCRIPT_SUFFIXES = {"nodejs": (".js", ".mjs", ".cjs"), "redis": (".conf",)}
# The official images' CMD, run when the manifest gives no command and no args.
IMAGE_CMD = {
    "haproxy": ("haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"),
    "apache": ("httpd-foreground",),
    "php-fpm": ("php-fpm",),
}
# The Debian packages / PyPI distributions that provide each command.
PROVIDED_BY = {
    "redis-server": "Debian package redis-server",
    "memcached": "Debian package memcached",
    "uwsgi": "Debian packages uwsgi and uwsgi-plugin-python3",
    "gunicorn": "PyPI package gunicorn",
    "uvicorn": "PyPI package uvicorn",
    "haproxy": "Debian package haproxy",
    "apache2": "Debian package apache2",
    "php-fpm": "Debian package php-fpm",
    "go": "Debian package golang-go",
    "postgres": "Debian package postgresql",
    "node": "Debian package nodejs",
    "mariadbd": "Debian package mariadb-server",
}


@dataclass(frozen=True)
class Case:
    server: str  # explain's "server"
    port: int
    somaxconn: Optional[int]  # the pod's sysctl; None: the kernel default
    image: str
    command: Tuple[str, ...] = ()
    args: Tuple[str, ...] = ()
    env: Tuple[Tuple[str, str], ...] = ()
    refuses: bool = False  # what the case is built to show: the server exits
    # ConfigMap keys: (path in the container, text), each mounted with
    # subPath at its path, or all of them as the directory `mount_dir`
    files: Tuple[Tuple[str, str], ...] = ()
    mount_dir: Optional[str] = None
    more_ports: Tuple[int, ...] = ()  # further listeners the config opens
    # the container's workingDir (the manifest sets it; the test runs the
    # server in a temp dir standing in for it), and the application files
    # the image has there: (name, text)
    working_dir: Optional[str] = None
    app_files: Tuple[Tuple[str, str], ...] = ()
    # seconds the server may take to listen on every port; a text its
    # output prints once it is ready (before that its sockets may still be
    # changing)
    timeout: float = 15.0
    ready: Optional[str] = None

    @property
    def ports(self) -> Tuple[int, ...]:
        return (self.port,) + self.more_ports

    def argv(self) -> List[str]:
        """What the container runs: command + args, else the image's
        entrypoint given args or the image's CMD."""
        if self.command:
            return list(self.command) + list(self.args)
        words = list(self.args) or list(IMAGE_CMD.get(self.server, ()))
        if self.server in ENTRYPOINT and (not words or words[0].startswith("-") or words[0].endswith(SCRIPT_SUFFIXES.get(self.server, ()))):
            words = [ENTRYPOINT[self.server]] + words
        if self.server == "haproxy" and words[:1] == ["haproxy"]:
            words = ["haproxy", "-W", "-db"] + words[1:]  # docker-entrypoint.sh
        return words


def executable(word: str) -> str:
    """The command word resolved here; missing: skip, or fail under CI
    (the rule lab.kernel_lab applies)."""
    beside_python = Path(sys.executable).parent / word
    found = str(beside_python) if beside_python.exists() else shutil.which(word) or shutil.which(word, path="/usr/sbin:/sbin")
    if found and word == "uwsgi" and not _uwsgi_python3():
        found = None
    if not found:
        reason = f"{word} is not installed ({PROVIDED_BY.get(word, word)})"
        if os.environ.get("CI"):
            pytest.fail(f"server kernel tests cannot run in CI: {reason}")
        pytest.skip(reason)
    return found


def _uwsgi_python3() -> bool:
    return any(Path(d, "python3_plugin.so").exists() for d in ("/usr/lib/uwsgi/plugins", "/usr/lib/uwsgi"))


def kits() -> list:
    """The servers_<name>.py files beside this one, imported, their
    registries merged into this module's; each checked to name only cases
    of its own servers."""
    found = []
    for path in sorted(HERE.glob("servers_*.py")):
        kit = importlib.import_module(path.stem)
        for name, case in kit.CASES.items():
            assert case.server in kit.SERVERS and name.startswith(case.server), f"{path.name}: case {name!r} is not one of {kit.SERVERS}"
        PROVIDED_BY.update(getattr(kit, "PROVIDED_BY", {}))
        ENTRYPOINT.update(getattr(kit, "ENTRYPOINT", {}))
        IMAGE_CMD.update(getattr(kit, "IMAGE_CMD", {}))
        SCRIPT_SUFFIXES.update(getattr(kit, "SCRIPT_SUFFIXES", {}))
        found.append(kit)
    return found


def runnable_by_kit(found: list, case: Case, root: Path, argv: List[str], request) -> Optional[List[str]]:
    for kit in found:
        if case.server in kit.SERVERS and hasattr(kit, "runnable"):
            return kit.runnable(case, root, argv, request)
    return None


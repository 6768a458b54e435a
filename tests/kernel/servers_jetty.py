"""Kernel cases of Jetty (linter/servers/jetty.py): jetty-home's `java -jar
start.jar`, `jetty.http.acceptQueueSize` (default 0: the JDK's 50),
`jetty.http.port`, `jetty.http.host`, with Debian 12's jetty9 9.4 on its
default JDK (OpenJDK 17).

Each case's manifest runs the official `jetty` image's way: its CMD `java
-jar /usr/local/jetty/start.jar` (or the args its entrypoint prepends that
command to: a first argument that is not a command), JETTY_BASE
/var/lib/jetty its WORKDIR (eclipse/jetty.docker 9.4-jdk11/Dockerfile).
What the test changes (see test_servers_truth.py):

* start.jar is Debian's /usr/share/jetty9/start.jar, given
  `jetty.home=/usr/share/jetty9 jetty.base=ROOT/var/lib/jetty` right after
  it (the image's JETTY_HOME is /usr/local/jetty, its base the WORKDIR);
* ROOT/var/lib/jetty is made as the image makes its base, with `java -jar
  start.jar --create-startd --add-to-start=server,http,deploy` (the image
  adds jsp, jstl, ext, resources and websocket, which open no socket):
  start.d/*.ini with every property commented; a case's ConfigMap keys
  (start.d/http.ini) replace the file of their name;
* the image's entrypoint (a `--dry-run` turned into the final java
  command, and JAVA_OPTIONS) is not run: no case sets JAVA_OPTIONS;
* it runs as root (the image's USER is jetty: the queue does not depend
  on the user).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from server_case import Case, executable

SERVERS = ("jetty",)
PROVIDED_BY = {"java": "Debian package default-jdk-headless", "start.jar": "Debian package jetty9"}
IMAGE_CMD = {"jetty": ("java", "-jar", "/usr/local/jetty/start.jar")}

IMAGE = "jetty:9.4-jdk17"
HOME = "/usr/share/jetty9"
IMAGE_START = "/usr/local/jetty/start.jar"
BASE = "/var/lib/jetty"
READY = "oejs.Server:main: Started"


def _jetty(somaxconn, args=(), port=8080, **kw):
    return Case("jetty", port, somaxconn, IMAGE, args=tuple(args), ready=READY, timeout=60.0, **kw)


CASES = {
    # the image's CMD: one dual-stack socket on 8080, the JDK's 50
    "jetty: image defaults, kernel default somaxconn": _jetty(None),
    "jetty: default 50 above somaxconn 32": _jetty(32),
    # arguments the entrypoint prepends start.jar to; 127.0.0.1 is
    # [::ffff:127.0.0.1] (an IPv6 socket)
    "jetty: jetty.http.acceptQueueSize=300 below somaxconn 1000, jetty.http.host=127.0.0.1": _jetty(
        1000, args=("jetty.http.acceptQueueSize=300", "jetty.http.host=127.0.0.1")
    ),
    # the base's start.d/http.ini from a ConfigMap
    "jetty: start.d/http.ini mounted, acceptQueueSize 2000 above somaxconn 1000, port 8081": _jetty(
        1000, port=8081,
        files=((f"{BASE}/start.d/http.ini", "--module=http\njetty.http.port=8081\njetty.http.acceptQueueSize=2000\n"),),
    ),
    # the command line wins over a -D system property
    "jetty: command java -D... -jar start.jar, the argument wins, somaxconn 1000": _jetty(
        1000, command=("java", "-Djetty.http.acceptQueueSize=400", "-jar", IMAGE_START, "jetty.http.acceptQueueSize=250")
    ),
}

_TEMPLATE = []


def _template(java: str) -> Path:
    """A base made once as the image makes its own."""
    if not _TEMPLATE:
        import tempfile

        base = Path(tempfile.mkdtemp(prefix="jetty-base-"))
        proc = subprocess.run(
            [java, "-jar", f"{HOME}/start.jar", f"jetty.home={HOME}", f"jetty.base={base}", "--create-startd", "--add-to-start=server,http,deploy"],
            capture_output=True, text=True, timeout=120, cwd=base,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        _TEMPLATE.append(base)
    return _TEMPLATE[0]


def runnable(case: Case, root: Path, argv, request):
    java = executable("java")
    if not Path(f"{HOME}/start.jar").exists():
        executable("start.jar")  # not a command: skips, or fails under CI, naming jetty9
    if argv[0] != "java":
        argv = ["java", "-jar", IMAGE_START] + list(argv)  # docker-entrypoint.sh: set -- java -jar "$JETTY_HOME/start.jar" "$@"
    at = argv.index("-jar")
    assert argv[at + 1] == IMAGE_START, argv
    base = root / BASE.lstrip("/")
    base.mkdir(parents=True, exist_ok=True)
    template = _template(java)
    for path in template.rglob("*"):
        target = base / path.relative_to(template)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            shutil.copy(path, target)
    return [java] + argv[1:at] + ["-jar", f"{HOME}/start.jar", f"jetty.home={HOME}", f"jetty.base={base}"] + argv[at + 2:]

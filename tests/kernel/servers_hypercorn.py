"""Kernel cases of Hypercorn (linter/servers/hypercorn.py): `--backlog N`
(default 100), `-b/--bind` (repeatable; default 127.0.0.1:8000), `-c` TOML
config file (`backlog`, `bind`) mounted from a ConfigMap.

Each case's manifest runs the `python` image's Python with the ASGI
application `app:app` in its `workingDir: /app`, word for word.  What the
test changes (see test_servers_truth.py): `hypercorn` and `python` are the
scripts of the venv running the tests (hypercorn 0.18.0 from PyPI, Python
3.11 -- the image tag names that Python), found beside sys.executable;
/app is a temp dir holding the suite's app.py; the ConfigMap's
hypercorn.toml is written at ROOT/etc/hypercorn/hypercorn.toml and `-c`
is given that path (the suite's ROOT prefix of mounted paths; `runnable`
below prefixes the path of a `-c file:PATH` the same way).  Hypercorn
logs "Running on" once per socket after its worker listens: the cases wait
for it.
"""

from __future__ import annotations

from server_case import Case, executable

SERVERS = ("hypercorn",)
PROVIDED_BY = {"hypercorn": "PyPI package hypercorn"}

CONFIG = "/etc/hypercorn/hypercorn.toml"
PY_CONFIG = "/etc/hypercorn/hypercorn_conf.py"


def _hypercorn(words, somaxconn, port, command=("hypercorn",), **kw):
    return Case(
        "hypercorn", port, somaxconn, "python:3.11", command=tuple(command) + tuple(words) + ("app:app",),
        ready="Running on", **kw
    )


CASES = {
    # no options: 127.0.0.1:8000, 100 under the kernel's 4096
    "hypercorn: defaults, kernel default somaxconn": _hypercorn((), None, 8000),
    # the default 100 fits somaxconn 128
    "hypercorn: default backlog below somaxconn 128": _hypercorn(("-b", "0.0.0.0:7411"), 128, 7411),
    # the default 100 cut by somaxconn 64
    "hypercorn: default backlog above somaxconn 64": _hypercorn(("--bind=0.0.0.0:7412",), 64, 7412),
    # --backlog below a raised somaxconn; [::] is one dual-stack socket; a bind without a port is :8000
    "hypercorn: --backlog 300 below somaxconn 1000, three binds": _hypercorn(
        ("-b", "[::]:7413", "-b", "0.0.0.0:7414", "--bind", "127.0.0.1", "--backlog", "300"), 1000, 7413, more_ports=(7414, 8000)
    ),
    # the TOML config file: bind and backlog (2000, cut by somaxconn 1000)
    "hypercorn: -c TOML backlog 2000 and bind, somaxconn 1000": _hypercorn(
        ("-c", CONFIG), 1000, 7415,
        files=((CONFIG, 'bind = ["0.0.0.0:7415"]\nbacklog = 2000\nworkers = 1\n\n[logging]\nversion = 1\n'),)
    ),
    # the command line over the file: --backlog and -b win
    "hypercorn: --backlog and -b over the TOML config, python -m hypercorn, somaxconn 1000": _hypercorn(
        ("--config", CONFIG, "--backlog", "700", "-b", "127.0.0.1:7416"), 1000, 7416, command=("python", "-m", "hypercorn"),
        files=((CONFIG, 'bind = "0.0.0.0:7499"\nbacklog = 2000\n'),)
    ),
    # --insecure-bind without TLS opens nothing
    "hypercorn: --insecure-bind without TLS, somaxconn 500": _hypercorn(
        ("-b", "0.0.0.0:7417", "--insecure-bind", "0.0.0.0:7418", "--backlog", "250"), 500, 7417
    ),
    # `-c file:PATH`: a Python config file, its literal settings
    "hypercorn: -c file: Python config backlog 1500 below somaxconn 2000": _hypercorn(
        ("-c", f"file:{PY_CONFIG}"), 2000, 7419,
        files=((PY_CONFIG, 'import os\n\nbind = ["0.0.0.0:7419"]\nbacklog = 1500\naccesslog = "-"\n'),)
    ),
}


def runnable(case, root, argv, request):
    """The container's argv as run here: the command word resolved, a
    mounted `file:PATH` config at its ROOT path."""
    mounted = {path for path, _ in case.files}
    words = [f"file:{root}{w[5:]}" if w.startswith("file:") and w[5:] in mounted else w for w in argv]
    return [executable(words[0])] + words[1:]

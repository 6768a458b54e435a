"""Kernel cases of Daphne (linter/servers/daphne.py): Twisted's endpoint
default backlog 50, `-b`/`-p` (default 127.0.0.1:8000), `-e` endpoint
strings with and without `backlog=`.

Each case's manifest runs the `python` image's Python with the ASGI
application `app:app` in its `workingDir: /app`, word for word.  What the
test changes (see test_servers_truth.py): `daphne` and `python` are the
scripts of the venv running the tests (daphne 4.2.3 and Twisted 26.10.0
from PyPI, Python 3.11 -- the image tag names that Python), found beside
sys.executable; /app is a temp dir holding the suite's app.py (Daphne
puts "." on sys.path).  Daphne has no config file.  It logs "Listening on
TCP address" per TCP socket; a unix socket is not a case here (the suite
compares TCP ports).
"""

from __future__ import annotations

from server_case import Case

SERVERS = ("daphne",)
PROVIDED_BY = {"daphne": "PyPI package daphne (with Twisted)"}


def _daphne(words, somaxconn, port, command=("daphne",), **kw):
    return Case(
        "daphne", port, somaxconn, "python:3.11", command=tuple(command) + tuple(words) + ("app:app",),
        ready="Listening on TCP address", **kw
    )


CASES = {
    # no options: 127.0.0.1:8000, 50 under the kernel's 4096
    "daphne: defaults, kernel default somaxconn": _daphne((), None, 8000),
    # the default 50 fits somaxconn 128
    "daphne: default backlog below somaxconn 128": _daphne(("-b", "0.0.0.0", "-p", "7421"), 128, 7421),
    # the default 50 cut by somaxconn 32
    "daphne: default backlog above somaxconn 32": _daphne(("--port", "7422"), 32, 7422),
    # -e backlog= below a raised somaxconn, beside -b/-p's default 50
    "daphne: -e backlog=300 below somaxconn 1000, and -b -p": _daphne(
        ("-e", "tcp:port=7423:backlog=300:interface=0.0.0.0", "-b", "0.0.0.0", "-p", "7424"), 1000, 7423, more_ports=(7424,)
    ),
    # tcp6: one dual-stack socket on ::, its backlog above somaxconn; python -m daphne
    "daphne: python -m daphne, -e tcp6 backlog=2000 above somaxconn 1000": _daphne(
        ("-e", "tcp6:port=7425:backlog=2000",), 1000, 7425, command=("python", "-m", "daphne")
    ),
    # -b :: (escaped into the endpoint string): one dual-stack socket, 50
    "daphne: -b :: -p, somaxconn 100": _daphne(("-b", "::", "-p", "7426"), 100, 7426),
}

"""Kernel cases of Waitress (linter/servers/waitress.py): `waitress-serve`
and `python -m waitress`, `--backlog=N` (default 1024), `--listen`
(repeatable; `*` is IPv4 and IPv6), `--port`.

Each case's manifest runs the `python` image's Python with the WSGI
application `app:application` in its `workingDir: /app`, word for word.
What the test changes (see test_servers_truth.py): `waitress-serve` and
`python` are the scripts of the venv running the tests (waitress 3.0.2 from
PyPI, Python 3.11 -- the image tag names that Python), found beside
sys.executable; /app is a temp dir holding the suite's app.py.  Waitress
has no config file (`waitress-serve` reads its command line only), so no
case mounts one.  Waitress prints "Serving on" once per socket after
listening: the cases wait for it.
"""

from __future__ import annotations

from server_case import Case

SERVERS = ("waitress",)
PROVIDED_BY = {"waitress-serve": "PyPI package waitress"}


def _waitress(words, somaxconn, port, command=("waitress-serve",), **kw):
    return Case(
        "waitress", port, somaxconn, "python:3.11", command=tuple(command) + tuple(words) + ("app:application",),
        ready="Serving on", **kw
    )


CASES = {
    # no options: 0.0.0.0:8080 (one IPv4 socket), 1024 under the kernel's 4096
    "waitress: defaults, kernel default somaxconn": _waitress((), None, 8080),
    # the default 1024 cut by somaxconn 128
    "waitress: default backlog above somaxconn 128": _waitress(("--port=7401",), 128, 7401),
    # --backlog below a raised somaxconn; `*`: two sockets, 0.0.0.0 and [::]
    "waitress: --backlog 300 below somaxconn 1000, --listen=*": _waitress(("--listen=*:7402", "--backlog", "300"), 1000, 7402),
    # python -m waitress, two --listen, --backlog above somaxconn
    "waitress: python -m waitress, two --listen, --backlog=5000 above somaxconn 1000": _waitress(
        ("--listen=127.0.0.1:7403", "--listen=127.0.0.1:7404", "--backlog=5000"), 1000, 7403,
        command=("python", "-m", "waitress"), more_ports=(7404,)
    ),
    # --no-ipv6: `*` is one IPv4 socket; the last --backlog wins
    "waitress: --no-ipv6 --listen=*, last --backlog wins, somaxconn 2000": _waitress(
        ("--no-ipv6", "--listen=*:7405", "--backlog=100", "--backlog=1500"), 2000, 7405
    ),
    # --host=:: (an IPv6-only socket: waitress sets IPV6_V6ONLY), the default cut by somaxconn 700
    "waitress: --host=:: --port, default backlog above somaxconn 700": _waitress(("--host=::", "--port=7406"), 700, 7406),
}

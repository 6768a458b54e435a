"""Kernel cases of Python's `python -m http.server`
(linter/servers/python_http_server.py): listen(5), no option changes it;
without -b one IPv4 socket on 0.0.0.0.

Each case's manifest runs the `python` image (python:3.11, the Python of
the venv running the tests) with `python -m http.server ...` or `python3
-m http.server ...`, word for word.  What the test changes (see
test_servers_truth.py): `python`/`python3` are the venv's interpreter
(CPython 3.11.7), found beside sys.executable; the working directory
(the manifest's /app) is a temp dir, which http.server serves.  Other
versions (3.6-3.10, 3.12, 3.13, 2.7's SimpleHTTPServer) were measured by
hand, as the module's docstring says: same socket, same queue.
"""

from __future__ import annotations

from server_case import Case

SERVERS = ("python-http-server",)

PORT = 7021


def _http_server(words, somaxconn, python="python"):
    return Case(
        "python-http-server", PORT, somaxconn, "python:3.11", command=(python, "-m", "http.server") + tuple(words)
    )


CASES = {
    # no -b: 0.0.0.0 (glibc's first passive result), 5 under the kernel's 4096
    "python-http-server: defaults, kernel default somaxconn": _http_server((str(PORT),), None),
    # even 5 is cut by a smaller somaxconn
    "python-http-server: default queue above somaxconn 3": _http_server((str(PORT),), 3),
    # somaxconn raised: the queue stays at 5
    "python-http-server: --bind 127.0.0.1 below a raised somaxconn": _http_server(("--bind", "127.0.0.1", str(PORT)), 10000),
    # `-b ::`: one dual-stack socket (DualStackServer clears IPV6_V6ONLY)
    "python-http-server: python3 -b :: with --directory, somaxconn 128": _http_server(
        ("-b", "::", "--directory", "/tmp", str(PORT)), 128, python="python3"
    ),
    # options after the port; --protocol (3.11+)
    "python-http-server: port before -b and --protocol, somaxconn 1000": _http_server(
        (str(PORT), "-b", "0.0.0.0", "--protocol", "HTTP/1.1"), 1000
    ),
}

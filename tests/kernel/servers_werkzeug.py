"""Kernel cases of Werkzeug's development server as `flask run` starts it
(linter/servers/werkzeug.py): listen(128) whatever the command line says.

Each case's manifest runs the `python` image's Python with the Flask
application in its `workingDir: /app` (hello.py, a Flask app): `flask
--app hello run ...` or `python -m flask ...`, word for word.  What the
test changes (see test_servers_truth.py): `flask` and `python` are the
scripts of the venv running the tests (Flask 3.1.3, Werkzeug 3.1.9 from
PyPI, Python 3.11 -- the image tag names that Python), found beside
sys.executable; /app is a temp dir holding hello.py.  `--reload` runs the
reloader: the parent binds and listens, the child inherits the socket
(WERKZEUG_SERVER_FD) -- that case waits for the parent's "Restarting
with" line (printed as it starts the child), the others for "Press CTRL+C
to quit" (printed once the socket listens).
"""

from __future__ import annotations

from server_case import Case

SERVERS = ("werkzeug",)
PROVIDED_BY = {"flask": "PyPI package Flask (with Werkzeug)"}

HELLO = """\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "ok\\n"
"""

PORT = 7020


def _flask(words, somaxconn, command=("flask", "--app", "hello"), env=(), ready="Press CTRL+C to quit"):
    return Case(
        "werkzeug", PORT, somaxconn, "python:3.11", command=tuple(command) + ("run",) + tuple(words), env=tuple(env),
        app_files=(("hello.py", HELLO),), ready=ready,
    )


CASES = {
    # 127.0.0.1 (flask run's default --host), 128 under the kernel's 4096
    "werkzeug: flask run, kernel default somaxconn": _flask(("--port", str(PORT)), None),
    # the fixed 128 cut by a lower somaxconn
    "werkzeug: flask run above somaxconn 64": _flask(("-p", str(PORT), "-h", "0.0.0.0"), 64),
    # somaxconn raised: the queue stays at 128 (no option asks for more)
    "werkzeug: flask run --host 0.0.0.0 below a raised somaxconn": _flask(("--host=0.0.0.0", f"--port={PORT}"), 10000),
    # `::`: one dual-stack socket
    "werkzeug: flask run --host ::, somaxconn 1000": _flask(("--host", "::", "--port", str(PORT)), 1000),
    # FLASK_RUN_HOST / FLASK_RUN_PORT (click's auto_envvar_prefix), python -m flask
    "werkzeug: python -m flask, FLASK_RUN_HOST and FLASK_RUN_PORT, somaxconn 100": _flask(
        (), 100, command=("python", "-m", "flask"), env=(("FLASK_APP", "hello"), ("FLASK_RUN_HOST", "0.0.0.0"), ("FLASK_RUN_PORT", str(PORT)))
    ),
    # the command line over the environment
    "werkzeug: --port over FLASK_RUN_PORT, somaxconn 2000": _flask(
        ("--port", str(PORT)), 2000, env=(("FLASK_RUN_PORT", "7999"), ("FLASK_RUN_HOST", "0.0.0.0"))
    ),
    # the reloader's parent listens, its child inherits the socket
    "werkzeug: flask run --reload, somaxconn 100": _flask(
        ("--reload", "--host", "0.0.0.0", "--port", str(PORT)), 100, ready="Restarting with"
    ),
}

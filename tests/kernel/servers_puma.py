"""Kernel cases of Puma (linter/servers/puma.py): the bind backlog 1024
(`?backlog=N` on a bind URL), `-b`, `-p`, `-C` and the default
config/puma.rb read from the working directory.

Each case's manifest runs the `ruby:3.1` image with `workingDir: /app`,
where the image's app is a one-line `config.ru` (Case.app_files), started
the way such images are: `bundle exec puma ...`.  What the test changes
(see test_servers_truth.py):

* `bundle exec` is dropped: there is no Gemfile here, and Bundler execs
  its operand unchanged; `puma` is Debian's (/usr/bin/puma, puma 5.6.5,
  ruby 3.1, ruby-rack), run as root (the queue does not depend on the
  user).  Puma 5.6.5's default host is 0.0.0.0; Puma 8's is `::` where the
  pod has IPv6 -- one socket either way, which is what explain predicts
  ("*");
* /app is the suite's temp dir: the ConfigMap keys mounted under /app are
  written there too (at their path relative to /app), so Puma finds
  config/puma.rb in its working directory as in the pod; an absolute
  mounted path (`-C /etc/puma/puma.rb`) is ROOT-prefixed by the suite.

The suite compares TCP ports only: UNIX binds are not cases here (they were
measured by hand: see the module's docstring).  Puma prints "Use Ctrl-C to
stop" once every bind listens.  `runnable` serves servers_unicorn.py too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from server_case import Case, executable

SERVERS = ("puma",)
PROVIDED_BY = {"puma": "Debian packages puma and ruby-rack"}

CONFIG_RU = 'run ->(env) { [200, {"content-type" => "text/plain"}, ["ok\\n"]] }\n'


def _puma(words, somaxconn, port, files=(), env=(), **kw):
    return Case(
        "puma", port, somaxconn, "ruby:3.1", command=("bundle", "exec", "puma") + tuple(words), files=tuple(files), env=tuple(env),
        working_dir="/app", app_files=(("config.ru", CONFIG_RU),), ready="Use Ctrl-C to stop", **kw
    )


PUMA_RB = """\
# config/puma.rb as Rails generates it, plus one bind with a backlog
max_threads_count = ENV.fetch("RAILS_MAX_THREADS") { 5 }
threads max_threads_count, max_threads_count
port ENV.fetch("PORT") { 3000 }
bind "tcp://127.0.0.1:7435?backlog=50"
plugin :tmp_restart
"""

PUMA_ETC = """\
bind "tcp://0.0.0.0:7437?backlog=2000"
"""


CASES = {
    # no bind anywhere (no config/puma.rb in /app): tcp://0.0.0.0:9292, 1024 under the kernel's 4096
    "puma: defaults, kernel default somaxconn": _puma((), None, 9292),
    # -p: a bind on the default host, 1024 cut by somaxconn 128
    "puma: -p, default backlog above somaxconn 128": _puma(("-p", "7431"), 128, 7431),
    # ?backlog= below a raised somaxconn; a dual-stack [::] bind above it
    "puma: -b backlog=300 below somaxconn 1000, [::] backlog=2000 above": _puma(
        ("-b", "tcp://0.0.0.0:7432?backlog=300", "-b", "tcp://[::]:7433?backlog=2000"), 1000, 7432, more_ports=(7433,)
    ),
    # the default config file, read from the working directory: port from PORT, a bind with backlog 50
    "puma: config/puma.rb in the working directory, PORT, somaxconn 200": _puma(
        (), 200, 7434, files=(("/app/config/puma.rb", PUMA_RB),), env=(("PORT", "7434"),), more_ports=(7435,)
    ),
    # -C names a file whose bind the command line's -p replaces
    "puma: -C file's bind replaced by -p, somaxconn 600": _puma(
        ("-C", "/etc/puma/puma.rb", "-p", "7436"), 600, 7436, files=(("/etc/puma/puma.rb", PUMA_ETC),)
    ),
}


def runnable(case: Case, root: Path, argv, request):
    words = list(argv)
    if words[:2] == ["bundle", "exec"]:
        words = words[2:]
    assert words[0] in ("puma", "unicorn"), words  # (servers_unicorn.py runs this too)
    # the files mounted under the working directory, in the stand-in for it
    workdir = root.parent
    app = root / "app"
    if app.is_dir():
        for path in app.rglob("*"):
            if path.is_file():
                target = workdir / path.relative_to(app)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    return [executable(words[0])] + words[1:]

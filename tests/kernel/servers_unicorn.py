"""Kernel cases of Unicorn (linter/servers/unicorn.py): `listen ADDR,
backlog: N` in its `-c` config file, `-l`, `-p`, default 0.0.0.0:8080 at
1024.

Each case's manifest runs the `ruby:3.1` image with `workingDir: /app`,
where the image's app is a one-line `config.ru` (Case.app_files), started
the way such images are: `bundle exec unicorn ...`.  What the test changes
(see test_servers_truth.py):

* `bundle exec` is dropped: there is no Gemfile here, and Bundler execs
  its operand unchanged; `unicorn` is Debian's (/usr/bin/unicorn, unicorn
  6.0.0, ruby 3.1, ruby-rack), run as root (the queue does not depend on
  the user);
* /app is the suite's temp dir: the ConfigMap keys mounted under /app are
  written there too (at their path relative to /app), so a relative `-c
  config/unicorn.rb` is read from the working directory as in the pod; an
  absolute mounted path is ROOT-prefixed by the suite.

The suite compares TCP ports only: UNIX listeners are not cases here
(measured by hand: see the module's docstring).  Unicorn prints "master
process ready" once every listener is bound.
"""

from __future__ import annotations

from servers_puma import CONFIG_RU, runnable  # noqa: F401 (the same stand-ins)
from server_case import Case

SERVERS = ("unicorn",)
PROVIDED_BY = {"unicorn": "Debian packages unicorn and ruby-rack"}


def _unicorn(words, somaxconn, port, files=(), env=(), **kw):
    return Case(
        "unicorn", port, somaxconn, "ruby:3.1", command=("bundle", "exec", "unicorn") + tuple(words), files=tuple(files),
        env=tuple(env), working_dir="/app", app_files=(("config.ru", CONFIG_RU),), ready="master process ready", **kw
    )


UNICORN_RB = """\
worker_processes 2
timeout 30
preload_app true
listen 7442, backlog: 300
listen "[::]:7443", :backlog => 2000
before_fork do |server, worker|
  Signal.trap "TERM" do
    Process.kill "QUIT", Process.pid
  end
end
"""

CASES = {
    # no listener named: 0.0.0.0:8080, 1024 under the kernel's 4096
    "unicorn: defaults, kernel default somaxconn": _unicorn((), None, 8080),
    # -p: one listener 0.0.0.0:PORT, 1024 cut by somaxconn 128
    "unicorn: -p, default backlog above somaxconn 128": _unicorn(("-p", "7441"), 128, 7441),
    # the -c file's listen backlogs, below and above a raised somaxconn, and -l's default 1024 above it
    "unicorn: -c listen backlog: 300 below somaxconn 1000, 2000 above, -l": _unicorn(
        ("-c", "config/unicorn.rb", "-l", "7444", "-E", "production"), 1000, 7442,
        files=(("/app/config/unicorn.rb", UNICORN_RB),), more_ports=(7443, 7444)
    ),
    # -l names an address the file's listen gives a backlog: one socket, the file's backlog
    "unicorn: -l and the file's listen of one address, somaxconn 4096": _unicorn(
        ("-l", "0.0.0.0:7442", "--config-file", "/app/config/unicorn.rb"), 4096, 7442,
        files=(("/app/config/unicorn.rb", UNICORN_RB),), more_ports=(7443,)
    ),
}

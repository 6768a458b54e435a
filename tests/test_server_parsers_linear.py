"""Each server module's reader of its configuration files costs time linear
in the file: doubling the input about doubles the CPU time (see
test_linearity.py for the measure).  The inputs repeat what the reader
takes (settings, blocks, binds), and nest where the format nests.  The
collector is paused while a reader is timed: its full passes over every
live object grow with all the tuples a large file leaves, which a busy
machine turns into ratios above the bound that no reader causes."""

from __future__ import annotations

import gc
import importlib

import pytest

from test_linearity import BOUND, _doubling

N = 4000

CASES = {
    "clickhouse._xml": lambda n: "<clickhouse>\n" + "<listen_host>::</listen_host>\n<listen_backlog>64</listen_backlog>\n" * n + "</clickhouse>\n",
    "consul._parse": lambda n: 'ports {\n  http = 8500\n  dns = 8600\n}\nclient_addr = "0.0.0.0"\n' * n,
    "coredns._corefile": lambda n: "".join(f".:{1000 + i % 60000} {{\n    health :8080\n    forward . /etc/resolv.conf\n}}\n" for i in range(n)),
    "etcd._yaml_keys": lambda n: "listen-client-urls: http://0.0.0.0:2379\nname: x\n" * n,
    "hypercorn._python_settings": lambda n: "backlog = 100\nbind = ['0.0.0.0:8000']\n" * n,
    "jetty._ini": lambda n: "--module=http\njetty.http.port=8080\njetty.http.acceptQueueSize=50\n" * n,
    "kafka._properties": lambda n: "socket.listen.backlog.size=50\nlisteners=PLAINTEXT://:9092\n" * n,
    "mongodb._yaml_net": lambda n: "net:\n  port: 27017\n  listenBacklog: 100\n" + "# padding\nstorage:\n  dbPath: /data\n" * n,
    "mysql._cnf": lambda n: "[mysqld]\nback_log = 50\nmax_connections = 151\n" * n,
    "nats._parse": lambda n: "port: 4222\ncluster {\n  port: 6222\n  routes: [nats://a:6222]\n}\n" * n,
    "nats._parse (nested)": lambda n: "a {\n" * n + "port: 4222\n" + "}\n" * n,
    "pgbouncer._ini": lambda n: "[pgbouncer]\nlisten_port = 6432\nlisten_backlog = 128\n" * n,
    "puma._calls": lambda n: 'bind "tcp://0.0.0.0:3000"\nport ENV.fetch("PORT") { 3000 }\n' * n,
    "rabbitmq._conf": lambda n: "listeners.tcp.default = 5672\ntcp_listen_options.backlog = 128\n" * n,
    "redis._directives": lambda n: "tcp-backlog 511\nbind 127.0.0.1\ninclude /etc/redis/x.conf\n" * n,
    "unicorn._calls": lambda n: 'listen 8080, backlog: 64\nworker_processes 4\n' * n,
    "vault._parse": lambda n: 'listener "tcp" {\n  address = "0.0.0.0:8200"\n  tls_disable = 1\n}\n' * n,
    "vault._parse (nested)": lambda n: "a {\n" * n + 'address = "0.0.0.0:8200"\n' + "}\n" * n,
    "vault._parse (nested lists)": lambda n: "a = " + "[" * n + "1" + "]" * n + "\n",
    "vault._parse (nested JSON)": lambda n: '{"a": ' * n + "1" + "}" * n,
    "nats._parse (nested lists)": lambda n: ("a: " + "[" * n + "1" + "]" * n + "\n") * 8,
    "coredns._corefile (nested)": lambda n: ".:53 {\n" + "x {\n" * n + "}\n" * n + "}\n",
}


def _reader(name: str):
    module, _, function = name.split(" ")[0].partition(".")
    return getattr(importlib.import_module(f"somaxlint.servers.{module}"), function)


@pytest.mark.parametrize("name", sorted(CASES))
def test_doubling_a_config_file_about_doubles_its_reading(name):
    read, make = _reader(name), CASES[name]
    small, large = make(N), make(2 * N)
    gc.collect()
    gc.disable()
    try:
        ratio = _doubling(read, small, large)
    finally:
        gc.enable()
    assert ratio < BOUND, f"{name}: doubling the input multiplied the time by {ratio:.1f}"

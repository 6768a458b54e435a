"""NATS's kernel cases (server_case.py): Debian's nats-server 2.9.10
(/usr/sbin/nats-server) stands in for the official image's.

The official image (nats-io/nats-docker @aa0caa57, 2.10.x/scratch):
ENTRYPOINT /nats-server, CMD `--config nats-server.conf` (the image sets no
WORKDIR: /nats-server.conf), whose text is IMAGE_CONFIG below, word for word;
arguments in the manifest replace the CMD.  What the test changes from the
pod: the command word is Debian's /usr/sbin/nats-server; config paths are
under ROOT, where the image's file is written when the manifest does not
mount one over it.
"""

from __future__ import annotations

import posixpath
from typing import Dict

from server_case import Case, executable

SERVERS = ("nats",)
PROVIDED_BY = {"nats-server": "Debian package nats-server"}
ENTRYPOINT = {"nats": "nats-server"}
IMAGE_CMD = {"nats": ("--config", "nats-server.conf")}

IMAGE = "nats:2.10"
IMAGE_CONFIG_PATH = "/nats-server.conf"
IMAGE_CONFIG = '# Client port of 4222 on all interfaces\nport: 4222\n\n# HTTP monitoring port\nmonitor_port: 8222\n\n# This is for clustering multiple servers together.\ncluster {\n  # It is recommended to set a cluster name\n  name: "my_cluster"\n\n  # Route connections to be received on any interface on port 6222\n  port: 6222\n\n  # Routes are protected, so need to use them with --routes flag\n  # e.g. --routes=nats-route://ruser:T0pS3cr3t@otherdockerhost:6222\n  authorization {\n    user: ruser\n    password: T0pS3cr3t\n    timeout: 2\n  }\n\n  # Routes are actively solicited and connected to from this server.\n  # This Docker image has none by default, but you can pass a\n  # flag to the nats-server docker image to create one to an existing server.\n  routes = []\n}\n'
CONF = "/etc/nats-config/nats.conf"
BLOCKS = """\
# clients on loopback, monitoring on loopback
listen: 127.0.0.1:5222
http: "127.0.0.1:5822"
server_name: $SERVER_NAME
cluster {
  name: c1
  port: 5622        # every address
}
leafnodes { port: 5722 }
websocket {
  port = 5443
  no_tls: true
}
mqtt: { listen: "127.0.0.1:5883" }
"""

CASES: Dict[str, Case] = {
    # the image's CMD: its built-in file, clients, monitoring and routes on *
    "nats: the image's built-in config, kernel default somaxconn": Case("nats", 4222, None, IMAGE, more_ports=(8222, 6222)),
    # arguments replace the CMD: no config file, only what they name
    "nats: -p and -m, somaxconn 128": Case("nats", 4333, 128, IMAGE, args=("-p", "4333", "-m", "8333"), more_ports=(8333,)),
    "nats: mounted config with cluster, leafnodes, websocket, mqtt, somaxconn 1000": Case(
        "nats", 5222, 1000, IMAGE, command=("nats-server", "--config", CONF), env=(("SERVER_NAME", "nats-0"),),
        files=((CONF, BLOCKS),), more_ports=(5822, 5622, 5722, 5443, 5883),
    ),
    # the command line over the file: -a/-p for clients, -m keeps the
    # file's http host, --cluster replaces cluster's listen
    "nats: command line over the mounted config, somaxconn raised by pod sysctl": Case(
        "nats", 6000, 10000, IMAGE, env=(("SERVER_NAME", "nats-0"),),
        args=("--config", CONF, "-p", "6000", "-m", "6001", "-a", "127.0.0.2", "--cluster", "nats://127.0.0.3:6002"),
        files=((CONF, BLOCKS),), more_ports=(6001, 6002, 5722, 5443, 5883),
    ),
}


def runnable(case, root, argv, request):
    assert posixpath.basename(argv[0]) == "nats-server", argv
    words = list(argv[1:])
    for i, word in enumerate(words[:-1]):
        if word in ("--config", "-c", "-config"):
            path = words[i + 1]
            path = path[len(str(root)):] if path.startswith(str(root)) else path
            path = posixpath.normpath(posixpath.join("/", path))
            target = root / path.lstrip("/")
            if path == IMAGE_CONFIG_PATH and not target.exists():
                target.write_text(IMAGE_CONFIG)
            words[i + 1] = str(target)
    return [executable("nats-server")] + words

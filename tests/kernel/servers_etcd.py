"""etcd's kernel cases (server_case.py): Debian's etcd-server 3.4.23
(/usr/bin/etcd) stands in for the images' etcd.

What the test changes from the pod: the command word (`etcd`,
`/usr/local/bin/etcd`) is Debian's /usr/bin/etcd; the data directory is
etcd's default, `default.etcd` in the working directory (a temp dir: the
images' WORKDIR is not used; no case names --data-dir); a mounted
--config-file is read at its ROOT path (the file sets no data-dir).  The
images (quay.io/coreos/etcd) have no entrypoint and CMD `/usr/local/bin/etcd`:
a manifest without command or args runs etcd with no options.
"""

from __future__ import annotations

from typing import Dict

from server_case import Case, executable

SERVERS = ("etcd",)
PROVIDED_BY = {"etcd": "Debian package etcd-server"}
IMAGE_CMD = {"etcd": ("etcd",)}

IMAGE = "quay.io/coreos/etcd:v3.4.23"
CONF = "/etc/etcd/etcd.yaml"

CASES: Dict[str, Case] = {
    # localhost:2379 and localhost:2380: 127.0.0.1, one socket each
    "etcd: defaults, kernel default somaxconn": Case("etcd", 2379, None, IMAGE, more_ports=(2380,)),
    "etcd: client URL on every address, somaxconn 128": Case(
        "etcd", 2379, 128, IMAGE,
        command=("/usr/local/bin/etcd", "--listen-client-urls=http://0.0.0.0:2379", "--advertise-client-urls=http://127.0.0.1:2379"),
        more_ports=(2380,),
    ),
    "etcd: ETCD_LISTEN_* environment, somaxconn 1000": Case(
        "etcd", 3379, 1000, IMAGE, command=("etcd",),
        env=(
            ("ETCD_LISTEN_CLIENT_URLS", "http://127.0.0.1:3379"),
            ("ETCD_ADVERTISE_CLIENT_URLS", "http://127.0.0.1:3379"),
            ("ETCD_LISTEN_PEER_URLS", "http://127.0.0.1:3380"),
            ("ETCD_LISTEN_METRICS_URLS", "http://127.0.0.1:3381"),
        ),
        more_ports=(3380, 3381),
    ),
    # the file replaces the command line: its --listen-client-urls is ignored
    "etcd: config file mounted, somaxconn raised by pod sysctl": Case(
        "etcd", 4379, 10000, IMAGE,
        command=("etcd", f"--config-file={CONF}", "--listen-client-urls=http://127.0.0.1:5379"),
        files=((CONF, (
            "name: default\n"
            "listen-client-urls: http://127.0.0.1:4379,http://0.0.0.0:4479   # two sockets\n"
            "advertise-client-urls: 'http://127.0.0.1:4379'\n"
            "listen-peer-urls: \"http://127.0.0.1:4380\"\n"
        )),),
        more_ports=(4479, 4380),
    ),
}


def runnable(case, root, argv, request):
    assert argv[0].rsplit("/", 1)[-1] == "etcd", argv
    words = []
    for word in argv[1:]:
        if word.startswith("--config-file=/"):
            word = word.replace("=", f"={root}", 1)
        words.append(word)
    return [executable("etcd")] + words

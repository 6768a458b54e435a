"""Prometheus's kernel cases (server_case.py): Debian's prometheus 2.42.0
(/usr/bin/prometheus) stands in for the images' Prometheus.

The images (prom/prometheus, quay.io/prometheus/prometheus) have ENTRYPOINT
/bin/prometheus and CMD `--config.file=/etc/prometheus/prometheus.yml
--storage.tsdb.path=/prometheus`.  What the test changes from the pod: the
command word is Debian's /usr/bin/prometheus; the paths of
--config.file and --storage.tsdb.path are under ROOT, where the image's
prometheus.yml is written (reduced: one scrape job of itself, as the
image's default file has) and /prometheus is an empty directory.
"""

from __future__ import annotations

from typing import Dict

from server_case import Case, executable

SERVERS = ("prometheus",)
PROVIDED_BY = {"prometheus": "Debian package prometheus"}
ENTRYPOINT = {"prometheus": "prometheus"}
IMAGE_CMD = {"prometheus": ("--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus")}

IMAGE = "prom/prometheus:v2.42.0"
IMAGE_CONFIG = (
    "global:\n  scrape_interval: 15s\n"
    "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['localhost:9090']\n"
)
OPERATOR_ARGS = (
    "--web.console.templates=/etc/prometheus/consoles",
    "--web.console.libraries=/etc/prometheus/console_libraries",
    "--config.file=/etc/prometheus/prometheus.yml",
    "--storage.tsdb.path=/prometheus",
    "--web.enable-lifecycle",
)

CASES: Dict[str, Case] = {
    # 0.0.0.0:9090: one dual-stack socket
    "prometheus: defaults, kernel default somaxconn": Case("prometheus", 9090, None, IMAGE),
    "prometheus: defaults, somaxconn 128": Case("prometheus", 9090, 128, IMAGE),
    # the Prometheus Operator's args, listenLocal
    "prometheus: --web.listen-address=127.0.0.1:9091, somaxconn 1000": Case(
        "prometheus", 9091, 1000, IMAGE, args=("--web.listen-address=127.0.0.1:9091",) + OPERATOR_ARGS
    ),
    "prometheus: --web.listen-address :9092, somaxconn raised by pod sysctl": Case(
        "prometheus", 9092, 10000, IMAGE, args=OPERATOR_ARGS + ("--web.listen-address", ":9092")
    ),
}


def runnable(case, root, argv, request):
    assert argv[0] == "prometheus", argv
    config = root / "etc/prometheus/prometheus.yml"
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(IMAGE_CONFIG)
    (root / "prometheus").mkdir(exist_ok=True)
    words = []
    for word in argv[1:]:
        for flag in ("--config.file=", "--storage.tsdb.path=", "--web.console.templates=", "--web.console.libraries="):
            if word.startswith(flag + "/"):
                word = flag + str(root) + word[len(flag):]
        words.append(word)
    return [executable("prometheus")] + words

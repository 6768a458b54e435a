"""RabbitMQ's cases of the server kernel suite (test_servers_truth.py):
Debian's rabbitmq-server 3.10.8 (Erlang/OTP 25) stands in for the
official image's build; the image tags name the same release.

What the test changes from the pod, and nothing else:

* the image's CMD `rabbitmq-server` (docker-library/rabbitmq: ENTRYPOINT
  docker-entrypoint.sh, CMD ["rabbitmq-server"]) runs Debian's
  /usr/lib/rabbitmq/bin/rabbitmq-server as root (the image steps down to
  its rabbitmq user with gosu: the queues do not depend on the user);
* the image's paths stood in for under ROOT through RabbitMQ's own
  variables: RABBITMQ_CONFIG_FILE=ROOT/etc/rabbitmq/rabbitmq.conf (the
  image's path; an empty file when the manifest mounts none),
  RABBITMQ_CONFIG_FILES=ROOT/etc/rabbitmq/conf.d holding the image's
  10-defaults.conf (`loopback_users.guest = false`, `log.console = true`),
  RABBITMQ_ENABLED_PLUGINS_FILE=ROOT/etc/rabbitmq/enabled_plugins -- the
  manifest's when it mounts one, else the image's: `[rabbitmq_prometheus].`
  (the Dockerfile's `rabbitmq-plugins enable --offline rabbitmq_prometheus`),
  with rabbitmq_management for a `-management` tag -- and
  RABBITMQ_MNESIA_BASE / RABBITMQ_LOG_BASE in the case's temp dir (the
  image's /var/lib/rabbitmq volume); HOME (the Erlang cookie) is the temp
  dir the suite sets;
* epmd is started by the VM inside the namespace, as in the container.
"""

from __future__ import annotations

from pathlib import Path

from server_case import Case, executable

SERVERS = ("rabbitmq",)
IMAGE_CMD = {"rabbitmq": ("rabbitmq-server",)}
PROVIDED_BY = {"rabbitmq-server": "Debian package rabbitmq-server"}

CONF = "/etc/rabbitmq/rabbitmq.conf"
PLUGINS = "/etc/rabbitmq/enabled_plugins"
IMAGE_DEFAULTS_CONF = (
    "## DEFAULT SETTINGS ARE NOT MEANT TO BE TAKEN STRAIGHT INTO PRODUCTION\n"
    "loopback_users.guest = false\nlog.console = true\n"
)
DEBIAN_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
# the ports every RabbitMQ pod listens on besides AMQP: distribution, epmd,
# prometheus (enabled in the image)
NODE = (25672, 4369, 15692)


def _rabbitmq(somaxconn, tag="3.10", files=(), more=NODE, port=5672, **kw):
    return Case("rabbitmq", port, somaxconn, f"rabbitmq:{tag}", files=tuple(files), more_ports=tuple(more),
                timeout=90.0, ready="completed with", **kw)


CASES = {
    # 128 for AMQP and distribution, epmd's SOMAXCONN 4096 (two sockets),
    # Ranch's 1024 for the prometheus plugin
    "rabbitmq: image defaults, kernel default somaxconn": _rabbitmq(None),
    # the -management image: 15672 too; all cut to 128
    "rabbitmq: management image defaults above somaxconn 128": _rabbitmq(128, tag="3.10-management", more=NODE + (15672,)),
    # rabbitmq.conf: the AMQP backlog below a raised somaxconn, and a second
    # AMQP listener on one address; MQTT's own backlog, STOMP's default
    "rabbitmq: tcp_listen_options.backlog below somaxconn, plugins mounted": _rabbitmq(
        10000,
        files=(
            (CONF, "loopback_users.guest = false\ntcp_listen_options.backlog = 3000\nlisteners.tcp.default = 5672\n"
                   "listeners.tcp.local = 127.0.0.1:5673\nmqtt.tcp_listen_options.backlog = 700   # MQTT's own\n"),
            (PLUGINS, "[rabbitmq_prometheus,rabbitmq_mqtt,rabbitmq_stomp].\n"),
        ),
        more=NODE + (5673, 1883, 61613),
    ),
    # listeners.tcp.default wins over RABBITMQ_NODE_PORT for AMQP; the
    # distribution port follows the variable (+ 20000)
    "rabbitmq: RABBITMQ_NODE_PORT and listeners.tcp.default, somaxconn 1000": _rabbitmq(
        1000, port=5690, files=((CONF, "listeners.tcp.default = 5690\nstream.tcp_listen_options.backlog = 5000\n"),
                                (PLUGINS, "[rabbitmq_prometheus,rabbitmq_stream].")),
        more=(25680, 4369, 15692, 5552), env=(("RABBITMQ_NODE_PORT", "5680"),),
    ),
    # RABBITMQ_ENABLED_PLUGINS replaces the enabled_plugins file (no
    # prometheus), `listeners.tcp = none` drops AMQP, an MQTT listener on one
    # address, RABBITMQ_DIST_PORT; epmd below somaxconn 100
    "rabbitmq: RABBITMQ_ENABLED_PLUGINS, listeners.tcp = none, somaxconn 100": _rabbitmq(
        100, port=1884, files=((CONF, "listeners.tcp = none\nmqtt.listeners.tcp.a = 127.0.0.1:1884\n"),),
        more=(25999, 4369), env=(("RABBITMQ_ENABLED_PLUGINS", "rabbitmq_mqtt"), ("RABBITMQ_DIST_PORT", "25999")),
    ),
}


def runnable(case: Case, root: Path, argv, request):
    assert argv == ["rabbitmq-server"], argv
    executable("rabbitmq-server")
    etc = root / "etc" / "rabbitmq"
    etc.mkdir(parents=True, exist_ok=True)
    conf = etc / "rabbitmq.conf"
    if not conf.exists():
        conf.write_text("")
    conf_d = etc / "conf.d"
    conf_d.mkdir(exist_ok=True)
    (conf_d / "10-defaults.conf").write_text(IMAGE_DEFAULTS_CONF)
    plugins = etc / "enabled_plugins"
    if not plugins.exists():
        names = ["rabbitmq_prometheus"] + (["rabbitmq_management"] if "management" in case.image else [])
        plugins.write_text("[" + ",".join(names) + "].\n")
    state = root.parent / "rabbitmq-state"
    (state / "mnesia").mkdir(parents=True)
    (state / "log").mkdir()
    return [
        "env",
        f"RABBITMQ_CONFIG_FILE={conf}",
        f"RABBITMQ_CONFIG_FILES={conf_d}",
        f"RABBITMQ_ENABLED_PLUGINS_FILE={plugins}",
        f"RABBITMQ_MNESIA_BASE={state / 'mnesia'}",
        f"RABBITMQ_LOG_BASE={state / 'log'}",
        DEBIAN_SERVER,
    ]

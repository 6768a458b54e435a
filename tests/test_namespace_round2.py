"""The pod network namespace, second round: a pod setting that *lowers*
somaxconn is not "raised", and a server container that sets somaxconn in
its own command before it starts its server (`sysctl -w ... && exec
nginx`) listens with the new value.  Through the CLI, with exact codes,
positions and numbers; tests/kernel/test_kernel_truth.py reproduces both in
real namespaces."""

import json

import pytest

from conftest import config_map, deployment, position

CONFIG = {"nginx.conf": "events {}\nhttp {\n    server {\n        listen 80;\n    }\n    server {\n        listen 8080 backlog=3000;\n    }\n}\n"}


def _sysctl(value):
    return f'securityContext:\n  sysctls:\n  - name: net.core.somaxconn\n    value: "{value}"'


def _findings(project, *args):
    run = project.run("--format", "json", *args, ".")
    return [(f["rule"], f["severity"], f["location"]["line"], f["location"]["column"], f["message"]) for f in run.json["findings"]]


# --------------------------------------------------------------------------
# Lowering is not raising
# --------------------------------------------------------------------------


def test_lowering_on_5_15_is_not_smx002_and_smx001_says_it_was_lowered(project):
    text = deployment(pod_extra=_sysctl(1024)) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    findings = _findings(project, "--kernel", "5.15", "--select", "SMX001,SMX002")
    line, column = position(text, "listen 8080")
    assert findings == [
        (
            "SMX001",
            "error",
            line,
            column,
            "backlog=3000 on 0.0.0.0:8080 is truncated to 1024 by net.core.somaxconn 1024 (securityContext.sysctls of "
            "Deployment/default/web, which lowers it from the kernel default 4096) in container 'nginx' of "
            "Deployment/default/web; the accept queue holds at most 1025 connections and further SYNs are dropped. "
            "Raise net.core.somaxconn for the pod to at least 3000 and keep the backlog at the queue size you need: both "
            "knobs limit it",
        )
    ]
    listeners = {l["port"]: l for l in project.explain("--kernel", "5.15", ".")}
    assert (listeners[80]["effective_backlog"], listeners[8080]["effective_backlog"]) == (511, 1024)


def test_raising_on_4_19_is_still_smx002(project):
    text = deployment(pod_extra=_sysctl(1024)) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    findings = _findings(project, "--kernel", "4.19", "--select", "SMX002")
    line, column = position(text, "listen 80;")
    assert findings == [
        (
            "SMX002",
            "warning",
            line,
            column,
            "net.core.somaxconn is raised to 1024 from the kernel default 128 (securityContext.sysctls of "
            "Deployment/default/web), but nginx listens on 0.0.0.0:80 with its default backlog 511 in container 'nginx' "
            "of Deployment/default/web: the accept queue stays at 511 (ss -lnt Send-Q). Add backlog=1024 (or the size "
            "you need) to this listen",
        )
    ]


def test_unknown_kernel_raised_only_when_above_every_default(project):
    project.write("d.yaml", deployment(pod_extra=_sysctl(1024)) + "---\n" + config_map(files=CONFIG))
    # 1024 > 128 (before 5.4) but < 4096 (5.4 and later): not raised everywhere
    assert _findings(project, "--select", "SMX002") == []
    project.write("d.yaml", deployment(pod_extra=_sysctl(8192)) + "---\n" + config_map(files=CONFIG))
    assert [f[:2] for f in _findings(project, "--select", "SMX002")] == [("SMX002", "warning")]


def test_somaxconn_raised_and_lowered_properties():
    from somaxlint.model.netns import KERNEL_DEFAULT, POD_SYSCTLS, Somaxconn, SysctlSetting

    pod = SysctlSetting("net.core.somaxconn", "1024", POD_SYSCTLS, None, "pod")
    default = SysctlSetting("net.core.somaxconn", "4096", KERNEL_DEFAULT, None, "default")
    assert not Somaxconn((1024,), pod, defaults=(4096,)).raised and Somaxconn((1024,), pod, defaults=(4096,)).lowered
    assert Somaxconn((1024,), pod, defaults=(128,)).raised
    assert not Somaxconn((1024,), pod, defaults=(4096, 128)).raised  # unknown kernel
    assert Somaxconn((8192,), pod, defaults=(4096, 128)).raised
    assert not Somaxconn((4096,), pod, defaults=(4096,)).raised  # equal is not raised
    assert not Somaxconn((4096,), default, defaults=(4096,)).raised


# --------------------------------------------------------------------------
# The server's own container sets the sysctl before exec
# --------------------------------------------------------------------------


def _own(command, privileged=True, image="nginx:1.25", extra_containers=""):
    security = "securityContext:\n  privileged: true\n" if privileged else ""
    text = deployment(image=image, container_extra=f"command: {json.dumps(command)}\n{security}") + "---\n" + config_map(files=CONFIG)
    if extra_containers:
        text = text.replace("      volumes:\n", extra_containers + "      volumes:\n", 1)
    return text


@pytest.mark.parametrize(
    "script",
    [
        "sysctl -w net.core.somaxconn=2000 && exec nginx -g 'daemon off;'",
        "echo 2000 > /proc/sys/net/core/somaxconn; exec nginx -g 'daemon off;'",
        "sysctl -w net.core.somaxconn=0x7d0 || true\nexec /usr/sbin/nginx -g 'daemon off;'",
    ],
)
def test_privileged_server_container_raises_somaxconn_before_its_own_listen(project, script):
    text = _own(["sh", "-c", script])
    project.write("d.yaml", text)
    listeners = {l["port"]: l for l in project.explain("--kernel", "4.19", ".")}
    assert [(l["somaxconn"], l["somaxconn_possible"], l["effective_backlog"]) for _, l in sorted(listeners.items())] == [
        (2000, [2000], 511),
        (2000, [2000], 2000),
    ]
    assert listeners[80]["somaxconn_origin"] == "container 'nginx' of Deployment/default/web, in its command before nginx starts"
    line, column = position(text, json.dumps(script)[1:])
    assert listeners[80]["somaxconn_source"] == {"path": "d.yaml", "line": line, "column": column - 1}
    findings = _findings(project, "--kernel", "4.19", "--select", "SMX001,SMX002,SMX007,SMX011")
    # no late write, no failed write: "raised, backlog not" for the default
    # listen, and backlog=3000 above the raised 2000
    assert sorted((f[0], f[2]) for f in findings) == [
        ("SMX001", position(text, "listen 8080")[0]),
        ("SMX002", position(text, "listen 80;")[0]),
    ]
    assert "is truncated to 2000 by net.core.somaxconn 2000 (container 'nginx' of Deployment/default/web, in its command before nginx starts)" in [f for f in findings if f[0] == "SMX001"][0][4]


def test_unprivileged_server_container_write_fails_smx011_and_smx001(project):
    text = _own(["sh", "-c", "sysctl -w net.core.somaxconn=2000 && exec nginx -g 'daemon off;'"], privileged=False)
    project.write("d.yaml", text)
    [l80, l8080] = sorted(project.explain("--kernel", "4.19", "."), key=lambda l: l["port"])
    assert (l80["somaxconn"], l8080["effective_backlog"]) == (128, 128)
    findings = _findings(project, "--kernel", "4.19", "--select", "SMX001,SMX011")
    line, column = position(text, '"sysctl -w')
    assert sorted(f[:4] for f in findings) == [
        ("SMX001", "error", *position(text, "listen 80;")),
        ("SMX001", "error", *position(text, "listen 8080")),
        ("SMX011", "error", line, column),
    ]
    assert [f for f in findings if f[0] == "SMX011"][0][4] == (
        "container 'nginx' of Deployment/default/web writes net.core.somaxconn=2000 before its server starts but is not "
        "privileged: /proc/sys is read-only there, so the write fails and the namespace keeps its value. Add "
        "securityContext.privileged: true, or use pod sysctls or the CNI tuning plugin"
    )


@pytest.mark.parametrize(
    "script, kind, severity",
    [
        ("nginx -g 'daemon off;' & sysctl -w net.core.somaxconn=2000; wait", "after the statement that starts nginx", "error"),
        ("nginx; sysctl -w net.core.somaxconn=2000; sleep infinity", "after the statement that starts nginx", "error"),
        ("sysctl -w net.core.somaxconn=2000 & exec nginx -g 'daemon off;'", "in the background, beside the statement that starts nginx", "warning"),
    ],
)
def test_writes_after_or_beside_the_server_stay_smx007(project, script, kind, severity):
    text = _own(["sh", "-c", script])
    project.write("d.yaml", text)
    [l80, _] = sorted(project.explain("--kernel", "4.19", "."), key=lambda l: l["port"])
    assert l80["somaxconn"] == 128  # not applied before listen()
    findings = _findings(project, "--kernel", "4.19", "--select", "SMX007")
    line, column = position(text, '"' + script.split('"')[0][:10])
    assert [f[:4] for f in findings] == [("SMX007", severity, line, column)]
    assert findings[0][4].startswith(f"net.core.somaxconn=2000 is written {kind} in container 'nginx' of Deployment/default/web")


def test_a_sibling_server_races_the_write(project):
    redis = (
        "      - name: cache\n        image: redis:7\n"
        '        command: ["redis-server", "--tcp-backlog", "1500"]\n'
    )
    text = _own(["sh", "-c", "sysctl -w net.core.somaxconn=2000 && exec nginx -g 'daemon off;'"], extra_containers=redis)
    project.write("d.yaml", text)
    listeners = project.explain("--kernel", "4.19", ".")
    cache = [l for l in listeners if l["container"] == "cache"]
    assert [(l["somaxconn_possible"], l["effective_backlog"]) for l in cache] == [([128, 2000], 128)]
    assert "may listen before or after that write (SMX007)" in cache[0]["assumptions"][-1]
    findings = _findings(project, "--kernel", "4.19", "--select", "SMX007")
    assert [f[:4] for f in findings] == [("SMX007", "warning", *position(text, '"sysctl -w'))]
    assert findings[0][4].startswith(
        "net.core.somaxconn=2000 is written before nginx starts in its own container, but the servers of container(s) "
        "'cache' start at the same time in container 'nginx' of Deployment/default/web"
    )


def test_a_sibling_container_that_runs_no_server_stays_a_sidecar(project):
    tuner = (
        "      - name: tuner\n        image: busybox\n"
        '        command: ["sh", "-c", "sysctl -w net.core.somaxconn=2000; sleep infinity"]\n'
        "        securityContext: {privileged: true}\n"
    )
    text = deployment() + "---\n" + config_map(files=CONFIG)
    text = text.replace("      volumes:\n", tuner + "      volumes:\n", 1)
    project.write("d.yaml", text)
    [l80, _] = sorted(project.explain("--kernel", "4.19", "."), key=lambda l: l["port"])
    assert l80["somaxconn"] == 128
    assert [f[:2] for f in _findings(project, "--kernel", "4.19", "--select", "SMX007")] == [("SMX007", "warning")]


def test_other_servers_found_by_their_commands(project):
    text = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cache, namespace: default}\nspec:\n"
        "  selector: {matchLabels: {app: cache}}\n  template:\n    metadata: {labels: {app: cache}}\n    spec:\n"
        "      containers:\n      - name: redis\n        image: redis:7\n"
        '        command: ["sh", "-c", "sysctl -w net.core.somaxconn=3000 && exec redis-server --tcp-backlog 2500"]\n'
        "        securityContext: {privileged: true}\n"
        "      - name: app\n        image: python:3.12\n"
        '        command: ["sh", "-c", "python -m gunicorn app:app --backlog 2048"]\n'
    )
    project.write("d.yaml", text)
    listeners = {l["container"]: l for l in project.explain("--kernel", "4.19", ".")}
    # Redis listens after its own write; gunicorn, in another container, races it
    assert (listeners["redis"]["somaxconn_possible"], listeners["redis"]["effective_backlog"]) == ([3000], 2500)
    assert sorted(listeners["app"]["somaxconn_possible"]) == [128, 3000]
    findings = _findings(project, "--kernel", "4.19", "--select", "SMX007")
    assert [f[:2] for f in findings] == [("SMX007", "warning")]
    assert "before Redis starts in its own container, but the servers of container(s) 'app'" in findings[0][4]


def test_somaxconn_for_gives_the_writer_its_own_value():
    """What each container's own listen() sees, for the model's callers
    (``NetNamespace.somaxconn_for``)."""
    from somaxlint.discover import InputFile
    from somaxlint.load import load_bytes
    from somaxlint.model.netns import build_namespace
    from somaxlint.model.objects import collect
    from somaxlint.settings import Settings

    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: web\n    image: nginx:1.25\n"
        '    command: ["sh", "-c", "sysctl -w net.core.somaxconn=2000 && exec nginx"]\n'
        "    securityContext: {privileged: true}\n"
        "  - name: cache\n    image: redis:7\n    command: [redis-server]\n"
    )
    [workload] = collect([load_bytes(InputFile("p.yaml", "p.yaml", "yaml", True), text.encode())]).workloads
    ns = build_namespace(workload, Settings(kernel=(4, 19, 0), kernel_text="4.19"), [])
    web, cache = workload.containers
    assert ns.somaxconn_for(web).values == (2000,)
    assert ns.somaxconn_for(cache).values == (128, 2000)
    assert ns.somaxconn.values == (128, 2000)  # shared by callers that do not ask per container


def test_host_network_pod_init_container_write_makes_the_node_value_known(project):
    init = (
        "hostNetwork: true\ninitContainers:\n- name: tune\n  image: busybox\n"
        '  command: ["sysctl", "-w", "net.core.somaxconn=0x1000"]\n  securityContext: {privileged: true}'
    )
    project.write("d.yaml", deployment(pod_extra=init) + "---\n" + config_map(files=CONFIG))
    listeners = sorted(project.explain("--kernel", "5.15", "."), key=lambda l: l["port"])
    assert [(l["somaxconn"], l["effective_backlog"], l["assumptions"]) for l in listeners] == [(4096, 511, []), (4096, 3000, [])]

"""The pod network namespace: net.core.somaxconn and where it comes from."""

import json

import pytest

from conftest import config_map, deployment, position

CONFIG = {"nginx.conf": "events {}\nhttp {\n    server {\n        listen 80 backlog=3000;\n    }\n}\n"}


def _one(project, *args):
    [listener] = project.explain(*args, ".")
    return listener


def _sysctls(value, name="net.core.somaxconn"):
    return f'securityContext:\n  sysctls:\n  - name: {name}\n    value: "{value}"'


@pytest.mark.parametrize(
    "kernel, somaxconn", [("4.19", 128), ("5.3.18", 128), ("5.4", 4096), ("6.18.44-fc-v669", 4096), ("3.10.0-1160.el7.x86_64", 128)]
)
def test_kernel_default_by_version(project, kernel, somaxconn):
    project.write("d.yaml", deployment() + "---\n" + config_map(files=CONFIG))
    listener = _one(project, "--kernel", kernel)
    assert (listener["somaxconn"], listener["somaxconn_source"], listener["effective_backlog"]) == (somaxconn, None, min(3000, somaxconn))
    assert listener["assumptions"] == []


def test_unknown_kernel_states_the_assumption(project):
    project.write("d.yaml", deployment() + "---\n" + config_map(files=CONFIG))
    listener = _one(project)
    assert listener["somaxconn"] == 4096 and listener["somaxconn_possible"] == [4096, 128]
    assert listener["assumptions"] == [
        "the node kernel is unknown: assumed Linux 5.4 or later (somaxconn 4096); before 5.4 it is 128. "
        "Set `kernel` in .somaxlint.yaml or pass --kernel"
    ]


def test_pod_sysctls_with_dot_and_slash_names(project):
    text = deployment(pod_extra=_sysctls(1000, "net/core/somaxconn")) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    listener = _one(project, "--kernel", "4.19")
    line, column = position(text, "name: net/core/somaxconn")
    assert listener["somaxconn"] == 1000 and listener["effective_backlog"] == 1000
    assert listener["somaxconn_source"] == {"path": "d.yaml", "line": line, "column": column}


@pytest.mark.parametrize(
    "command",
    [
        '["sysctl", "-w", "net.core.somaxconn=2000"]',
        '["sysctl", "net.core.somaxconn=2000"]',
        '["sh", "-c", "sysctl -w net.ipv4.ip_local_port_range=\'1024 65000\'; sysctl -w net.core.somaxconn=2000"]',
        '["/bin/sh", "-c", "echo 2000 > /proc/sys/net/core/somaxconn"]',
        '["sh", "-c", "set -e\\nmount -o remount rw /proc/sys\\necho 2000 | tee /proc/sys/net/core/somaxconn"]',
    ],
)
def test_privileged_init_container_writes(project, command):
    init = f"initContainers:\n- name: tune\n  image: busybox\n  command: {command}\n  securityContext:\n    privileged: true"
    text = deployment(pod_extra=init) + "---\n" + config_map(files=CONFIG)
    project.write("d.yaml", text)
    listener = _one(project, "--kernel", "4.19")
    assert (listener["somaxconn"], listener["effective_backlog"]) == (2000, 2000)
    assert listener["somaxconn_origin"] == "init container 'tune' of Deployment/default/web (`sysctl`/`/proc/sys` write)"
    assert listener["somaxconn_source"]["path"] == "d.yaml"


def test_unprivileged_init_container_write_does_not_apply(project):
    init = 'initContainers:\n- name: tune\n  image: busybox\n  command: ["sysctl", "-w", "net.core.somaxconn=2000"]'
    project.write("d.yaml", deployment(pod_extra=init) + "---\n" + config_map(files=CONFIG))
    listener = _one(project, "--kernel", "4.19")
    assert listener["somaxconn"] == 128


def test_init_container_runs_after_pod_sysctls(project):
    pod = _sysctls(500) + '\ninitContainers:\n- name: tune\n  image: busybox\n  command: ["sysctl", "-w", "net.core.somaxconn=2500"]\n  securityContext: {privileged: true}'
    project.write("d.yaml", deployment(pod_extra=pod) + "---\n" + config_map(files=CONFIG))
    assert _one(project, "--kernel", "4.19")["somaxconn"] == 2500


def test_cni_tuning_conflist_applies_to_pods(project):
    conflist = {
        "cniVersion": "1.0.0",
        "name": "net",
        "plugins": [{"type": "bridge"}, {"type": "tuning", "sysctl": {"net.core.somaxconn": "1500"}}],
    }
    text = json.dumps(conflist, indent=2)
    project.write("cni/10-net.conflist", text)
    project.write("d.yaml", deployment() + "---\n" + config_map(files=CONFIG))
    # Not the pods' network until the configuration says so.
    assert _one(project, "--kernel", "4.19")["somaxconn"] == 128
    project.write(".somaxlint.yaml", "cni:\n  default: cni/10-net.conflist\n")
    listener = _one(project, "--kernel", "4.19")
    line, column = position(text, '"net.core.somaxconn"')
    assert (listener["somaxconn"], listener["effective_backlog"]) == (1500, 1500)
    assert listener["somaxconn_source"] == {"path": "cni/10-net.conflist", "line": line, "column": column}


def test_multus_network_attachment_applies_to_selecting_pods(project):
    nad = (
        "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: tuned\n  namespace: default\n"
        "spec:\n  config: |\n    {\n      \"cniVersion\": \"0.3.1\",\n      \"plugins\": [\n        {\"type\": \"macvlan\"},\n"
        "        {\"type\": \"tuning\", \"sysctl\": {\"net.core.somaxconn\": \"1800\"}}\n      ]\n    }\n"
    )
    project.write("nad.yaml", nad)
    selecting = deployment().replace("      labels: {app: web}\n    spec:", "      labels: {app: web}\n      annotations:\n        k8s.v1.cni.cncf.io/networks: tuned\n    spec:")
    project.write("d.yaml", selecting + "---\n" + config_map(files=CONFIG))
    project.write("other.yaml", deployment(name="other", volumes="- name: conf\n  configMap:\n    name: web-conf"))
    listeners = project.explain("--kernel", "4.19", ".")
    assert [(l["workload"], l["somaxconn"]) for l in listeners] == [("Deployment/default/other", 128), ("Deployment/default/web", 1800)]
    line, column = position(nad, '"net.core.somaxconn"')
    assert listeners[1]["somaxconn_source"] == {"path": "nad.yaml", "line": line, "column": column}


def test_pod_sysctl_and_cni_tuning_disagreeing_leave_both_possible(project):
    project.write("cni/net.conflist", json.dumps({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "tuning", "sysctl": {"net.core.somaxconn": "1000"}}]}))
    project.write(".somaxlint.yaml", "cni:\n  default: [cni/net.conflist]\n")
    project.write("d.yaml", deployment(pod_extra=_sysctls(4000)) + "---\n" + config_map(files=CONFIG))
    listener = _one(project, "--kernel", "4.19")
    assert listener["somaxconn_possible"] == [4000, 1000]
    assert "which one is applied last is not documented" in listener["assumptions"][0]
    run = project.run("--kernel", "4.19", "--select", "SMX001", ".")
    assert run.codes() == ["SMX001"]
    assert "SMX001 [warning] backlog=3000 on 0.0.0.0:80 is truncated to 1000 under one of the possible orders by net.core.somaxconn 1000 (the CNI tuning plugin in cni/net.conflist (the pods' network: cni.default)" in run.lines[0]


def test_host_network_pod_sees_the_node_value(project, tmp_path):
    project.write("d.yaml", deployment(pod_extra="hostNetwork: true\n" + _sysctls(1000)) + "---\n" + config_map(files=CONFIG))
    listener = _one(project, "--kernel", "4.19")
    assert (listener["somaxconn"], listener["effective_backlog"]) == (None, None)
    assert "hostNetwork pod" in listener["assumptions"][0]
    project.write(".somaxlint.yaml", 'node:\n  sysctls:\n    net.core.somaxconn: "2048"\n')
    listener = _one(project, "--kernel", "4.19")
    assert (listener["somaxconn"], listener["effective_backlog"]) == (2048, 2048)
    assert listener["somaxconn_origin"].startswith("the node's value from node.sysctls in ")


def test_invalid_sysctl_value_is_not_applied(project):
    project.write("d.yaml", deployment(pod_extra=_sysctls("lots")) + "---\n" + config_map(files=CONFIG))
    assert _one(project, "--kernel", "4.19")["somaxconn"] == 128

"""The incident from the project's background, end to end through the CLI."""

import shutil

from conftest import REPO


def test_incident_example_is_an_error_on_the_incident_kernel(project):
    shutil.copytree(REPO / "examples" / "incident", project.root / "incident")
    run = project.run("--kernel", "4.19", "incident")
    assert run.status == 1
    assert run.lines == [
        "incident/nginx-configmap.yaml:23:13: SMX001 [error] nginx's default backlog 511 on 0.0.0.0:80 is "
        "truncated to 128 by net.core.somaxconn 128 (the kernel default for a new network namespace on Linux 4.19: "
        "SOMAXCONN 128) in container 'nginx' of Deployment/images/static-nginx; the accept queue holds at most 129 "
        "connections and further SYNs are dropped. Raise net.core.somaxconn for the pod to at least 511 and keep the "
        "backlog at the queue size you need: both knobs limit it"
    ]
    related = [line.strip() for line in run.out.splitlines() if line.startswith("    ")]
    assert related == [
        "incident/deployment.yaml:22:15: volumeMount 'config' at /etc/nginx/nginx.conf",
        "incident/deployment.yaml:28:11: volume 'config'",
        "incident/nginx-configmap.yaml:11:3: ConfigMap images/static-nginx key 'nginx.conf'",
        "incident/deployment.yaml:17:11: container 'nginx' of Deployment/images/static-nginx",
    ]
    assert run.err == "somaxlint: 2 files, 0 skipped (0 not Kubernetes or nginx), 0 unparsable; 1 workload, 1 server (0 unresolved), 1 listener; 1 error\n"


def test_incident_without_kernel_is_a_warning_naming_the_assumption(project):
    shutil.copytree(REPO / "examples" / "incident", project.root / "incident")
    run = project.run("incident")
    assert run.status == 1
    assert len(run.lines) == 1
    line = run.lines[0]
    assert line.startswith("incident/nginx-configmap.yaml:23:13: SMX001 [warning] nginx's default backlog 511")
    assert "if the node kernel is older than Linux 5.4" in line
    assert "Set `kernel` in .somaxlint.yaml or pass --kernel" in line


def test_incident_on_a_modern_kernel_is_clean(project):
    shutil.copytree(REPO / "examples" / "incident", project.root / "incident")
    run = project.run("--kernel", "5.15", "incident")
    assert run.status == 0
    assert run.out == ""


def test_incident_explain_json(project):
    shutil.copytree(REPO / "examples" / "incident", project.root / "incident")
    listeners = project.explain("--kernel", "4.19.0-21-amd64", "incident")
    assert listeners == [
        {
            "server": "nginx",
            "workload": "Deployment/images/static-nginx",
            "workload_file": {"path": "incident/deployment.yaml", "line": 2, "column": 1},
            "unit": None,
            "evaluated_with": None,
            "container": "nginx",
            "config": {"path": "incident/nginx-configmap.yaml", "line": 12, "column": 5, "path_in_container": "/etc/nginx/nginx.conf"},
            "module": "http",
            "family": "inet",
            "address": "0.0.0.0",
            "port": 80,
            "sockets": 1,
            "listen": {"path": "incident/nginx-configmap.yaml", "line": 23, "column": 13},
            "requested_backlog": 511,
            "requested_backlog_source": None,
            "requested_backlog_origin": "nginx's default backlog 511",
            "somaxconn": 128,
            "somaxconn_possible": [128],
            "somaxconn_source": None,
            "somaxconn_origin": "the kernel default for a new network namespace on Linux 4.19.0-21-amd64: SOMAXCONN 128",
            "effective_backlog": 128,
            "assumptions": [],
            "bind_conflict": None,
            "configuration": None,
            "ss_line": "LISTEN 0 128 0.0.0.0:80 0.0.0.0:*",
        }
    ]


def test_the_fix_raising_both_knobs_is_clean(project):
    shutil.copytree(REPO / "examples" / "incident", project.root / "incident")
    deployment = project.root / "incident" / "deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace(
            "    spec:\n      containers:",
            "    spec:\n      securityContext:\n        sysctls:\n          - name: net.core.somaxconn\n"
            '            value: "1024"\n      containers:',
        )
    )
    config = project.root / "incident" / "nginx-configmap.yaml"
    config.write_text(config.read_text().replace("listen       80;", "listen       80 backlog=1024;"))
    run = project.run("--kernel", "4.19", "incident")
    # somaxconn is an unsafe sysctl: the kubelet must allow it
    assert run.codes() == ["SMX003"] and "[warning]" in run.lines[0]
    project.write(".somaxlint.yaml", "kubelet:\n  allowedUnsafeSysctls: [net.core.somaxconn]\n")
    run = project.run("--kernel", "4.19", "incident")
    assert run.status == 0, run.out
    [listener] = project.explain("--kernel", "4.19", "incident")
    assert (listener["requested_backlog"], listener["somaxconn"], listener["effective_backlog"]) == (1024, 1024, 1024)
    assert listener["somaxconn_source"] == {"path": "incident/deployment.yaml", "line": 18, "column": 13}

"""Connecting nginx configs to the containers that load them."""

import base64
import textwrap

import pytest

from conftest import config_map, deployment, position

SERVER_8080 = "server {\n    listen 8080 backlog=2048;\n}\n"


def _listeners(project, *args):
    return [
        (l["workload"], l["container"], l["address"], l["port"], l["requested_backlog"], l["effective_backlog"])
        for l in project.explain("--kernel", "5.10", *args, ".")
    ]


POD_BEARING = {
    "Pod": ("v1", "spec"),
    "Deployment": ("apps/v1", "spec.template.spec"),
    "StatefulSet": ("apps/v1", "spec.template.spec"),
    "DaemonSet": ("apps/v1", "spec.template.spec"),
    "ReplicaSet": ("apps/v1", "spec.template.spec"),
    "ReplicationController": ("v1", "spec.template.spec"),
    "Job": ("batch/v1", "spec.template.spec"),
    "CronJob": ("batch/v1", "spec.jobTemplate.spec.template.spec"),
    "CronJob-v1beta1": ("batch/v1beta1", "spec.jobTemplate.spec.template.spec"),
    "PodTemplate": ("v1", "template.spec"),
    "DeploymentConfig": ("apps.openshift.io/v1", "spec.template.spec"),
}

POD_SPEC = """\
containers:
- name: nginx
  image: nginx:1.25
  volumeMounts:
  - name: conf
    mountPath: /etc/nginx/nginx.conf
    subPath: nginx.conf
volumes:
- name: conf
  configMap:
    name: web-conf
"""


@pytest.mark.parametrize("kind", sorted(POD_BEARING))
def test_every_pod_bearing_kind(project, kind):
    api, path = POD_BEARING[kind]
    real_kind = kind.split("-")[0]
    body = POD_SPEC
    for key in reversed(path.split(".")):
        body = f"{key}:\n" + textwrap.indent(body, "  ")
    project.write("w.yaml", f"apiVersion: {api}\nkind: {real_kind}\nmetadata:\n  name: w\n  namespace: prod\n{body}")
    project.write("cm.yaml", config_map(namespace="prod", files={"nginx.conf": "events {}\nhttp {\n" + textwrap.indent(SERVER_8080, "    ") + "}\n"}))
    assert _listeners(project) == [(f"{real_kind}/prod/w", "nginx", "0.0.0.0", 8080, 2048, 2048)]


def test_conf_d_directory_mount_uses_the_images_main_config(project):
    project.write(
        "d.yaml",
        deployment(
            mounts="- name: conf\n  mountPath: /etc/nginx/conf.d",
        ),
    )
    text = config_map(files={"app.conf": SERVER_8080, "other.conf": "server {\n    listen 127.0.0.1:9000;\n}\n", "notes.txt": "server { listen 1; }\n"})
    project.write("cm.yaml", text)
    # The image's own default.conf is hidden by the directory mount.
    assert _listeners(project) == [
        ("Deployment/default/web", "nginx", "0.0.0.0", 8080, 2048, 2048),
        ("Deployment/default/web", "nginx", "127.0.0.1", 9000, 511, 511),
    ]


def test_conf_d_file_mount_keeps_the_images_default_server(project):
    project.write(
        "d.yaml",
        deployment(mounts="- name: conf\n  mountPath: /etc/nginx/conf.d/app.conf\n  subPath: app.conf"),
    )
    project.write("cm.yaml", config_map(files={"app.conf": SERVER_8080}))
    listeners = project.explain("--kernel", "5.10", ".")
    assert [(l["port"], l["requested_backlog"], l["listen"]["path"]) for l in listeners] == [
        (8080, 2048, "cm.yaml"),
        (80, 511, "d.yaml"),  # built into the image: located at the container's image
    ]
    assert listeners[1]["listen"] == {"path": "d.yaml", "line": 16, "column": 16, "approximate": True}


def test_items_remap_keys_to_paths(project):
    project.write(
        "d.yaml",
        deployment(
            mounts="- name: conf\n  mountPath: /etc/nginx",
            volumes="- name: conf\n  configMap:\n    name: web-conf\n    items:\n    - key: main\n      path: nginx.conf\n    - key: servers\n      path: sites/app.conf",
        ),
    )
    project.write(
        "cm.yaml",
        config_map(files={"main": "events {}\nhttp {\n    include sites/*.conf;\n}\n", "servers": SERVER_8080, "unused": "server { listen 1; }\n"}),
    )
    assert _listeners(project) == [("Deployment/default/web", "nginx", "0.0.0.0", 8080, 2048, 2048)]


def test_projected_volume_and_secret(project):
    secret_text = "server {\n    listen 8443 backlog=9000;\n}\n"
    project.write(
        "d.yaml",
        deployment(
            mounts="- name: all\n  mountPath: /etc/nginx",
            volumes=(
                "- name: all\n  projected:\n    sources:\n    - configMap:\n        name: web-conf\n"
                "    - secret:\n        name: tls\n        items:\n        - key: tls.conf\n          path: conf.d/tls.conf"
            ),
        ),
    )
    project.write("cm.yaml", config_map(files={"nginx.conf": "events {}\nhttp {\n    include conf.d/*.conf;\n}\n"}))
    project.write(
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\n  namespace: default\ndata:\n"
        f"  tls.conf: {base64.b64encode(secret_text.encode()).decode()}\n",
    )
    listeners = _listeners(project)
    assert listeners == [("Deployment/default/web", "nginx", "0.0.0.0", 8443, 9000, 4096)]


def test_a_secret_key_that_is_not_base64_is_a_key_the_pod_cannot_read(project):
    """``data`` that does not decode (bad padding) is not read as the file:
    the main config it should hold is unresolved, at the mount, and the
    run goes on."""
    app = deployment(volumes="- name: conf\n  secret:\n    secretName: web-conf")
    project.write("app.yaml", app, dedent=False)
    project.write("secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-conf\n  namespace: default\ndata:\n  nginx.conf: abc\n")
    run = project.run("check", "--no-cache", "--format", "json", ".")
    assert run.status == 1, run.err
    found = [(f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"]) for f in run.json["findings"]]
    assert found == [("SMX018", "app.yaml", *position(app, "name: conf"))]


def test_secret_string_data(project):
    project.write("d.yaml", deployment(volumes="- name: conf\n  secret:\n    secretName: web-conf"))
    project.write(
        "s.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-conf\nstringData:\n  nginx.conf: |\n"
        "    events {}\n    http { server { listen 81 backlog=5000; } }\n",
    )
    assert _listeners(project) == [("Deployment/default/web", "nginx", "0.0.0.0", 81, 5000, 4096)]


def test_dash_c_in_args_picks_the_main_config(project):
    project.write(
        "d.yaml",
        deployment(
            mounts="- name: conf\n  mountPath: /config",
            container_extra='command: ["nginx"]\nargs: ["-g", "daemon off;", "-c", "/config/main.conf"]',
            image="registry.example.com/web/frontend:2",
        ),
    )
    project.write("cm.yaml", config_map(files={"main.conf": "events {}\nhttp { server { listen 8000 backlog=100; } }\n", "nginx.conf": "events {}\nhttp { server { listen 1; } }\n"}))
    assert _listeners(project) == [("Deployment/default/web", "nginx", "0.0.0.0", 8000, 100, 100)]


def test_nginx_started_from_a_shell_script(project):
    project.write(
        "d.yaml",
        deployment(
            mounts="- name: conf\n  mountPath: /opt/conf",
            container_extra="command: [\"/bin/sh\", \"-c\"]\nargs:\n- |\n  envsubst < /tmp/x > /tmp/y\n  exec nginx -c /opt/conf/nginx.conf -g 'daemon off;'",
            image="alpine:3",
        ),
    )
    project.write("cm.yaml", config_map(files={"nginx.conf": "events {}\nhttp { server { listen 8000; } }\n"}))
    assert _listeners(project) == [("Deployment/default/web", "nginx", "0.0.0.0", 8000, 511, 511)]


def test_a_container_that_does_not_run_nginx_is_ignored(project):
    project.write(
        "d.yaml",
        deployment(image="nginx/nginx-prometheus-exporter:1.1", mounts="- name: conf\n  mountPath: /conf"),
    )
    project.write("cm.yaml", config_map(files={"app.yaml": "a: b\n"}))
    assert _listeners(project) == []


def test_includes_resolve_inside_the_container_not_the_host(project):
    project.write("d.yaml", deployment(mounts="- name: conf\n  mountPath: /etc/nginx"))
    text = config_map(files={"nginx.conf": "events {}\nhttp {\n    include /etc/passwd;\n    include ../../../etc/*;\n    include /etc/nginx/missing/*.conf;\n    server { listen 80 backlog=600; }\n}\n"})
    project.write("cm.yaml", text)
    run = project.run("--kernel", "5.10", ".")
    assert run.lines == [
        "cm.yaml:%d:%d: SMX013 [warning] include not followed: no mount of the container provides it"
        % position(text, "include /etc/passwd"),
    ]
    assert run.status == 1


def test_include_from_an_unknown_volume_names_the_reason(project):
    project.write(
        "d.yaml",
        deployment(
            mounts="- name: conf\n  mountPath: /etc/nginx/nginx.conf\n  subPath: nginx.conf\n- name: extra\n  mountPath: /etc/nginx/extra",
            volumes="- name: conf\n  configMap:\n    name: web-conf\n- name: extra\n  emptyDir: {}",
        ),
    )
    text = config_map(files={"nginx.conf": "events {}\nhttp {\n    include /etc/nginx/extra/site.conf;\n}\n"})
    project.write("cm.yaml", text)
    run = project.run(".")
    assert run.lines == [
        "cm.yaml:%d:%d: SMX013 [warning] include not followed: it is in a mount "
        "whose content is not in the input (emptyDir volume 'extra': content not in the input)" % position(text, "include")
    ]


def test_configmap_in_another_namespace_does_not_match(project):
    project.write("d.yaml", deployment(namespace="a"))
    project.write("cm.yaml", config_map(namespace="b", files={"nginx.conf": "events {}\nhttp { server { listen 80 backlog=9000; } }\n"}))
    listeners = _listeners(project)
    # The Deployment's config is missing; the ConfigMap is still checked alone.
    assert listeners == [(None, None, "0.0.0.0", 80, 9000, 4096)]


def test_standalone_nginx_files_resolve_includes_under_the_lint_root(project):
    project.write("site/nginx.conf", "events {}\nhttp {\n    include conf.d/*.conf;\n    include /etc/nginx/extra.conf;\n}\n")
    project.write("site/conf.d/a.conf", "server { listen 8080 backlog=100; }\n")
    project.write("site/conf.d/b.conf", "server { listen 8081; }\n")
    project.write("site/extra.conf", "server { listen 8082 backlog=5000; }\n")
    listeners = _listeners(project)
    assert listeners == [
        (None, None, "0.0.0.0", 8080, 100, 100),
        (None, None, "0.0.0.0", 8081, 511, 511),
        (None, None, "0.0.0.0", 8082, 5000, 4096),
    ]
    run = project.run("--kernel", "5.10", ".")
    assert run.lines == [
        "site/extra.conf:1:10: SMX001 [error] backlog=5000 on 0.0.0.0:8082 is truncated to 4096 by net.core.somaxconn "
        "4096 (the kernel default for a new network namespace on Linux 5.10: SOMAXCONN 4096) in standalone config "
        "site/nginx.conf; the accept queue holds at most 4097 connections and further SYNs are dropped. Raise "
        "net.core.somaxconn for the pod to at least 5000 and keep the backlog at the queue size you need: both knobs limit it"
    ]


def test_include_cycle_is_reported_and_terminates(project):
    project.write("nginx.conf", "events {}\nhttp {\n    include a.conf;\n}\n")
    project.write("a.conf", "include b.conf;\nserver { listen 81; }\n")
    project.write("b.conf", "include a.conf;\n")
    run = project.run("--kernel", "5.10", ".")
    assert run.lines == ["b.conf:1:1: SMX013 [warning] include not followed: include cycle: the file includes itself (directly or through other files)"]


def test_copies_of_one_configuration_are_parsed_once_and_located_in_their_own_files(project, monkeypatch):
    """dev and prod copies of one ConfigMap, the same nginx text at other
    lines of other files: the text is parsed once in a run, and each copy's
    finding is at its own file's line and column."""
    from somaxlint.servers.nginx import config as nginx_config

    parsed = []
    parse = nginx_config.parse_nginx
    monkeypatch.setattr(nginx_config, "parse_nginx", lambda text: parsed.append(text) or parse(text))
    conf = "events {}\nhttp {\n    server {\n        listen 80 backlog=8192;\n    }\n}\n"
    dev = deployment() + "---\n" + config_map(files={"nginx.conf": conf})
    prod = "# prod: the same objects, two lines further down\n\n" + dev
    project.write("envs/dev/app.yaml", dev, dedent=False)
    project.write("envs/prod/app.yaml", prod, dedent=False)
    run = project.run("check", "--no-cache", "--format", "json", "envs")
    assert run.status == 1, run.err
    found = sorted((f["rule"], f["location"]["path"], f["location"]["line"], f["location"]["column"]) for f in run.json["findings"])
    assert found == [
        ("SMX001", "envs/dev/app.yaml", *position(dev, "listen 80")),
        ("SMX001", "envs/prod/app.yaml", *position(prod, "listen 80")),
    ]
    assert parsed.count(conf) == 1


def test_what_a_container_runs_is_worked_out_once(project, monkeypatch):
    """The model asks at several of its steps (its namespace's writes, the
    sysctls written too late, its servers) whether a container runs nginx
    and which statement starts its server: each is worked out once per
    container, and the answers still reach every step."""
    from somaxlint.model import netns
    from somaxlint.servers import nginx

    asked = []
    for module, name in ((nginx, "_main_config"), (netns, "_server_start")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda container, real=real, name=name: asked.append((name, container.name)) or real(container))
    sidecar = """\
        - name: tuner
          image: busybox
          command: ["sh", "-c", "sysctl -w net.core.somaxconn=8192 && sleep infinity"]
          securityContext: {privileged: true}"""
    app = deployment().replace("      containers:\n", "      containers:\n" + textwrap.indent(textwrap.dedent(sidecar), "      ") + "\n")
    conf = "events {}\nhttp {\n    server {\n        listen 80 backlog=8192;\n    }\n}\n"
    project.write("app.yaml", app + "---\n" + config_map(files={"nginx.conf": conf}), dedent=False)
    run = project.run("check", "--no-cache", "--format", "json", "app.yaml")
    assert sorted(asked) == [("_main_config", "nginx"), ("_main_config", "tuner"), ("_server_start", "nginx"), ("_server_start", "tuner")]
    assert sorted(f["rule"] for f in run.json["findings"]) == ["SMX001", "SMX007"]

"""somaxlint on real Kubernetes manifests of the servers other than nginx.

Each directory of ``tests/real_servers`` holds a reduced copy of files from
one public repository (repository, path, commit and licence in
``tests/real_servers/PROVENANCE.md``): the relevant parts verbatim, or
Helm's own rendering of a chart with its default values.  One repository
without a licence (kiwix/k8s) is not copied: its two cases are reduced to
a few lines written for the test.

What somaxlint gets right is pinned exactly (rule, file:line:column,
severity, the server and its requested/effective backlog).  What it gets
wrong is written as the correct result and marked
``xfail(strict=True)``: the test flips when the bug is fixed.  The facts
each expectation rests on are cited beside it (../shared/facts, and the
upstream source read for this file).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parent / "real_servers"


def _missing(what: str):
    """CI installs Helm and kustomize: there a missing tool is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed, and CI must have it")
    pytest.skip(f"{what} is not installed")


def _needs_kustomize():
    from somaxlint.units import kustomization

    if kustomization._tool() is None:
        _missing("kustomize or kubectl")


def _copy(project, repo: str) -> str:
    """The repository's reduced files, copied into the test's directory
    (so that paths in the output are relative to it: ``<repo>/<file>``)."""
    shutil.copytree(REAL / repo, project.root / repo)
    return repo


def _check(project, path: str, *args: str):
    run = project.run("check", "--format", "json", *args, path)
    assert "internal error" not in run.err, run.err
    return run


def _explain(project, path: str, *args: str) -> dict:
    run = project.run("explain", "--format", "json", *args, path)
    assert "internal error" not in run.err, run.err
    return run.json


def _where(f) -> str:
    loc = f["location"]
    return f"{loc['path']}:{loc['line']}:{loc['column']} {f['rule']} {f['severity']}"


def _related(f):
    return [f"{r['location']['path']}:{r['location']['line']}:{r['location']['column']}" for r in f["related"]]


def _row(listener) -> tuple:
    """(server, container, address, port, sockets, requested, effective)."""
    return (
        listener["server"],
        listener["container"],
        listener["address"],
        listener["port"],
        listener["sockets"],
        listener["requested_backlog"],
        listener["effective_backlog"],
    )


def _at(listener) -> str:
    loc = listener["listen"]
    return f"{loc['path']}:{loc['line']}:{loc['column']}"


# ===========================================================================
# Redis (facts: servers.md §2.1, default tcp-backlog 511, official image runs
# redis-server; without `bind` it listens on 0.0.0.0 and [::])
# ===========================================================================


def test_microservices_demo_redis_cart_on_an_old_kernel(project):
    repo = _copy(project, "microservices-demo")
    run = _check(project, repo, "--kernel", "4.19")
    findings = run.json["findings"]
    assert [_where(f) for f in findings] == ["microservices-demo/cartservice.yaml:44:16 SMX001 error"]
    assert _related(findings[0]) == ["microservices-demo/cartservice.yaml:36:9"]
    assert findings[0]["message"].startswith("Redis default tcp-backlog 511 on *:6379 is truncated to 128 by net.core.somaxconn 128")
    assert run.status == 1
    listeners = _explain(project, repo, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("redis", "redis", "*", 6379, 2, 511, 128)]
    assert [_at(l) for l in listeners] == ["microservices-demo/cartservice.yaml:44:16"]


def test_microservices_demo_redis_cart_on_a_current_kernel(project):
    repo = _copy(project, "microservices-demo")
    run = _check(project, repo, "--kernel", "5.15")
    assert run.json["findings"] == []
    assert run.status == 0
    listeners = _explain(project, repo, "--kernel", "5.15")["listeners"]
    assert [_row(l) for l in listeners] == [("redis", "redis", "*", 6379, 2, 511, 511)]


def test_microservices_demo_redis_cart_with_the_kernel_unknown(project):
    repo = _copy(project, "microservices-demo")
    findings = _check(project, repo).json["findings"]
    assert [_where(f) for f in findings] == ["microservices-demo/cartservice.yaml:44:16 SMX001 warning"]
    assert len(findings[0]["assumptions"]) == 1
    assert findings[0]["assumptions"][0].startswith("the node kernel is unknown")


def test_kubernetes_examples_guestbook_redis_master(project):
    repo = _copy(project, "kubernetes-examples")
    findings = _check(project, repo, "--kernel", "4.19").json["findings"]
    # registry.k8s.io/redis:e2e is Kubernetes' test build, not the official
    # image: taken to run as it does, and said (a warning, not an error)
    assert [_where(f) for f in findings] == ["kubernetes-examples/redis-master-deployment.yaml:21:16 SMX001 warning"]
    assert findings[0]["assumptions"] == [
        "image registry.k8s.io/redis:e2e is not published where the redis image somaxlint knows is: it is taken to be "
        "built the same way (its default command, configuration and defaults)"
    ]
    listeners = _explain(project, repo, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("redis", "master", "*", 6379, 2, 511, 128)]


def test_example_voting_app_redis(project):
    repo = _copy(project, "example-voting-app")
    findings = _check(project, repo, "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["example-voting-app/redis-deployment.yaml:18:16 SMX001 error"]
    assert _related(findings[0]) == ["example-voting-app/redis-deployment.yaml:19:9"]  # its `name:`
    listeners = _explain(project, repo, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("redis", "redis", "*", 6379, 2, 511, 128)]


def test_istio_ratelimit_sample_redis(project):
    repo = _copy(project, "istio")
    findings = _check(project, f"{repo}/rate-limit-service.yaml", "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["istio/rate-limit-service.yaml:30:16 SMX001 error"]
    listeners = _explain(project, f"{repo}/rate-limit-service.yaml", "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("redis", "redis", "*", 6379, 2, 511, 128)]


def test_argo_cd_ha_redis_reads_a_config_written_at_run_time(project):
    # `redis-server /data/conf/redis.conf`: an init container writes the
    # file into an emptyDir, so its content is not in the input and the
    # listener rests on an assumption (a warning, not an error).  haproxy's
    # haproxy.cfg is copied there by an init script too: unresolved (SMX018).
    repo = _copy(project, "argo-cd")
    findings = _check(project, repo, "--kernel", "4.19").json["findings"]
    # (341:11: the sentinel, test_argo_cd_ha_redis_sentinel_is_a_redis_listener)
    assert [_where(f) for f in findings] == [
        "argo-cd/install.yaml:157:9 SMX018 info",
        "argo-cd/install.yaml:270:11 SMX001 warning",
        "argo-cd/install.yaml:341:11 SMX001 warning",
    ]
    explain = _explain(project, repo, "--kernel", "4.19")
    assert [_row(l) for l in explain["listeners"]] == [("redis", "redis", "*", 6379, 2, 511, 128), ("redis", "sentinel", "*", 26379, 2, 511, 128)]
    assert [_at(l) for l in explain["listeners"]] == ["argo-cd/install.yaml:270:11", "argo-cd/install.yaml:341:11"]
    assert explain["listeners"][0]["assumptions"] == [
        "/data/conf/redis.conf is not in the input (written at run time or mounted from elsewhere): assumed to set no tcp-backlog"
    ]
    assert [(u["server"], u["container"], u["location"]["line"]) for u in explain["unresolved"]] == [("haproxy", "haproxy", 157)]
    findings = _check(project, repo, "--kernel", "5.15").json["findings"]
    assert [_where(f) for f in findings] == ["argo-cd/install.yaml:157:9 SMX018 info"]


def test_argo_cd_ha_haproxy_unresolved_names_its_config_file(project):
    repo = _copy(project, "argo-cd")
    explain = _explain(project, repo, "--kernel", "4.19")
    assert [u["config_path_in_container"] for u in explain["unresolved"]] == ["/usr/local/etc/haproxy/haproxy.cfg"]


def test_argo_cd_ha_redis_sentinel_is_a_redis_listener(project):
    repo = _copy(project, "argo-cd")
    explain = _explain(project, repo, "--kernel", "4.19")
    sentinel = [l for l in explain["listeners"] if l["container"] == "sentinel"]
    assert [_row(l) for l in sentinel] == [("redis", "sentinel", "*", 26379, 2, 511, 128)]
    assert [_at(l) for l in sentinel] == ["argo-cd/install.yaml:341:11"]
    assert sentinel[0]["assumptions"] == [
        "/data/conf/sentinel.conf is not in the input (written at run time or mounted from elsewhere): assumed to set no tcp-backlog"
    ]
    findings = _check(project, repo, "--kernel", "4.19").json["findings"]
    assert "argo-cd/install.yaml:341:11 SMX001 warning" in [_where(f) for f in findings]


REDIS_CONF_AS_FIRST_ARGUMENT = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: r}
data:
  redis.conf: |
    tcp-backlog 1024
---
apiVersion: v1
kind: Pod
metadata: {name: r}
spec:
  containers:
  - name: redis
    image: redis:7.2
    args: [/conf/redis.conf]
    volumeMounts: [{name: c, mountPath: /conf}]
  volumes: [{name: c, configMap: {name: r}}]
"""


def test_redis_official_image_with_a_config_file_as_first_argument(project):
    # written for the test (the pattern `args: ["/usr/local/etc/redis/redis.conf"]`
    # is common in public manifests; none of the repositories above has it)
    project.write("redis.yaml", REDIS_CONF_AS_FIRST_ARGUMENT, dedent=False)
    listeners = _explain(project, "redis.yaml", "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("redis", "redis", "*", 6379, 2, 1024, 128)]
    findings = _check(project, "redis.yaml", "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["redis.yaml:6:5 SMX001 error"]


def test_gke_samples_redis_cluster_client_port(project):
    repo = _copy(project, "kubernetes-engine-samples")
    path = f"{repo}/redis-cluster"
    findings = _check(project, path, "--kernel", "4.19").json["findings"]
    # the client port and the cluster bus (test_gke_samples_redis_cluster_bus_is_a_listener_too)
    assert [_where(f) for f in findings] == ["kubernetes-engine-samples/redis-cluster/redis-cluster.yaml:50:13 SMX001 error"] * 2
    listeners = _explain(project, path, "--kernel", "4.19")["listeners"]
    assert [(l["port"], l["requested_backlog"], l["effective_backlog"]) for l in listeners][:1] == [(6379, 511, 128)]


def test_gke_samples_redis_cluster_bus_is_a_listener_too(project):
    repo = _copy(project, "kubernetes-engine-samples")
    path = f"{repo}/redis-cluster"
    listeners = _explain(project, path, "--kernel", "4.19")["listeners"]
    assert sorted((l["server"], l["port"], l["requested_backlog"], l["effective_backlog"]) for l in listeners) == [
        ("redis", 6379, 511, 128),
        ("redis", 16379, 511, 128),
    ]
    findings = _check(project, path, "--kernel", "4.19").json["findings"]
    assert [f["rule"] + " " + f["severity"] for f in findings] == ["SMX001 error", "SMX001 error"]


# ===========================================================================
# memcached (servers.md §2.3: -b, default 1024; two sockets without -l)
# ===========================================================================


def test_flux_memcached_through_its_kustomization(project):
    _needs_kustomize()
    repo = _copy(project, "flux")
    findings = _check(project, f"{repo}/deploy", "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["flux/deploy/memcache-dep.yaml:23:16 SMX001 error"]
    assert findings[0]["message"].startswith("memcached default backlog 1024 on *:11211 is truncated to 128")
    listeners = _explain(project, f"{repo}/deploy", "--kernel", "4.19")["listeners"]
    # args `- -p 11211 # Default port`: one word "-p 11211", as getopt reads it
    assert [_row(l) for l in listeners] == [("memcached", "memcached", "*", 11211, 2, 1024, 128)]
    assert _check(project, f"{repo}/deploy", "--kernel", "5.15").json["findings"] == []


def test_flux_memcached_file_alone_points_at_the_container(project):
    repo = _copy(project, "flux")
    findings = _check(project, f"{repo}/deploy/memcache-dep.yaml", "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["flux/deploy/memcache-dep.yaml:23:16 SMX001 error"]
    assert _related(findings[0]) == ["flux/deploy/memcache-dep.yaml:22:9"]  # `- name: memcached`


# A container is located at its `name:` (kustomize re-sorts keys, so the
# first key of a rendered container is not the first one written).
@pytest.mark.parametrize(
    "directory, rule, expected",
    [
        ("flux/deploy", "SMX001", "flux/deploy/memcache-dep.yaml:22:9"),
        ("kubernetes-engine-samples/envoy", "SMX021", "kubernetes-engine-samples/envoy/envoy-deployment.yaml:30:9"),
    ],
)
def test_kustomized_container_is_located_where_it_starts(project, directory, rule, expected):
    _needs_kustomize()
    _copy(project, directory.split("/")[0])
    findings = _check(project, directory, "--kernel", "4.19").json["findings"]
    assert [f["rule"] for f in findings] == [rule]
    assert _related(findings[0]) == [expected]


# ===========================================================================
# gunicorn (servers.md §2.5: --backlog, default 2048)
# ===========================================================================


def test_istio_ext_authz_sample_gunicorn(project):
    # The sample runs `gunicorn -b 0.0.0.0:8080 httpbin:app -k gevent` (in an
    # image that is Go's httpbin, which has no gunicorn: the manifest is what
    # is linted).
    repo = _copy(project, "istio")
    path = f"{repo}/local-ext-authz.yaml"
    findings = _check(project, path, "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["istio/local-ext-authz.yaml:38:11 SMX001 error"]
    assert findings[0]["message"].startswith("gunicorn default backlog 2048 on 0.0.0.0:8080 is truncated to 128")
    listeners = _explain(project, path, "--kernel", "4.19")["listeners"]
    # and gunicorn's control socket (25.1.0 and later), not serving traffic
    assert [_row(l) for l in listeners] == [
        ("gunicorn", "httpbin", "/root/.gunicorn/gunicorn.ctl", None, 1, 100, 100),
        ("gunicorn", "httpbin", "0.0.0.0", 8080, 1, 2048, 128),
    ]
    assert listeners[0]["family"] == "unix" and "not serving traffic" in listeners[0]["requested_backlog_origin"]
    assert _check(project, path, "--kernel", "5.15").json["findings"] == []


# ===========================================================================
# uWSGI (servers.md §2.4: default listen 100; exits above somaxconn)
# ===========================================================================


def test_substra_uwsgi_ini_that_is_not_read_is_an_assumption(project):
    repo = _copy(project, "substra-backend")
    listeners = _explain(project, repo, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("uwsgi", "server", "*", None, 1, 100, 100)]
    assert any("uwsgi.ini" in a for a in listeners[0]["assumptions"])


def test_substra_uwsgi_ini_relative_to_the_working_directory(project):
    # The substra file with two lines changed for the test: a workingDir
    # (the image's WORKDIR, docker/substra-backend/Dockerfile:71) and a
    # `listen = 1024` in the ini.
    text = (REAL / "substra-backend" / "server.yaml").read_text()
    text = text.replace("    http-socket ", "    listen = 1024\n    http-socket ", 1)
    text = text.replace('        imagePullPolicy: "IfNotPresent"\n', "        workingDir: /usr/src/app\n", 1)
    project.write("server.yaml", text, dedent=False)
    findings = _check(project, "server.yaml", "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["server.yaml:19:5 SMX020 error"]


def test_substra_uwsgi_ini_by_absolute_path_is_read(project):
    # the counterpart that works: the same ini named by its absolute path
    text = (REAL / "substra-backend" / "server.yaml").read_text()
    text = text.replace("    http-socket ", "    listen = 1024\n    http-socket ", 1)
    text = text.replace("uwsgi --ini uwsgi.ini", "uwsgi --ini /usr/src/app/uwsgi.ini", 1)
    project.write("server.yaml", text, dedent=False)
    findings = _check(project, "server.yaml", "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["server.yaml:19:5 SMX020 error"]
    listeners = _explain(project, "server.yaml", "--kernel", "4.19")["listeners"]
    # no queue at all: uWSGI exits (effective_backlog null)
    assert [(l["server"], l["requested_backlog"], l["effective_backlog"], l["somaxconn"]) for l in listeners] == [("uwsgi", 1024, None, 128)]


# ===========================================================================
# Envoy / Istio (servers.md §2.11: no tcp_backlog_size -> -1 -> somaxconn)
# ===========================================================================


def test_gke_samples_envoy_bootstrap_from_a_config_map_generator(project):
    _needs_kustomize()
    repo = _copy(project, "kubernetes-engine-samples")
    path = f"{repo}/envoy"
    findings = _check(project, path, "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["kubernetes-engine-samples/envoy/envoy.yaml:25:5 SMX021 error"]
    assert "listener listener_0 sets no tcp_backlog_size" in findings[0]["message"]
    listeners = _explain(project, path, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("envoy", "envoy", "0.0.0.0", 8443, 1, -1, 128)]
    assert [_at(l) for l in listeners] == ["kubernetes-engine-samples/envoy/envoy.yaml:25:5"]
    assert _check(project, path, "--kernel", "5.15").json["findings"] == []


def test_istio_gateway_chart_injected_proxy_is_envoy(project):
    repo = _copy(project, "istio")
    path = f"{repo}/gateway-deployment.yaml"
    listeners = _explain(project, path, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("envoy", "istio-proxy", "*", None, 1, -1, 128)]
    findings = _check(project, path, "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["istio/gateway-deployment.yaml:54:18 SMX021 error"]


# ===========================================================================
# Traefik (servers.md §2.12: Go's net.Listen, backlog = somaxconn)
# ===========================================================================


def test_traefik_chart_follows_somaxconn(project):
    repo = _copy(project, "traefik-helm-chart")
    findings = _check(project, repo, "--kernel", "4.19").json["findings"]
    # one socket per TCP entry point of its command line, each at its flag
    assert [_where(f) for f in findings] == [f"traefik-helm-chart/deployment.yaml:{line}:11 SMX021 error" for line in (42, 43, 44, 45)]
    assert findings[0]["message"].startswith(
        "Traefik's accept queue is net.core.somaxconn (Go's net.Listen reads it at start-up; entry point metrics :9100/tcp)"
    )
    listeners = _explain(project, repo, "--kernel", "4.19")["listeners"]
    assert sorted(_row(l) for l in listeners) == [("traefik", "release-name-traefik", "*", port, 1, -1, 128) for port in (8000, 8080, 8443, 9100)]
    assert _check(project, repo, "--kernel", "5.15").json["findings"] == []


# ===========================================================================
# Kong (servers.md §2.25: the chart sets no backlog=, so nginx's 511)
# ===========================================================================


KONG_ROWS = [
    ("127.0.0.1", 8444, 77),
    ("[::1]", 8444, 77),
    ("0.0.0.0", 8000, 101),
    ("0.0.0.0", 8443, 101),
    ("[::]", 8000, 101),
    ("[::]", 8443, 101),
    ("0.0.0.0", 8100, 113),
    ("[::]", 8100, 113),
]
# Kong Manager on the default admin_gui_listen, located at the container's
# image (test_kong_chart_manager_listeners)
KONG_GUI_ROWS = [("0.0.0.0", 8002, 50), ("0.0.0.0", 8445, 50)]


def test_kong_chart_listens_without_backlog(project):
    repo = _copy(project, "kong-charts")
    path = f"{repo}/deployment.yaml"
    findings = _check(project, path, "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["kong-charts/deployment.yaml:50:16 SMX001 error"] * 2 + [
        f"kong-charts/deployment.yaml:{line}:18 SMX001 error" for _, _, line in KONG_ROWS
    ]
    listeners = _explain(project, path, "--kernel", "4.19")["listeners"]
    assert [(l["address"], l["port"], l["listen"]["line"]) for l in listeners] == KONG_GUI_ROWS + KONG_ROWS
    assert {(l["server"], l["container"], l["requested_backlog"], l["effective_backlog"]) for l in listeners} == {("kong", "proxy", 511, 128)}
    assert _check(project, path, "--kernel", "5.15").json["findings"] == []


def test_kong_chart_with_the_backlog_its_values_suggest(project):
    # rendered with proxy.http.parameters [reuseport, backlog=16384] and
    # proxy.tls.parameters [http2, reuseport, backlog=16384], as the chart's
    # values.yaml comments suggest: 16384 is cut even on a current kernel
    repo = _copy(project, "kong-charts")
    path = f"{repo}/deployment-backlog.yaml"
    findings = _check(project, path, "--kernel", "5.15").json["findings"]
    assert [_where(f) for f in findings] == ["kong-charts/deployment-backlog.yaml:102:18 SMX001 error"] * 4
    assert findings[0]["message"].startswith("Kong KONG_PROXY_LISTEN 0.0.0.0:8000 backlog=16384 on 0.0.0.0:8000 is truncated to 4096")
    listeners = _explain(project, path, "--kernel", "5.15")["listeners"]
    proxy = [(l["address"], l["port"], l["requested_backlog"], l["effective_backlog"]) for l in listeners if l["listen"]["line"] == 102]
    assert proxy == [("0.0.0.0", 8000, 16384, 4096), ("0.0.0.0", 8443, 16384, 4096), ("[::]", 8000, 16384, 4096), ("[::]", 8443, 16384, 4096)]


def test_kong_chart_manager_listeners(project):
    repo = _copy(project, "kong-charts")
    listeners = _explain(project, f"{repo}/deployment.yaml", "--kernel", "4.19")["listeners"]
    gui = [(l["address"], l["port"], l["requested_backlog"], l["effective_backlog"]) for l in listeners if l["port"] in (8002, 8445)]
    assert gui == [("0.0.0.0", 8002, 511, 128), ("0.0.0.0", 8445, 511, 128)]


# ===========================================================================
# HAProxy (servers.md §2.10: bind backlog, else frontend maxconn = global maxconn)
# ===========================================================================


def test_haproxytech_chart_haproxy_is_read(project):
    repo = _copy(project, "haproxytech-helm-charts")
    listeners = _explain(project, repo, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("haproxy", "haproxy", "*", 80, 1, 1024, 128)]
    # the socket is the `bind` line; the finding is where its backlog is set
    assert [(l["listen"]["line"], l["listen"]["column"]) for l in listeners] == [(28, 7)]
    findings = _check(project, repo, "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["haproxytech-helm-charts/haproxy.yaml:19:7 SMX001 error"]


def test_haproxytech_chart_config_with_the_official_image(project):
    # the same rendered chart with the official image's name: read
    repo = _copy(project, "haproxytech-helm-charts")
    path = project.root / repo / "haproxy.yaml"
    path.write_text(path.read_text().replace("docker.io/haproxytech/haproxy-alpine:3.3.10", "haproxy:3.3.10"))
    listeners = _explain(project, repo, "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("haproxy", "haproxy", "*", 80, 1, 1024, 128)]
    findings = _check(project, repo, "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["haproxytech-helm-charts/haproxy.yaml:19:7 SMX001 error"]
    assert findings[0]["message"].startswith("HAProxy global maxconn 1024 on *:80 is truncated to 128")


# ===========================================================================
# Apache httpd and PHP-FPM: kiwix/k8s (no licence: not copied; the pattern
# of zim/download-kiwix/mirrorbrain-web.yaml + mb-configs.cm.yaml and of
# stats/matomo-app.yaml, reduced to lines written for the test)
# ===========================================================================


KIWIX_APACHE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: mb-configs
data:
  httpd.conf: |
    ServerRoot "/usr/local/apache2"
    Listen 80
    LoadModule mpm_event_module modules/mod_mpm_event.so
    Include conf/extra/httpd-vhosts.conf
    <IfModule proxy_html_module>
    Include conf/extra/proxy-html.conf
    </IfModule>
  httpd-vhosts.conf: |
    <VirtualHost *:80>
        ServerName download.example.org
    </VirtualHost>
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: mirrorbrain-web
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/kiwix/mirrorbrain:latest
        name: apache
        command: ["httpd-foreground"]
        volumeMounts:
        - name: configs
          subPath: httpd.conf
          mountPath: "/usr/local/apache2/conf/httpd.conf"
        - name: configs
          subPath: httpd-vhosts.conf
          mountPath: "/usr/local/apache2/conf/extra/httpd-vhosts.conf"
      volumes:
      - name: configs
        configMap:
          name: mb-configs
"""


def test_kiwix_apache_httpd_foreground_with_a_mounted_httpd_conf(project):
    project.write("mirrorbrain.yaml", KIWIX_APACHE, dedent=False)
    findings = _check(project, "mirrorbrain.yaml", "--kernel", "4.19").json["findings"]
    assert [_where(f) for f in findings] == ["mirrorbrain.yaml:8:5 SMX001 error"]
    assert findings[0]["message"].startswith("Apache httpd default ListenBacklog 511 on *:80 is truncated to 128")
    listeners = _explain(project, "mirrorbrain.yaml", "--kernel", "4.19")["listeners"]
    assert [_row(l) for l in listeners] == [("apache", "apache", "*", 80, 1, 511, 128)]
    assert _check(project, "mirrorbrain.yaml", "--kernel", "5.15").json["findings"] == []


KIWIX_MATOMO = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: php-configs
data:
  www-pool.conf: |
    [www]
    pm.max_children = 20
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: matomo-app
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/kiwix/matomo:5.1.0-fpm
        name: matomo
        volumeMounts:
        - name: php-configs
          mountPath: "/usr/local/etc/php-fpm.d/zz-www-pool.conf"
          subPath: www-pool.conf
        ports:
        - containerPort: 9000
      volumes:
      - name: php-configs
        configMap:
          name: php-configs
"""


def test_kiwix_matomo_fpm_is_not_dropped_silently(project):
    project.write("matomo.yaml", KIWIX_MATOMO, dedent=False)
    explain = _explain(project, "matomo.yaml", "--kernel", "4.19")
    seen = [(l["server"], l["container"]) for l in explain["listeners"]] + [(u["server"], u["container"]) for u in explain["unresolved"]]
    assert ("php-fpm", "matomo") in seen

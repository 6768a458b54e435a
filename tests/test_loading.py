"""Loading: YAML streams, JSON, stdin, Helm output, nginx through crossplane."""

import json
import textwrap

from conftest import config_map, deployment, position

NGINX_511 = "events {}\nhttp {\n    server {\n        listen 80;\n    }\n}\n"


def test_multi_document_stream_with_empty_documents_and_trailing_separator(project):
    text = "---\n---\n# only a comment\n---\n" + deployment() + "---\n" + config_map() + "---\n"
    project.write("all.yaml", text)
    [listener] = project.explain("--kernel", "4.4", ".")
    assert listener["workload"] == "Deployment/default/web"
    line, column = position(text, "listen 80;")
    assert listener["listen"] == {"path": "all.yaml", "line": line, "column": column} == {"path": "all.yaml", "line": 40, "column": 13}
    assert listener["effective_backlog"] == 128


def test_kind_list_is_expanded(project):
    items = "apiVersion: v1\nkind: List\nitems:\n"
    for doc in (deployment(), config_map()):
        lines = doc.splitlines()
        items += "- " + lines[0] + "\n" + "".join("  " + line + "\n" for line in lines[1:])
    project.write("list.yaml", items)
    [listener] = project.explain("--kernel", "4.4", ".")
    assert listener["workload"] == "Deployment/default/web"
    line, column = position(items, "listen 80;")
    assert listener["listen"] == {"path": "list.yaml", "line": line, "column": column}


def test_anchors_and_merge_keys(project):
    project.write(
        "anchors.yaml",
        textwrap.dedent(
            """\
        apiVersion: v1
        kind: Pod
        metadata:
          name: anchored
        spec:
          securityContext: &ctx
            sysctls:
            - name: net.core.somaxconn
              value: "256"
          containers:
          - &base
            name: nginx
            image: nginx:1.25
            volumeMounts:
            - {name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}
          - <<: *base
            name: second
          volumes:
          - name: conf
            configMap: {name: web-conf}
        ---
        """
        )
        + config_map(),
    )
    listeners = project.explain(".")
    assert [(l["container"], l["somaxconn"], l["somaxconn_source"]["line"]) for l in listeners] == [
        ("nginx", 256, 8),
        ("second", 256, 8),
    ]


def test_crlf_line_endings_keep_exact_positions(project):
    text = (deployment() + "---\n" + config_map()).replace("\n", "\r\n")
    project.write("crlf.yaml", text, dedent=False)
    [listener] = project.explain("--kernel", "4.4", ".")
    line, column = position(text, "listen 80;")
    assert listener["listen"] == {"path": "crlf.yaml", "line": line, "column": column}
    run = project.run("--kernel", "4.4", ".")
    assert run.lines[0].startswith(f"crlf.yaml:{line}:{column}: SMX001 [error]")


def test_duplicate_keys_are_reported_not_fatal(project):
    project.write(
        "dup.yaml",
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: a
          name: b
        data: {}
        """,
    )
    other = deployment() + "---\n" + config_map()
    project.write("other.yaml", other)
    run = project.run("--kernel", "4.4", ".")
    assert run.status == 1
    assert run.lines[0] == (
        "dup.yaml:5:3: SMX000 [error] cannot parse YAML: duplicate key 'name' (first defined at line 4); "
        "Kubernetes rejects the document"
    )
    assert run.lines[1].startswith("other.yaml:%d:%d: SMX001 [error]" % position(other, "listen 80;"))


def test_syntax_error_in_one_document_keeps_the_others(project):
    text = "a: [\n---\n" + deployment() + "---\n" + config_map()
    project.write("broken.yaml", text)
    run = project.run("--kernel", "4.4", ".")
    assert run.status == 1
    assert run.codes() == ["SMX000", "SMX001"]
    assert run.lines[0].startswith("broken.yaml:2:1: SMX000 [error] cannot parse YAML: ")
    assert run.lines[1].startswith("broken.yaml:%d:%d: SMX001 [error]" % position(text, "listen 80;"))


def test_non_kubernetes_yaml_is_skipped_quietly(project):
    project.write(".github/workflows/ci.yaml", "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n")
    project.write("values.yaml", "replicaCount: 1\nimage:\n  repository: nginx\n")
    run = project.run(".")
    assert (run.status, run.out) == (0, "")
    assert run.err == (
        "somaxlint: 0 files, 2 skipped (2 not Kubernetes or nginx), 0 unparsable; 0 workloads, 0 servers (0 unresolved), 0 listeners; no findings\n"
        # nothing else was given: said, without changing the exit status
        "somaxlint: nothing to lint: no Kubernetes manifest, CNI configuration or nginx config in the input\n"
    )


def test_stdin_stream_as_from_helm_template(project):
    rendered = (
        "---\n# Source: web/templates/deployment.yaml\n" + deployment() + "---\n# Source: web/templates/configmap.yaml\n" + config_map()
    )
    run = project.run("--kernel", "4.4", "--format", "json", "-", stdin=rendered.encode())
    assert run.status == 1
    [finding] = run.json["findings"]
    line, column = position(rendered, "listen 80;")
    assert finding["location"] == {"path": "<stdin>", "line": line, "column": column, "approximate": False}
    assert finding["helm_source"] == "web/templates/configmap.yaml"


def test_helm_source_is_remembered_per_document(project):
    project.write(
        "rendered.yaml",
        "---\n# Source: chart/templates/cm.yaml\n" + config_map() + "---\n# Source: chart/templates/dep.yaml\n" + deployment(),
    )
    from somaxlint.engine import run as run_engine
    from somaxlint.settings import Settings

    result = run_engine([str(project.root / "rendered.yaml")], Settings(), str(project.root))
    [loaded] = result.files
    assert loaded.helm_sources == ["chart/templates/cm.yaml", "chart/templates/dep.yaml"]


def test_json_manifests_go_through_a_json_parser(project):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "j"},
        "spec": {
            "securityContext": {"sysctls": [{"name": "net.core.somaxconn", "value": "100"}]},
            "containers": [{"name": "nginx", "image": "nginx", "volumeMounts": [{"name": "c", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf"}]}],
            "volumes": [{"name": "c", "configMap": {"name": "web-conf"}}],
        },
    }
    text = json.dumps(pod, indent=2)
    project.write("pod.json", text)
    project.write("cm.yaml", config_map())
    [listener] = project.explain(".")
    assert listener["somaxconn"] == 100
    line, column = position(text, '"name": "net.core.somaxconn"')
    assert listener["somaxconn_source"] == {"path": "pod.json", "line": line, "column": column}
    project.write("bad.json", '{"apiVersion": "v1",\n "kind": }\n')
    run = project.run(".")
    assert run.lines[0] == "bad.json:2:10: SMX000 [error] cannot parse JSON: invalid JSON: Expecting value"


def test_nginx_with_lua_blocks_and_unknown_directives_parses(project):
    project.write(
        "nginx.conf",
        """\
        events {}
        http {
            js_import main.js;
            server {
                listen 8080 backlog=8192;
                location / {
                    content_by_lua_block {
                        ngx.say("}")
                    }
                }
                status_zone plus_only;
            }
        }
        """,
    )
    run = project.run(".")
    assert run.lines == [
        run.lines[0]
    ] and run.lines[0].startswith("nginx.conf:5:9: SMX001 [error] backlog=8192 on 0.0.0.0:8080 is truncated to 4096")


def test_nginx_parse_error_is_located(project):
    project.write("nginx.conf", "events {}\nhttp {\n    server {\n        listen 80\n    }\n}\n")
    run = project.run(".")
    assert run.status == 1
    # nginx's own words and line: the `}` that ends the directive
    assert run.lines == ['nginx.conf:5:5: SMX000 [error] cannot parse nginx: unexpected "}"']


def test_another_programs_conf_found_by_walking_is_skipped(project):
    # knative/docs keeps a Scala sample's HOCON src/main/resources/application.conf:
    # its `key = value` lines end at a `}`, which nginx refuses ('unexpected
    # "}"'), so it is not an nginx configuration, not a server without listeners
    project.write("src/main/resources/application.conf", "helloworld {\n  host = localhost\n  host = ${?HOST}\n  port = 8080\n}\n")
    run = project.run("--format", "json", ".")
    assert run.json["findings"] == []
    assert run.json["summary"]["skipped_files"] == [{"path": "src/main/resources/application.conf", "reason": "not an nginx configuration"}]
    assert run.json["summary"]["skipped_not_kubernetes"] == 1
    # named on the command line it is read as nginx, and nginx would refuse it
    run = project.run("src/main/resources/application.conf")
    assert run.lines == ['src/main/resources/application.conf:5:1: SMX000 [error] cannot parse nginx: unexpected "}"']


# Reading a file: one read for a file that has its fstat's size -----------------------

import os  # noqa: E402

import somaxlint.discover as discover_module  # noqa: E402


def _read(path, max_bytes):
    return discover_module._read_fd(os.open(path, os.O_RDONLY), max_bytes)


def test_a_file_is_read_whole_up_to_one_byte_past_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "f"
    for content in (b"", b"x", b"0123456789" * 100):
        path.write_bytes(content)
        reads = []
        real_read = os.read
        monkeypatch.setattr(discover_module.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
        assert _read(path, 10_000) == content
        assert len(reads) == 1  # the size the fstat gave: no second read to see the end
        monkeypatch.undo()
    path.write_bytes(b"0123456789" * 100)
    assert _read(path, 999) == (b"0123456789" * 100)[:1000]  # one past the limit: too large


def test_short_reads_and_a_file_grown_since_its_fstat_are_read_on(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b"abcdefghij" * 10)
    real_read = os.read
    monkeypatch.setattr(discover_module.os, "read", lambda fd, n: real_read(fd, min(n, 7)))
    assert _read(path, 10_000) == b"abcdefghij" * 10
    monkeypatch.undo()
    real_fstat = os.fstat

    class Smaller:
        def __init__(self, st):
            self.st_size = st.st_size - 40
            self.st_mode = st.st_mode

    monkeypatch.setattr(discover_module.os, "fstat", lambda fd: Smaller(real_fstat(fd)))
    assert _read(path, 10_000) == b"abcdefghij" * 10  # grown after the fstat: read to the end
    assert _read(path, 69) == (b"abcdefghij" * 10)[:70]  # ...up to one past the limit

"""Envoy's listeners as `somaxlint explain` lists them: static listeners of
the bootstrap that `-c` / `--config-path` names (a mounted file) and of
`--config-yaml`, `tcp_backlog_size` or the -1 default (the queue follows
somaxconn), and what is said when the bootstrap cannot be read."""

from conftest import position

BOOTSTRAP = """\
admin:
  address:
    socket_address: {address: 127.0.0.1, port_value: 9901}
static_resources:
  listeners:
    - name: ingress
      address:
        socket_address: {address: 0.0.0.0, port_value: 8080}
      additional_addresses:
        - address:
            socket_address: {address: "::", port_value: 8080}
      tcp_backlog_size: 4096
      filter_chains: []
    - name: plain
      address:
        socket_address: {address: 0.0.0.0, port_value: 9090}
      filter_chains: []
    - name: local
      address:
        pipe: {path: /run/envoy.sock}
      tcp_backlog_size: 64
      filter_chains: []
    - name: dns
      address:
        socket_address: {address: 0.0.0.0, port_value: 53, protocol: UDP}
      filter_chains: []
"""


def _manifest(args, bootstrap=None, key="envoy.yaml", image="envoyproxy/envoy:v1.31.0", mount="/etc/envoy-config"):
    """A ConfigMap (when ``bootstrap`` is given) mounted at ``mount`` and a
    Deployment whose container runs ``args``."""
    out = ""
    if bootstrap is not None:
        body = "".join("    " + line + "\n" if line else "\n" for line in bootstrap.split("\n")[:-1])
        out += f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bootstrap}}\ndata:\n  {key}: |\n{body}---\n"
    out += (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata: {name: edge}\n"
        "spec:\n"
        "  selector: {matchLabels: {app: edge}}\n"
        "  template:\n"
        "    metadata: {labels: {app: edge}}\n"
        "    spec:\n"
        "      containers:\n"
        "        - name: envoy\n"
        f"          image: {image}\n"
        f"          args: {args}\n"
        "          volumeMounts:\n"
        f"            - {{name: bootstrap, mountPath: {mount}}}\n"
        "      volumes:\n"
        "        - {name: bootstrap, configMap: {name: bootstrap}}\n"
    )
    return out


def _rows(listeners):
    return [
        (l["address"], l["port"], l["requested_backlog"], (l["listen"]["line"], l["listen"]["column"]), l["listen"].get("approximate", False))
        for l in listeners
    ]


def test_mounted_bootstrap_one_listener_per_tcp_address(project):
    text = _manifest('["-c", "/etc/envoy-config/envoy.yaml"]', BOOTSTRAP)
    project.write("edge.yaml", text, dedent=False)
    listeners = project.explain("--kernel", "4.19", ".")
    value = position(text, "4096")
    below = position(text, "socket_address: {address: 0.0.0.0, port_value: 9090}")
    plain = (below[0] - 1, below[1] - 2)  # listener plain's `address` key, the line above
    assert text.split("\n")[plain[0] - 1][plain[1] - 1:] == "address:"
    # the pipe (UNIX socket) and the UDP listener have no TCP queue
    assert sorted(_rows(listeners)) == sorted(
        [
            ("0.0.0.0", 8080, 4096, value, False),
            ("[::]", 8080, 4096, value, False),
            ("0.0.0.0", 9090, -1, plain, False),
        ]
    )
    explicit = [l for l in listeners if l["requested_backlog"] == 4096]
    assert all(l["requested_backlog_source"]["line"] == value[0] for l in explicit)
    assert explicit[0]["requested_backlog_origin"] == "Envoy tcp_backlog_size 4096 (listener ingress)"
    assert all(l["effective_backlog"] == 128 and l["assumptions"] == [] for l in explicit)
    [follows] = [l for l in listeners if l["port"] == 9090]
    assert follows["requested_backlog_source"] is None
    assert follows["effective_backlog"] == 128
    assert "listener plain sets no tcp_backlog_size" in follows["requested_backlog_origin"]


def test_json_bootstrap_with_camel_case_fields(project):
    bootstrap = '{"staticResources": {"listeners": [\n  {"name": "l", "address": {"socketAddress": {"address": "0.0.0.0", "portValue": 10000}},\n   "tcpBacklogSize": 2048}]}}\n'
    text = _manifest('["--config-path=/etc/envoy-config/envoy.json"]', bootstrap, key="envoy.json")
    project.write("edge.yaml", text, dedent=False)
    assert _rows(project.explain("--kernel", "6.1", ".")) == [("0.0.0.0", 10000, 2048, position(text, "2048"), False)]


def test_config_yaml_inline_is_located_at_the_argument(project):
    inline = "static_resources: {listeners: [{name: l, address: {socket_address: {address: 0.0.0.0, port_value: 10000}}, tcp_backlog_size: 1024}]}"
    text = _manifest(f'["--config-yaml", "{inline}"]')
    project.write("edge.yaml", text, dedent=False)
    [listener] = project.explain("--kernel", "4.19", ".")
    # positions inside an argv string are not mapped: the argument itself
    where = position(text, '"static_resources')
    assert _rows([listener]) == [("0.0.0.0", 10000, 1024, where, True)]
    assert listener["assumptions"] == []


def test_config_yaml_listeners_are_appended_to_the_files(project):
    # bootstrap.MergeFrom(): a repeated field is appended to
    inline = "static_resources: {listeners: [{name: extra, address: {socket_address: {address: 0.0.0.0, port_value: 7000}}}]}"
    text = _manifest(f'["-c", "/etc/envoy-config/envoy.yaml", "--config-yaml", "{inline}"]', BOOTSTRAP)
    project.write("edge.yaml", text, dedent=False)
    ports = sorted((l["port"], l["requested_backlog"]) for l in project.explain("--kernel", "4.19", "."))
    assert ports == [(7000, -1), (8080, 4096), (8080, 4096), (9090, -1)]


def test_bootstrap_not_in_the_input_is_an_assumption(project):
    text = _manifest('["-c", "/etc/envoy/generated.yaml"]', BOOTSTRAP)
    project.write("edge.yaml", text, dedent=False)
    [listener] = project.explain("--kernel", "4.19", ".")
    assert _rows([listener]) == [("*", None, -1, position(text, "envoyproxy/envoy"), False)]
    assert listener["assumptions"] == [
        "/etc/envoy/generated.yaml is not in the input (written at run time or mounted from elsewhere): assumed to set no tcp_backlog_size"
    ]
    # SMX021 becomes a warning that names it
    run = project.run("--format", "json", "--select", "SMX021", "--kernel", "4.19", ".")
    [finding] = run.json["findings"]
    assert finding["severity"] == "warning"
    assert "/etc/envoy/generated.yaml is not in the input" in finding["message"]


def test_dynamic_only_bootstrap_keeps_the_single_follows_listener(project):
    bootstrap = """\
node: {id: edge, cluster: edge}
dynamic_resources:
  lds_config: {ads: {}, resource_api_version: V3}
  cds_config: {ads: {}, resource_api_version: V3}
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{envoy_grpc: {cluster_name: xds}}]
static_resources:
  clusters:
    - name: xds
      type: STRICT_DNS
"""
    text = _manifest('["-c", "/etc/envoy-config/envoy.yaml"]', bootstrap)
    project.write("edge.yaml", text, dedent=False)
    [listener] = project.explain("--kernel", "4.19", ".")
    assert _rows([listener]) == [("*", None, -1, position(text, "envoyproxy/envoy"), False)]
    assert listener["requested_backlog_origin"] == "Envoy backlog = net.core.somaxconn (Envoy's default listen backlog is -1 on Linux)"
    assert listener["assumptions"] == []


def test_non_literal_value_falls_back_to_somaxconn_with_an_assumption(project):
    bootstrap = BOOTSTRAP.replace("tcp_backlog_size: 4096", 'tcp_backlog_size: "{{ .Values.backlog }}"')
    text = _manifest('["-c", "/etc/envoy-config/envoy.yaml"]', bootstrap)
    project.write("edge.yaml", text, dedent=False)
    listeners = [l for l in project.explain("--kernel", "4.19", ".") if l["port"] == 8080]
    where = position(text, '"{{ .Values')
    assert _rows(listeners) == [("0.0.0.0", 8080, -1, where, False), ("[::]", 8080, -1, where, False)]
    assert listeners[0]["assumptions"] == [
        "tcp_backlog_size of listener ingress in /etc/envoy-config/envoy.yaml is '{{ .Values.backlog }}', not a literal "
        "integer: treated as unset, so the queue is net.core.somaxconn (a value given at run time is not checked)"
    ]
    run = project.run("--format", "json", "--kernel", "4.19", ".")
    assert not [f for f in run.json["findings"] if f["rule"] == "SMX001"]
    smx021 = [f for f in run.json["findings"] if f["rule"] == "SMX021"]
    assert {f["severity"] for f in smx021} == {"warning", "error"}  # the unknown value warns; listener plain is certain


def test_unquoted_template_is_read_as_far_as_it_parses(project):
    bootstrap = BOOTSTRAP.replace("tcp_backlog_size: 4096", "tcp_backlog_size: {{ .Values.backlog }}")
    text = _manifest('["-c", "/etc/envoy-config/envoy.yaml"]', bootstrap)
    project.write("edge.yaml", text, dedent=False)
    listeners = project.explain("--kernel", "4.19", ".")
    assert sorted((l["port"], l["requested_backlog"]) for l in listeners) == [(8080, -1), (8080, -1), (9090, -1)]
    assert all(l["assumptions"] for l in listeners)


def test_image_default_command_reads_a_bootstrap_mounted_over_the_images(project):
    bootstrap = "static_resources:\n  listeners:\n    - name: l\n      address: {socket_address: {address: 0.0.0.0, port_value: 10000}}\n      tcp_backlog_size: 512\n"
    text = _manifest("[]", bootstrap, mount="/etc/envoy")
    project.write("edge.yaml", text, dedent=False)
    assert _rows(project.explain("--kernel", "4.19", ".")) == [("0.0.0.0", 10000, 512, position(text, "512"), False)]


def test_protobuf_bootstrap_is_not_read(project):
    text = _manifest('["-c", "/etc/envoy-config/envoy.pb"]', "binary\n", key="envoy.pb")
    project.write("edge.yaml", text, dedent=False)
    [listener] = project.explain("--kernel", "4.19", ".")
    assert listener["assumptions"] == ["/etc/envoy-config/envoy.pb is a protobuf bootstrap, which somaxlint does not read: assumed to set no tcp_backlog_size"]


def test_pilot_agent_is_unchanged(project):
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: gw}\nspec:\n  containers:\n"
        "    - name: istio-proxy\n      image: docker.io/istio/proxyv2:1.22.0\n"
        '      command: ["/usr/local/bin/pilot-agent"]\n'
        '      args: ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning"]\n'
    )
    project.write("gw.yaml", text, dedent=False)
    [listener] = project.explain("--kernel", "4.19", ".")
    assert _rows([listener]) == [("*", None, -1, position(text, '"/usr/local/bin/pilot-agent"'), False)]
    assert listener["requested_backlog_origin"] == "Envoy backlog = net.core.somaxconn (Envoy's default listen backlog is -1 on Linux)"
    assert listener["assumptions"] == []

"""Property-based tests: loaders, the container filesystem builder and the
value parsers never raise, and every position they report lies inside the
input."""

import os
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from somaxlint.load.nginx_text import parse_nginx
from somaxlint.load.positioned import YMap, YSeq
from somaxlint.load.yaml_stream import load_yaml
from somaxlint.servers.nginx.config import Directive, parse_backlog, parse_listen
from somaxlint.model.shell import sysctl_writes

YAML_ALPHABET = string.ascii_letters + string.digits + " :-[]{}#&*!|>'\"\n\t,?%@`\r\\." + "é\u2028"
NGINX_ALPHABET = string.ascii_letters + string.digits + " ;{}#'\"\n\t$\\()=*:/[]." + "é"
FAST = settings(max_examples=int(os.environ.get("SOMAXLINT_PROPERTY_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _inside(text: str, line: int, column: int) -> bool:
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return False
    return 1 <= column <= len(lines[line - 1]) + 1


def _positions(value):
    stack = [value]
    seen = 0
    while stack and seen < 100000:
        node = stack.pop()
        seen += 1
        if isinstance(node, YMap):
            yield node.pos
            for key in node:
                yield node.kpos[key]
                yield node.vpos[key]
                stack.append(node[key])
        elif isinstance(node, YSeq):
            yield node.pos
            yield from node.ipos
            stack.extend(node)


yaml_texts = st.one_of(
    st.text(alphabet=YAML_ALPHABET, max_size=300),
    st.lists(
        st.sampled_from(["a: 1", "b:", "  - x", "  - {y: [1, 2]}", "---", "c: |", "  text", "d: &k v", "e: *k", "<<: {f: 1}", "g: 'q'", "  h: 2", "...", "# c", ""]),
        max_size=25,
    ).map("\n".join),
)


@FAST
@given(yaml_texts)
def test_yaml_loader_never_raises_and_positions_are_inside(text):
    documents, errors = load_yaml(text)
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    for error in errors:
        assert 1 <= error.line <= normalised.count("\n") + 2 and error.column >= 1
    for doc in documents:
        for line, column, _ in _positions(doc.root):
            assert line >= 1 and column >= 1
            assert line <= normalised.count("\n") + 1


nginx_texts = st.one_of(
    st.text(alphabet=NGINX_ALPHABET, max_size=300),
    st.lists(
        st.sampled_from(["events {}", "http {", "server {", "listen 80;", "listen [::]:81 backlog=5;", "}", "include x.conf;", "# c", "location / {", "return 200 'x';", "content_by_lua_block { ngx.say('}') }", "if ($x) {", ""]),
        max_size=30,
    ).map("\n".join),
)


@FAST
@given(nginx_texts)
def test_nginx_loader_never_raises_and_positions_are_inside(text):
    directives, errors = parse_nginx(text)
    for error in errors:
        assert _inside(text, error.line, error.column)
    stack = list(directives)
    while stack:
        d = stack.pop()
        assert _inside(text, d.line, d.column), (d, text)
        if d.block:
            stack.extend(d.block)


@FAST
@given(st.lists(st.text(alphabet=string.printable, max_size=30), min_size=1, max_size=5), st.sampled_from(["http", "stream", "mail"]))
def test_listen_parser_never_raises(args, module):
    listen = parse_listen(Directive("listen", args, 1, 1, None), module, 80)
    if listen is not None and listen.port is not None:
        assert 0 < listen.port <= 65535
    if listen is not None and listen.backlog is not None:
        assert listen.backlog not in (0, -1) and -(2**31) <= listen.backlog < 2**31


@FAST
@given(st.text(max_size=40))
def test_backlog_parser_never_raises(raw):
    value, error = parse_backlog(raw)
    assert (value is None) != (error is None)


@FAST
@given(st.lists(st.text(alphabet=string.printable, max_size=60), max_size=6))
def test_sysctl_command_parser_never_raises(argv):
    for write in sysctl_writes(argv):
        assert isinstance(write.name, str) and isinstance(write.value, str)


def _pod_values():
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12), st.sampled_from(["/etc/nginx", "/etc/nginx/nginx.conf", "nginx.conf", "conf"]))
    return st.recursive(
        leaf,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(["name", "mountPath", "subPath", "configMap", "secret", "projected", "sources", "items", "key", "path", "volumeMounts", "volumes", "containers", "image", "command", "args", "securityContext", "sysctls", "value"]), children, max_size=4),
        ),
        max_leaves=20,
    )


def _to_positioned(value):
    if isinstance(value, dict):
        node = YMap((1, 1, None))
        for key, item in value.items():
            node[key] = _to_positioned(item)
            node.kpos[key] = node.vpos[key] = (1, 1, None)
        return node
    if isinstance(value, list):
        seq = YSeq((1, 1, None))
        for item in value:
            seq.append(_to_positioned(item))
            seq.ipos.append((1, 1, None))
        return seq
    return value


@FAST
@given(_pod_values(), _pod_values())
def test_container_filesystem_builder_never_raises(spec, data):
    from somaxlint.discover import InputFile
    from somaxlint.load import LoadedFile
    from somaxlint.load.yaml_stream import Document
    from somaxlint.model.filesystem import SourceCache, build_fs
    from somaxlint.model.objects import collect
    from somaxlint.model.shape import pod_problems

    pod = _to_positioned({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
    cm = _to_positioned({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}, "data": data})
    loaded = LoadedFile(InputFile("x", "x.yaml", "yaml", True), "yaml", text="", documents=[Document(0, pod, 1, 1), Document(1, cm, 1, 1)], helm_sources=[None, None])
    inventory = collect([loaded])
    for workload in inventory.workloads:
        pod_problems(workload)
        for container in workload.containers + workload.init_containers:
            build_fs(container, inventory, SourceCache())


# Shortcuts that stand for a regular expression must answer as it does ------------

_MIXED = st.text(alphabet=st.one_of(st.characters(max_codepoint=0x7F), st.characters()), max_size=20)


@FAST
@given(_MIXED)
def test_the_not_printable_search_is_the_full_class_on_any_text(text):
    import re

    from somaxlint.load import yaml_stream

    yaml_stream._setup_patterns()
    full = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    expected, got = full.search(text), yaml_stream._NOT_PRINTABLE.search(text)
    assert (expected and (expected.start(), expected.group())) == (got and (got.start(), got.group()))


@FAST
@given(_MIXED)
def test_escape_control_is_the_full_substitution_on_any_text(text):
    import re

    from somaxlint.report import escape_control

    control = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]")

    def visible(m):
        code = ord(m.group())
        return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code

    assert escape_control(text) == control.sub(visible, text)


_ADDRESS_LIKE = st.one_of(
    st.text(alphabet="0123456789.:abcdefx٣² ", max_size=16),
    st.lists(st.one_of(st.integers(0, 300).map(str), st.integers(0, 99).map(lambda n: f"0{n}"), st.just("")), min_size=3, max_size=5).map(".".join),
    st.ip_addresses().map(str),
)


@FAST
@given(_ADDRESS_LIKE)
def test_is_ip_address_tells_addresses_from_names_as_ipaddress_does(text):
    import ipaddress

    from somaxlint.servers.nginx.config import is_ip_address

    try:
        ipaddress.ip_address(text)
        expected = True
    except ValueError:
        expected = False
    assert is_ip_address(text) is expected


@FAST
@given(st.one_of(st.ip_addresses(v=6), st.integers(0, 2**32 - 1).map(lambda n: __import__("ipaddress").IPv6Address((0xFFFF << 32) | n))), st.sampled_from(["compressed", "exploded", "upper"]))
def test_an_ipv4_mapped_listen_is_told_as_ipaddress_tells_it(address, spelling):
    from somaxlint.servers.nginx.config import Listen

    text = {"compressed": str(address), "exploded": address.exploded, "upper": str(address).upper()}[spelling]
    listen = Listen(None, "http", "inet6", text, 80, False, {}, False)
    mapped = address.ipv4_mapped
    assert listen.mapped == (str(mapped) if mapped is not None else None)


@FAST
@given(st.one_of(st.text(min_size=1, max_size=12), st.sampled_from(["²", "٣1", "1_000", "0o17", "017", "0x1F", "+.5", ".inf", "-.INF", ".NaN", "True", "off", "~", "null", "NULL", "e5", "1e5", "١٢"])))
def test_the_plain_scalar_shortcut_resolves_as_resolve_plain(text):
    """The YAML builder settles a plain scalar without calling
    resolve_plain when it is not a null or boolean word and does not start
    like a number: resolve_plain must leave every such text as it is."""
    from somaxlint.load import yaml_stream

    expected = yaml_stream.resolve_plain(text)
    shortcut = text not in yaml_stream._PLAIN_SPECIAL and text[:1] not in yaml_stream._PLAIN_LEADS
    if shortcut:
        assert type(expected) is str and expected == text


class _Map(dict):
    pass


class _Seq(list):
    pass


class _Text(str):
    pass


_JSON_KEYS = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.floats(allow_nan=False), st.booleans(), st.none())
_JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63), st.floats(), st.text(max_size=12),
        st.text(max_size=6).map(_Text),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.lists(children, max_size=3).map(_Seq),
        st.dictionaries(_JSON_KEYS, children, max_size=4),
        st.dictionaries(st.text(max_size=4), children, max_size=3).map(_Map),
    ),
    max_leaves=25,
)


@FAST
@given(_JSON_VALUES)
@example([float("nan"), float("inf"), -float("inf"), 1e16, -0.0, 2**70, True, None, "é\u2028\ud800"])
@example({1.5: {}, True: [], None: (), 7: _Map(a=_Seq([_Text("x")])), "k": {"": [[]]}})
def test_json_reports_are_written_as_json_writes_them(document):
    """The reports' writer is its own pretty-printer (json's is Python
    generators when it indents): byte for byte json's output, subclasses,
    non-string keys, big integers, NaN and infinities included."""
    import io
    import json

    from somaxlint.report import write_json

    out = io.StringIO()
    write_json(document, out)
    assert out.getvalue() == "".join(json.JSONEncoder(indent=2, ensure_ascii=True).iterencode(document)) + "\n"

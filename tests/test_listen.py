"""Every `listen` form, grouped into the sockets nginx opens."""

import pytest

from conftest import position

from somaxlint import facts
from somaxlint.servers.nginx.config import parse_backlog


def _sockets(project, conf, *args):
    project.write("nginx.conf", conf)
    return [
        (l["module"], l["family"], l["address"], l["port"], l["sockets"], l["requested_backlog"], l["effective_backlog"])
        for l in project.explain("--kernel", "6.1", *args, ".")
    ]


def test_address_forms(project):
    conf = """\
    events {}
    http {
        server { listen 80; }
        server { listen *:81; }
        server { listen [::]:82; }
        server { listen 127.0.0.1:8080 backlog=100; }
        server { listen [::1]:8081 backlog=200; }
        server { listen 127.0.0.2; }
        server { listen unix:/run/app.sock backlog=9000; }
        server { server_name no-listen.example; }
    }
    stream {
        server { listen 5000 backlog=64; proxy_pass 127.0.0.1:6000; }
        server { listen 5353 udp; proxy_pass 127.0.0.1:53; }
    }
    """
    assert sorted(_sockets(project, conf)) == sorted(
        [
            ("http", "inet", "0.0.0.0", 80, 1, 511, 511),
            ("http", "inet", "0.0.0.0", 81, 1, 511, 511),
            ("http", "inet6", "::", 82, 1, 511, 511),
            ("http", "inet", "127.0.0.1", 8080, 1, 100, 100),
            ("http", "inet6", "::1", 8081, 1, 200, 200),
            # 127.0.0.2 listens on port 80 too, and folds into the wildcard
            ("http", "unix", "unix:/run/app.sock", None, 1, 9000, 4096),
            ("stream", "inet", "0.0.0.0", 5000, 1, 64, 64),
        ]
    )


def test_server_without_listen_when_not_root(project):
    project.write(
        "d.yaml",
        """\
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        spec:
          securityContext: {runAsUser: 101}
          containers:
          - name: nginx
            image: nginx
            volumeMounts: [{name: c, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}]
          volumes: [{name: c, configMap: {name: c}}]
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: c}
        data:
          nginx.conf: "events {}\\nhttp { server { server_name x; } }\\n"
        """,
    )
    [listener] = project.explain(".")
    assert (listener["port"], listener["requested_backlog"]) == (8000, 511)


def test_several_servers_share_one_socket(project):
    conf = """\
    events {}
    http {
        server { listen 127.0.0.1:8080 default_server; server_name a; }
        server { listen 127.0.0.1:8080 backlog=2048; server_name b; }
        server { listen 127.0.0.1:8080; server_name c; }
    }
    """
    assert _sockets(project, conf) == [("http", "inet", "127.0.0.1", 8080, 1, 2048, 2048)]
    [listener] = project.explain(".")
    assert listener["listen"] == {"path": "nginx.conf", "line": 4, "column": 14}


def test_specific_address_beside_wildcard(project):
    conf = """\
    events {}
    http {
        server { listen 8080; }
        server { listen 127.0.0.1:8080; }
        server { listen 127.0.0.2:8080 backlog=300; }
    }
    """
    # 127.0.0.1 shares the wildcard socket; 127.0.0.2 carries an option
    # (backlog implies bind) and gets its own.
    assert sorted(_sockets(project, conf)) == [
        ("http", "inet", "0.0.0.0", 8080, 1, 511, 511),
        ("http", "inet", "127.0.0.2", 8080, 1, 300, 300),
    ]


def test_reuseport_opens_one_socket_per_worker(project):
    conf = "worker_processes 3;\nevents {}\nhttp { server { listen 127.0.0.1:8080 reuseport backlog=1000; } }\n"
    assert _sockets(project, conf) == [("http", "inet", "127.0.0.1", 8080, 3, 1000, 1000)]
    conf_auto = "worker_processes auto;\nevents {}\nhttp { server { listen 8080 reuseport; } }\n"
    assert _sockets(project, conf_auto) == [("http", "inet", "0.0.0.0", 8080, None, 511, 511)]


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("511", 511),
        ("65536", 65536),
        ("4294967296", None),  # wraps to 0 in nginx's int: invalid
        ("4294967297", 1),
        ("3000000000", 3000000000 - 2**32),
        ("4294967295", None),  # wraps to -1, NGX_ERROR
        ("0", None),
        ("-1", None),
        ("abc", None),
        ("", None),
        ("99999999999999999999", None),
    ],
)
def test_backlog_parsing_follows_nginx(raw, stored):
    value, error = parse_backlog(raw)
    assert value == stored
    assert (error is None) == (stored is not None)


@pytest.mark.parametrize(
    "backlog, somaxconn, effective",
    [(511, 128, 128), (100, 4096, 100), (-1, 4096, 4096), (-1294967296, 8192, 8192), (70000, 100000, 70000), (0, 128, 0)],
)
def test_kernel_clamp_is_unsigned(backlog, somaxconn, effective):
    assert facts.kernel_clamp(backlog, somaxconn) == effective


def test_wrapped_backlog_reaches_somaxconn(project):
    assert _sockets(project, "events {}\nhttp { server { listen 8080 backlog=3000000000; } }\n") == [
        ("http", "inet", "0.0.0.0", 8080, 1, 3000000000 - 2**32, 4096)
    ]
    run = project.run("--kernel", "6.1", ".")
    assert run.lines[0].startswith(
        "nginx.conf:2:17: SMX001 [error] backlog=3000000000 (stored in nginx's int as -1294967296, which the kernel "
        "reads as unsigned: as large as allowed) on 0.0.0.0:8080 is truncated to 4096"
    )


def test_multiple_directives_on_one_line_get_their_own_columns(project):
    conf = "events {}\nhttp { server { listen 8080 backlog=9000; } server { listen 8081 backlog=9001; } }\n"
    project.write("nginx.conf", conf)
    run = project.run("--kernel", "6.1", ".")
    first, second = position(conf, "listen"), position(conf, "listen", 2)
    assert second == (2, 54)
    assert [line.split(" SMX001")[0] for line in run.lines] == ["nginx.conf:%d:%d:" % first, "nginx.conf:%d:%d:" % second]


@pytest.mark.parametrize(
    "listens, fires",
    [
        (["listen 8080;", "listen 127.0.0.2:8080 backlog=300;"], True),
        (["listen [::]:8080;", "listen [::1]:8080 rcvbuf=64k;"], True),
        (["listen 8080 backlog=700;", "listen 127.0.0.2:8080;"], False),  # folded into the wildcard socket
        (["listen 8080 reuseport;", "listen 127.0.0.2:8080 reuseport;"], False),  # SO_REUSEPORT on both
        (["listen 8080;", "listen 127.0.0.2:8081 backlog=300;"], False),
        (["listen [::]:8080;", "listen 127.0.0.2:8080 backlog=300;"], False),  # other family
    ],
)
def test_smx015_specific_address_with_options_beside_wildcard(project, listens, fires):
    conf = "events {}\nhttp {\n" + "".join(f"    server {{ {l} }}\n" for l in listens) + "}\n"
    project.write("nginx.conf", conf)
    run = project.run("--select", "SMX015", ".")
    if fires:
        line, column = position(conf, listens[1])
        assert run.lines == [run.lines[0]] and run.lines[0].startswith(f"nginx.conf:{line}:{column}: SMX015 [error] listen ")
        assert run.status == 1
    else:
        assert (run.status, run.out) == (0, "")

"""SMX024 against nginx itself: each configuration is checked by the real
`nginx -t` (nginx 1.22.1, which .ci/run installs) and by somaxlint with
the image `nginx:1.22.1` (whose modules somaxlint knows exactly).  Where
nginx refuses the configuration, somaxlint's first refusal is nginx's
message at nginx's line; where nginx accepts it, somaxlint says nothing.

Only http configurations: the Debian package builds stream and mail as
dynamic modules, the official image statically; http's modules are the
same in both (`nginx -V`)."""

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if shutil.os.path.exists("/usr/sbin/nginx") else None)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")

# (name, configuration): each one either passes nginx -t, or fails it with
# one error
CASES = [
    ("typo", """\
        events {}
        http {
            server {
                listen 18080;
                location / { proxy_passs http://127.0.0.1:9000; }
            }
        }
     """),
    ("server-at-the-top", """\
        events {}
        server {
            listen 18080;
        }
     """),
    ("no-events", """\
        http {
            server { listen 18080; }
        }
     """),
    ("empty-upstream", """\
        events {}
        http {
            upstream app {
            }
            server { listen 18080; location / { proxy_pass http://app; } }
        }
     """),
    ("unknown-variable-in-add-header", """\
        events {}
        http {
            server {
                listen 18080;
                add_header X-Id $reqid;
            }
        }
     """),
    ("unknown-variable-in-return", """\
        events {}
        http {
            server {
                listen 18080;
                location / { return 200 "$host $no_such_thing"; }
            }
        }
     """),
    ("unknown-variable-in-root", """\
        events {}
        http {
            server {
                listen 18080;
                root /srv/$site_dir;
            }
        }
     """),
    ("proxy-pass-in-http", """\
        events {}
        http {
            proxy_pass http://127.0.0.1:9000;
            server { listen 18080; }
        }
     """),
    ("listen-in-location", """\
        events {}
        http {
            server {
                listen 18080;
                location / { listen 18081; }
            }
        }
     """),
    ("location-without-block", """\
        events {}
        http {
            server {
                listen 18080;
                location /;
            }
        }
     """),
    ("directive-ended-by-a-brace", """\
        events {}
        http {
            server {
                listen 8080
            }
        }
    """),
    ("directive-ended-by-a-brace-in-a-block-nginx-has-no-table-for", """\
        events {}
        http {
            map $uri $x {
                default 1
            }
        }
    """),
    ("events-twice", """\
        events {}
        events {}
        http { server { listen 18080; } }
     """),
    ("http2-directive-before-1.25.1", """\
        events {}
        http {
            server {
                listen 18080;
                http2 on;
            }
        }
     """),
    ("accepted: variables defined by map, set, captures and modules", """\
        events {}
        http {
            map $http_upgrade $connection_upgrade { default upgrade; "" close; }
            log_format main '$remote_addr $upstream_addr $request_time "$http_user_agent"';
            access_log off;
            geo $internal { default 0; 10.0.0.0/8 1; }
            server {
                listen 18080;
                set $backend 127.0.0.1:9000;
                location ~ ^/u/(?<user>[a-z]+)/(.*)$ {
                    proxy_set_header Connection $connection_upgrade;
                    proxy_set_header X-Internal $internal;
                    add_header X-User "$user $1 $2";
                    proxy_pass http://$backend;
                }
                location /s/ {
                    if ($request_uri ~ ^/s/(?P<slug>\\w+)) {
                        return 302 /t/$slug;
                    }
                    try_files $uri $uri/ =404;
                }
            }
        }
     """),
    ("accepted: ssl on still exists in 1.22", """\
        events {}
        http {
            limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;
            server {
                listen 18080;
                ssl off;
                gzip on;
                location / { limit_req zone=one; root /srv; }
            }
        }
     """),
    ("accepted: upstream with a server, stub_status, realip", """\
        events { worker_connections 512; }
        worker_processes 2;
        http {
            upstream app { server 127.0.0.1:9000; keepalive 8; }
            server {
                listen 18080 backlog=64;
                set_real_ip_from 10.0.0.0/8;
                real_ip_header X-Forwarded-For;
                location = /status { stub_status; }
                location / { proxy_pass http://app; proxy_http_version 1.1; }
            }
        }
     """),
]

_EMERG = re.compile(r"\[emerg\] (.*?) in (\S+):(\d+)$", re.M)
_EMERG_NO_LINE = re.compile(r"\[emerg\] (.*?)(?: in (/\S+))?$", re.M)


def nginx_verdict(tmp_path, text):
    """(message, line) of nginx -t's error, or None when it accepts."""
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    run = subprocess.run(
        [NGINX, "-t", "-q", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log"),
         "-g", f"pid {prefix}/nginx.pid;"],
        capture_output=True, text=True, timeout=60,
    )
    if run.returncode == 0:
        return None
    found = _EMERG.search(run.stderr)
    if found:
        return found.group(1), int(found.group(3))
    found = _EMERG_NO_LINE.search(run.stderr)
    assert found, run.stderr
    return found.group(1), None


def manifest(text):
    body = textwrap.indent(text, "    ")
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata:\n  nginx.conf: |\n" + body +
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n"
        "      containers:\n        - name: nginx\n          image: nginx:1.22.1\n"
        "          volumeMounts: [{name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}]\n"
        "      volumes: [{name: conf, configMap: {name: conf}}]\n"
    )


# the configuration's first line is line 6 of the manifest
FIRST_LINE = 6


@pytest.mark.parametrize("name,text", CASES, ids=[c[0] for c in CASES])
def test_smx024_says_what_nginx_t_says(project, tmp_path, name, text):
    text = textwrap.dedent(text)
    expected = nginx_verdict(tmp_path, text)
    project.write("app.yaml", manifest(text), dedent=False)
    run = project.run("--kernel", "6.1", "--format", "json", "app.yaml")
    # what nginx's parser refuses is SMX000 (cannot parse), the rest SMX024
    findings = [f for f in run.json["findings"] if f["rule"] in ("SMX000", "SMX024")]
    if expected is None:
        assert (name, findings, run.status) == (name, [], 0)
        return
    message, line = expected
    assert findings, f"nginx -t: {message}"
    first = findings[0]
    said = re.match(r'(?:nginx refuses this (?:main )?configuration with "(.*?)": |cannot parse nginx(?: \(in [^)]*\))?: (.*))', first["message"])
    assert (said and (said.group(1) or said.group(2)), first["severity"], run.status) == (message, "error", 1)
    if line is None:
        return
    ours = first["location"]["line"] - FIRST_LINE + 1
    if message == "no servers are inside upstream":
        # nginx names the line where the block ends; somaxlint the upstream
        assert (text.splitlines()[ours - 1].split()[0], ours < line) == ("upstream", True)
    else:
        assert ours == line


def test_the_cases_cover_both_verdicts(tmp_path):
    """The comparison means something only if nginx refuses some cases and
    accepts others (a broken nginx would refuse them all)."""
    verdicts = [nginx_verdict(tmp_path / str(i), textwrap.dedent(t)) for i, (_, t) in enumerate(CASES)]
    assert sum(v is None for v in verdicts) == 3
    assert len({v[0] for v in verdicts if v}) >= 10


def test_explain_says_a_refused_configuration_opens_no_socket(project):
    """The backlog of an nginx that does not start is what it would get
    once it starts: SMX001 is then a warning saying so, and explain's
    record has no `ss` line and names the refusal."""
    text = textwrap.dedent(CASES[0][1])  # the typo
    project.write("app.yaml", manifest(text), dedent=False)
    [record] = project.explain("--kernel", "4.19", "app.yaml")
    lines = text.splitlines()
    [i] = [n for n, one in enumerate(lines) if "proxy_passs" in one]
    line, column = FIRST_LINE + i, 4 + lines[i].index("proxy_passs") + 1  # (the manifest indents by 4)
    assert record["bind_conflict"] == f'nginx does not start: unknown directive "proxy_passs" at app.yaml:{line}:{column} (SMX024)'
    assert record["ss_line"] is None
    run = project.run("--kernel", "4.19", "--format", "json", "app.yaml")
    [backlog] = [f for f in run.json["findings"] if f["rule"] == "SMX001"]
    assert backlog["severity"] == "warning"
    assert any("it refuses this configuration" in a for a in backlog["assumptions"]), backlog["assumptions"]


# The differential over real files: every main configuration of the shared
# corpus and of these tests, through nginx -t in a copy of its directory ----

# nginx's messages of the kinds SMX024 says (the others -- a file an include
# names is not there, a user the machine lacks, a duplicate listen -- are
# other rules' or the machine's)
_COMPARABLE = re.compile(
    r'^(unknown directive "(?P<directive>[^"]+)"|"[^"]+" directive is not allowed here|no "events" section in configuration'
    r'|no servers are inside upstream|unknown "[^"]+" variable|"[^"]+" directive is duplicate)$'
)


def _main_configs(top):
    for path in sorted(top.rglob("*.conf")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name == "nginx.conf" or re.search(r"^\s*events\s*\{", text, re.M):
            yield path


def _nginx_t_in_place(tmp_path, path):
    """nginx -t on ``path`` in a copy of its directory (its includes
    relative to it), the Debian build's stream and mail modules loaded
    where it has those blocks (the official image builds them in)."""
    root = tmp_path / "root"
    shutil.copytree(path.parent, root, symlinks=True)
    (root / "logs").mkdir(exist_ok=True)
    text = path.read_text(encoding="utf-8", errors="replace")
    loads = ""
    for block, module in (("stream", "ngx_stream_module"), ("mail", "ngx_mail_module")):
        if re.search(rf"^\s*{block}\s*\{{", text, re.M) and module not in text:
            loads += f"load_module /usr/lib/nginx/modules/{module}.so;\n"
    wrapper = root / "__wrapper.conf"
    wrapper.write_text(f"{loads}include {root / path.name};\n")
    run = subprocess.run([NGINX, "-t", "-q", "-p", f"{root}/", "-c", str(wrapper), "-e", str(root / "logs" / "error.log")],
                         capture_output=True, text=True, timeout=60)
    if run.returncode == 0:
        return None
    found = re.search(r"\[emerg\] (.*?)(?: in (/\S+?):(\d+))?$", run.stderr, re.M)
    assert found, run.stderr
    same_file = found.group(2) is not None and found.group(2).endswith("/" + path.name)
    return found.group(1), int(found.group(3)) if same_file else None


def _real_configs():
    from conftest import CORPUS

    tops = [CORPUS] if CORPUS.is_dir() else []
    tops.append(Path(__file__).parent)
    return [p for top in tops for p in _main_configs(top)]


def _said(finding):
    said = re.match(r'nginx refuses this (?:main )?configuration with "(.*?)": ', finding["message"])
    return said.group(1) if said else None


def _no_module_has(directive):
    """A name no module nginx, njs, the Lua modules or crossplane know
    defines: what every build refuses."""
    from crossplane.analyzer import DIRECTIVES as CROSSPLANE

    from somaxlint.servers.nginx.directive_table import DIRECTIVES

    return directive not in DIRECTIVES and directive not in CROSSPLANE


def test_smx024_agrees_with_nginx_t_on_every_real_main_configuration(project, tmp_path):
    from conftest import CORPUS

    configs = _real_configs()
    if CORPUS.is_dir():
        assert len(configs) >= 50, len(configs)
    compared = refused = accepted = 0
    for i, path in enumerate(configs):
        verdict = _nginx_t_in_place(tmp_path / str(i), path)
        run = project.run("--select", "SMX024", "--format", "json", str(path))
        findings = run.json["findings"]
        where = str(path)
        if verdict is None:
            accepted += 1
            # nginx takes it: somaxlint says nothing
            assert findings == [], (where, findings)
            continue
        message, line = verdict
        # somaxlint is sure only of what nginx refuses too
        if any(f["severity"] == "error" for f in findings):
            refused += 1
        comparable = _COMPARABLE.match(message)
        if comparable is None or (comparable.group("directive") and not _no_module_has(comparable.group("directive"))):
            continue  # the machine's (a missing include, user) or a module this Debian build lacks
        compared += 1
        ours = [(_said(f), f["location"]["line"]) for f in findings]
        assert message in [m for m, _ in ours], (where, verdict, ours)
        if line is not None and message != "no servers are inside upstream":  # (nginx: the block's end)
            assert (message, line) in ours, (where, verdict, ours)
    assert compared >= 3 and accepted >= 10, (compared, refused, accepted)

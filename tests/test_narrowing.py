"""Files named among a wider context: only what they relate to is modelled
(``somaxlint.relations``), and the report is byte for byte the one of
modelling the whole context -- for every file of repositories laid out as
teams lay theirs out, cold and with the cache's keys of unchanged files.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from conftest import config_map, corpus_or_skip, deployment

import somaxlint.engine as engine

REPO = Path(__file__).parent / "repos" / "platform"


def _nginx(listen: str) -> dict:
    return {"nginx.conf": f"events {{}}\nhttp {{\n    server {{\n        listen {listen};\n    }}\n}}\n"}


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def many_apps(root: Path) -> None:
    """Applications with dev/prod copies of the same names, a ConfigMap
    shared by Deployments elsewhere, a Multus network, a Namespace with
    Pod Security labels, the pods' CNI network, an ambiguous reference, an
    unmounted ConfigMap, a List, duplicates and an init container."""
    _write(root, ".somaxlint.yaml", 'kernel: "4.19"\ncni:\n  default: cni/10-net.conflist\n')
    for app, port in (("a", 8080), ("b", 9090)):
        for env in ("dev", "prod"):
            extra = "  securityContext:\n    sysctls:\n      - name: net.core.somaxconn\n        value: \"4096\"\n" if env == "prod" else ""
            _write(root, f"apps/{app}/envs/{env}/deployment.yaml", deployment(mounts=_MOUNT, volumes=_volume("nginx-conf"), pod_extra=extra))
            _write(root, f"apps/{app}/envs/{env}/configmap.yaml", config_map("nginx-conf", files=_nginx(f"{port} backlog=2048")))
    _write(root, "shared/configmap.yaml", config_map("edge-conf", files=_nginx("80 backlog=1024")))
    for edge in ("x", "y"):
        _write(root, f"edges/{edge}.yaml", deployment(name=f"edge-{edge}", mounts=_MOUNT, volumes=_volume("edge-conf")))
    _write(root, "net/nad.yaml", _NAD)
    _write(
        root, "net/multus.yaml",
        deployment(name="tuned", mounts=_MOUNT, volumes=_volume("tuned-conf"), pod_extra="")
        .replace("  template:\n    metadata:\n", "  template:\n    metadata:\n      annotations:\n        k8s.v1.cni.cncf.io/networks: tuned-net\n", 1)
        + "---\n" + config_map("tuned-conf", files=_nginx("7000 backlog=8192")),
    )
    _write(root, "secure/namespace.yaml", _NAMESPACE)
    _write(
        root, "secure/app.yaml",
        deployment(name="locked", namespace="secure", mounts=_MOUNT, volumes=_volume("locked-conf"), pod_extra=_SYSCTL)
        + "---\n" + config_map("locked-conf", namespace="secure", files=_nginx("6000")),
    )
    _write(root, "cni/10-net.conflist", _CONFLIST)
    _write(root, "amb/web.yaml", deployment(name="amb", mounts=_MOUNT, volumes=_volume("amb-conf")))
    for side in ("left", "right"):
        _write(root, f"amb/{side}/configmap.yaml", config_map("amb-conf", files=_nginx(f"{5000 if side == 'left' else 5001} backlog=9000")))
    _write(root, "loose/unmounted.yaml", config_map("nobody-mounts-me", files=_nginx("4444 backlog=60000")))
    _write(root, "legacy/list.yaml", _as_list(deployment(name="old", mounts=_MOUNT, volumes=_volume("old-conf")), config_map("old-conf", files=_nginx("3000 backlog=3000"))))
    _write(root, "dup/twice.yaml", config_map("dup-conf", files=_nginx("81")) + "---\n" + config_map("dup-conf", files=_nginx("82 backlog=5000")))
    _write(root, "dup/user.yaml", deployment(name="dup", mounts=_MOUNT, volumes=_volume("dup-conf")))
    _write(root, "init/app.yaml", deployment(name="init", mounts=_MOUNT, volumes=_volume("init-conf"), pod_extra=_INIT) + "---\n" + config_map("init-conf", files=_nginx("2000 backlog=2000")))
    _write(root, "other-ns/app.yaml", deployment(name="web", namespace="team", mounts=_MOUNT, volumes=_volume("nginx-conf")))
    _write(root, "other-ns/configmap.yaml", config_map("nginx-conf", namespace="team", files=_nginx("1234 backlog=1234")))
    _write(root, "notes/values.yaml", "replicaCount: 2\nimage: {tag: web}\n")
    _write(root, "site/nginx.conf", "events {}\nhttp {\n    include conf.d/*.conf;\n}\n")
    _write(root, "site/conf.d/a.conf", "server {\n    listen 8000 backlog=9000;\n}\n")
    _write(root, "site/conf.d/b.conf", "server {\n    listen 8000 backlog=100;\n}\n")
    _write(root, "other-site/nginx.conf", "events {}\nhttp {\n    server {\n        listen 80 backlog=70000;\n    }\n}\n")


_MOUNT = """\
        - name: conf
          mountPath: /etc/nginx/nginx.conf
          subPath: nginx.conf"""


def _volume(name: str) -> str:
    return f"""\
      - name: conf
        configMap:
          name: {name}"""


_SYSCTL = '  securityContext:\n    sysctls:\n      - name: net.core.somaxconn\n        value: "8192"\n'
_INIT = textwrap.indent(
    textwrap.dedent(
        """\
        initContainers:
          - name: tune
            image: busybox
            securityContext: {privileged: true}
            command: ["sh", "-c", "sysctl -w net.core.somaxconn=1024"]
        """
    ),
    "  ",
)
_NAD = """\
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: tuned-net
  namespace: default
spec:
  config: '{"cniVersion": "0.4.0", "name": "tuned-net", "plugins": [{"type": "macvlan"}, {"type": "tuning", "sysctl": {"net.core.somaxconn": "512"}}]}'
"""
_NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: secure
  labels:
    pod-security.kubernetes.io/enforce: baseline
"""
_CONFLIST = json.dumps(
    {"cniVersion": "0.4.0", "name": "k8s", "plugins": [{"type": "bridge"}, {"type": "tuning", "sysctl": {"net.core.somaxconn": "2048"}}]}
)


def _as_list(*docs: str) -> str:
    items = "".join("  - " + textwrap.indent(d, "    ").lstrip() for d in docs)
    return "apiVersion: v1\nkind: List\nitems:\n" + items


def _named_files(root: Path):
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".yml", ".json", ".conflist", ".conf") and ".somaxlint_cache" not in p.parts
        and p.name != ".somaxlint.yaml"
    )


def _compare(project, monkeypatch, names, *extra, formats=("json",)):
    """Each file named alone with the whole directory as context: the
    narrowed report (cold, then with the keys of the cache) is the one of
    modelling every file."""
    compared = narrowed_runs = 0
    for name, fmt in ((n, f) for n in names for f in formats):
        args = ("--format", fmt, "--default-context", ".", *extra, name)
        cold = project.run("--no-cache", *args)
        warm = project.run(*args)
        warm_again = project.run(*args)  # every other file's keys from the cache
        with monkeypatch.context() as m:
            m.setattr(engine, "_narrowable", lambda *a: False)
            whole = project.run("--no-cache", *args)
        for run in (cold, warm, warm_again):
            assert (run.status, run.out) == (whole.status, whole.out), (name, fmt)
        if fmt != "json":
            continue
        narrowed_runs += "files related to the files named" in project.run("--no-cache", "--default-context", ".", *extra, name).err
        compared += 1
    return compared, narrowed_runs


def test_many_apps_every_file_named_alone(project, monkeypatch):
    many_apps(project.root)
    names = _named_files(project.root)
    compared, narrowed = _compare(project, monkeypatch, names)
    assert compared == len(names) == 31
    # Everything but the files that apply to every pod (the Namespace, the
    # NetworkAttachmentDefinition, the conflist) is narrowed.
    assert narrowed == compared - 3


def test_every_format_is_the_same_narrowed(project, monkeypatch):
    many_apps(project.root)
    # a typo in a suppression of a file not named does not stop a commit
    # of another (the run over everything still refuses it)
    (project.root / "loose" / "unmounted.yaml").write_text("# somaxlint: ignore SMX999 -- typo\n" + config_map("nobody-mounts-me"))
    names = ["apps/a/envs/prod/deployment.yaml", "shared/configmap.yaml", "amb/web.yaml", "dup/twice.yaml"]
    compared, _ = _compare(project, monkeypatch, names, formats=("json", "sarif", "text", "github", "gitlab"))
    assert compared == len(names)
    assert project.run("--default-context", ".", "loose/unmounted.yaml").status == 2


def test_a_staged_deployment_models_its_own_application_only(project):
    many_apps(project.root)
    run = project.run("--no-cache", "--default-context", ".", "apps/a/envs/prod/deployment.yaml")
    # its ConfigMap, and the files that apply to every pod
    assert run.err.endswith(
        "somaxlint: 30 files, 1 skipped (1 not Kubernetes or nginx), 0 unparsable; 1 workload, 1 server (0 unresolved), "
        "1 listener of the 5 files related to the files named; 1 warning\n"
    ), run.err
    run = project.run("--no-cache", "--default-context", ".", "shared/configmap.yaml")
    # the ConfigMap, both Deployments that mount it, and the three
    assert "2 workloads, 2 servers (0 unresolved), 2 listeners of the 6 files related" in run.err
    # an included nginx file: the four standalone nginx files (any may
    # include it) and the three, no application's manifest
    run = project.run("--no-cache", "--default-context", ".", "site/conf.d/a.conf")
    assert "0 workloads, 2 servers (0 unresolved), 2 listeners of the 7 files related" in run.err


def test_the_platform_repository_every_file_named_alone(project, monkeypatch):
    shutil.copytree(REPO, project.root, dirs_exist_ok=True)
    names = [n for n in _named_files(project.root) if not n.startswith(".vscode")]
    compared, narrowed = _compare(project, monkeypatch, names)
    assert compared == len(names) and narrowed >= 10


def test_corpus_manifests_named_alone(project, monkeypatch):
    corpus = corpus_or_skip()
    shutil.copytree(corpus / "k8s", project.root / "k8s")
    names = _named_files(project.root)
    assert len(names) >= 10
    compared, _ = _compare(project, monkeypatch, names[::3])
    assert compared == len(names[::3])


def _loads(monkeypatch):
    """The paths ``load_file`` reads in a run (the cost of narrowing is the
    files it reads and models; unchanged ones are known by their keys)."""
    read = []
    real = engine.load_file

    def counting(f, *args, **kwargs):
        read.append(f.display)
        return real(f, *args, **kwargs)

    monkeypatch.setattr(engine, "load_file", counting)
    return read


def test_a_warm_hook_reads_only_the_named_file_and_what_it_relates_to(project, monkeypatch):
    many_apps(project.root)
    named = "apps/a/envs/prod/deployment.yaml"
    args = ("--format", "json", "--default-context", ".", named)
    first = project.run(*args)
    read = _loads(monkeypatch)
    second = project.run(*args)
    assert second.out == first.out
    assert sorted(read) == [
        "apps/a/envs/prod/configmap.yaml", named, "cni/10-net.conflist", "net/nad.yaml", "secure/namespace.yaml",
    ]
    # Twice as many applications: the same files are read.
    for app in ("c", "d"):
        shutil.copytree(project.root / "apps" / "a", project.root / "apps" / app)
    filled = project.run(*args)
    read.clear()
    assert project.run(*args).out == filled.out
    assert len(read) == 5 and json.loads(filled.out)["summary"]["files"] == 38


def test_a_commit_that_changes_one_file_rewrites_one_shard_of_the_keys_index(project):
    many_apps(project.root)
    named = "apps/a/envs/prod/deployment.yaml"
    args = ("--format", "json", "--default-context", ".", named)
    project.run(*args)
    from somaxlint.cache import KEY_SHARDS, Cache, _shard_of

    cache = Cache(str(project.root / ".somaxlint_cache"))
    shards = [Path(cache.path(cache.keys_shard_key(i))) for i in range(KEY_SHARDS)]

    def stamps():
        return [shard.stat().st_mtime_ns if shard.is_file() else None for shard in shards]

    before = stamps()
    project.run(*args)
    assert stamps() == before  # nothing changed: nothing written
    edited = project.root / named
    edited.write_text(edited.read_text() + "# edited\n")
    project.run(*args)
    after = stamps()
    changed = [i for i in range(KEY_SHARDS) if after[i] != before[i]]
    assert changed == [_shard_of(str(edited))]


def test_a_file_changed_behind_its_stat_is_read_again(project, monkeypatch):
    """Same size, modification time set back: the change time (which no
    user can set back) still tells the keys are stale."""
    many_apps(project.root)
    named = "amb/web.yaml"
    args = ("--format", "json", "--default-context", ".", named)
    project.run(*args)
    target = project.root / "amb" / "left" / "configmap.yaml"
    before = target.stat()
    text = target.read_text()
    # amb-conf -> bmb-conf: left no longer answers the reference
    target.write_text(text.replace("name: amb-conf", "name: bmb-conf"))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size and target.stat().st_mtime_ns == before.st_mtime_ns
    narrowed = project.run(*args)
    with monkeypatch.context() as m:
        m.setattr(engine, "_narrowable", lambda *a: False)
        whole = project.run("--no-cache", *args)
    assert narrowed.out == whole.out
    assert "SMX017" not in narrowed.out  # no longer ambiguous


def test_a_damaged_keys_index_is_a_miss(project, monkeypatch):
    many_apps(project.root)
    args = ("--format", "json", "--default-context", ".", "shared/configmap.yaml")
    first = project.run(*args)
    from somaxlint.cache import KEY_SHARDS, Cache, _shard_of

    cache = Cache(str(project.root / ".somaxlint_cache"))
    shards = [Path(cache.path(cache.keys_shard_key(i))) for i in range(KEY_SHARDS)]
    assert sum(shard.is_file() for shard in shards) > 1  # the index is kept in shards
    for damage in (lambda b: b"", lambda b: b[:-7], lambda b: b[:60] + b"\x00" * 40):
        for shard in shards:
            if shard.is_file():
                shard.write_bytes(damage(shard.read_bytes()))
        assert project.run(*args).out == first.out
    # a well-formed shard whose entries have the wrong shape
    path = str(project.root / "edges" / "x.yaml")
    cache.write(cache.keys_shard_key(_shard_of(path)), lambda: {path: ("not", "a", "signature")})
    assert project.run(*args).out == first.out


# The lookups by directory answer as the Scope of every same-named object ---------

from hypothesis import given, settings, strategies as st  # noqa: E402

from somaxlint.discover import InputFile  # noqa: E402
from somaxlint.model.scope import REFERENCE_KINDS, Scope  # noqa: E402
from somaxlint.relations import Keys, _ScopeByName  # noqa: E402

_DIRS = ["/r/a", "/r/a/x", "/r/b", "/r", "/r/a/x/y"]
_OBJECT = st.tuples(st.sampled_from(["ConfigMap", "Secret", "Deployment"]), st.sampled_from([None, "default", "team"]), st.sampled_from(["conf", "other"]))


@settings(max_examples=int(os.environ.get("SOMAXLINT_PROPERTY_EXAMPLES", "300")), deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_DIRS), st.lists(_OBJECT, max_size=4)), min_size=1, max_size=8),
    st.sampled_from([None, "/r/a/f0.yaml", "/r/b/new.yaml"]),
)
def test_lookups_by_directory_answer_as_the_scope_of_every_same_named_object(files, stdin_for):
    """Scope's answer for a name depends on every object of that name; the
    hook's lookup asks a Scope of the referrer's directory first.  Same
    files, shadowing, namespaces, nearest directories and standard input
    standing for a file: the answers are the same objects."""
    keys, inputs = {}, {}
    for n, (directory, objects) in enumerate(files):
        path = f"{directory}/f{n}.yaml"
        keys[path] = Keys(tuple(objects), frozenset(), False, "")
        inputs[path] = InputFile(path=path, display=path, kind="yaml", explicit=False)
    if stdin_for is not None:
        inputs.pop(stdin_for, None)
        keys.pop(stdin_for, None)
        keys["-"] = Keys((("ConfigMap", None, "conf"),), frozenset(), False, "")
        inputs["-"] = InputFile(path="-", display="x", kind="yaml", explicit=True, stands_for=stdin_for)
    by_name = _ScopeByName(keys, inputs)
    objects = [o for path in keys for o in by_name.objects(path)]
    for origin in objects:
        for kind in sorted(REFERENCE_KINDS):
            for name in ("conf", "other"):
                whole = Scope([o for o in objects if o.name == name])
                for o in objects:
                    o.shadowed = False  # (each Scope marks what it sees shadowed)
                expected = whole.candidates(kind, origin.namespace, name, origin)
                for o in objects:
                    o.shadowed = False
                assert by_name.candidates(kind, origin.namespace, name, origin) == expected


def test_keys_mention_whole_words_only():
    keys = Keys((("Deployment", None, "web"),), {"nginx-conf-extra", "web", "conf"}, False, "")
    assert keys[1] == "conf nginx-conf-extra web"  # one string: what the cache stores
    assert keys.words == frozenset({"nginx-conf-extra", "web", "conf"})
    assert keys.mentions({"nginx-conf"}) == set()  # a substring of a word is not a word
    assert keys.mentions({"nginx-conf", "conf", "web"}) == {"conf", "web"}
    assert Keys((), "", False, "").mentions({"x"}) == set()

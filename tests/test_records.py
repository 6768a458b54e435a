"""``@record`` behaves as ``@dataclass`` with the same arguments: the
standard decorator is the oracle, class by class."""

from __future__ import annotations

import dataclasses
import pickle
from typing import ClassVar, Dict, List, Optional, Tuple

import pytest

from somaxlint import records


def both(body: dict, annotations: dict, **options):
    """The same class built by @dataclass and by @record."""
    made = []
    for decorate in (dataclasses.dataclass, records.record):
        namespace = dict(body, __annotations__=dict(annotations), __module__=__name__, __qualname__="Point")
        for name, value in body.items():
            if isinstance(value, tuple) and value and value[0] == "factory":
                namespace[name] = (dataclasses.field if decorate is dataclasses.dataclass else records.field)(default_factory=value[1])
        made.append(decorate(**options)(type("Point", (), namespace)))
    return made


@records.record(frozen=True)
class Pinned:
    a: int
    b: int = 0


ANNOTATIONS = {"x": "int", "y": "int", "tags": "List[str]", "kind": "ClassVar[str]", "label": "str"}
BODY = {"y": 2, "tags": ("factory", list), "kind": "point", "label": ""}


@pytest.mark.parametrize("options", [{}, {"frozen": True}, {"frozen": True, "order": True}])
def test_a_record_is_built_compared_and_shown_as_a_dataclass(options):
    dc, rec = both(BODY, ANNOTATIONS, **options)
    assert records.fields(rec) == tuple(f.name for f in dataclasses.fields(dc)) == ("x", "y", "tags", "label")
    for args, kwargs in [((1,), {}), ((1, 5), {"label": "a"}), ((), {"x": 3, "tags": ["t"]})]:
        a, b = dc(*args, **kwargs), rec(*args, **kwargs)
        assert repr(a).replace("dc", "") == repr(b)
        assert vars(a) == vars(b)
        assert b == rec(*args, **kwargs) and b != rec(99)
        assert (b == a) is False  # another class: NotImplemented both ways
    assert rec(1).tags is not rec(1).tags  # one list per instance
    assert rec.kind == "point" and "kind" not in vars(rec(1))
    with pytest.raises(TypeError):
        rec()
    with pytest.raises(TypeError):
        rec(1, 2, [], "", "extra")


def test_frozen_records_hash_as_dataclasses_and_refuse_assignment():
    dc, rec = both({"y": 2}, {"x": "int", "y": "int"}, frozen=True)
    assert hash(dc(1)) == hash(rec(1)) == hash((1, 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        dc(1).x = 3
    with pytest.raises(AttributeError):
        rec(1).x = 3
    with pytest.raises(AttributeError):
        del rec(1).x
    # the cache pickles frozen records (positions): unpickling bypasses __setattr__
    assert pickle.loads(pickle.dumps(Pinned(4, 5))) == Pinned(4, 5)


def test_mutable_records_are_unhashable_as_dataclasses_are():
    dc, rec = both({}, {"x": "int"})
    for cls in (dc, rec):
        with pytest.raises(TypeError):
            hash(cls(1))


def test_order_compares_field_tuples():
    dc, rec = both({}, {"path": "str", "line": "int"}, frozen=True, order=True)
    pairs = [("a", 2), ("a", 10), ("b", 1), ("a", 2)]
    assert [(p.path, p.line) for p in sorted(dc(*p) for p in pairs)] == [(p.path, p.line) for p in sorted(rec(*p) for p in pairs)]
    assert rec("a", 1) <= rec("a", 1) < rec("a", 2) and rec("b", 0) > rec("a", 9) >= rec("a", 9)


def test_inherited_fields_come_first_and_a_subclass_adds_its_own():
    @records.record
    class Base:
        name: str
        port: Optional[int] = None

    @records.record
    class Child(Base):
        extra: Dict[str, str] = records.field(default_factory=dict)
        port: Optional[int] = 80  # redefined: keeps its place, new default

    assert records.fields(Child) == ("name", "port", "extra")
    assert Child("n") == Child("n", 80, {})
    assert Child("n").extra is not Child("n").extra


def test_post_init_runs_after_the_fields_are_set():
    @records.record
    class Setting:
        name: str
        raw_name: str = ""

        def __post_init__(self):
            if not self.raw_name:
                self.raw_name = self.name

    assert Setting("a").raw_name == "a" and Setting("a", "A").raw_name == "A"
    assert records.replace(Setting("a"), name="b").raw_name == "a"  # as dataclasses.replace: through __init__


def test_replace_copies_through_init():
    @records.record(frozen=True)
    class Where:
        path: str
        line: int = 1
        column: int = 1

    here = Where("f", 3)
    assert records.replace(here, column=7) == Where("f", 3, 7) and here.column == 1


def test_methods_a_class_defines_are_kept():
    @records.record(frozen=True)
    class Named:
        name: str

        def __repr__(self):
            return f"<{self.name}>"

        def __hash__(self):
            return 7

    assert repr(Named("a")) == "<a>" and hash(Named("a")) == 7


def test_a_required_field_after_a_default_is_refused_as_dataclass_refuses_it():
    with pytest.raises(TypeError):
        dataclasses.dataclass(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1}))
    with pytest.raises(TypeError):
        records.record(type("Bad", (), {"__annotations__": {"a": "int", "b": "int"}, "a": 1}))


def test_the_first_instance_compiles_init_and_leaves_no_garbage():
    import gc

    @records.record
    class Fresh:
        a: int
        b: List[int] = records.field(default_factory=list)

    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        first, second = Fresh(1), Fresh(2, [3])
        assert (first.b, second.b) == ([], [3])
        assert Fresh.__init__.__qualname__.endswith("<locals>.Fresh.__init__")  # the compiled one, in place
        assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()


STORE_RUN = """
import json, sys
from somaxlint import records

@records.record
class Point:
    x: int
    y: int = 2

first = Point(1)
records.save_compiled()
print(json.dumps({"changed": records._changed, "point": [first.x, first.y], "stored": len(records._store)}))
"""


def _store_run(tmp_path, code=STORE_RUN, **env):
    import json
    import subprocess
    import sys

    from conftest import REPO

    environ = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environ.update(PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"), **env)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _store_file(tmp_path):
    found = list((tmp_path / "pycache").rglob("records.*.inits"))
    assert len(found) == 1, found
    return found[0]


def test_init_code_is_kept_beside_the_bytecode_and_reused(tmp_path):
    first = _store_run(tmp_path)
    assert first == {"changed": True, "point": [1, 2], "stored": 1}
    store = _store_file(tmp_path)
    written = store.stat().st_mtime_ns
    second = _store_run(tmp_path)
    assert second == {"changed": False, "point": [1, 2], "stored": 1}  # loaded, not compiled
    assert store.stat().st_mtime_ns == written  # and not written again
    # a default is not in the code (the class's new default is used)...
    assert _store_run(tmp_path, STORE_RUN.replace("y: int = 2", "y: int = 3")) == {"changed": False, "point": [1, 3], "stored": 1}
    # ...a new field is: compiled afresh, beside the code kept
    third = _store_run(tmp_path, STORE_RUN.replace("y: int = 2", "y: int = 2\n    z: int = 0"))
    assert third == {"changed": True, "point": [1, 2], "stored": 2}


def test_a_damaged_or_foreign_store_is_ignored(tmp_path):
    _store_run(tmp_path)
    store = _store_file(tmp_path)
    header = records._header()
    written = store.read_bytes()
    other_python = written.replace(header, b"somaxlint records 1\n3.0.0 (another build)\n", 1)
    for damaged in (written[:-7], header + b"\x00garbage", b"another format", b"", other_python):
        store.write_bytes(damaged)
        assert _store_run(tmp_path) == {"changed": True, "point": [1, 2], "stored": 1}
    # a store whose entry is not code for that name is compiled over
    import marshal

    store.write_bytes(header + marshal.dumps({("<record __main__.Point>", "x"): compile("pass", "elsewhere", "exec")}))
    assert _store_run(tmp_path)["changed"] is True


def test_nothing_is_written_when_python_writes_no_bytecode(tmp_path):
    assert _store_run(tmp_path, PYTHONDONTWRITEBYTECODE="1")["changed"] is True
    assert list(tmp_path.rglob("*.inits")) == []

"""``@record``: the part of ``dataclasses`` somaxlint uses, at a fraction
of its import-time cost.

A commit-time run is mostly start-up, and the standard ``@dataclass``
decorator was 40% of it: for each of 58 classes it compiled three to six
methods from source, one ``exec`` each, and computed an ``inspect``
signature for the docstring.  A record compiles one method, ``__init__``
(the only one whose speed matters: the model builds many records), and
shares the others -- equality, ordering, hashing and ``repr`` over the
fields, read with one C ``attrgetter``.

What a record does is what ``@dataclass`` does with the same arguments, for
what somaxlint uses: annotated fields in order (a base record's first),
defaults, ``field(default_factory=...)``, ``frozen``, ``order``,
``__post_init__`` and ``replace()``.  Methods a class defines itself are kept.
"""

from operator import attrgetter

__all__ = ["record", "field", "replace", "fields", "FrozenInstanceError", "save_compiled"]


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record."""


class _Factory:
    """A field's ``default_factory``: called once per instance built
    without that field."""

    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


_MISSING = object()


def field(*, default=_MISSING, default_factory=_MISSING):
    if default_factory is not _MISSING:
        return _Factory(default_factory)
    return default


def fields(obj_or_class):
    """The field names of a record, in ``__init__`` order."""
    return obj_or_class.__record_fields__


def replace(obj, **changes):
    """A copy of the record ``obj`` with ``changes``, built through its
    ``__init__`` as ``dataclasses.replace`` builds it."""
    for name in obj.__record_fields__:
        if name not in changes:
            changes[name] = getattr(obj, name)
    return obj.__class__(**changes)


def _is_classvar(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__qualname__", "") or repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _values_of(names):
    """A function from a record to the tuple of its fields' values."""
    if len(names) > 1:
        return attrgetter(*names)
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda self: (get(self),)
    return lambda self: ()


def _compare(values, test):
    def method(self, other):
        if other.__class__ is self.__class__:
            return test(values(self), values(other))
        return NotImplemented

    return method


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _init(cls, names, defaults, frozen):
    """``__init__`` for these fields: the one method built from source, so
    that building a record costs what a hand-written ``__init__`` costs.
    It is compiled when the class is first instantiated: a warm
    commit-time run builds records of 35 of the 55 classes it imports."""
    params, body = [], []
    env = {"_object_setattr": object.__setattr__}
    after_default = False
    for name in names:
        default = defaults.get(name, _MISSING)
        if isinstance(default, _Factory):
            env[f"_make_{name}"] = default.make
            env[f"_unset_{name}"] = _MISSING
            params.append(f"{name}=_unset_{name}")
            value = f"_make_{name}() if {name} is _unset_{name} else {name}"
        elif default is not _MISSING:
            env[f"_default_{name}"] = default
            params.append(f"{name}=_default_{name}")
            value = name
        elif after_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        else:
            params.append(name)
            value = name
        after_default = after_default or default is not _MISSING
        body.append(f"_object_setattr(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + ("\n    ".join(body) or "pass") + "\n"

    def __init__(self, *args, **kwargs):
        # (no reference to this stub from inside it: once replaced, it is
        # freed at once, not left in a cycle for the collector)
        if "__init__" not in env:
            exec(_code(source, f"<record {cls.__module__}.{cls.__qualname__}>"), env)
            env["__init__"].__qualname__ = f"{cls.__qualname__}.__init__"
            cls.__init__ = env["__init__"]
        env["__init__"](self, *args, **kwargs)

    return __init__


# Compiled ``__init__`` code is kept between runs the way Python keeps a
# module's: marshalled in the package's ``__pycache__`` (or under
# ``sys.pycache_prefix``), not written when bytecode is not
# (``PYTHONDONTWRITEBYTECODE``), named for the interpreter (its cache tag),
# and ignored when damaged.  Compiling the 35 a commit-time run builds took
# 6 ms of its 45; loading them takes a few hundredths of that.  Keyed by the
# code's file name and source, so an edited class compiles afresh.
_store = None  # (filename, source) -> code, read on first need
_used = set()  # the keys this run used
_changed = False  # something was compiled that the store did not hold
_MAX_STORED = 512  # past it, only what this run used is kept (edited classes)
_MAGIC = b"somaxlint records 1\n"


def _header() -> bytes:
    # the interpreter's own version besides its cache tag: marshalled code
    # is read back only by the Python that wrote it
    import sys

    return _MAGIC + sys.version.encode("utf-8", "replace") + b"\n"


def _store_path():
    # beside this module's own .pyc (``__cached__`` follows pycache_prefix)
    cached = globals().get("__cached__")
    if not (isinstance(cached, str) and cached.endswith(".pyc")):
        return None
    return cached[: -len(".pyc")] + ".inits"


def _read_store() -> dict:
    path = _store_path()
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            blob = handle.read()
    except OSError:
        return {}
    header = _header()
    if not blob.startswith(header):
        return {}
    from marshal import loads

    try:
        store = loads(blob[len(header) :])
    except (EOFError, ValueError, TypeError):
        return {}
    return store if type(store) is dict else {}


def _code(source, filename):
    global _store, _changed
    if _store is None:
        _store = _read_store()
    key = (filename, source)
    code = _store.get(key)
    if not (type(code) is _CodeType and code.co_filename == filename):
        code = _store[key] = compile(source, filename, "exec")
        _changed = True
    _used.add(key)
    return code


_CodeType = type(_code.__code__)


def save_compiled() -> None:
    """Write what this run compiled, for the next run (called once a run's
    report is out).  Nothing when nothing new was compiled, when Python
    does not write bytecode, or when the directory is not writable: as
    with a ``.pyc``, the next run compiles again."""
    import sys

    if not _changed or sys.dont_write_bytecode:
        return
    path = _store_path()
    if path is None:
        return
    store = _store if len(_store) <= _MAX_STORED else {key: _store[key] for key in _used}
    import os
    from marshal import dumps

    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(_header() + dumps(store))
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def _repr(names):
    def __repr__(self):
        return f"{self.__class__.__qualname__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    return __repr__


def _set(cls, name, value):
    # A method the class body defines is kept, as @dataclass keeps it.
    if name not in cls.__dict__:
        setattr(cls, name, value)


def _process(cls, frozen, order):
    names, defaults = [], {}
    for base in reversed(cls.__mro__[1:]):
        for name in getattr(base, "__record_fields__", ()):
            if name not in names:
                names.append(name)
            if name in getattr(base, "__record_defaults__", {}):
                defaults[name] = base.__record_defaults__[name]
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_classvar(annotation):
            continue
        if name not in names:
            names.append(name)
        if name in cls.__dict__:
            defaults[name] = cls.__dict__[name]
            if isinstance(defaults[name], _Factory):
                delattr(cls, name)
        else:
            defaults.pop(name, None)
    names = tuple(names)
    cls.__record_fields__ = names
    cls.__record_defaults__ = defaults
    cls.__match_args__ = names

    values = _values_of(names)
    _set(cls, "__init__", _init(cls, names, defaults, frozen))
    _set(cls, "__repr__", _repr(names))
    _set(cls, "__eq__", _compare(values, lambda a, b: a == b))
    if order:
        for name, test in (
            ("__lt__", lambda a, b: a < b),
            ("__le__", lambda a, b: a <= b),
            ("__gt__", lambda a, b: a > b),
            ("__ge__", lambda a, b: a >= b),
        ):
            _set(cls, name, _compare(values, test))
    # Hashing as @dataclass(eq=True) decides it: a frozen record hashes its
    # fields; a mutable one is unhashable, unless the class defines __hash__.
    explicit_hash = "__hash__" in cls.__dict__ and not (cls.__dict__["__hash__"] is None and "__eq__" in cls.__dict__)
    if not explicit_hash:
        cls.__hash__ = (lambda self: hash(values(self))) if frozen else None
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    return cls


def record(cls=None, *, frozen: bool = False, order: bool = False):
    """Decorate a class as ``@dataclass`` would: ``@record``,
    ``@record(frozen=True)``, ``@record(frozen=True, order=True)``."""

    def wrap(cls):
        return _process(cls, frozen, order)

    return wrap if cls is None else wrap(cls)

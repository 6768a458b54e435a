"""A container's environment as the input shows it: `env` (literal values
and `configMapKeyRef`s) over `envFrom` ConfigMaps, each value with the
position it is written at.

Kubernetes' order (core/v1 EnvFromSource, EnvVar): among `envFrom`
sources a later one wins for a key they share, and `env` wins over all of
them.  What the input cannot show (a Secret's value, a field reference, a
ConfigMap that is not in the input) is recorded, never guessed: a server
that reads such a name learns that its value is unknown (``Env.unknown``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, Optional, Set

from somaxlint.load.positioned import YMap, as_map, as_seq
from somaxlint.servers import Word


class Env(dict):
    """name -> Word.  Remembers which names were looked up, so the model
    can tell when a server read a name whose value the input does not
    show."""

    def __init__(self):
        super().__init__()
        self.hidden: Dict[str, str] = {}  # name -> why its value is unknown
        self.open: Optional[str] = None  # why any other name may be defined too
        self.asked: Set[str] = set()

    def get(self, name, default=None):
        self.asked.add(name)
        return super().get(name, default)

    def __contains__(self, name) -> bool:
        self.asked.add(name)
        return super().__contains__(name)

    def __getitem__(self, name):
        self.asked.add(name)
        return super().__getitem__(name)

    def unknown(self) -> Optional[str]:
        """Why a name the server looked up may hold a value the input does
        not show, if one may."""
        for name in sorted(self.asked):
            if name in self.hidden:
                return f"{name} is {self.hidden[name]}"
            if self.open and not dict.__contains__(self, name):
                return f"{name} may be set by {self.open}"
        return None


if TYPE_CHECKING:
    Chooser = Callable[[str, str, object], Optional[object]]  # (kind, name, where) -> K8sObject


def container_env(container, choose: Optional[Chooser] = None) -> Env:
    obj = container.workload.obj
    env = Env()
    for item in as_seq(container.node.get("envFrom")):
        if not isinstance(item, YMap):
            continue
        prefix = item.get("prefix") if isinstance(item.get("prefix"), str) else ""
        ref = as_map(item.get("configMapRef"))
        name = ref.get("name") if ref is not None else None
        if isinstance(name, str):
            found = choose("ConfigMap", name, obj.value_loc(ref, "name")) if choose else None
            data = as_map(found.root.get("data")) if found is not None else None
            if found is None:
                env.open = f"envFrom ConfigMap {name}, which is not in the input"
                continue
            for key, value in (data or {}).items():
                if isinstance(key, str) and isinstance(value, str):
                    env[prefix + key] = Word(value, found.value_loc(data, key))
                    env.hidden.pop(prefix + key, None)
            continue
        secret = as_map(item.get("secretRef"))
        if secret is not None:
            env.open = f"envFrom Secret {secret.get('name')}, whose values the input does not show"
    for item in as_seq(container.node.get("env")):
        if not isinstance(item, YMap) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        value = item.get("value")
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            # a value may refer to the variables defined before it (not a
            # read by the server: only a reference to a value the input
            # does not show makes this one unknown too)
            referred = set()
            env[name] = Word(expand(str(value), env, referred), obj.value_loc(item, "value"))
            env.hidden.pop(name, None)
            unknown = sorted(r for r in referred if r in env.hidden)
            if unknown:
                env.hidden[name] = f"written with $({unknown[0]}), which is {env.hidden[unknown[0]]}"
            continue
        source = as_map(item.get("valueFrom"))
        if source is None:
            env[name] = Word("", obj.key_loc(item, "name"))  # no value: the empty string
            continue
        key_ref = as_map(source.get("configMapKeyRef"))
        if key_ref is not None and isinstance(key_ref.get("name"), str) and isinstance(key_ref.get("key"), str):
            found = choose("ConfigMap", key_ref["name"], obj.value_loc(key_ref, "name")) if choose else None
            data = as_map(found.root.get("data")) if found is not None else None
            value = data.get(key_ref["key"]) if data is not None else None
            if isinstance(value, str):
                env[name] = Word(value, found.value_loc(data, key_ref["key"]))
                env.hidden.pop(name, None)
                continue
            dict.pop(env, name, None)
            env.hidden[name] = f"from ConfigMap {key_ref['name']} key {key_ref['key']}, which is not in the input"
            continue
        dict.pop(env, name, None)
        kind = next(iter(source), "valueFrom") if isinstance(source, dict) else "valueFrom"
        env.hidden[name] = f"set through {kind}, whose value the input does not show"
    return env


def expand(text: str, env: Env, referred: Optional[Set[str]] = None) -> str:
    """``text`` with Kubernetes' variable references expanded, as the
    kubelet expands a container's `command`, `args` and `env` values
    (k8s.io/kubernetes third_party/forked/golang/expansion/expand.go):
    `$(NAME)` is NAME's value when the environment defines it and is left
    as written when it does not; `$$` is one `$`; any other `$` is itself.
    A name looked up here counts as read by the server (``Env.unknown``
    says so when its value is not in the input), unless ``referred`` is
    given: the names are then added to it instead."""
    if "$" not in text:
        return text
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":
            out.append("$")
            i += 2
        elif following == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")  # unclosed: as written, and scanning goes on after it
                i += 2
                continue
            name = text[i + 2 : close]
            if referred is not None:
                referred.add(name)
                word = dict.get(env, name) if name else None
            else:
                word = env.get(name) if name else None
            out.append(word.text if word is not None else text[i : close + 1])
            i = close + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)

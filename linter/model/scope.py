"""Which object a reference means: scoped by deployment unit, then nearness.

A Deployment's `configMap: {name: nginx-conf}` names an object in the
cluster, not a file.  A repository holds many applications and many copies
of the same objects (apps/a and apps/b, envs/dev and envs/prod), so a
global lookup by name links one application to another's ConfigMap.  The
rules, in order:

1. An object in a unit (a rendered Helm release, a built kustomization,
   standard input) sees the objects of its own unit first.
2. Otherwise plain manifests (no unit): the candidate in the same file,
   else the one whose directory shares the longest prefix with the
   referrer's (the same directory shares all of it).
3. Candidates that stay equally near are an ambiguity: the model evaluates
   the workload against each and says so; it never picks one silently.

Indexes are built once, so every lookup costs the candidates of one name.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

from somaxlint.model.objects import K8sObject
from somaxlint.records import record

if TYPE_CHECKING:
    Key = Tuple[str, str]  # (kind, name)

# The kinds the model resolves references to: volumes, projected sources
# and environment references (ConfigMap, Secret), Multus network selections,
# a workload's Namespace.  ``somaxlint.relations`` narrows a hook's context
# by them, so a lookup of any other kind is a programming error.
REFERENCE_KINDS = frozenset({"ConfigMap", "Secret", "NetworkAttachmentDefinition", "Namespace"})


@record
class Duplicate:
    """Two objects of one kind/namespace/name in one unit or file:
    `kubectl apply` keeps only the last."""

    kept: K8sObject
    dropped: K8sObject


def _directory(obj: K8sObject) -> Tuple[str, ...]:
    return input_directory(obj.file.input)


def input_directory(input_file) -> Tuple[str, ...]:
    """The directory an input file's objects are placed in, as path
    components: standard input in the directory of the file it stands
    for, else alone (``somaxlint.relations`` groups objects by it too)."""
    path = input_file.stands_for or input_file.path
    if path == "-":
        return ()
    return tuple(os.path.dirname(path).split(os.sep))


def _common(a: Tuple[str, ...], b: Tuple[str, ...]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _group(obj: K8sObject) -> Tuple[str, str]:
    """The set inside which two same-named objects are a duplicate."""
    unit = obj.file.unit
    return ("unit", unit) if unit is not None else ("file", obj.file.input.path)


class Scope:
    def __init__(self, objects: List[K8sObject]):
        self._by_name: Dict[Key, List[K8sObject]] = {}
        # The common answers (same unit, same file, same directory) are dict
        # lookups, so a repository with hundreds of copies of `nginx-conf`
        # costs one lookup per reference, not a scan of every copy.
        self._by_place: Dict[Tuple, List[K8sObject]] = {}
        self.duplicates: List[Duplicate] = []
        last: Dict[Tuple, K8sObject] = {}
        for obj in objects:
            if obj.kind in REFERENCE_KINDS:  # nothing else is ever looked up
                self._by_name.setdefault((obj.kind, obj.name), []).append(obj)
                for place in _places(obj):
                    self._by_place.setdefault((obj.kind, obj.name) + place, []).append(obj)
            ident = (_group(obj), obj.kind, obj.namespace or "default", obj.name)
            previous = last.get(ident)
            if previous is not None:
                self.duplicates.append(Duplicate(obj, previous))
                previous.shadowed = True
            last[ident] = obj
        # Once every object is in, each list becomes a _Usable: the objects
        # a lookup may answer with are found by namespace, not by filtering
        # every same-named object of every namespace on every lookup.
        self._by_name = {key: _Usable(objs) for key, objs in self._by_name.items()}
        self._by_place = {key: _Usable(objs) for key, objs in self._by_place.items()}

    def candidates(self, kind: str, namespace: Optional[str], name: str, origin: K8sObject) -> List[K8sObject]:
        """The nearest objects ``origin`` can mean by ``kind``/``name``: one
        (resolved), several (equally near: ambiguous) or none."""
        if kind not in REFERENCE_KINDS:
            raise ValueError(f"references to {kind} are not resolved (see REFERENCE_KINDS)")

        def usable(found):
            return found.usable(namespace) if found is not None else []

        unit = origin.file.unit
        if unit is not None:
            same_unit = usable(self._by_place.get((kind, name, "unit", unit)))
            if same_unit:
                return _exact_namespace_first(same_unit, namespace)
        else:
            for place in _places(origin):
                near = usable(self._by_place.get((kind, name) + place))
                if near:
                    return _exact_namespace_first(near, namespace)
        # Objects of another unit are deployed by another release or build.
        plain = [o for o in usable(self._by_name.get((kind, name))) if o.file.unit is None]
        if not plain:
            return []
        here = _directory(origin)
        best = -1
        nearest: List[K8sObject] = []
        for o in plain:
            score = _common(here, _directory(o))
            if score > best:
                best, nearest = score, [o]
            elif score == best:
                nearest.append(o)
        return _exact_namespace_first(nearest, namespace)


class _Usable:
    """The objects of one index entry that are not shadowed, in input
    order, and by namespace: a lookup from a namespace may answer with the
    objects of that namespace and those that leave it to `kubectl -n`."""

    __slots__ = ("all", "by_namespace")

    def __init__(self, objects: List[K8sObject]):
        self.all = [o for o in objects if not o.shadowed]
        self.by_namespace: Dict[Optional[str], List[Tuple[int, K8sObject]]] = {}
        for index, o in enumerate(self.all):
            self.by_namespace.setdefault(o.namespace, []).append((index, o))

    def usable(self, namespace: Optional[str]) -> List[K8sObject]:
        if namespace is None:
            return list(self.all)
        mine = self.by_namespace.get(namespace, ())
        unset = self.by_namespace.get(None, ())
        if not unset:
            return [o for _, o in mine]
        if not mine:
            return [o for _, o in unset]
        from heapq import merge

        return [o for _, o in merge(mine, unset, key=lambda pair: pair[0])]


def _places(obj: K8sObject) -> Tuple[Tuple, ...]:
    """The index keys of an object's place, nearest first."""
    unit = obj.file.unit
    if unit is not None:
        return (("unit", unit),)
    return (("file", obj.file.input.path), ("dir", _directory(obj)))


def _exact_namespace_first(objects: List[K8sObject], namespace: Optional[str]) -> List[K8sObject]:
    """A namespace given on both sides beats an object that leaves it to
    `kubectl -n`; among equals, every candidate stays."""
    exact = [o for o in objects if o.namespace is not None and o.namespace == namespace]
    return exact or objects

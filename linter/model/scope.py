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
   referrer's (the same directory shares all of it).  Every plain object
   is indexed under each prefix of its directory, so the nearest are
   those under the longest prefix of the referrer's directory that holds
   any: a lookup costs the depth of a path, never a score for every
   same-named object of the repository.
3. Candidates that stay equally near are an ambiguity: the model evaluates
   the workload against each and says so; it never picks one silently.

Indexes are built once, so every lookup costs the candidates of one name.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from somaxlint.findings import Location
    from somaxlint.model.objects import K8sObject, Workload
from somaxlint.records import record

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


def _group(obj: K8sObject) -> Tuple[str, str]:
    """The set inside which two same-named objects are a duplicate."""
    unit = obj.file.unit
    return ("unit", unit) if unit is not None else ("file", obj.file.input.path)


class Scope:
    def __init__(self, objects: List[K8sObject]):
        # The common answers (same unit, same file, same directory) are dict
        # lookups, so a repository with hundreds of copies of `nginx-conf`
        # costs one lookup per reference, not a scan of every copy.
        self._by_place: Dict[Tuple, List[K8sObject]] = {}
        # plain objects (no unit) under every prefix of their directory
        self._by_prefix: Dict[Tuple, List[K8sObject]] = {}
        self.duplicates: List[Duplicate] = []
        last: Dict[Tuple, K8sObject] = {}
        for obj in objects:
            if obj.kind in REFERENCE_KINDS:  # nothing else is ever looked up
                for place in _places(obj):
                    self._by_place.setdefault((obj.kind, obj.name) + place, []).append(obj)
                if obj.file.unit is None:
                    directory = _directory(obj)
                    for depth in range(len(directory) + 1):
                        self._by_prefix.setdefault((obj.kind, obj.name, directory[:depth]), []).append(obj)
            ident = (_group(obj), obj.kind, obj.namespace or "default", obj.name)
            previous = last.get(ident)
            if previous is not None:
                self.duplicates.append(Duplicate(obj, previous))
                previous.shadowed = True
            last[ident] = obj
        # Once every object is in, each list becomes a _Usable: the objects
        # a lookup may answer with are found by namespace, not by filtering
        # every same-named object of every namespace on every lookup.
        self._by_place = {key: _Usable(objs) for key, objs in self._by_place.items()}
        self._by_prefix = {key: _Usable(objs) for key, objs in self._by_prefix.items()}

    def candidates(self, kind: str, namespace: Optional[str], name: str, origin: K8sObject) -> Tuple[K8sObject, ...]:
        """The nearest objects ``origin`` can mean by ``kind``/``name``: one
        (resolved), several (equally near: ambiguous) or none.  One tuple
        per index entry and namespace, shared by every lookup that gets it:
        a thousand workloads equally near a thousand objects hold one list
        of them, not a thousand copies."""
        if kind not in REFERENCE_KINDS:
            raise ValueError(f"references to {kind} are not resolved (see REFERENCE_KINDS)")
        unit = origin.file.unit
        if unit is not None:
            found = self._by_place.get((kind, name, "unit", unit))
            if found is not None and found.answer(namespace):
                return found.answer(namespace)
        else:
            for place in _places(origin):
                found = self._by_place.get((kind, name) + place)
                if found is not None and found.answer(namespace):
                    return found.answer(namespace)
        # Objects of another unit are deployed by another release or build:
        # the plain ones sharing the longest prefix with the referrer's
        # directory (all of them share the empty one).
        here = _directory(origin)
        for depth in range(len(here), -1, -1):
            found = self._by_prefix.get((kind, name, here[:depth]))
            if found is not None and found.answer(namespace):
                return found.answer(namespace)
        return ()


class _Usable:
    """The objects of one index entry that are not shadowed, in input
    order, and by namespace: a lookup from a namespace may answer with the
    objects of that namespace and those that leave it to `kubectl -n`."""

    __slots__ = ("all", "by_namespace", "answers")

    def __init__(self, objects: List[K8sObject]):
        self.all = [o for o in objects if not o.shadowed]
        self.by_namespace: Dict[Optional[str], List[Tuple[int, K8sObject]]] = {}
        for index, o in enumerate(self.all):
            self.by_namespace.setdefault(o.namespace, []).append((index, o))
        self.answers: Dict[Optional[str], Tuple[K8sObject, ...]] = {}

    def answer(self, namespace: Optional[str]) -> Tuple[K8sObject, ...]:
        """What a lookup from ``namespace`` answers with here (the exact
        namespace first), worked out once."""
        found = self.answers.get(namespace)
        if found is None:
            found = self.answers[namespace] = tuple(_exact_namespace_first(self.usable(namespace), namespace))
        return found

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


@record
class Ambiguity:
    """A reference that two or more equally near objects could satisfy."""

    workload: Workload
    kind: str
    name: str
    location: Location  # where the name is written
    candidates: Tuple[K8sObject, ...]


# At most this many combinations of equally near objects are evaluated for
# one workload; beyond it the first candidates are used and the ambiguity
# finding says so.
MAX_VARIANTS = 8

"""Which files of the context can change the findings of the files named.

A pre-commit hook names the staged files and reads the repository as
context (``--context``): only findings that touch a named file are
reported, so only the objects those findings depend on need modelling.
A finding about a named file depends on

* the objects its own objects refer to by name, as the model resolves the
  reference (``somaxlint.model.scope``: same unit, same file, nearest
  directory), and what those refer to in turn;
* the objects that refer to one of its objects and resolve to it (a
  Deployment elsewhere that mounts a named ConfigMap), and what those
  refer to (their namespace's sysctls, their other ConfigMaps);
* what applies to every pod: CNI configurations, NetworkAttachment-
  Definitions, Namespaces, KubeletConfigurations.

A file is described by its ``Keys``: the objects it defines (kind,
namespace, name), every name-like word written in it (any of which may be
a reference: a volume's ConfigMap, an annotation's network list, a
``--configmap=ns/name`` flag), and whether it applies to every pod.  The
words over-approximate the references, and each candidate is then
resolved with the model's own nearness rules, so the set is never smaller
than what the model would read, and in a repository of many applications
with dev/prod copies of the same names it stays the application's own.

Anything this cannot reason about -- rendered charts and kustomizations,
``servers:`` links from standalone nginx files, a named file that applies
to every pod -- turns the narrowing off: the whole context is modelled.
A named nginx file brings every standalone nginx file (the engine adds
them: any may include it).
"""

from __future__ import annotations

import re
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Optional, Set, Tuple

from somaxlint.model.scope import REFERENCE_KINDS, input_directory

# Objects that the model reads for every pod, not through a reference by
# name (or through the pod's namespace, which a manifest may leave out).
GLOBAL_KINDS = frozenset({"Namespace", "NetworkAttachmentDefinition", "KubeletConfiguration"})

# Runs of the characters of a Kubernetes name (DNS subdomain, and the
# upper case of kinds and of names in other tools' fields): a name
# written anywhere in a file is one of its words.
_WORD = re.compile(r"[A-Za-z0-9._-]+")

if TYPE_CHECKING:
    ObjectKey = Tuple[str, Optional[str], str]  # (kind, namespace, name)


class Keys(tuple):
    """(objects, words, applies_to_all, summary): what a file defines, the
    words it holds, whether it applies to every pod, and how the run's
    summary counts it (``files``, ``not Kubernetes``, or another skip
    reason).  A tuple of built-in values, so the cache stores it as is.

    The words are kept as one string, sorted and separated by spaces (no
    word holds one): a hook reads every file's keys from the cache and
    needs the words of a few, and unpickling a string is a copy where a
    set of words was most of reading the index."""

    __slots__ = ()

    def __new__(cls, objects: Tuple[ObjectKey, ...], words: Iterable[str], applies_to_all: bool, summary: str):
        text = words if isinstance(words, str) else " ".join(sorted(set(words)))
        return tuple.__new__(cls, (objects, text, applies_to_all, summary))

    objects = property(lambda self: self[0])
    words = property(lambda self: frozenset(self[1].split()))
    applies_to_all = property(lambda self: self[2])
    summary = property(lambda self: self[3])

    def mentions(self, names: Set[str]) -> Set[str]:
        """Which of ``names`` are words of the file."""
        text = self[1]
        if not any(name in text for name in names):  # (a substring test first: most files hold none)
            return set()
        return names & self.words


def keys_of(loaded, summary: str) -> Keys:
    """The Keys of a loaded file; ``summary`` is its summary category."""
    from somaxlint.model.objects import object_keys

    if loaded.kind not in ("yaml", "json"):
        return Keys((), "", False, summary)
    objects, applies_to_all = object_keys(loaded)
    if not objects and not applies_to_all:
        return Keys((), "", False, summary)
    words: Set[str] = set(_WORD.findall(loaded.text or ""))
    if "\\" in (loaded.text or ""):
        # An escape in a quoted scalar ("web\x2dconf", a line continued
        # with a backslash) spells a name the text does not show whole.
        for doc in loaded.documents:
            _scalar_words(doc.root, words)
    return Keys(tuple(objects), words, applies_to_all or any(k in GLOBAL_KINDS for k, _, _ in objects), summary)


def _scalar_words(root, words: Set[str]) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            words.update(_WORD.findall(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                stack.append(key)
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


class _File:
    """What ``Scope`` reads of a file: a plain file on disk has no unit."""

    __slots__ = ("input", "unit")

    def __init__(self, input_file):
        self.input = input_file
        self.unit = None


class _Object:
    """What ``Scope`` reads of an object, without its tree."""

    __slots__ = ("kind", "namespace", "name", "file", "shadowed", "path")

    def __init__(self, key: ObjectKey, file: _File, path: str):
        self.kind, self.namespace, self.name = key
        self.file = file
        self.shadowed = False
        self.path = path


class _ScopeByName:
    """``Scope``'s answers, worked out for one name at a time as references
    ask for it: they depend on the objects of that name alone, and a hook
    asks about a few names of a repository's thousands.

    Most answers are the objects of that name in the referrer's own
    directory (same file, else same directory: ``Scope``'s first places).
    Those are asked of a ``Scope`` of just that directory's objects of the
    name -- which holds the whole of each of their files, so what shadows
    what is the same -- and only an empty answer needs the ``Scope`` of
    every object of the name (nearest directory).  A repository with a copy
    of `nginx-conf` in every application's every environment then costs a
    lookup per reference, not an index of every copy per run."""

    def __init__(self, keys: Dict[str, Keys], inputs: Dict[str, object]):
        from somaxlint.model.scope import Scope

        self._scope = Scope
        self._keys, self._inputs = keys, inputs
        self._files: Dict[str, List[_Object]] = {}
        self._named: Dict[str, List[Tuple[str, int]]] = {}  # name -> (path, index in the file)
        # only objects of the kinds the model resolves references to are
        # ever reached by a name (a Deployment is named by nothing it reads)
        self.kinds_of: Dict[str, Set[str]] = {}  # name -> those kinds
        named, kinds_of = self._named, self.kinds_of
        for path, k in keys.items():
            index = 0
            for kind, _, name in k.objects:
                named.setdefault(name, []).append((path, index))
                index += 1
                if kind in REFERENCE_KINDS:
                    kinds_of.setdefault(name, set()).add(kind)
        self._by_directory: Dict[str, Dict[Tuple[str, ...], List[Tuple[str, int]]]] = {}
        self._local: Dict[Tuple[str, Tuple[str, ...]], object] = {}
        self._everywhere: Dict[str, object] = {}

    def objects(self, path: str) -> List[_Object]:
        """The objects of a file, one instance each (answers are compared
        by identity)."""
        found = self._files.get(path)
        if found is None:
            file = _File(self._inputs[path])
            found = self._files[path] = [_Object(key, file, path) for key in self._keys[path].objects]
        return found

    def _directory(self, path: str) -> Tuple[str, ...]:
        """The directory ``Scope`` places a file's objects in."""
        return input_directory(self._inputs[path])

    def candidates(self, kind: str, namespace: Optional[str], name: str, origin: _Object) -> List[_Object]:
        directory = self._directory(origin.path)
        scope = self._local.get((name, directory))
        if scope is None:
            by_directory = self._by_directory.get(name)
            if by_directory is None:
                by_directory = self._by_directory[name] = {}
                for place in self._named.get(name, ()):
                    by_directory.setdefault(self._directory(place[0]), []).append(place)
            local = [self.objects(p)[i] for p, i in by_directory.get(directory, ())]
            scope = self._local[(name, directory)] = self._scope(local)
        found = scope.candidates(kind, namespace, name, origin)
        if found:
            return found
        scope = self._everywhere.get(name)
        if scope is None:
            scope = self._everywhere[name] = self._scope([self.objects(p)[i] for p, i in self._named.get(name, ())])
        return scope.candidates(kind, namespace, name, origin)


def related(keys: Dict[str, Keys], inputs: Dict[str, object], named: Iterable[str]) -> Optional[Set[str]]:
    """The paths (``InputFile.path``) whose objects the findings of the
    ``named`` paths can depend on, the named ones included; None when that
    cannot be narrowed (a named file applies to every pod)."""
    named = list(named)
    if any(keys[p].applies_to_all for p in named):
        return None
    out: Set[str] = {path for path, k in keys.items() if k.applies_to_all}
    scope = _ScopeByName(keys, inputs)
    kinds_of = scope.kinds_of

    todo = list(named)
    # Inward: objects elsewhere whose reference to a named file's object
    # resolves to it.
    targets = {(o.kind, o.name): o for p in named for o in scope.objects(p) if o.kind in REFERENCE_KINDS}
    if targets:
        target_names = {name for _, name in targets}
        for path, k in keys.items():
            if path in out or not k.objects:
                continue
            mentioned = k.mentions(target_names)
            if not mentioned:
                continue
            for (kind, name), target in targets.items():
                if name in mentioned and any(target in scope.candidates(kind, o.namespace, name, o) for o in scope.objects(path)):
                    todo.append(path)
                    break
    # Outward, transitively: what the files modelled refer to.
    while todo:
        path = todo.pop()
        if path in out:
            continue
        out.add(path)
        if not keys[path].objects:
            continue
        mine = scope.objects(path)
        for word in keys[path].words:
            for kind in kinds_of.get(word, ()):
                for o in mine:
                    for found in scope.candidates(kind, o.namespace, word, o):
                        if found.path not in out:
                            todo.append(found.path)
    return out

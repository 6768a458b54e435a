"""A container's filesystem as its manifests build it.

Only what the input shows is known: ConfigMap and Secret volumes (whole,
with ``items`` remapping, with ``subPath``, inside ``projected`` volumes),
plus the built-in files of images the linter models.  Any other volume
(emptyDir, hostPath, a ConfigMap missing from the input) is a directory
whose content is unknown.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from array import array
from itertools import accumulate
from collections.abc import MutableMapping
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from somaxlint.findings import Location, Related
from somaxlint.load.positioned import YMap, as_map, as_seq
from somaxlint.model.objects import Container, K8sObject
from somaxlint.model.sources import TextSource, scalar_source
from somaxlint.records import record, field


@record
class MountedFile:
    source: TextSource
    via: Tuple[Related, ...] = ()  # the mount, the volume, the ConfigMap key


# key (or items path) -> (its text, where the key is written): one per
# ConfigMap or Secret (or per items list), shared by every pod mounting it
if TYPE_CHECKING:
    Entries = Dict[str, Tuple[TextSource, Related]]


class _Layer:
    """The files one volume mount shows.  ``parts``: the volume's sources,
    (entries, the volume's Related), a later part winning (a projected
    volume); the entries are shared, never copied per pod.  A mount of the
    whole volume (``strip`` ""), of a directory of it (``strip`` the
    subPath and "/"), or of one file (``single``)."""

    __slots__ = ("mount", "base", "parts", "strip", "single", "head", "listings")

    def __init__(self, mount: str, parts, head: Related, listings: "_Listings", strip: str = "", single: Optional[str] = None):
        self.mount = mount
        self.base = mount.rstrip("/") + "/"
        self.parts = parts
        self.head = head  # the volumeMount
        self.strip = strip
        self.single = single  # the subPath when it names one file
        self.listings = listings

    def lookup(self, path: str) -> Optional[MountedFile]:
        if self.single is not None:
            return self._file(self.single) if path == self.mount else None
        if not path.startswith(self.base):
            return None
        rel = path[len(self.base) :]
        if not self.strip and (rel.startswith("..") or rel.startswith("/")):
            return None
        return self._file(self.strip + rel)

    def _file(self, key: str) -> Optional[MountedFile]:
        for entries, volume in reversed(self.parts):
            found = entries.get(key)
            if found is not None:
                return MountedFile(found[0], (self.head, volume, found[1]))
        return None

    def fill(self, files: Dict[str, MountedFile], prefix: Optional[str] = None) -> None:
        """Put every file of the mount (below ``prefix``, ending in "/",
        when given) into ``files`` (a later one wins)."""
        if self.single is not None:
            found = self._file(self.single)
            if found is not None and (prefix is None or self.mount.startswith(prefix)):
                files[self.mount] = found
            return
        # below a prefix: the listing's part there, worked out once for
        # every pod that mounts the same entries at the same place
        listing = self.listings.get(self) if prefix is None else self.listings.under(self, prefix)
        if len(self.parts) == 1:
            (entries, volume), = self.parts
            head = self.head
            for path, key in listing:
                source, related = entries[key]
                files[path] = MountedFile(source, (head, volume, related))
        else:
            for path, key in listing:
                files[path] = self._file(key)

    def paths(self) -> List[Tuple[str, str]]:
        """(path in the container, key in the volume) of every file."""
        out = []
        seen = set() if len(self.parts) > 1 else None
        strip = self.strip
        for entries, _volume in self.parts:
            for key in entries:
                if seen is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                if strip:
                    if key.startswith(strip):
                        rel = key[len(strip) :]
                        out.append((posixpath.join(self.mount, rel) if rel.startswith("/") else self.base + rel, key))
                elif not (key.startswith("..") or key.startswith("/")):
                    out.append((self.base + key, key))
        return out


class _Listings:
    """The paths a mount shows, and the texts behind them, worked out once
    for every pod that mounts the same entries at the same place."""

    def __init__(self):
        self._held: Dict[tuple, list] = {}

    def _entry(self, layer: _Layer) -> list:
        entries = tuple(e for e, _ in layer.parts)
        key = (layer.mount, layer.strip, tuple(map(id, entries)))
        held = self._held.get(key)
        if held is None or any(a is not b for a, b in zip(held[0], entries)):
            # the entries are held with their listing: their ids stay theirs
            held = self._held[key] = [entries, layer.paths(), None]
        return held

    def get(self, layer: _Layer) -> List[Tuple[str, str]]:
        return self._entry(layer)[1]

    def under(self, layer: _Layer, prefix: str) -> List[Tuple[str, str]]:
        """The part of the listing below ``prefix`` (ending in "/")."""
        held = self._entry(layer)
        if len(held) == 3:
            held.append({})
        part = held[3].get(prefix)
        if part is None:
            part = held[3][prefix] = [(path, key) for path, key in held[1] if path.startswith(prefix)]
        return part

    def sources(self, layer: _Layer) -> FrozenSet[TextSource]:
        held = self._entry(layer)
        if held[2] is None:
            held[2] = frozenset(layer._file(key).source for _, key in held[1])
        return held[2]


class MountedFiles(MutableMapping):
    """path -> MountedFile of one container, read through its mounts: what
    a ConfigMap holds is shared by every pod that mounts it, so a thousand
    pods mounting a ConfigMap of a thousand keys hold a thousand mounts
    over one ConfigMap's files.  A later mount of the same path wins, then
    files set here (image files, rendered templates).  Looking a path up
    costs the container's mounts; the files are put together only when the
    container's files are listed."""

    __slots__ = ("_layers", "_own", "_hidden", "_flat")

    def __init__(self):
        self._layers: List[_Layer] = []
        self._own: Dict[str, MountedFile] = {}
        self._hidden: set = set()
        self._flat: Optional[Dict[str, MountedFile]] = None

    def mount(self, layer: _Layer) -> None:
        self._layers.append(layer)
        self._flat = None

    def get(self, path, default=None):
        if self._flat is not None:
            return self._flat.get(path, default)
        found = self._own.get(path)
        if found is not None:
            return found
        if path in self._hidden:
            return default
        for layer in reversed(self._layers):
            found = layer.lookup(path)
            if found is not None:
                return found
        return default

    def __getitem__(self, path):
        found = self.get(path)
        if found is None:
            raise KeyError(path)
        return found

    def __contains__(self, path):
        return self.get(path) is not None

    def __setitem__(self, path, mounted):
        self._hidden.discard(path)
        self._own[path] = mounted
        if self._flat is not None:
            self._flat[path] = mounted

    def __delitem__(self, path):
        if path not in self:
            raise KeyError(path)
        self._own.pop(path, None)
        self._hidden.add(path)
        if self._flat is not None:
            self._flat.pop(path, None)

    def _files(self) -> Dict[str, MountedFile]:
        if self._flat is None:
            files: Dict[str, MountedFile] = {}
            for layer in self._layers:
                layer.fill(files)
            for path in self._hidden:
                files.pop(path, None)
            files.update(self._own)
            self._flat = files
        return self._flat

    def source_groups(self) -> List[Iterable[TextSource]]:
        """The texts of every file, as groups: a whole mount's group is one
        frozenset shared by every pod that mounts the same entries at the
        same place, so recording what pods read costs their mounts, not
        their files."""
        if self._hidden:  # a file taken away: exactly what is left
            return [{m.source for m in self.values()}]
        groups: List[Iterable[TextSource]] = []
        for layer in self._layers:
            if layer.single is not None:
                found = layer._file(layer.single)
                if found is not None:
                    groups.append((found.source,))
            else:
                groups.append(layer.listings.sources(layer))
        groups.append([m.source for m in self._own.values()])
        return groups

    def items_under(self, directory: str) -> List[Tuple[str, MountedFile]]:
        """(path, file) of the files below ``directory``, put together from
        the mounts that can hold them: a pod's template directory is not
        looked for among every file of every ConfigMap it mounts."""
        if self._flat is not None:
            prefix = directory.rstrip("/") + "/"
            return [(p, m) for p, m in self._flat.items() if p.startswith(prefix)]
        prefix = directory.rstrip("/") + "/"
        files: Dict[str, MountedFile] = {}
        for layer in self._layers:
            layer.fill(files, prefix)
        for path in self._hidden:
            files.pop(path, None)
        files.update((p, m) for p, m in self._own.items() if p.startswith(prefix))
        return list(files.items())

    def __iter__(self):
        return iter(self._files())

    def __len__(self):
        return len(self._files())

    def items(self):
        return self._files().items()

    def values(self):
        return self._files().values()

    def keys(self):
        return self._files().keys()


@record
class ContainerFS:
    files: MountedFiles = field(default_factory=MountedFiles)
    # mount points whose content the input does not show, with the reason
    opaque: Dict[str, str] = field(default_factory=dict)
    # every mount point (directory mounts hide what the image had there)
    covered: List[str] = field(default_factory=list)

    def get(self, path: str) -> Optional[MountedFile]:
        return self.files.get(posixpath.normpath(path))

    def glob(self, pattern: str) -> List[str]:
        pattern = posixpath.normpath(pattern)
        parts = pattern.split("/")
        return sorted(
            path for path in self.files if _match_parts(parts, path.split("/"))
        )

    def opaque_reason(self, path: str) -> Optional[str]:
        path = posixpath.normpath(path)
        for mount, reason in self.opaque.items():
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return reason
        return None

    def is_covered(self, path: str) -> bool:
        for mount in self.covered:
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                return True
        return False


def _match_parts(pattern_parts, path_parts) -> bool:
    # nginx globs with glob(3): a wildcard never crosses a "/".
    if len(pattern_parts) != len(path_parts):
        return False
    return all(fnmatch.fnmatchcase(p, q) for q, p in zip(pattern_parts, path_parts))


class UsedSources:
    """The texts some container reads (what is mounted into a server's
    container is that container's business, never linted on its own).  A
    large group shared by many pods is held once, not added element by
    element for each pod."""

    SMALL = 64  # a group up to this size is merged into the one set

    def __init__(self):
        self._one: set = set()
        self._groups: Dict[int, FrozenSet[TextSource]] = {}

    def add(self, source: TextSource) -> None:
        self._one.add(source)

    def update(self, sources: Iterable[TextSource]) -> None:
        self._one.update(sources)

    def add_files(self, files: "MountedFiles") -> None:
        for group in files.source_groups():
            if isinstance(group, frozenset) and len(group) > self.SMALL:
                self._groups[id(group)] = group  # held by the listing: the id stays its own
            else:
                self._one.update(group)

    def __contains__(self, source: TextSource) -> bool:
        return source in self._one or any(source in group for group in self._groups.values())


class SourceCache:
    """One TextSource per ConfigMap/Secret key, however many pods mount it,
    so each embedded config is parsed once; and the files of each ConfigMap
    or Secret, read once, whatever number of pods mount it."""

    def __init__(self):
        self._sources: Dict[Tuple[int, str], TextSource] = {}
        # id(object) -> (the object, its files): held, so the id stays its own
        self._files: Dict[int, Tuple[K8sObject, Entries]] = {}
        # id(file text) -> (the text, where each of its lines starts)
        self._lines: Dict[int, Tuple[str, List[int]]] = {}
        self.listings = _Listings()

    def for_key(self, obj: K8sObject, section: YMap, key: str, text: str, kind_label: str) -> TextSource:
        cache_key = (id(section), key)
        source = self._sources.get(cache_key)
        if source is None:
            label = f"{kind_label} {obj.namespace or 'default'}/{obj.name} key {key!r}"
            if section.vpos.get(key) is None:
                source = TextSource(obj.display, text, label, exact=False, anchor=obj.root.pos[:2])
            else:
                source = self._scalar_source(obj, text, section.vpos[key], section.kpos[key][1], label)
            self._sources[cache_key] = source
        return source

    def _scalar_source(self, obj: K8sObject, text: str, vpos, key_column: int, label: str) -> TextSource:
        """``scalar_source`` handed only the lines it reads of the file (the
        block header's line, and those up to the first line that is not
        blank): given the whole file, it would split all of it again for
        each of the thousands of ConfigMaps one stream may hold."""
        file_text = obj.file.text
        line, column, style = vpos
        if style != "|" or file_text is None:
            return scalar_source(obj.display, file_text, text, vpos, key_column, label, obj.helm_source)
        starts = self._line_starts(file_text)
        if line > len(starts):
            return scalar_source(obj.display, file_text, text, vpos, key_column, label, obj.helm_source)
        first = starts[line - 1]
        content = _NOT_BLANK.search(file_text, starts[line]) if line < len(starts) else None
        end = len(file_text) if content is None else file_text.find("\n", content.start())
        window = file_text[first : len(file_text) if end < 0 else end]
        source = scalar_source(obj.display, window, text, (1, column, style), key_column, label, obj.helm_source)
        # the window's first line is the file's line `line`
        source.line0 += line - 1
        source.anchor = (line, column)
        return source

    def _line_starts(self, text: str) -> Sequence[int]:
        held = self._lines.get(id(text))
        if held is None or held[0] is not text:
            # an array of machine integers: held for every file of the run,
            # a list of int objects would cost 36 bytes a line
            # (each line's length plus its "\n", summed in C: the last sum
            # is one past the end)
            starts = array("q", accumulate(map((1).__add__, map(len, text.split("\n"))), initial=0))
            starts.pop()
            held = self._lines[id(text)] = (text, starts)
        return held[1]

    def object_files(self, obj: K8sObject) -> Entries:
        held = self._files.get(id(obj))
        if held is None or held[0] is not obj:
            held = self._files[id(obj)] = (obj, _object_files(obj, self))
        return held[1]


# what sources.scalar_source counts as a line that is not blank
_NOT_BLANK = re.compile(r"[^\s]")


def _object_files(obj: K8sObject, cache: SourceCache) -> Dict[str, Tuple[TextSource, Related]]:
    """key -> (text, where the key is) for a ConfigMap or Secret."""
    out: Dict[str, Tuple[TextSource, Related]] = {}
    label = obj.kind
    sections = ["data"] if obj.kind == "ConfigMap" else ["data", "stringData"]
    for section_name in sections:
        section = as_map(obj.root.get(section_name))
        if section is None:
            continue
        for key, value in section.items():
            if not isinstance(key, str):
                continue
            if obj.kind == "Secret" and section_name == "data":
                if not isinstance(value, str):
                    continue
                import base64  # Secrets' data only

                try:
                    text = base64.b64decode(value, validate=False).decode("utf-8", "replace")
                except ValueError:  # (binascii.Error is one: the module is not imported for it)
                    continue
            else:
                if not isinstance(value, str):
                    continue
                text = value
            source = cache.for_key(obj, section, key, text, label)
            related = Related(obj.key_loc(section, key), f"{label} {obj.namespace or 'default'}/{obj.name} key {key!r}")
            out[key] = (source, related)
    return out


# (kind, name, where the name is written) -> the object it means, or None
if TYPE_CHECKING:
    Chooser = Callable[[str, str, "Location"], Optional[K8sObject]]


def _volume_entries(
    volume: YMap, container: Container, choose: Chooser, cache: SourceCache
) -> Tuple[Optional[List[Tuple[Entries, Related]]], Optional[str]]:
    """The files a volume shows, as its parts (entries, the volume's
    Related; a later part wins), or None and the reason when its content
    is not in the input.  A part without ``items`` is its object's own
    entries, shared."""
    obj = container.workload.obj
    volume_related = Related(obj.at(volume.pos), f"volume {volume.get('name')!r}")

    def from_object(section, name_key, items, kind):
        name = section.get(name_key)
        if not isinstance(name, str):
            return None, f"{kind} volume without a name"
        target = choose(kind, name, obj.value_loc(section, name_key))
        if target is None:
            return None, f"{kind} {container.workload.namespace or 'default'}/{name} is not in the input"
        files = cache.object_files(target)
        if isinstance(items, list) and items:
            entries = {}
            for item in items:
                if not isinstance(item, YMap):
                    continue
                key, path = item.get("key"), item.get("path")
                if isinstance(key, str) and isinstance(path, str) and key in files:
                    entries[posixpath.normpath(path)] = files[key]
            return entries, None
        return files, None

    cm = as_map(volume.get("configMap"))
    if cm is not None:
        entries, reason = from_object(cm, "name", as_seq(cm.get("items")), "ConfigMap")
        return (None, reason) if entries is None else ([(entries, volume_related)], None)
    secret = as_map(volume.get("secret"))
    if secret is not None:
        entries, reason = from_object(secret, "secretName", as_seq(secret.get("items")), "Secret")
        return (None, reason) if entries is None else ([(entries, volume_related)], None)
    projected = as_map(volume.get("projected"))
    if projected is not None:
        parts = []
        missing = []
        for src in as_seq(projected.get("sources")):
            if not isinstance(src, YMap):
                continue
            for kind in ("configMap", "secret"):
                part = as_map(src.get(kind))
                if part is None:
                    continue
                found, reason = from_object(
                    part, "name", as_seq(part.get("items")), "ConfigMap" if kind == "configMap" else "Secret"
                )
                if found is None:
                    missing.append(reason)
                elif found:
                    parts.append((found, volume_related))
        if missing and not parts:
            return None, "; ".join(missing)
        return parts, None
    kinds = [k for k in volume if k != "name"]
    return None, f"{kinds[0] if kinds else 'volume'} volume {volume.get('name')!r}: content not in the input"


def build_fs(container: Container, choose: Chooser, cache: SourceCache) -> ContainerFS:
    """The container's files: one layer per mount over the shared entries of
    what it mounts (``MountedFiles``), so building it costs its mounts, not
    its files."""
    fs = ContainerFS()
    obj = container.workload.obj
    volumes = {}
    for volume in as_seq(container.workload.pod_spec.get("volumes")):
        if isinstance(volume, YMap) and isinstance(volume.get("name"), str):
            volumes.setdefault(volume["name"], volume)
    mounts = as_seq(container.node.get("volumeMounts"))
    for index, mount in enumerate(mounts):
        if not isinstance(mount, YMap):
            continue
        name, mount_path = mount.get("name"), mount.get("mountPath")
        if not isinstance(name, str) or not isinstance(mount_path, str) or not mount_path.startswith("/"):
            continue
        mount_path = posixpath.normpath(mount_path)
        mount_related = Related(obj.at(mount.pos), f"volumeMount {name!r} at {mount_path}")
        volume = volumes.get(name)
        if volume is None:
            fs.opaque[mount_path] = f"volume {name!r} is not defined in the pod"
            fs.covered.append(mount_path)
            continue
        parts, reason = _volume_entries(volume, container, choose, cache)
        sub_path = mount.get("subPath")
        fs.covered.append(mount_path)
        if parts is None:
            fs.opaque[mount_path] = reason or "content not in the input"
            continue
        if isinstance(sub_path, str) and sub_path:
            sub = posixpath.normpath(sub_path)
            if sub.startswith("..") or sub.startswith("/"):
                continue  # the kubelet refuses such subPaths
            if any(sub in entries for entries, _ in parts):
                fs.files.mount(_Layer(mount_path, parts, mount_related, cache.listings, single=sub))
            else:
                # subPath names a directory of the volume (projected paths)
                fs.files.mount(_Layer(mount_path, parts, mount_related, cache.listings, strip=sub + "/"))
            continue
        fs.files.mount(_Layer(mount_path, parts, mount_related, cache.listings))
    return fs


def add_image_files(fs: ContainerFS, container: Container, image_files: Dict[str, str]) -> None:
    """Add the image's built-in files where no mount hides them.  Their
    positions point at the container's ``image`` (that is where they come
    from, as far as the repository is concerned)."""
    obj = container.workload.obj
    anchor = obj.value_loc(container.node, "image")
    for path, text in image_files.items():
        if path in fs.files or fs.is_covered(path):
            continue
        label = f"built-in {path} of image {container.image or '?'}"
        source = TextSource(obj.display, text, label, exact=False, anchor=(anchor.line, anchor.column))
        fs.files[path] = MountedFile(source, (Related(anchor, label),))

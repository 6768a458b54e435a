"""A container's filesystem as its manifests build it.

Only what the input shows is known: ConfigMap and Secret volumes (whole,
with ``items`` remapping, with ``subPath``, inside ``projected`` volumes),
plus the built-in files of images the linter models.  Any other volume
(emptyDir, hostPath, a ConfigMap missing from the input) is a directory
whose content is unknown.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from somaxlint.findings import Location, Related
from somaxlint.load.positioned import YMap, as_map, as_seq
from somaxlint.model.objects import Container, K8sObject
from somaxlint.model.sources import TextSource, scalar_source


@dataclass
class MountedFile:
    source: TextSource
    via: Tuple[Related, ...] = ()  # the mount, the volume, the ConfigMap key


@dataclass
class ContainerFS:
    files: Dict[str, MountedFile] = field(default_factory=dict)
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


class SourceCache:
    """One TextSource per ConfigMap/Secret key, however many pods mount it,
    so each embedded config is parsed once."""

    def __init__(self):
        self._sources: Dict[Tuple[int, str], TextSource] = {}

    def for_key(self, obj: K8sObject, section: YMap, key: str, text: str, kind_label: str) -> TextSource:
        cache_key = (id(section), key)
        source = self._sources.get(cache_key)
        if source is None:
            label = f"{kind_label} {obj.namespace or 'default'}/{obj.name} key {key!r}"
            if section.vpos.get(key) is None:
                source = TextSource(obj.display, text, label, exact=False, anchor=obj.root.pos[:2])
            else:
                source = scalar_source(
                    obj.display, obj.file.text, text, section.vpos[key], section.kpos[key][1], label, obj.helm_source
                )
            self._sources[cache_key] = source
        return source


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
                try:
                    text = base64.b64decode(value, validate=False).decode("utf-8", "replace")
                except (binascii.Error, ValueError):
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
Chooser = Callable[[str, str, "Location"], Optional[K8sObject]]


def _volume_entries(
    volume: YMap, container: Container, choose: Chooser, cache: SourceCache
) -> Tuple[Optional[Dict[str, Tuple[TextSource, Tuple[Related, ...]]]], Optional[str]]:
    """Files a volume shows (relative path -> source, facts), or None and
    the reason when its content is not in the input."""
    obj = container.workload.obj
    volume_related = Related(obj.at(volume.pos), f"volume {volume.get('name')!r}")

    def from_object(section, name_key, items, kind):
        name = section.get(name_key)
        if not isinstance(name, str):
            return None, f"{kind} volume without a name"
        target = choose(kind, name, obj.value_loc(section, name_key))
        if target is None:
            return None, f"{kind} {container.workload.namespace or 'default'}/{name} is not in the input"
        files = _object_files(target, cache)
        entries = {}
        if isinstance(items, list) and items:
            for item in items:
                if not isinstance(item, YMap):
                    continue
                key, path = item.get("key"), item.get("path")
                if isinstance(key, str) and isinstance(path, str) and key in files:
                    source, related = files[key]
                    entries[posixpath.normpath(path)] = (source, (volume_related, related))
        else:
            for key, (source, related) in files.items():
                entries[key] = (source, (volume_related, related))
        return entries, None

    cm = as_map(volume.get("configMap"))
    if cm is not None:
        return from_object(cm, "name", as_seq(cm.get("items")), "ConfigMap")
    secret = as_map(volume.get("secret"))
    if secret is not None:
        return from_object(secret, "secretName", as_seq(secret.get("items")), "Secret")
    projected = as_map(volume.get("projected"))
    if projected is not None:
        entries = {}
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
                else:
                    entries.update(found)
        if missing and not entries:
            return None, "; ".join(missing)
        return entries, None
    kinds = [k for k in volume if k != "name"]
    return None, f"{kinds[0] if kinds else 'volume'} volume {volume.get('name')!r}: content not in the input"


def build_fs(container: Container, choose: Chooser, cache: SourceCache) -> ContainerFS:
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
        entries, reason = _volume_entries(volume, container, choose, cache)
        sub_path = mount.get("subPath")
        fs.covered.append(mount_path)
        if entries is None:
            fs.opaque[mount_path] = reason or "content not in the input"
            continue
        if isinstance(sub_path, str) and sub_path:
            sub = posixpath.normpath(sub_path)
            if sub.startswith("..") or sub.startswith("/"):
                continue  # the kubelet refuses such subPaths
            if sub in entries:
                source, via = entries[sub]
                fs.files[mount_path] = MountedFile(source, (mount_related,) + via)
            else:
                # subPath names a directory of the volume (projected paths)
                prefix = sub + "/"
                for rel, (source, via) in entries.items():
                    if rel.startswith(prefix):
                        fs.files[posixpath.join(mount_path, rel[len(prefix):])] = MountedFile(source, (mount_related,) + via)
            continue
        for rel, (source, via) in entries.items():
            if rel.startswith("..") or rel.startswith("/"):
                continue
            fs.files[posixpath.join(mount_path, rel)] = MountedFile(source, (mount_related,) + via)
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

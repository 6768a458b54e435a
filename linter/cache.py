"""The loading cache: what loading made of an input file, kept between runs.

Like ruff's, it is content-addressed and per file.  An entry's key is a
hash (BLAKE2b) of the file's bytes together with everything else that
decides what loading makes of them: somaxlint's version, the cache format,
the loader's own source files (size and modification time, so a changed
checkout never reads entries an older loader wrote), the parsers it uses
(crossplane, ruamel.yaml and its libyaml binding), the Python
implementation, the nginx lexer in use, how the file's kind was decided
(its name, named on the command line or found by walking) and the
largest file size read.  The value is the ``LoadedFile`` loading
produced -- positioned YAML documents, nginx directives, the errors --
pickled; the text is decoded again from the bytes.  nginx configurations
embedded in ConfigMaps are parsed by the model, not by loading; each such
text has an entry of its own, keyed by its hash in the same way.

One more entry holds the keys of the files a hook's context narrowing
reads (``somaxlint.relations``), by path, each with the file's size,
modification and change times, inode and device and how it was read: a
file whose stat still matches is known by its keys without being read.

Loading and rendering are cached: the model and the rules always run, on
new objects (every hit is unpickled afresh, so nothing is shared between
runs or between two readers of one entry).  A render (``somaxlint.units``)
is kept under a key of everything it read -- every file of the unit's
private copy, byte for byte, the values set and release, the tool's own
file, somaxlint's rendering code -- and its value is the tool's answer
(Helm's manifests, kustomize's stream or error), from which the line map
is made again; a render stopped at a bound is not kept.

An entry is ``MAGIC | key (32 bytes) | BLAKE2b-128 of the payload |
payload``.  It is read only when the magic, the key (the entry must be the
one its name says) and the checksum agree, and it is unpickled by an
unpickler that can build nothing but the loader's own classes; anything
else -- a truncated, corrupted or foreign entry -- is ignored, and the file
is parsed and its entry written again.  Writes go to a temporary file in
the same directory, moved into place with ``os.replace``: a concurrent
reader sees the old entry or the new one, never half of one, and two
writers of one key write the same bytes.

The directory is bounded: when a run has written entries, and at most every
``prune_interval`` seconds (or whenever a run writes many), the least
recently used entries (by access or modification time) are removed until
the total is at most three quarters of ``max_bytes``.

Nothing is ever read or written through a symlink.  The cache directory
(``.somaxlint_cache`` may be part of a pull request) is opened with
``O_NOFOLLOW`` and must be a directory its user owns, else the cache is
not used and ``refused`` says why; its ``load`` directory likewise; every
entry, temporary file and marker is opened relative to that directory's
descriptor without following a symlink, created only where nothing is
(``O_EXCL``), and renamed and removed relative to it: a committed
``load -> /etc`` or ``.pruned -> ~/.bashrc`` is refused, never followed.
"""

from __future__ import annotations

import os
import stat as _stat
import sys
import time
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import List, Optional

MAGIC = b"SMXLOAD\x02"  # the last byte is the format: bump it when the payload changes
_HEADER = len(MAGIC) + 32 + 16
DIRNAME = ".somaxlint_cache"
ENTRIES = "load"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
PRUNE_INTERVAL = 600.0  # seconds between two size checks, unless a run writes many entries
PRUNE_AFTER_WRITES = 256
MAX_KEYS = 200_000  # files whose keys the index keeps (a few hundred bytes each)
# The keys index is kept in shards by path: a commit changes one file, and
# only its shard is written again (one pickle of the whole index was a
# tenth of a warm hook's time on a 3,000-file repository).
KEY_SHARDS = 16
MAX_LISTINGS = 200_000  # directories whose listings are kept
# A directory changed less than this long ago is listed, not stored: its
# next change could fall in the same tick of the file system's clock.
RACY_NS = 2_000_000_000
_STALE_TEMPORARY = 3600.0  # a writer's temporary file older than this was left by a crash

class activate:
    """``with activate(cache):`` -- parses made during the block (embedded
    nginx configurations) go through ``cache``; None leaves them alone.
    The cache wraps loading from outside: it hands itself to the loader
    (``nginx_text.keep_parses_in``), which never imports it."""

    def __init__(self, cache: Optional["Cache"]):
        self.cache = cache

    def __enter__(self):
        from somaxlint.load import nginx_text

        self.previous = nginx_text.keep_parses_in(self.cache)
        return self.cache

    def __exit__(self, *exc):
        from somaxlint.load import nginx_text

        nginx_text.keep_parses_in(self.previous)


class Cache:
    """One cache directory (``.somaxlint_cache`` at the repository root, or
    ``--cache-dir``).  Never raises: a cache that cannot be read or written
    is a cache that misses."""

    def __init__(self, directory: str, max_bytes: int = DEFAULT_MAX_BYTES, prune_interval: float = PRUNE_INTERVAL):
        self.directory = os.path.abspath(directory)
        self.entries = os.path.join(self.directory, ENTRIES)
        # why the cache is not used (a symlink, another user's directory), or None
        self.refused: Optional[str] = None
        self._fd: Optional[int] = None  # the entries directory, opened once
        self._top: Optional[int] = None
        self.max_bytes = max_bytes
        self.prune_interval = prune_interval
        self.hits = self.misses = self.writes = self.rejected = 0
        self._base: Optional[bytes] = None
        self._ready = False
        self._writable = True
        self._counter = 0
        self._keys = _ShardedIndex(self, "keys", MAX_KEYS)
        self._listings = _ShardedIndex(self, "listings", MAX_LISTINGS)

    # ------------------------------------------------------------------
    # keys

    def base(self) -> bytes:
        """What every key includes besides the content (computed once)."""
        if self._base is None:
            self._base = _fingerprint()
        return self._base

    def file_key(self, f, data: bytes, max_bytes: int) -> bytes:
        h = _blake2b(digest_size=32)
        h.update(self.base())
        h.update(f"file\0{f.kind}\0{int(bool(f.explicit))}\0{max_bytes}\0".encode())
        h.update(data)
        return h.digest()

    def text_key(self, what: str, text: str) -> bytes:
        h = _blake2b(digest_size=32)
        h.update(self.base())
        h.update(f"text\0{what}\0".encode())
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    # ------------------------------------------------------------------
    # input files

    def load(self, f, data: bytes, max_bytes: int):
        """The LoadedFile of ``f`` whose bytes are ``data``: from its entry
        when there is a valid one, else loaded and written."""
        from somaxlint import load

        key = self.file_key(f, data, max_bytes)
        payload = self.read(key)
        if payload is not None:
            try:
                loaded = _file_from_payload(f, data, payload)
            except Exception:  # a well-formed entry of the wrong shape
                loaded = None
                self.rejected += 1
            if loaded is not None:
                self.hits += 1
                return loaded
        self.misses += 1
        # the file's entry holds its parse: no entry of its text besides
        from somaxlint.load import nginx_text

        previous = nginx_text.keep_parses_in(None)
        try:
            loaded = load.load_bytes(f, data)
        finally:
            nginx_text.keep_parses_in(previous)
        self.write(key, lambda: _file_payload(loaded, data))
        return loaded

    # ------------------------------------------------------------------
    # the keys of files (``somaxlint.relations``), by their stat

    def keys(self, files, max_bytes: int) -> dict:
        """path -> the Keys stored for each of ``files`` whose size,
        modification and change times, inode and device, and how it is
        read are those they were stored with (the change time cannot be
        set back by a user: any write changes it, as git's index relies
        on); the others are not in the answer.  One loop for a hook's
        whole context: it runs for each of a repository's files on every
        commit."""
        stored_entries = self._keys.entries()
        make, keys_type, valid, stat, signature = tuple.__new__, _keys_type(), _valid_keys, os.stat, _stat_signature
        out = {}
        for f in files:
            path = f.path
            found = stored_entries.get(path)
            if type(found) is not tuple or len(found) != 2 or path == "-" or f.error is not None:
                continue
            try:
                st = stat(path)
            except OSError:
                continue
            stored, keys = found
            if stored != signature(st, f, max_bytes):
                continue
            if valid(keys):
                out[path] = make(keys_type, keys)  # Keys' own __new__ takes the four apart
        self.hits += len(out)
        return out

    def put_keys(self, f, max_bytes: int, keys) -> None:
        if f.path == "-" or f.error is not None:
            return
        try:
            signature = _signature(f, max_bytes)
        except OSError:
            return
        self._keys.put(f.path, (signature, tuple(keys)))

    # ------------------------------------------------------------------
    # directory listings, by the directory's stat (``discover``'s walk)

    def listing(self, directory: str, real_dir: str, list_directory):
        """The entries of ``directory`` (real path ``real_dir``): the ones
        stored when its modification and change times, inode and device
        are those they were stored with, else ``list_directory(directory)``.
        Adding, removing or renaming an entry changes a directory's times;
        a file's content does not, and is not what a listing holds.  A
        listing is stored only once the directory has been unchanged for
        ``RACY_NS``: a change in the same tick of the file system's clock
        as the stored time would otherwise go unseen (git's "racy" case)."""
        try:
            st = os.stat(directory)
        except OSError:
            return list_directory(directory)  # it says why
        signature = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
        found = self._listings.get(real_dir)
        if type(found) is tuple and len(found) == 2 and found[0] == signature:
            entries = _listing_entries(found[1])
            if entries is not None:
                self.hits += 1
                return entries
        entries = list_directory(directory)
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > RACY_NS:
            self._listings.put(real_dir, (signature, _listing_text(entries)))
        return entries

    def keys_shard_key(self, shard: int) -> bytes:
        return self._keys.shard_key(shard)

    def listings_shard_key(self, shard: int) -> bytes:
        return self._listings.shard_key(shard)

    # ------------------------------------------------------------------
    # renders (``somaxlint.units``): keyed by everything a render read

    def render_key(self, parts) -> bytes:
        h = _blake2b(digest_size=32)
        h.update(self.base())
        h.update(b"render\0")
        for part in parts:
            data = part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        return h.digest()

    def get_render(self, parts):
        """What a render whose inputs are ``parts`` produced before, or
        None (the caller checks its shape: an entry is data, never code)."""
        payload = self.read(self.render_key(parts))
        if payload is None:
            self.misses += 1
        else:
            self.hits += 1
        return payload

    def put_render(self, parts, value) -> None:
        self.write(self.render_key(parts), lambda: value)

    # ------------------------------------------------------------------
    # texts parsed by the model (nginx configurations in ConfigMaps)

    def get_nginx_text(self, text: str):
        payload = self.read(self.text_key("nginx", text))
        if payload is not None:
            try:
                directives, errors = payload
                if type(directives) is list and type(errors) is list:
                    self.hits += 1
                    return directives, errors
            except (TypeError, ValueError):
                pass
            self.rejected += 1
        self.misses += 1
        return None

    def put_nginx_text(self, text: str, parsed) -> None:
        self.write(self.text_key("nginx", text), lambda: parsed)

    # ------------------------------------------------------------------
    # entries

    def path(self, key: bytes) -> str:
        return os.path.join(self.entries, key.hex())

    def __del__(self):
        for fd in (self._fd, self._top):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _directory(self, create: bool) -> Optional[int]:
        """The descriptor of the entries directory (and of the cache
        directory above it), opened without following a symlink and only
        when its user is this one; with ``create``, made where missing.
        None when it cannot be had (``refused`` says why when it must not)."""
        if self._fd is not None or self.refused is not None:
            return self._fd
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
        try:
            if self._top is None:
                self._top = _open_owned(self.directory, None, flags, create, self)
            if self._top is None:
                return None
            self._fd = _open_owned(ENTRIES, self._top, flags, create, self)
        except OSError:
            return None
        return self._fd

    def read(self, key: bytes):
        """The unpickled payload of the entry for ``key``, or None."""
        directory = self._directory(create=False)
        if directory is None:
            return None
        try:
            fd = os.open(key.hex(), os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=directory)
        except OSError:  # missing (the usual miss), pruned meanwhile, unreadable, a symlink
            return None
        try:
            if not _stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            return None
        finally:
            os.close(fd)
        blob = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(blob) < _HEADER or blob[: len(MAGIC)] != MAGIC or blob[len(MAGIC) : len(MAGIC) + 32] != key:
            self.rejected += 1  # truncated header, another format, or not this key's entry
            return None
        payload = blob[_HEADER:]
        if _blake2b(payload, digest_size=16).digest() != blob[len(MAGIC) + 32 : _HEADER]:
            self.rejected += 1  # truncated or corrupted
            return None
        try:
            return _unpickle(payload)
        except Exception:
            self.rejected += 1
            return None

    def write(self, key: bytes, make_payload) -> None:
        """Write the entry for ``key`` (``make_payload()`` is pickled);
        quietly nothing when the value cannot be pickled or the directory
        cannot be written."""
        if not self._writable:
            return
        try:
            payload = _pickler().dumps(make_payload(), protocol=PICKLE_PROTOCOL)
        except Exception:  # something loading made that pickle cannot hold: not cached
            return
        blob = b"".join((MAGIC, key, _blake2b(payload, digest_size=16).digest(), payload))
        temporary = None
        directory = None
        try:
            directory = self._prepare()
            if directory is None:
                self._writable = False
                return
            self._counter += 1
            temporary = f".tmp-{os.getpid()}-{self._counter}-{os.urandom(4).hex()}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644, dir_fd=directory)
            try:
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            # a rename replaces whatever has the name, a symlink included,
            # and never follows it
            os.replace(temporary, key.hex(), src_dir_fd=directory, dst_dir_fd=directory)
            temporary = None
            self.writes += 1
        except OSError:
            self._writable = False  # read-only, full, gone: stop trying for this run
        finally:
            if temporary is not None:
                try:
                    os.unlink(temporary, dir_fd=directory)
                except OSError:
                    pass

    def _prepare(self) -> Optional[int]:
        """The directories, and the files that keep the cache out of version
        control and backups (created once, by the first writer, never
        through a symlink); the entries directory's descriptor."""
        directory = self._directory(create=True)
        if self._ready or directory is None:
            return directory
        for name, content in (
            (".gitignore", "# Automatically created by somaxlint.\n*\n"),
            (
                "CACHEDIR.TAG",
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by somaxlint.\n"
                "# For information about cache directory tags see https://bford.info/cachedir/\n",
            ),
        ):
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644, dir_fd=self._top)
            except FileExistsError:  # there already (or something is: left alone)
                continue
            try:
                os.write(fd, content.encode("utf-8"))
            finally:
                os.close(fd)
        self._ready = True
        return directory

    # ------------------------------------------------------------------
    # size bound

    def finish(self, force: bool = False) -> None:
        """After a run: the keys of the files it read, then the directory
        kept within its bound."""
        self._keys.save()
        self._listings.save()
        if not self.writes and not force:
            return
        directory = self._directory(create=False)
        if directory is None:
            return
        now = time.time()
        if not force and self.writes < PRUNE_AFTER_WRITES:
            try:
                if now - os.stat(".pruned", dir_fd=directory, follow_symlinks=False).st_mtime < self.prune_interval:
                    return
            except OSError:
                pass
        try:
            self.prune(now)
            _touch(".pruned", directory)
        except OSError:
            pass

    def prune(self, now: Optional[float] = None) -> int:
        """Remove the least recently used entries beyond the bound (down to
        three quarters of it) and temporary files left by crashed writers;
        returns the number of entries removed."""
        now = time.time() if now is None else now
        entries = []
        total = 0
        directory = self._directory(create=False)
        if directory is None:
            return 0
        try:
            scan = os.scandir(directory)
        except OSError:
            return 0
        with scan:
            for entry in scan:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                name = entry.name
                if name.startswith(".tmp-"):
                    if now - st.st_mtime > _STALE_TEMPORARY:
                        _unlink(name, directory)
                    continue
                if name.startswith("."):
                    continue
                entries.append((max(st.st_atime, st.st_mtime), st.st_size, name))
                total += st.st_size
        removed = 0
        if total > self.max_bytes:
            target = self.max_bytes * 3 // 4
            entries.sort()
            for _, size, name in entries:
                if total <= target:
                    break
                if _unlink(name, directory):
                    removed += 1
                total -= size
        return removed


class _ShardedIndex:
    """A dictionary by path kept in ``KEY_SHARDS`` cache entries: read
    whole on first use, and only the shards whose entries changed written
    back (a commit changes a file or two).  A missing, damaged or foreign
    shard reads as empty."""

    def __init__(self, cache: "Cache", name: str, bound: int):
        self.cache, self.name, self.bound = cache, name, bound
        self.merged: Optional[dict] = None
        self.shards: List[dict] = []
        self.dirty: set = set()

    def shard_key(self, shard: int) -> bytes:
        return self.cache.text_key(self.name, f"index {shard}/{KEY_SHARDS}")

    def entries(self) -> dict:
        """Every entry, by path (the shards are read on first use)."""
        return self.merged if self.merged is not None else self._read()

    def get(self, path: str):
        return self.entries().get(path)

    def put(self, path: str, entry) -> None:
        merged = self.entries()
        if merged.get(path) != entry:  # a named file is read every run: written only when it changed
            merged[path] = entry
            shard = _shard_of(path)
            self.shards[shard][path] = entry
            self.dirty.add(shard)

    def _read(self) -> dict:
        self.merged = {}
        for shard in range(KEY_SHARDS):
            stored = self.cache.read(self.shard_key(shard))
            stored = stored if type(stored) is dict else {}
            self.shards.append(stored)
            self.merged.update(stored)
        return self.merged

    def save(self) -> None:
        bound = self.bound // KEY_SHARDS
        for shard in sorted(self.dirty):
            entries = self.shards[shard]
            if len(entries) > bound:  # the oldest entries go first (dicts keep insertion order)
                entries = dict(list(entries.items())[-bound:])
            self.cache.write(self.shard_key(shard), lambda: entries)
        self.dirty.clear()


def _keys_type():
    global _Keys
    if _Keys is None:
        from somaxlint.relations import Keys

        _Keys = Keys
    return _Keys


_Keys = None


def _shard_of(path: str) -> int:
    return _blake2b(path.encode("utf-8", "surrogatepass"), digest_size=1).digest()[0] % KEY_SHARDS


def _signature(f, max_bytes: int) -> tuple:
    return _stat_signature(os.stat(f.path), f, max_bytes)


def _stat_signature(st, f, max_bytes: int) -> tuple:
    """What a file's stored keys are valid for: its size, modification and
    change times, inode and device, and how it is read."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, f.kind, bool(f.explicit), max_bytes)


# A listing is kept as one string, its entries separated by NUL (which no
# file name holds), each its kind's letter and its name: unpickling a
# string is a copy, where a tuple of pairs per directory was most of
# reading the listings of a large repository.
_KIND_LETTER = {"dir": "d", "file": "f", "link": "l", "other": "o"}
_LETTER_KIND = {letter: kind for kind, letter in _KIND_LETTER.items()}


def _listing_text(entries) -> str:
    return "\0".join(_KIND_LETTER[kind] + name for name, kind in entries)


def _listing_entries(text):
    """The (name, kind) entries of a kept listing; None for anything that
    is not one (a foreign or damaged entry is a miss)."""
    if type(text) is not str:
        return None
    if not text:
        return []
    out = []
    for item in text.split("\0"):
        kind = _LETTER_KIND.get(item[:1])
        if kind is None or len(item) < 2:
            return None
        out.append((item[1:], kind))
    return out


def _valid_keys(keys) -> bool:
    """A stored Keys tuple of the right shape (a foreign or damaged index
    entry is a miss, never a crash).  Called for every file of a hook's
    context: a loop, not a generator."""
    if not (type(keys) is tuple and len(keys) == 4):
        return False
    objects, words, applies_to_all, summary = keys
    if not (type(objects) is tuple and type(words) is str and type(applies_to_all) is bool and type(summary) is str):
        return False
    for o in objects:
        if not (type(o) is tuple and len(o) == 3 and type(o[0]) is str and type(o[2]) is str and (o[1] is None or type(o[1]) is str)):
            return False
    return True


def _unlink(name: str, directory: int) -> bool:
    try:
        os.unlink(name, dir_fd=directory)  # removes a symlink itself, never its target
        return True
    except OSError:
        return False


def _touch(name: str, directory: int) -> None:
    """Create ``name`` in ``directory`` or update its times -- a regular
    file only, never through a symlink."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0), 0o644, dir_fd=directory)
    try:
        if _stat.S_ISREG(os.fstat(fd).st_mode):
            os.utime(fd)
    finally:
        os.close(fd)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _open_owned(name: str, parent: Optional[int], flags: int, create: bool, cache: "Cache") -> Optional[int]:
    """A directory ``name`` (relative to ``parent``, else as it is),
    opened without following a symlink and only when this user owns it;
    with ``create``, made first where missing.  Sets ``cache.refused`` for
    one that must not be used."""
    try:
        fd = os.open(name, flags, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            return None
        if parent is None:
            os.makedirs(os.path.dirname(name), exist_ok=True)
        try:
            os.mkdir(name, 0o755, dir_fd=parent)
        except FileExistsError:
            pass
        fd = os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        import errno

        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            shown = cache.directory if parent is None else os.path.join(cache.directory, name)
            cache.refused = f"{shown} is a symlink or not a directory: the cache is not used (somaxlint never writes through a symlink)"
        raise
    if hasattr(os, "geteuid") and os.fstat(fd).st_uid != os.geteuid():
        os.close(fd)
        shown = cache.directory if parent is None else os.path.join(cache.directory, name)
        cache.refused = f"{shown} belongs to another user: the cache is not used"
        return None
    return fd


def _blake2b(*args, **kwargs):
    global _blake2b
    try:  # the module hashlib wraps, without loading OpenSSL
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    _blake2b = blake2b
    return blake2b(*args, **kwargs)


# ----------------------------------------------------------------------
# what goes into an entry


def _file_payload(loaded, data: bytes):
    """(kind, text, documents, helm_sources, directives, errors,
    not_applicable, template); ``text`` is True when it is the bytes decoded again
    (as UTF-8, invalid sequences replaced), which it nearly always is."""
    text = loaded.text
    if text is not None and text == data.decode("utf-8-sig", "replace"):
        text = True
    return (
        loaded.kind,
        text,
        loaded.documents,
        loaded.helm_sources,
        loaded.directives,
        [(e.message, e.line, e.column) for e in loaded.errors],
        loaded.not_applicable,
        loaded.template,
    )


def _file_from_payload(f, data: bytes, payload):
    from somaxlint.load import LoadedFile, LoadError

    kind, text, documents, helm_sources, directives, errors, not_applicable, template = payload
    if text is True:
        text = data.decode("utf-8-sig", "replace")
    if not (
        type(kind) is str
        and (text is None or type(text) is str)
        and type(documents) is list
        and type(helm_sources) is list
        and (directives is None or type(directives) is list)
        and (not_applicable is None or type(not_applicable) is str)
        and (template is None or (type(template) is tuple and len(template) == 3 and type(template[0]) is str))
    ):
        raise ValueError("not a loaded file")
    return LoadedFile(
        f,
        kind,
        text=text,
        documents=documents,
        helm_sources=helm_sources,
        directives=directives,
        errors=[LoadError(message, line, column) for message, line, column in errors],
        not_applicable=not_applicable,
        template=template,
    )


# The only classes an entry may build: a pickle that names anything else
# (a function to call, another module's class) is refused, not run.
_ALLOWED = {
    ("somaxlint.load.positioned", "YMap"),
    ("somaxlint.load.positioned", "YSeq"),
    ("somaxlint.load.yaml_stream", "Document"),
    ("somaxlint.load.nginx_text", "Directive"),
    ("somaxlint.load.nginx_text", "NginxError"),
}
_Unpickler = None
PICKLE_PROTOCOL = 5  # pickle.HIGHEST_PROTOCOL of every Python somaxlint runs on


def _pickler():
    """pickle's C implementation, without the ``pickle`` module around it
    (a third of its import time is what a warm commit-time run needs)."""
    try:
        import _pickle as implementation
    except ImportError:  # pragma: no cover - an interpreter without it
        import pickle as implementation
    return implementation


def _unpickle(payload: bytes):
    global _Unpickler
    if _Unpickler is None:
        pickle = _pickler()

        class Restricted(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) in _ALLOWED:
                    return super().find_class(module, name)
                raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache entry")

        _Unpickler = Restricted
    import io

    return _Unpickler(io.BytesIO(payload)).load()


# ----------------------------------------------------------------------
# what every key includes


def _fingerprint() -> bytes:
    from somaxlint import __version__
    from somaxlint.load import nginx_text

    parts = [
        MAGIC.hex(),
        __version__,
        sys.implementation.cache_tag or sys.implementation.name,
        sys.version,
        f"lexer={nginx_text.LEXER}",
    ]
    here = os.path.dirname(os.path.abspath(__file__))
    sources = [os.path.join(here, "cache.py")]
    load_dir = os.path.join(here, "load")
    try:
        sources += sorted(os.path.join(load_dir, n) for n in os.listdir(load_dir) if n.endswith(".py"))
    except OSError:
        pass
    sources += _dependency_files()
    for path in sources:
        try:
            st = os.stat(path)
            parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{path}:-")
    return "\0".join(parts).encode("utf-8", "surrogateescape")


def _dependency_files():
    """The files of the parsers loading uses, found without importing them."""
    from importlib.machinery import PathFinder

    out = []
    for name in ("crossplane", "_ruamel_yaml"):
        try:
            spec = PathFinder.find_spec(name)
        except Exception:
            spec = None
        out.append(spec.origin if spec is not None and spec.origin else f"<no {name}>")
    try:
        spec = PathFinder.find_spec("ruamel")
        locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    except Exception:
        locations = []
    for location in locations:
        candidate = os.path.join(location, "yaml", "__init__.py")
        if os.path.exists(candidate):
            out.append(candidate)
            break
    return out


def default_directory(root: str) -> str:
    """``SOMAXLINT_CACHE_DIR``, else ``.somaxlint_cache`` at ``root`` (the
    repository root)."""
    return os.environ.get("SOMAXLINT_CACHE_DIR") or os.path.join(root, DIRNAME)

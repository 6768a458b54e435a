"""Helm and kustomize run on a private copy, in a jail.

The trees somaxlint renders come from pull requests nobody has reviewed
yet.  Helm and kustomize read files, follow symlinks, fetch over the
network and -- kustomize, through git -- run commands.  What keeps them
from doing any of that to the machine is how they are run, not what the
input looks like:

* **A private copy.** ``PrivateTree`` collects exactly the files a unit
  may read, each a regular file inside the repository root, every symlink
  hop on the way resolved and kept inside it (a chain whose last hop
  leaves is refused at the link; so is a loop, and a link to nothing),
  bounded in files, bytes and time.  The tool sees the copy only: no
  symlink, no ``/proc``, no ``/dev``, nothing beside the repository.
* **The jail** (``jail.py``): a new network namespace (nothing reachable,
  not even this machine), and for the static Go binaries a new mount
  namespace and a ``chroot`` into the copy, where the tool's own binary is
  the only program; privileges dropped; limits on memory, CPU time, the
  size of any file written and open files.
* **A scrubbed environment**: nothing of the job's environment (tokens,
  proxies, kube contexts) reaches the tool; ``PATH`` names an empty
  directory (no ``git``, no shell), ``GIT_ALLOW_PROTOCOL`` is empty, proxy
  variables point at a closed port, ``HOME`` and the caches are in the
  copy.
* **Bounded output**: standard output is read up to the limit of a
  rendered stream, standard error up to ``MAX_ERROR_BYTES``; past either,
  or past the deadline, the process group is killed.

Where the kernel refuses namespaces (an unprivileged user where user
namespaces are off), the copy, the environment, the limits and the output
bounds still hold; the network and the rest of the file system do not
disappear.  ``Jail.available()`` says which, and trusted mode refuses to
render without them.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
TYPE_CHECKING = False  # (typing is imported by type checkers only: start-up)
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Set, Tuple

from somaxlint.discover import DEFAULT_MAX_FILE_BYTES

# Hard caps: no configuration raises them.
MAX_FILES = 20_000  # files in one unit's private copy
MAX_BYTES = 256 * 1024 * 1024  # bytes in one unit's private copy
MAX_HOPS = 40  # symlinks followed for one path (the kernel's ELOOP bound)
MAX_ERROR_BYTES = 256 * 1024  # of a tool's standard error
MAX_RENDER_BYTES = 64 * 1024 * 1024  # one rendered stream, whatever --max-file-size says
MEMORY_BYTES = 2 * 1024 * 1024 * 1024  # address space of a renderer process
FILE_WRITE_BYTES = 64 * 1024 * 1024  # largest file a renderer may write
OPEN_FILES = 1024
NOBODY = 65534
CLOSED_PORT = "http://127.0.0.1:9"  # the discard port: nothing listens

_JAIL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jail.py")
HELM_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helm_worker.py")


class Refused(Exception):
    """The unit reads something it may not: said at ``path`` (a path in the
    repository), never with the target's name or content."""

    def __init__(self, message: str, path: Optional[str] = None):
        super().__init__(message)
        self.path = path


class Missing(Refused):
    """Nothing there, and no symlink on the way: the tool says so itself."""


# ----------------------------------------------------------------- the copy


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _parts(path: str) -> List[str]:
    return [p for p in path.split(os.sep) if p not in ("", ".")]


LEAVES = "this symlink leads outside the repository, which somaxlint never reads"


def resolve(lexical: str, root: str) -> str:
    """The real path of ``lexical`` (absolute, normalised, under ``root``,
    which is real), following each symlink one hop at a time: a hop that
    lands outside ``root`` -- even one a later hop would bring back --, a
    chain longer than ``MAX_HOPS`` (a loop), and a link to nothing are
    refused, naming the link (a path in the repository, never its target),
    else ``lexical``."""
    if not _under(lexical, root):
        raise Refused("it is outside the repository", lexical)
    root_parts = _parts(root)
    pending = _parts(os.path.relpath(lexical, root))[::-1]  # a stack: the next component last
    current = root
    hops = 0
    last_link: Optional[str] = None
    while pending:
        part = pending.pop()
        if part == "..":
            if current == root:
                raise Refused(LEAVES if hops else "it is outside the repository", last_link or lexical)
            current = os.path.dirname(current)
            continue
        candidate = os.path.join(current, part)
        try:
            st = os.lstat(candidate)
        except (OSError, ValueError):
            if not hops:
                raise Missing("no such file or directory", lexical)
            raise Refused("this symlink leads to nothing", last_link)
        if not stat.S_ISLNK(st.st_mode):
            current = candidate
            continue
        hops += 1
        last_link = candidate
        if hops > MAX_HOPS:
            raise Refused(f"symlink loop (more than {MAX_HOPS} links followed)", candidate)
        try:
            target = os.readlink(candidate)
        except OSError:
            raise Refused("unreadable symlink", candidate)
        steps = _parts(target)
        if os.path.isabs(target):
            # back to the top: only through the root's own path, written out
            if steps[: len(root_parts)] != root_parts:
                raise Refused(LEAVES, candidate)
            current, steps = root, steps[len(root_parts):]
        pending.extend(reversed(steps))
    return current


class PrivateTree:
    """The files one unit may read, gathered before anything runs: by
    their path relative to the repository root as the tool will name them
    (lexical: kustomize joins ``..`` lexically), each with the real file it
    comes from and its bytes.  ``write(directory)`` lays them out, regular
    files and directories only.  Every limit is a ``Refused``; so is the
    ``deadline`` (a ``time.monotonic()`` value) passing."""

    def __init__(self, root: str, deadline: float, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES):
        self.root = os.path.realpath(root)
        self.deadline = deadline
        self.max_file_bytes = max_file_bytes
        self.files: Dict[str, Tuple[str, bytes]] = {}  # relative path -> (real path, bytes)
        self.by_real: Dict[str, bytes] = {}
        self.directories: Set[str] = set()
        self.size = 0

    def rel(self, lexical: str) -> str:
        return os.path.relpath(lexical, self.root).replace(os.sep, "/")

    def _tick(self, where: str) -> None:
        if time.monotonic() > self.deadline:
            raise Refused("copying the files it reads did not finish in time", where)

    def real(self, lexical: str) -> str:
        """``resolve``, with the deadline."""
        self._tick(lexical)
        return resolve(os.path.normpath(lexical), self.root)

    def add_file(self, lexical: str) -> str:
        """Copy the file at ``lexical``; its real path.  Raises Missing when
        there is nothing there, Refused when it may not be read."""
        lexical = os.path.normpath(lexical)
        rel = self.rel(lexical)
        if rel in self.files:
            return self.files[rel][0]
        real = self.real(lexical)
        data = self.by_real.get(real)
        if data is None:
            data = self._read(real, lexical)
        if len(self.files) >= MAX_FILES:
            raise Refused(f"it reads more than {MAX_FILES} files, the bound on one render", lexical)
        self.size += len(data)
        if self.size > MAX_BYTES:
            raise Refused(f"the files it reads hold more than {MAX_BYTES} bytes, the bound on one render", lexical)
        self.files[rel] = (real, data)
        self.by_real[real] = data
        return real

    def _read(self, real: str, lexical: str) -> bytes:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise Refused(f"cannot read it: {exc.strerror or exc}", lexical)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise Refused("a directory where a file is read", lexical)
            if not stat.S_ISREG(st.st_mode):
                raise Refused("not a regular file (the tool would wait on it forever)", lexical)
            if st.st_size > self.max_file_bytes:
                raise Refused(f"larger than {self.max_file_bytes} bytes", lexical)
            chunks, got = [], 0
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                got += len(chunk)
                if got > self.max_file_bytes:
                    raise Refused(f"larger than {self.max_file_bytes} bytes", lexical)
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def add_directory(self, lexical: str, skip: Callable[[str], bool] = lambda name: False) -> None:
        """Copy everything under the directory ``lexical``, as the tool
        would list it: a symlink to a directory inside the repository is
        that directory's content (a link back to a directory it is inside
        of is a loop, refused at the link); ``skip(name)`` leaves an entry
        out."""
        lexical = os.path.normpath(lexical)
        top = self.real(lexical)
        # (lexical directory, its real path, the real directories above it)
        stack = [(lexical, top, (top,))]
        while stack:
            directory, real_dir, above = stack.pop()
            self._tick(directory)
            self.directories.add(self.rel(directory))
            if len(self.directories) + len(self.files) > MAX_FILES:
                raise Refused(f"it reads more than {MAX_FILES} files and directories, the bound on one render", directory)
            try:
                names = sorted(os.listdir(real_dir))
            except OSError as exc:
                raise Refused(f"cannot list the directory: {exc.strerror or exc}", directory)
            for name in names:
                if skip(name):
                    continue
                path = os.path.join(directory, name)
                real_path = os.path.join(real_dir, name)
                try:
                    st = os.lstat(real_path)
                except OSError:
                    continue  # gone since the listing
                if stat.S_ISLNK(st.st_mode):
                    target = self._through(path, real_path)
                    if os.path.isdir(target):
                        if target in above:
                            raise Refused("symlink loop: it leads back to a directory it is inside of", path)
                        stack.append((path, target, above + (target,)))
                    else:
                        self.add_file(path)
                elif stat.S_ISDIR(st.st_mode):
                    stack.append((path, real_path, above + (real_path,)))
                else:
                    self.add_file(path)

    def _through(self, path: str, real_path: str) -> str:
        """Where the symlink ``real_path`` (shown as ``path``) leads, each hop
        inside the repository."""
        try:
            return resolve(real_path, self.root)
        except Missing:
            raise Refused("this symlink leads to nothing", path)
        except Refused as exc:
            raise Refused(str(exc), path)

    def write(self, directory: str, omit: Callable[[str], bool] = lambda rel: False) -> None:
        """Lay the copy out under ``directory``: directories 0755, files
        0644 (readable by the unprivileged user the tool runs as); ``omit``
        leaves files out (by their relative path)."""
        for rel in sorted(self.directories):
            os.makedirs(os.path.join(directory, rel), mode=0o755, exist_ok=True)
        for rel, (_real, data) in self.files.items():
            if omit(rel):
                continue
            path = os.path.join(directory, rel)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)

    def digest(self) -> str:
        """A hash of every path and its bytes: the same for the same input."""
        from hashlib import blake2b

        h = blake2b(digest_size=32)
        for rel in sorted(self.files):
            data = self.files[rel][1]
            h.update(f"{rel}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
            h.update(data)
        for rel in sorted(self.directories):
            h.update(f"dir {rel}\0".encode("utf-8", "surrogateescape"))
        return h.hexdigest()


# ------------------------------------------------------------------ the jail


class Outcome:
    """How a jailed process ended: ``status`` (None when it was killed for
    a bound, ``why`` says which), its standard output (at most the limit)
    and error."""

    def __init__(self, status: Optional[int], out: bytes, err: bytes, why: Optional[str] = None):
        self.status = status
        self.out = out
        self.err = err
        self.why = why


class SandboxError(Exception):
    """The jail could not be made (and was required)."""


_probed: Optional[Tuple[Optional[str], str]] = None
_live: Set[object] = set()  # renderer processes running now (their process groups)


def stop_all() -> None:
    """Kill every renderer running now (the run is interrupted): each
    thread waiting on one then returns and removes its directory."""
    import signal

    for proc in list(_live):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass


def namespaces() -> Tuple[Optional[str], str]:
    """("root" or "user", "") when renderers get their own network and
    mount namespaces here, else (None, why not); asked of the kernel once
    per process."""
    global _probed
    if _probed is None:
        import subprocess

        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", _JAIL, json.dumps({"probe": True})],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=20, check=False,
            )
            said = done.stdout.decode("utf-8", "replace").strip()
        except (OSError, subprocess.SubprocessError) as exc:
            said = f"none {exc}"
        if said in ("root", "user"):
            _probed = (said, "")
        else:
            _probed = (None, said[5:] if said.startswith("none ") else said or "the probe failed")
    return _probed


def probed() -> Tuple[Optional[str], str]:
    """What ``namespaces()`` found, if it was asked in this process (a run
    that started no renderer did not ask): (None, "") otherwise."""
    return _probed if _probed is not None else (None, "")


def environment(sandbox: str, inside: bool) -> Dict[str, str]:
    """The whole environment of a renderer: nothing of this process's."""
    top = "/" if inside else sandbox
    home = os.path.join(top, "home")
    env = {
        "PATH": os.path.join(top, "bin"),  # holds the tool alone (inside) or nothing
        "HOME": home,
        "TMPDIR": os.path.join(top, "tmp"),
        "LANG": "C",
        "LC_ALL": "C",
        "TZ": "UTC",
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
        "HELM_CONFIG_HOME": os.path.join(home, ".config", "helm"),
        "HELM_CACHE_HOME": os.path.join(home, ".cache", "helm"),
        "HELM_DATA_HOME": os.path.join(home, ".local", "share", "helm"),
        "KUBECONFIG": os.path.join(home, "kubeconfig"),  # no such file: no cluster
        "KUSTOMIZE_PLUGIN_HOME": os.path.join(home, "plugins"),
        # no protocol at all, should a git ever be found
        "GIT_ALLOW_PROTOCOL": "",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GOMEMLIMIT": f"{MEMORY_BYTES * 3 // 4 // (1024 * 1024)}MiB",
        "GOTOOLCHAIN": "local",
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = CLOSED_PORT
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


def prepare(sandbox: str) -> None:
    """The directories every renderer has in its sandbox; writable by the
    unprivileged user a root run drops to."""
    for name in ("bin", "home", "tmp"):
        os.makedirs(os.path.join(sandbox, name), mode=0o755, exist_ok=True)
    os.chmod(sandbox, 0o755)
    if os.geteuid() == 0:
        for name in ("home", "tmp"):
            path = os.path.join(sandbox, name)
            try:
                os.chown(path, NOBODY, NOBODY)
            except OSError:  # a user namespace that maps no one else
                os.chmod(path, 0o1777)


def run(
    argv_inside: List[str],
    argv_outside: List[str],
    sandbox: str,
    cwd: str,
    deadline: float,
    max_output: int,
    binary: Optional[str] = None,
    stdin: Optional[bytes] = None,
    require: bool = False,
    on_line: Optional[Callable[[bytes], None]] = None,
    drop: bool = True,
) -> Outcome:
    """Run a renderer in the jail.  With ``binary`` (a static program), it
    is bind-mounted at ``/bin/<name>`` of a ``chroot`` into ``sandbox``
    and run as ``argv_inside`` in ``cwd`` (relative to the sandbox);
    without the namespaces that needs, ``argv_outside``.  Standard output
    beyond ``max_output`` bytes -- or, with ``on_line``, beyond that in one
    line, each complete line handed over as it comes -- kills it, and so
    does the ``deadline``.  ``require``: without namespaces, raise
    SandboxError instead of running.  ``drop``: a root run becomes nobody
    (False for a program nobody could not start: an interpreter under
    ``/root``; it then keeps the id and loses every capability)."""
    import signal
    import subprocess

    how, why = namespaces()
    if how is None and require:
        raise SandboxError(f"no network namespace can be made here ({why})")
    inside = binary is not None and how is not None
    if drop and os.geteuid() == 0 and not runs_as_nobody(binary if inside else argv_outside[0], check_parents=not inside):
        drop = False  # nobody could not start it: keep the id, lose the capabilities
    binds = []
    if inside:
        target = os.path.join(sandbox, "bin", os.path.basename(argv_inside[0]))
        with open(target, "wb"):
            pass
        binds.append([binary, "/bin/" + os.path.basename(argv_inside[0])])
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return Outcome(None, b"", b"", "it did not finish in time")
    spec = {
        "argv": argv_inside if inside else argv_outside,
        "argv_outside": argv_outside,
        "env": environment(sandbox, inside),
        "cwd": os.path.join(sandbox, cwd),
        "cwd_inside": "/" + cwd if inside else None,
        "root": sandbox if inside else None,
        "binds": binds,
        "namespaces": "require" if how is not None else "off",
        "limits": {
            "as": MEMORY_BYTES,
            # a backstop: the deadline ends it first (CPU seconds add up
            # over the threads of a process: Go's run on every core)
            "cpu": max(1, int(remaining + 0.999)) * (os.cpu_count() or 1) + 1,
            "fsize": FILE_WRITE_BYTES,
            "nofile": OPEN_FILES,
            "core": 0,
        },
        "drop": drop,
    }
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", _JAIL, json.dumps(spec)],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=sandbox, env={}, start_new_session=True, close_fds=True,
        )
    except OSError as exc:
        raise SandboxError(f"could not start the renderer: {exc.strerror or exc}")
    _live.add(proc)
    try:
        out, err, why_killed = _collect(proc, stdin, deadline, max_output, on_line)
        if why_killed is None:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                why_killed = "it did not finish in time"
    finally:
        # whatever it left behind goes with it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        _live.discard(proc)
    if why_killed is None and proc.returncode == 125 and err.startswith(b"sandbox: "):
        raise SandboxError(err[9:].decode("utf-8", "replace").strip())
    if why_killed is None and _out_of_memory(err):
        why_killed = f"it ran out of memory (the bound is {MEMORY_BYTES // (1024 * 1024)} MiB)"
    if why_killed is None and proc.returncode is not None and proc.returncode < 0:
        signum = -proc.returncode
        why_killed = "it exceeded its CPU time" if signum in (signal.SIGXCPU, signal.SIGKILL) else f"it was killed by signal {signum}"
    return Outcome(None if why_killed else proc.returncode, out, err, why_killed)


def _out_of_memory(err: bytes) -> bool:
    return b"out of memory" in err or b"cannot allocate memory" in err.lower() or b"MemoryError" in err


def _collect(proc, stdin: Optional[bytes], deadline: float, max_output: int, on_line) -> Tuple[bytes, bytes, Optional[str]]:
    """Read both pipes (and feed stdin) until the process closes them,
    within the bounds; (stdout, stderr, why it was killed or None)."""
    import selectors
    import signal

    selector = selectors.DefaultSelector()
    out: List[bytes] = []
    err: List[bytes] = []
    sizes = {"out": 0, "err": 0, "line": 0}
    pending = b""
    selector.register(proc.stdout, selectors.EVENT_READ, "out")
    selector.register(proc.stderr, selectors.EVENT_READ, "err")
    if stdin is not None:
        view = memoryview(stdin)
        os.set_blocking(proc.stdin.fileno(), False)
        selector.register(proc.stdin, selectors.EVENT_WRITE, "in")
    why = None
    try:
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                why = "it did not finish in time"
                break
            for key, _events in selector.select(min(left, 1.0)):
                if key.data == "in":
                    try:
                        view = view[os.write(key.fd, view[: 1 << 16]):]
                    except BrokenPipeError:
                        view = view[len(view):]
                    if not view:
                        selector.unregister(key.fileobj)
                        key.fileobj.close()
                    continue
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                if key.data == "err":
                    if sizes["err"] < MAX_ERROR_BYTES:
                        err.append(chunk[: MAX_ERROR_BYTES - sizes["err"]])
                    sizes["err"] += len(chunk)
                    continue
                if on_line is None:
                    sizes["out"] += len(chunk)
                    if sizes["out"] > max_output:
                        why = f"its output is larger than {max_output} bytes, the bound on one rendered stream"
                        break
                    out.append(chunk)
                    continue
                pending += chunk
                while True:
                    end = pending.find(b"\n")
                    if end < 0:
                        break
                    on_line(pending[:end])
                    pending = pending[end + 1:]
                if len(pending) > max_output:
                    why = f"its output is larger than {max_output} bytes, the bound on one rendered stream"
                    break
            if why:
                break
    finally:
        selector.close()
        if why is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
    if on_line is not None and pending and why is None:
        on_line(pending)
    return b"".join(out), b"".join(err), why


def runs_as_nobody(*paths: str, check_parents: bool = True) -> bool:
    """Whether an unprivileged user can reach and read every one of
    ``paths`` (each directory above them searchable by others, unless
    ``check_parents`` is False: a program bind-mounted into the chroot)."""
    for path in paths:
        real = os.path.realpath(path)
        try:
            if not os.stat(real).st_mode & stat.S_IROTH:
                return False
            if not check_parents:
                continue
            here = os.path.dirname(real)
            while True:
                if not os.stat(here).st_mode & stat.S_IXOTH:
                    return False
                parent = os.path.dirname(here)
                if parent == here:
                    break
                here = parent
        except OSError:
            return False
    return True


def static_binary(path: str) -> bool:
    """Whether the ELF program at ``path`` needs no dynamic loader (no
    ``PT_INTERP``): only such a program runs alone in the chroot."""
    import struct

    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            order = "<" if head[5] == 1 else ">"
            phoff, = struct.unpack_from(order + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
    except (OSError, struct.error):
        return False
    for i in range(phnum):
        if len(table) < (i + 1) * phentsize:
            return False
        kind, = struct.unpack_from(order + "I", table, i * phentsize)
        if kind == 3:  # PT_INTERP
            return False
    return True


# kubectl's klog prefix: severity, date, time, thread id, file:line]
_KLOG = None


def clean_message(text: str, work: str) -> str:
    """A tool's message as a finding may quote it: the render's directory
    gone (paths are the repository's again), klog's timestamps, thread ids
    and source lines gone: the same input, the same words.  Its lines stay
    (the callers drop the tools' warnings line by line)."""
    global _KLOG
    import re

    if _KLOG is None:
        _KLOG = re.compile(r"(?m)^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.-]+:\d+\] ")
    text = _KLOG.sub("", text)
    for top in (os.path.join(work, "tree"), os.path.join(work, "wrapper"), work, "/tree", "/wrapper"):
        # where a path starts (not ".../src/tree/..." of the repository's own)
        text = re.sub(r"(?<![\w.~/-])" + re.escape(top) + r"(/|(?=[\s'\"):,]|$))", lambda m: "" if m.group(1) else ".", text)
    return text.strip()


# ------------------------------------------------------------ render cache keys

_code: Optional[str] = None


def code_identity() -> str:
    """What somaxlint's own rendering code is (the units modules, by size
    and modification time): a changed checkout never reads renders an
    older one stored."""
    global _code
    if _code is None:
        here = os.path.dirname(os.path.abspath(__file__))
        parts = []
        for name in sorted(os.listdir(here)):
            if name.endswith(".py"):
                st = os.stat(os.path.join(here, name))
                parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        _code = "|".join(parts)
    return _code


def file_identity(path: str) -> str:
    """A program's or library's identity for a cache key: its real path,
    size, modification time and inode (a new version is a new file)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return f"{real}:-"
    return f"{real}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"

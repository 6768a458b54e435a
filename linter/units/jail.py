"""The launcher every renderer process starts through (Helm, kustomize).

Run as a script by its path, ``python -I -S jail.py SPEC`` (standard
library only: it imports nothing of somaxlint, and nothing from the
environment), it confines itself, then ``execve``s the tool:

1. resource limits: address space, CPU seconds, size of any file written,
   open files, no core dumps;
2. namespaces, where the kernel allows them: a new network namespace (its
   only interface, loopback, is down: nothing is reachable, not even this
   machine), a new mount namespace, and -- for a user without privileges
   -- a new user namespace that maps them to root inside it;
3. with a ``root`` (the private copy): the tool's binary bind-mounted into
   it, ``chroot`` into it: the rest of the file system does not exist for
   the tool;
4. privileges dropped: as real root, to nobody (65534); inside a user
   namespace, every capability, for good (securebits ``NOROOT``);
   ``no_new_privs`` in every case;
5. the environment the caller built (nothing of the job's own), then the
   tool.

``SPEC`` is JSON: ``argv``, ``env``, ``cwd``, ``limits`` ({name: value}),
``namespaces`` ("require", "try" or "off"), ``root`` (or null), ``binds``
([[source, path inside root]]), ``drop`` (bool).  ``{"probe": true}``
only reports, on standard output, which namespaces can be made here.

Exit status 125 with one line on standard error, starting ``sandbox:``,
when the confinement asked for cannot be made (and with ``require``);
otherwise the tool's own.
"""

import ctypes
import json
import os
import sys

try:
    import resource
except ImportError:  # not a POSIX system: no limits to set
    resource = None

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
# NOROOT | NOROOT_LOCKED | NO_CAP_AMBIENT_RAISE | its LOCKED: uid 0 gains
# no capability at execve, and nothing can undo it
SECUREBITS = 0x01 | 0x02 | 0x40 | 0x80
NOBODY = 65534
FAILED = 125

_LIMITS = {
    name: getattr(resource, limit)
    for name, limit in (("as", "RLIMIT_AS"), ("cpu", "RLIMIT_CPU"), ("fsize", "RLIMIT_FSIZE"), ("nofile", "RLIMIT_NOFILE"), ("core", "RLIMIT_CORE"))
    if resource is not None and hasattr(resource, limit)
}

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _call(name, *args):
    """A libc function, as OSError when it fails or does not exist here."""
    function = getattr(_c(), name, None)
    if function is None:
        raise OSError(38, f"{name}: not available on this system")  # ENOSYS
    _check(function(*args), name)


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _write(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _namespaces(mount):
    """Enter new network (and mount) namespaces; returns how: "root" (the
    real root made them) or "user" (inside a new user namespace)."""
    flags = CLONE_NEWNET | (CLONE_NEWNS if mount else 0)
    if os.geteuid() == 0:
        _call("unshare", flags)
        return "root"
    uid, gid = os.geteuid(), os.getegid()
    _call("unshare", flags | CLONE_NEWUSER)
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1")
    _write("/proc/self/gid_map", f"0 {gid} 1")
    return "user"


def _enter(root, binds):
    libc = _c()
    # nothing mounted here is seen outside, and nothing outside comes in
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for source, inside in binds:
        target = os.path.join(root, inside.lstrip("/")).encode()
        _check(libc.mount(source.encode(), target, None, MS_BIND, None), f"bind {source}")
        # read-only, no set-uid: the tool cannot change its own binary
        _check(
            libc.mount(b"none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
            f"remount {source} read-only",
        )
    os.chroot(root)
    os.chdir("/")


def _drop(how):
    libc = _c()
    if not hasattr(libc, "prctl"):
        return  # not Linux: neither namespaces nor capabilities to drop
    if os.geteuid() == 0:
        try:
            if how == "user":
                raise OSError("only this user is mapped")
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
        except OSError:
            # root of a user namespace that maps no one else: keep the id,
            # lose every capability, for good
            _check(libc.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "securebits")
            for cap in range(64):
                if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    break  # past the last capability this kernel knows
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _limits(limits):
    for name, value in limits.items():
        kind = _LIMITS.get(name)
        if kind is None:
            continue
        _soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)  # never above what this process may have
        resource.setrlimit(kind, (value, value))


def probe():
    """Which namespaces this process may make (in a child, so this process
    stays as it is)."""
    pid = os.fork()
    if pid == 0:
        try:
            how = _namespaces(mount=True)
            os.write(1, how.encode())
            os._exit(0)
        except OSError as exc:
            os.write(1, ("none " + (exc.strerror or str(exc))).encode())
            os._exit(1)
        except BaseException:
            os._exit(1)
    os.waitpid(pid, 0)


def main():
    spec = json.loads(sys.argv[1])
    if spec.get("probe"):
        probe()
        return 0
    try:
        _limits(spec.get("limits", {}))
        how = None
        root = spec.get("root")
        wanted = spec.get("namespaces", "try")
        if wanted != "off":
            try:
                how = _namespaces(mount=root is not None)
            except OSError as exc:
                if wanted == "require":
                    raise
                how = None
        if root is not None and how is not None:
            _enter(root, spec.get("binds", []))
            cwd = spec.get("cwd_inside") or "/"
        else:
            cwd = spec["cwd"]
        os.chdir(cwd)
        if spec.get("drop", True):
            _drop(how)
        argv = spec["argv"] if how is not None or root is None else spec["argv_outside"]
        os.execve(argv[0], argv, spec["env"])
    except OSError as exc:
        sys.stderr.write(f"sandbox: {exc.strerror or exc}\n")
        sys.stderr.flush()
        return FAILED
    return FAILED  # execve does not return


if __name__ == "__main__":
    sys.exit(main())

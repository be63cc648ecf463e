"""What a runner does to itself before any plug-in code runs.

In order: no new privileges, not dumpable (another process of the same user cannot read
its memory or environment through ``/proc``), a child subreaper (whatever the plug-in
starts stays below the runner, so the server can end it all), resource limits (address
space, open files, no core files, tasks of the user when it runs as a user of its own),
a lower CPU priority, its private working folder as current directory, and Landlock
where the kernel has it: read-only access to the Python installation and the plug-in's
code, read-write to its working folder, nothing else of the file system; no TCP unless
the plug-in was granted ``network``; no signals to processes outside its sandbox.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys
from collections.abc import Iterable
from pathlib import Path

import msgspec

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_CREATE_RULESET_VERSION = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

# System folders and files a Python process and common libraries read (TLS roots, name
# resolution, time zones, shared libraries). /etc/shadow and the like stay out.
SYSTEM_READ = [
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/opt",
    "/proc",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/passwd",
    "/etc/group",
    "/etc/mime.types",
    "/etc/os-release",
    "/etc/fonts",
    "/dev/urandom",
    "/dev/random",
]
DEVICES_RW = ["/dev/null", "/dev/zero", "/dev/full"]


class SandboxSpec(msgspec.Struct):
    """What the server asks of a runner's sandbox."""

    memory_bytes: int = 0  # 0: no limit
    open_files: int = 1024
    user_tasks: int = 0  # RLIMIT_NPROC, only when the runner has a user of its own
    nice: int = 10
    landlock: bool = True
    network: bool = False
    read_paths: list[str] = msgspec.field(default_factory=list)  # segments, when granted
    forbidden: list[str] = msgspec.field(default_factory=list)  # never readable


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def prctl(option: int, value: int) -> None:
    libc = _libc()
    if libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or refuses it)."""
    libc = _libc()
    result = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return int(result) if result > 0 else 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute ... make_sym
    if abi >= 2:
        rights |= 1 << 13  # refer
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _allowed_paths(paths: Iterable[str], forbidden: list[Path]) -> Iterable[tuple[str, bool]]:
    """``(path, is_dir)`` of each existing path that holds nothing forbidden."""
    seen: set[str] = set()
    for raw in paths:
        if not raw or not raw.startswith("/"):
            continue  # relative: finders' hooks (editable installs), not folders
        try:
            path = Path(raw).resolve()
            if not path.exists():
                continue
        except OSError:
            continue
        text = str(path)
        if text in seen:
            continue
        if any(f == path or path in f.parents for f in forbidden):
            continue  # e.g. a folder that contains the server's data folder
        seen.add(text)
        yield text, path.is_dir()


def python_paths() -> list[str]:
    """Where this interpreter reads code from: prefixes, ``sys.path`` and editable
    installs' package folders."""
    found = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
    for module in list(sys.modules.values()):
        mapping = getattr(module, "MAPPING", None)
        if getattr(module, "__name__", "").startswith("__editable__") and isinstance(mapping, dict):
            found += [str(v) for v in mapping.values()]
    return found


def landlock(
    spec: SandboxSpec,
    *,
    read: Iterable[str],
    read_fds: Iterable[int] = (),
    write_fds: Iterable[int] = (),
) -> int:
    """Restrict this process (and every thread and child it starts later).

    :return: the Landlock ABI applied (0: the kernel has none; nothing was done).
    """
    abi = landlock_abi()
    if abi <= 0:
        return 0
    libc = _libc()
    fs = _fs_rights(abi)
    net = 0 if spec.network or abi < 4 else NET_BIND_TCP | NET_CONNECT_TCP
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:

        def allow(fd: int, rights: int, is_dir: bool) -> None:
            beneath = _PathBeneath(rights & fs if is_dir else rights & fs & FILE_RIGHTS, fd)
            if libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(beneath), 0):
                err = ctypes.get_errno()
                raise OSError(err, f"landlock_add_rule: {os.strerror(err)}")

        forbidden = [Path(f).resolve() for f in spec.forbidden]
        # Granted paths (recordings for "segments") are the operator's word: not filtered.
        granted = list(_allowed_paths(spec.read_paths, []))
        for path, is_dir in [*_allowed_paths([*read, *SYSTEM_READ], forbidden), *granted]:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                allow(fd, READ, is_dir)
            finally:
                os.close(fd)
        for path, is_dir in _allowed_paths(DEVICES_RW, forbidden):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                allow(fd, READ | FS_WRITE_FILE, is_dir)
            finally:
                os.close(fd)
        for fd in read_fds:
            allow(fd, READ, True)
        for fd in write_fds:
            allow(fd, fs, True)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        if libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def apply_limits(spec: SandboxSpec) -> None:
    """Resource limits and priority (before any plug-in code runs)."""
    if spec.memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (spec.memory_bytes, spec.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = spec.open_files if hard == resource.RLIM_INFINITY else min(spec.open_files, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    if spec.user_tasks > 0 and os.getuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (spec.user_tasks, spec.user_tasks))
    if spec.nice and os.getpriority(os.PRIO_PROCESS, 0) < spec.nice:
        os.setpriority(os.PRIO_PROCESS, 0, spec.nice)  # started without nice(1)


def harden_process() -> None:
    """Not dumpable, a subreaper for what the plug-in starts, and gone with the server."""
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, 9)
    if os.getppid() == 1:  # the server died before we could ask to follow it
        os._exit(1)

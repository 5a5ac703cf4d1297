"""The host side of a run's processes: its tree from /proc (for the polling fallback and for
killing), and the mounts the sandbox uses (a size-limited tmpfs for the disk limit)."""

from __future__ import annotations

import ctypes
import os
import signal
import stat
from pathlib import Path
from typing import Sequence


PAGE = os.sysconf("SC_PAGE_SIZE")


def ppid_map() -> dict[int, int]:
    out: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rfind(b")") + 2:].split()
        if len(rest) > 1:
            out[int(name)] = int(rest[1])
    return out


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in ppid_map().items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), ()):
            out.append(c)
            todo.append(c)
    return out


def tree_usage(pids: Sequence[int]) -> tuple[int, int]:
    """(sum of RSS in bytes, number of tasks i.e. threads) over pids."""
    rss = tasks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss += int(f.read().split()[1]) * PAGE
            tasks += len(os.listdir(f"/proc/{pid}/task"))
        except (OSError, ValueError, IndexError):
            continue
    return rss, tasks


def alive(pid: int) -> bool:
    """Exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2:][:1] not in (b"Z", b"X")


def sigkill(pids: set[int] | list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def dir_usage(path: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            try:
                total += os.lstat(os.path.join(root, n)).st_blocks * 512
            except OSError:
                pass
    return total


_libc = ctypes.CDLL(None, use_errno=True)
_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2


def mount_tmpfs(target: Path, size: int, uid: int, gid: int) -> None:
    opts = f"size={size},mode=0700,uid={uid},gid={gid}".encode()
    if _libc.mount(b"vh-sandbox", str(target).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                   opts) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), str(target))


def umount(target: Path) -> None:
    _libc.umount2(str(target).encode(), _MNT_DETACH)


def reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Can uid/gid (no supplementary groups) walk down to `path`? Mode bits only (no ACLs)."""
    p = path.resolve()
    for d in [*reversed(p.parents)]:
        try:
            st = os.stat(d)
        except OSError:
            return False
        bit = (stat.S_IXUSR if st.st_uid == uid else
               stat.S_IXGRP if st.st_gid == gid else stat.S_IXOTH)
        if not st.st_mode & bit:
            return False
    return True


# The first process of a run (after `setpriv --pdeathsig KILL`, so it dies with the build from
# the start): stops itself until the build has put it into the cgroups and set its rlimits (the
# build waits for the stop with waitpid(WUNTRACED), then sends SIGCONT; no fd is involved, so
# nothing can leak into the sandbox), checks that its parent is still the build (a build that
# died before the parent-death signal was armed), optionally bind-mounts sources the
# unprivileged host uid cannot reach into a private tmpfs (only this process tree's mount
# namespace sees them), then becomes bwrap (through setpriv when the uid changes).
# Argv: build-pid stage-dir N src1..srcN -- command...


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True



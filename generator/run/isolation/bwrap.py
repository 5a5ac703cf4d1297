"""Finding and probing bubblewrap, and the first process of every run: a wrapper that stops
itself until the build has put it into the run's cgroups, then (optionally after staging
sources the sandbox uid cannot reach) becomes bwrap."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Mapping, Sequence

from generator.run.isolation.spec import Bind, SandboxSpec, SandboxUnavailable


_probe_lock = threading.Lock()
_probed: dict[tuple[str, int | None], str] = {}


def find_bwrap(path: str | None = None) -> str:
    """The bwrap executable, or SandboxUnavailable."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(path or "bwrap")
    if not found:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap); "
            "refusing to run untrusted code without the sandbox")
    return found


def probe(bwrap: str, host_uid: int | None, host_gid: int | None) -> None:
    """Start bwrap once per (binary, host uid) with the namespaces we use; SandboxUnavailable
    with bwrap's own words when the kernel or the setup refuses."""
    key = (bwrap, host_uid)
    with _probe_lock:
        if key in _probed:
            return
        argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
                "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL",
                "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"]
        kw: dict[str, object] = {}
        if host_uid is not None:
            kw = dict(user=host_uid, group=host_gid, extra_groups=[])
        try:
            r = subprocess.run(argv, capture_output=True, timeout=30, cwd="/",
                               env={"PATH": "/usr/bin:/bin"}, **kw)  # type: ignore[call-overload]
        except (OSError, subprocess.SubprocessError) as e:
            raise SandboxUnavailable(f"bwrap could not be started: {e}") from e
        if r.returncode != 0:
            who = f"host uid {host_uid}" if host_uid is not None else f"uid {os.geteuid()}"
            raise SandboxUnavailable(
                f"bwrap refused to create the sandbox as {who}: "
                f"{r.stderr.decode(errors='replace').strip()} (are unprivileged user namespaces "
                "allowed? kernel.unprivileged_userns_clone / user.max_user_namespaces)")
        _probed[key] = "ok"


WRAPPER = r'''
b=$1; st=$2; n=$3; shift 3
kill -STOP $$ || exit 125
read -r _ _ _ ppid _ < /proc/$$/stat
[ "$ppid" = "$b" ] || exit 125
i=0
while [ "$i" -lt "$n" ]; do
  if [ "$i" -eq 0 ]; then mount -t tmpfs -o mode=0755,size=64k vh-sandbox-stage "$st" || exit 126; fi
  if [ -d "$1" ]; then mkdir "$st/$i" || exit 126; else : > "$st/$i" || exit 126; fi
  mount --bind "$1" "$st/$i" || exit 126
  shift; i=$((i+1))
done
[ "$1" = -- ] || exit 126
shift
exec "$@"
'''
WRAPPER_FAILED = {125: "the wrapper lost its build or could not stop itself",
                   126: "staging mounts failed"}


def etc_files(uid: int, gid: int, home: Path) -> dict[str, bytes]:
    return {
        "/etc/passwd": (f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
                        f"sandbox:x:{uid}:{gid}:sandbox:{home}:/usr/sbin/nologin\n").encode(),
        "/etc/group": f"root:x:0:\nsandbox:x:{gid}:\n".encode(),
        "/etc/hosts": b"127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost\n",
        "/etc/nsswitch.conf": b"passwd: files\ngroup: files\nhosts: files\n",
    }


def bwrap_args(bwrap: str, s: SandboxSpec, binds: Sequence[Bind], sources: Mapping[int, str],
               env: Mapping[str, str], cwd: str, seccomp_fd: int | None,
               data_fds: Mapping[str, int]) -> list[str]:
    """bwrap's command line for one run (up to, not including, the `--` before the command)."""
    a = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
         "--uid", str(s.sandbox_uid), "--gid", str(s.sandbox_gid), "--hostname", s.hostname,
         "--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    if seccomp_fd is not None:
        a += ["--seccomp", str(seccomp_fd)]
    for p in s.system:
        if os.path.islink(p):
            a += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            a += ["--ro-bind", p, p]
    for h in s.hide:
        if os.path.isdir(h):
            a += ["--tmpfs", h]
    a += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
    for p in ("sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi", "mtrr", "pressure"):
        a += ["--ro-bind-try", f"/proc/{p}", f"/proc/{p}"]
    a += ["--dev", "/dev", "--dir", "/etc"]
    for p in s.etc_files:
        a += ["--ro-bind-try", p, p]
    for path, fd in data_fds.items():
        a += ["--ro-bind-data", str(fd), path]
    for i, b in enumerate(binds):
        a += ["--bind" if b.writable else "--ro-bind", sources.get(i, str(b.src)),
              str(b.target)]
    for h in s.hide:
        if os.path.isdir(h):
            a += ["--remount-ro", h]
    a += ["--remount-ro", "/", "--chdir", cwd, "--clearenv"]
    for k, v in env.items():
        a += ["--setenv", k, v]
    return a

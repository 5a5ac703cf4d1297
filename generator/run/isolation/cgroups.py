"""cgroup v1 memory and pids groups, one pair per run, created below this process's own groups:
the limits of the whole process tree of a run (every value written is read back)."""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from generator.run.isolation.procs import PAGE, sigkill
from generator.run.isolation.spec import Limits


@dataclass(frozen=True)
class CgroupSupport:
    memory: Path | None   # folder under which this process may create memory groups
    pids: Path | None
    why_not: str = ""


def _cgroup_parent(controller: str) -> tuple[Path | None, str]:
    """The v1 hierarchy folder of this process for `controller`, if it is writable."""
    current = None
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, ctrls, path = line.split(":", 2)
            if controller in ctrls.split(","):
                current = path
    except OSError as e:
        return None, f"/proc/self/cgroup: {e}"
    if current is None:
        return None, f"no cgroup v1 {controller} controller"
    mount = root = None
    try:
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            pre, _, post = line.partition(" - ")
            fields, post_f = pre.split(), post.split()
            if len(post_f) >= 3 and post_f[0] == "cgroup" and controller in post_f[2].split(","):
                root, mount = fields[3], fields[4]
                break
    except OSError as e:
        return None, f"/proc/self/mountinfo: {e}"
    if mount is None or root is None:
        return None, f"cgroup v1 {controller} hierarchy not mounted"
    rel = os.path.relpath(current, root) if current.startswith(root) else None
    if rel is None:
        return None, f"our {controller} cgroup {current} is outside the mounted part {root}"
    parent = Path(mount) / ("" if rel == "." else rel)
    if not os.access(parent, os.W_OK):
        return None, f"{parent} is not writable (not root, no delegation)"
    return parent, ""


def cgroup_support() -> CgroupSupport:
    mem, why_m = _cgroup_parent("memory")
    pids, why_p = _cgroup_parent("pids")
    return CgroupSupport(mem, pids, "; ".join(w for w in (why_m, why_p) if w))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kv(text: str, key: str) -> int:
    for line in text.splitlines():
        k, _, v = line.partition(" ")
        if k == key:
            try:
                return int(v)
            except ValueError:
                return 0
    return 0


def _write_verified(path: Path, value: int) -> None:
    """Write a limit and read it back: OSError unless the kernel now holds exactly `value`."""
    path.write_text(str(value))
    got = _read_int(path)
    if got != value:
        raise OSError(errno.EIO, f"wrote {value}, read back {got}", str(path))


class RunCgroups:
    """The run's own memory and pids groups (either may be missing)."""

    def __init__(self, support: CgroupSupport, name: str, limits: Limits) -> None:
        self.memory: Path | None = None
        self.pids: Path | None = None
        self.notes: list[str] = []
        if support.memory is not None:
            try:
                g = support.memory / name
                g.mkdir()
                self.memory = g
                if limits.memory_bytes is not None:
                    want = limits.memory_bytes // PAGE * PAGE   # the kernel rounds down
                    _write_verified(g / "memory.limit_in_bytes", want)
                    try:   # with swap, count it too; must be set after limit_in_bytes
                        _write_verified(g / "memory.memsw.limit_in_bytes", want)
                    except OSError:
                        self.notes.append("memory.memsw not available: swap is not limited")
                try:
                    (g / "memory.swappiness").write_text("0")
                except OSError:
                    pass
            except OSError as e:
                self.notes.append(f"memory cgroup: {e}")
                self._rmdir(self.memory)
                self.memory = None
        if support.pids is not None:
            try:
                g = support.pids / name
                g.mkdir()
                self.pids = g
                if limits.pids is not None:
                    _write_verified(g / "pids.max", limits.pids)
            except OSError as e:
                self.notes.append(f"pids cgroup: {e}")
                self._rmdir(self.pids)
                self.pids = None

    def paths(self) -> dict[str, Path]:
        return {k: v for k, v in (("memory", self.memory), ("pids", self.pids)) if v is not None}

    def contains(self, pid: int) -> bool:
        """Is `pid` in every group of the run (read back from /proc/<pid>/cgroup)?"""
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return False
        mine = {ctrl: path for line in lines
                for ctrl_s, path in [line.split(":", 2)[1:]] for ctrl in ctrl_s.split(",")}
        return all(mine.get(ctrl, "").rstrip("/").endswith("/" + g.name)
                   for ctrl, g in self.paths().items())

    def join(self, pid: int) -> None:
        for g in (self.memory, self.pids):
            if g is not None:
                (g / "cgroup.procs").write_text(str(pid))

    def procs(self) -> set[int]:
        out: set[int] = set()
        for g in (self.memory, self.pids):
            if g is not None:
                out.update(int(x) for x in _read(g / "cgroup.procs").split())
        return out

    def oom_kills(self) -> int:
        return _kv(_read(self.memory / "memory.oom_control"), "oom_kill") if self.memory else 0

    def peak_memory(self) -> int | None:
        return _read_int(self.memory / "memory.max_usage_in_bytes") if self.memory else None

    def pids_refused(self) -> int:
        return _kv(_read(self.pids / "pids.events"), "max") if self.pids else 0

    def peak_pids(self) -> int | None:
        return _read_int(self.pids / "pids.peak") if self.pids else None

    @staticmethod
    def _rmdir(g: Path | None) -> bool:
        if g is None:
            return True
        for _ in range(100):
            try:
                g.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def remove(self) -> None:
        for g in (self.memory, self.pids):
            if not self._rmdir(g):
                self.notes.append(f"could not remove {g}")


def remove_stale_groups(dead: Callable[[str], bool]) -> list[str]:
    """Kill and remove the run groups whose name `dead` says belongs to a dead build."""
    removed: list[str] = []
    sup = cgroup_support()
    for parent in (sup.memory, sup.pids):
        if parent is None:
            continue
        for g in parent.glob("vh-sbx-*"):
            if g.is_dir() and dead(g.name):
                sigkill({int(x) for x in _read(g / "cgroup.procs").split()})
                if RunCgroups._rmdir(g):
                    removed.append(str(g))
    return removed

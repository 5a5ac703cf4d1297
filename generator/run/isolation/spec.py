"""What a sandboxed run is given and what it gives back: limits, binds, the spec of the sandbox,
the result, and the two errors (the machine cannot sandbox at all / this run could not be set up).
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from generator.core.errors import EnvironmentFailure

LimitName = Literal["memory", "pids", "time", "disk", "fsize"]

GiB = 1 << 30
MiB = 1 << 20


class SandboxUnavailable(EnvironmentFailure):
    """This machine cannot run the sandbox (bwrap missing or refused to start). Never caught
    inside this module: untrusted code is never run without the sandbox."""


class SandboxError(RuntimeError):
    """The sandbox could not be set up for this run (bad spec, wrapper failure, ...)."""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Limits:
    """Limits over the whole run. None means no limit."""

    memory_bytes: int | None = 2 * GiB
    pids: int | None = 512          # processes + threads (MegEngine starts a thread per core)
    wall_s: float | None = None
    disk_bytes: int | None = None   # size of the writable folder + /tmp + /dev/shm together
    fsize_bytes: int | None = None  # largest single file (RLIMIT_FSIZE, SIGXFSZ)
    poll_s: float = 0.05            # watchdog period (the /proc-polling fallback uses 2x)


@dataclass(frozen=True)
class Bind:
    """A host path shown inside the sandbox at `dest` (default: the same path)."""

    src: Path
    dest: Path | None = None
    writable: bool = False

    @property
    def target(self) -> Path:
        return Path(self.dest) if self.dest is not None else Path(self.src)


def _default_venv() -> Path | None:
    return Path(sys.prefix) if sys.prefix != sys.base_prefix else None


@dataclass(frozen=True)
class SandboxSpec:
    """What the sandbox shows and how it is started. Paths are host paths; each appears at the
    same path inside (Bind.dest can move extra binds)."""

    python_home: Path = field(default_factory=lambda: Path(sys.base_prefix).resolve())
    venv: Path | None = field(default_factory=_default_venv)
    mge_home: Path | None = None
    ro_binds: tuple[Bind, ...] = ()
    # System folders bound read-only (symlinks such as /lib -> usr/lib are recreated as such).
    system: tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
    hide: tuple[str, ...] = ("/usr/local",)   # shown as empty read-only folders
    etc_files: tuple[str, ...] = ("/etc/ld.so.cache", "/etc/localtime")
    sandbox_uid: int = 65534
    sandbox_gid: int = 65534
    # Host uid/gid that bwrap runs as when the build is root. "auto": 65534 when euid is 0,
    # else the caller's own. None: run bwrap as the caller even when that is root (weaker: the
    # sandbox is then host uid 0 without capabilities).
    host_uid: int | None | Literal["auto"] = "auto"
    host_gid: int | None | Literal["auto"] = "auto"
    seccomp: bool = True
    hostname: str = "sandbox"
    bwrap: str | None = None          # path; default: `bwrap` on PATH
    stage_dir: Path = Path("/run/vh-sandbox-stage")  # empty mount point used in a private ns
    use_cgroups: bool = True          # False forces the /proc polling fallback (tests)
    use_tmpfs: bool = True            # False forces disk polling instead of a sized tmpfs
    # False: --unsafe-no-sandbox (no namespaces, no file-system view; limits only). Never the default.
    isolate: bool = True

    def resolved_host_ids(self) -> tuple[int | None, int | None]:
        uid, gid = self.host_uid, self.host_gid
        if uid == "auto":
            uid = 65534 if os.geteuid() == 0 else None
        if gid == "auto":
            gid = (65534 if os.geteuid() == 0 else None) if uid is not None else None
        if uid is not None and gid is None:
            gid = uid
        if uid is not None and os.geteuid() != 0:
            if uid == os.geteuid():
                return None, None
            raise SandboxError("host_uid needs a root build")
        return uid, gid


# ---------------------------------------------------------------- result


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None        # bwrap's exit code: the command's, or 128+N if it died of N
    signal: int | None           # the signal that ended the command, when one did
    limit: LimitName | None      # the limit that stopped the run
    message: str
    peak_memory_bytes: int | None
    peak_pids: int | None
    wall_s: float
    memory_source: Literal["cgroup", "proc-poll", "none"]
    killed_by_caller: bool = False
    disk_used_bytes: int | None = None
    limit_value: str = ""  # the limit that stopped the run as `ending_message` says it ("2 GiB")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.limit is None and not self.killed_by_caller


def fmt_bytes(n: float, exact: bool = False) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            v = n / size
            return f"{v:g} {unit}" if exact and v == int(v) else f"{v:.1f} {unit}"
    return f"{int(n)} B"


def limit_value(limit: LimitName | None, lim: Limits) -> str:
    """The value of the limit that stopped a run, as `ending_message` writes it: a page words
    the rest of the sentence in its own language (run/reasons.py, codes `limit.*`)."""
    if limit == "memory" and lim.memory_bytes is not None:
        return fmt_bytes(lim.memory_bytes, True)
    if limit == "pids":
        return str(lim.pids)
    if limit == "time":
        return f"{lim.wall_s:g} s"
    if limit == "disk" and lim.disk_bytes is not None:
        return fmt_bytes(lim.disk_bytes, True)
    if limit == "fsize" and lim.fsize_bytes is not None:
        return fmt_bytes(lim.fsize_bytes, True)
    return ""


def ending_message(limit: LimitName | None, lim: Limits, peak: int | None, by_caller: bool,
                   sig: int | None, exit_code: int | None) -> str:
    """How a run ended, in words: whose limit stopped it, at what peak."""
    if limit == "memory":
        assert lim.memory_bytes is not None
        return (f"stopped by the build's memory limit of {fmt_bytes(lim.memory_bytes, True)}"
                + (f" at peak {fmt_bytes(peak)}" if peak else ""))
    if limit == "pids":
        return f"stopped by the build's limit of {lim.pids} processes and threads"
    if limit == "time":
        return f"stopped by the build's wall-time limit of {lim.wall_s:g} s"
    if limit == "disk":
        assert lim.disk_bytes is not None
        return (f"stopped by the build's disk limit of {fmt_bytes(lim.disk_bytes, True)} "
                "(the run's writable space is full)")
    if limit == "fsize":
        assert lim.fsize_bytes is not None
        return f"stopped by the build's file-size limit of {fmt_bytes(lim.fsize_bytes, True)}"
    if by_caller:
        return "stopped by the build"
    if sig is not None:
        try:
            return f"killed by {signal.Signals(sig).name}"
        except ValueError:
            return f"killed by signal {sig}"
    return f"exited with code {exit_code}"

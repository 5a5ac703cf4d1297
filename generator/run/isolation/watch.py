"""The part of a run that watches it: a watchdog thread that enforces the limits while it runs,
the kill of its whole process tree, and the description of how it ended (RunResult). A mixin of
Sandbox (sandbox.py), which sets the attributes declared here."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Literal

from generator.run.isolation.cgroups import RunCgroups
from generator.run.isolation.bwrap import WRAPPER_FAILED
from generator.run.isolation.procs import alive, descendants, dir_usage, sigkill, tree_usage
from generator.run.isolation.spec import LimitName, Limits, RunResult, SandboxError, ending_message, limit_value


class RunWatch:
    proc: subprocess.Popen[bytes] | None
    limits: Limits
    fs: Path
    notes: list[str]
    _cg: RunCgroups | None
    _tmpfs: bool
    _lock: threading.Lock
    _limit: LimitName | None
    _limit_detail: str
    _killed_by_caller: bool
    _poll_peak_rss: int
    _poll_peak_tasks: int
    _disk_peak: int
    _t0: float
    _t1: float
    _watchdog: threading.Thread | None
    _exited: threading.Event
    _result: RunResult | None

    # ---- watchdog

    def _stop(self, limit: LimitName | None, detail: str = "") -> None:
        with self._lock:
            if limit is not None and self._limit is None and not self._killed_by_caller:
                self._limit, self._limit_detail = limit, detail
        self._kill_tree()

    def _disk_used(self) -> int:
        if self._tmpfs:
            st = os.statvfs(self.fs)
            return (st.f_blocks - st.f_bfree) * st.f_frsize
        return dir_usage(self.fs)

    def _disk_full(self, used: int) -> bool:
        lim = self.limits.disk_bytes
        if lim is None:
            return False
        if self._tmpfs:
            return used >= lim - 64 * 1024
        return used > lim

    def _file_at_limit(self) -> bool:
        n = self.limits.fsize_bytes
        for root, _, files in os.walk(self.fs):
            for f in files:
                try:
                    if n is not None and os.lstat(os.path.join(root, f)).st_size >= n:
                        return True
                except OSError:
                    pass
        return False

    def _watch(self) -> None:
        assert self.proc is not None
        lim, cg = self.limits, self._cg
        poll_tree = cg is None or cg.memory is None or cg.pids is None
        period = lim.poll_s * (2 if poll_tree else 1)
        last_disk = 0.0
        while not self._exited.wait(period):
            if self.proc.poll() is not None:
                return
            now = time.monotonic()
            if lim.wall_s is not None and now - self._t0 > lim.wall_s:
                self._stop("time")
                return
            if cg is not None and cg.memory is not None and cg.oom_kills() > 0:
                self._stop("memory")
                return
            if cg is not None and cg.pids is not None and cg.pids_refused() > 0:
                self._stop("pids")
                return
            if poll_tree:
                rss, tasks = tree_usage(descendants(self.proc.pid))
                self._poll_peak_rss = max(self._poll_peak_rss, rss)
                self._poll_peak_tasks = max(self._poll_peak_tasks, tasks)
                if (cg is None or cg.memory is None) and lim.memory_bytes is not None \
                        and rss > lim.memory_bytes:
                    self._stop("memory")
                    return
                if (cg is None or cg.pids is None) and lim.pids is not None and tasks >= lim.pids:
                    # RLIMIT_NPROC holds the run at lim.pids tasks: reaching it is the limit
                    self._stop("pids")
                    return
            if lim.disk_bytes is not None and (self._tmpfs or now - last_disk > 0.5):
                last_disk = now
                used = self._disk_used()
                self._disk_peak = max(self._disk_peak, used)
                if self._disk_full(used):
                    self._stop("disk")
                    return

    # ---- killing

    def _kill_tree(self) -> None:
        """SIGKILL everything of the run: every task in its cgroups, every descendant of bwrap
        (killing the PID namespace's init takes the whole namespace), and bwrap itself; then
        wait (at most 5 s) until none is left."""
        proc = self.proc
        if proc is None:
            return
        targets = set(self._cg.procs()) if self._cg is not None else set()
        if proc.returncode is None:
            targets.update(descendants(proc.pid))
        sigkill(targets)
        try:
            proc.kill()   # a no-op once it has been reaped
        except OSError:
            pass
        deadline = time.monotonic() + 5.0
        while True:
            left = (self._cg.procs() if self._cg is not None
                    else {p for p in targets if alive(p)})
            if not left:
                return
            if time.monotonic() > deadline:
                self.notes.append(f"still alive after SIGKILL: {sorted(left)}")
                return
            sigkill(left)
            time.sleep(0.01)

    def kill(self) -> None:
        """Stop the run now (the caller's own deadline or error)."""
        with self._lock:
            if self._limit is None and self.proc is not None and self.proc.returncode is None:
                self._killed_by_caller = True
        self._kill_tree()

    # ---- result

    def wait(self, timeout: float | None = None) -> RunResult:
        """Wait for the command (the watchdog enforces the limits meanwhile), make sure nothing
        of the run is left, and describe how it ended. TimeoutExpired if `timeout` passes."""
        if self._result is not None:
            return self._result
        if self.proc is None:
            raise SandboxError("not started")
        self.proc.wait(timeout=timeout)
        self._t1 = time.monotonic()
        self._exited.set()
        if self._watchdog is not None:
            self._watchdog.join()
        self._kill_tree()   # whatever escaped bwrap's teardown (nothing should)
        self._result = self._describe()
        return self._result

    def _describe(self) -> RunResult:
        assert self.proc is not None
        rc = self.proc.returncode
        exit_code: int | None = rc if rc is not None and rc >= 0 else None
        sig: int | None = -rc if rc is not None and rc < 0 else None
        if exit_code is not None and 128 < exit_code < 128 + 65:
            sig = exit_code - 128   # bwrap reports a command killed by N as 128+N
        if exit_code in WRAPPER_FAILED and self._limit is None and not self._killed_by_caller:
            raise SandboxError(f"sandbox wrapper failed: {WRAPPER_FAILED[exit_code or 0]}")
        cg, lim = self._cg, self.limits
        limit, detail = self._limit, self._limit_detail
        source: Literal["cgroup", "proc-poll", "none"]
        if cg is not None and cg.memory is not None:
            peak, source = cg.peak_memory(), "cgroup"
        elif self._poll_peak_rss:
            peak, source = self._poll_peak_rss, "proc-poll"
        else:
            peak, source = None, "none"
        peak_pids = (cg.peak_pids() if cg is not None and cg.pids is not None
                     else self._poll_peak_tasks or None)
        disk = None
        if lim.disk_bytes is not None:
            disk = max(self._disk_peak, self._disk_used())
        if limit is None and not self._killed_by_caller:
            if cg is not None and cg.oom_kills() > 0:
                limit = "memory"
            elif cg is not None and cg.pids_refused() > 0:
                limit = "pids"
            elif lim.fsize_bytes is not None and (
                    sig == signal.SIGXFSZ or (exit_code != 0 and self._file_at_limit())):
                limit = "fsize"   # Python ignores SIGXFSZ: its write fails with EFBIG
            elif disk is not None and self._disk_full(disk):
                limit = "disk"
        wall = self._t1 - self._t0
        msg = ending_message(limit, lim, peak, self._killed_by_caller, sig, exit_code)
        if detail:
            msg += f" ({detail})"
        return RunResult(exit_code=exit_code, signal=sig, limit=limit, message=msg,
                         peak_memory_bytes=peak, peak_pids=peak_pids, wall_s=round(wall, 4),
                         memory_source=source, killed_by_caller=self._killed_by_caller,
                         disk_used_bytes=disk, limit_value=limit_value(limit, lim))

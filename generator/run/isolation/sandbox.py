"""One sandboxed run: `Sandbox(spec, limits)`, `start(cmd)`, `wait()` -> RunResult, `close()`.

What a run gets (docs/SECURITY.md says why each piece is there):
- namespaces: user, mount, PID, IPC, UTS, network (only `lo`), cgroup; uid/gid 65534 inside, no
  capabilities, no further user namespaces, a new session, killed when the build dies;
- a root that is an empty read-only tmpfs holding only /usr (minus /usr/local), a fresh /proc
  with /proc/sys & co. read-only, a minimal /dev, a synthetic /etc, the Python installation, the
  venv, MGE_HOME and the caller's extra binds (all read-only), and ONE writable folder
  (`writable`; cwd and HOME), with /tmp and /dev/shm on the same size-limited file system;
- a seccomp filter (seccomp.py);
- when the build is root, bwrap itself runs as host uid 65534, so sandboxed code is nobody on
  the host too; sources that uid cannot reach (a Python under /root) are bind-mounted by root
  into a private mount namespace first ("staging", bwrap.WRAPPER);
- limits over the whole tree (cgroups.py; /proc polling without them, procs.py): memory
  (resident, never address space: MegEngine maps far more than it touches), processes and
  threads (also RLIMIT_NPROC inside the run's user namespace), wall time, disk, file size.

Outputs the run wrote are read with outputs.py, never opened directly. `SandboxSpec(isolate=False)`
is --unsafe-no-sandbox: no namespaces or file-system view, only the limits and the kill.
Call start() and wait() from a thread that outlives the run: the parent-death signal fires when
the *thread* that forked exits.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Mapping, Sequence, Union

from generator.run.isolation.bwrap import WRAPPER, bwrap_args, etc_files, find_bwrap, probe
from generator.run.isolation.cgroups import RunCgroups, cgroup_support, remove_stale_groups
from generator.run.isolation.outputs import read_output
from generator.run.isolation.procs import mount_tmpfs, pid_alive, reachable_by, umount
from generator.run.isolation.seccomp import seccomp_program
from generator.run.isolation.watch import RunWatch
from generator.run.isolation.spec import (Bind, LimitName, Limits, MiB, RunResult, SandboxError, SandboxSpec,
                                          SandboxUnavailable)

FileArg = Union[None, int, IO[bytes], IO[str]]


class Sandbox(RunWatch):
    """One sandboxed run: `with Sandbox(spec, limits) as sb: sb.start(cmd); sb.wait()`.

    Layout on the host (`root` is 0700 and only the build sees it):
        root/fs      a tmpfs of limits.disk_bytes (or a plain folder), owned by the sandbox uid
        root/fs/w    `writable`: bound read-write at the same path; default cwd and HOME
        root/fs/tmp  bound at /tmp;  root/fs/shm bound at /dev/shm
    The caller may put other host-only files in `root` (e.g. MGE_HOME, logs)."""

    def __init__(self, spec: SandboxSpec | None = None, limits: Limits | None = None, *,
                 base_dir: Path | str | None = None) -> None:
        self.spec = spec or SandboxSpec()
        self.limits = limits or Limits()
        self.bwrap = ""
        self.host_uid: int | None = None
        self.host_gid: int | None = None
        if self.spec.isolate:
            self.bwrap = find_bwrap(self.spec.bwrap)
            self.host_uid, self.host_gid = self.spec.resolved_host_ids()
            if self.spec.seccomp:
                seccomp_program()  # fail early on other architectures
            probe(self.bwrap, self.host_uid, self.host_gid)
        self.name = f"vh-sbx-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.root = Path(tempfile.mkdtemp(prefix=self.name + "-", dir=base_dir))
        self.fs = self.root / "fs"
        self.writable = self.fs / "w"
        self.proc: subprocess.Popen[bytes] | None = None
        self.notes: list[str] = []
        self._tmpfs = False
        self._cg: RunCgroups | None = None
        self._lock = threading.Lock()
        self._limit: LimitName | None = None
        self._limit_detail = ""
        self._killed_by_caller = False
        self._poll_peak_rss = 0
        self._poll_peak_tasks = 0
        self._nproc_cap: int | None = None
        self._disk_peak = 0
        self._t0 = self._t1 = 0.0
        self._watchdog: threading.Thread | None = None
        self._exited = threading.Event()
        self._result: RunResult | None = None
        self._closed = False
        try:
            self._setup_fs()
        except BaseException:
            self.close()
            raise

    # ---- setup

    @property
    def cgroups(self) -> dict[str, Path]:
        """The run's cgroup folders by controller (empty before start() or without cgroups)."""
        return self._cg.paths() if self._cg is not None else {}

    def in_cgroups(self, pid: int) -> bool:
        """Is `pid` in all of the run's cgroups? (False when the run has none.)"""
        return self._cg is not None and bool(self._cg.paths()) and self._cg.contains(pid)

    @property
    def owner(self) -> tuple[int, int]:
        """Host uid/gid that the sandbox's processes have."""
        if self.host_uid is not None and self.host_gid is not None:
            return self.host_uid, self.host_gid
        if os.geteuid() == 0:
            return 0, 0
        return os.geteuid(), os.getegid()

    def _setup_fs(self) -> None:
        uid, gid = self.owner
        self.fs.mkdir()
        if self.limits.disk_bytes is not None and self.spec.use_tmpfs:
            try:
                mount_tmpfs(self.fs, self.limits.disk_bytes, uid, gid)
                self._tmpfs = True
            except OSError as e:
                self.notes.append(f"no tmpfs for the disk limit ({e}); polling the folder size")
        for d in (self.writable, self.fs / "tmp", self.fs / "shm"):
            d.mkdir(mode=0o700)
        (self.fs / "tmp").chmod(0o1777)
        (self.fs / "shm").chmod(0o1777)
        if os.geteuid() == 0:
            os.chown(self.fs, uid, gid)
        else:
            self.fs.chmod(0o700)

    def _chown_writable(self) -> None:
        """Files the build put in `fs` before start() become the sandbox's."""
        if os.geteuid() != 0:
            return
        uid, gid = self.owner
        for root, dirs, files in os.walk(self.fs):
            for n in dirs + files:
                try:
                    os.lchown(os.path.join(root, n), uid, gid)
                except OSError:
                    pass
        os.lchown(self.fs, uid, gid)

    def _binds(self) -> list[Bind]:
        s = self.spec
        # /tmp and /dev/shm first: a later bind below /tmp (a venv, MGE_HOME, the writable
        # folder itself) must land on top of the run's own /tmp, not under it.
        binds = [Bind(self.fs / "tmp", Path("/tmp"), True), Bind(self.fs / "shm", Path("/dev/shm"), True),
                 Bind(s.python_home)]
        if s.venv is not None and s.venv.resolve() != s.python_home.resolve():
            binds.append(Bind(s.venv))
        binds += [Bind(self.writable, None, True)]
        if s.mge_home is not None:
            binds.append(Bind(s.mge_home))
        binds += list(s.ro_binds)
        for b in binds:
            if not Path(b.src).exists():
                raise SandboxError(f"bind source does not exist: {b.src}")
        return [b for b in binds if not self._already_shown(b)]

    def _already_shown(self, b: Bind) -> bool:
        """A read-only bind of a path that a system bind already shows at the same place (e.g.
        a system Python, python_home=/usr). Binding it again would cover the hidden folders
        (/usr/local) laid over the system bind."""
        if b.writable or Path(b.target) != Path(b.src):
            return False
        p = Path(b.src)
        if p != p.resolve():
            return False

        def under(d: str) -> bool:
            return p == Path(d) or Path(d) in p.parents

        return (any(under(d) for d in self.spec.system if os.path.isdir(d) and not os.path.islink(d))
                and not any(under(h) for h in self.spec.hide))

    # ---- running

    def start(self, cmd: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None,
              cwd: Path | str | None = None, stdin: FileArg = subprocess.DEVNULL,
              stdout: FileArg = None, stderr: FileArg = None,
              pass_fds: Sequence[int] = ()) -> subprocess.Popen[bytes]:
        """Start `cmd` in the sandbox. `env` is the command's whole environment (defaults are
        added for PATH, HOME, TMPDIR, LANG when missing); `pass_fds` stay open, same numbers."""
        if self.proc is not None:
            raise SandboxError("a Sandbox runs one command")
        if self._closed:
            raise SandboxError("closed")
        s = self.spec
        full_env = {
            "PATH": ":".join(str(p / "bin") for p in (s.venv, s.python_home) if p) + ":/usr/bin:/bin",
            "HOME": str(self.writable), "TMPDIR": "/tmp" if s.isolate else str(self.fs / "tmp"),
            "LANG": "C.UTF-8",
        }
        full_env.update(env or {})
        if not s.isolate:
            return self._start_unisolated(cmd, full_env, cwd, stdin, stdout, stderr, pass_fds)
        binds = self._binds()
        uid, gid = self.owner
        stage: dict[int, str] = {}      # bind index -> staged source path
        stage_srcs: list[Path] = []
        if self.host_uid is not None:
            fs = self.fs.resolve()
            for i, b in enumerate(binds):
                src = Path(b.src).resolve()
                if reachable_by(src, uid, gid):
                    continue
                for k, top in enumerate(stage_srcs):
                    if top == src or top in src.parents:
                        break
                else:   # the run's filesystem is staged once for all the binds inside it
                    top = fs if fs == src or fs in src.parents else src
                    stage_srcs.append(top)
                    k = len(stage_srcs) - 1
                stage[i] = str(s.stage_dir / str(k) / src.relative_to(top))
            if stage_srcs:
                s.stage_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        self._chown_writable()

        to_close: list[int] = []
        keep: list[int] = list(pass_fds)
        try:
            seccomp_fd = None
            if s.seccomp:
                seccomp_fd = self._data_fd(seccomp_program(), to_close)
                keep.append(seccomp_fd)
            data_fds = {p: self._data_fd(c, to_close)
                        for p, c in etc_files(s.sandbox_uid, s.sandbox_gid, self.writable).items()}
            keep += data_fds.values()
            bw = bwrap_args(self.bwrap, s, binds, stage, full_env, str(cwd or self.writable), seccomp_fd,
                            data_fds)
            # setpriv arms the parent-death signal before anything else runs: bwrap's own
            # --die-with-parent comes only after its setup, and a build that died in between
            # would leave the sandbox running. A uid change clears the signal, so the setpriv
            # that changes the uid arms it again.
            setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
            if setpriv is None:
                raise SandboxUnavailable("setpriv (util-linux) is needed to start bwrap")
            wrapper = ["/bin/sh", "-c", WRAPPER, "vh-sandbox", str(os.getpid()),
                       str(s.stage_dir), str(len(stage_srcs)), *map(str, stage_srcs), "--"]
            argv = [setpriv, "--pdeathsig", "KILL", "--"]
            kw: dict[str, object] = {}
            if self.host_uid is not None and stage_srcs:
                # root until the staging mounts are made, in a private mount namespace
                argv += ["unshare", "--mount", "--propagation", "private", "--", *wrapper,
                         setpriv, "--pdeathsig", "KILL", f"--reuid={uid}", f"--regid={gid}",
                         "--clear-groups", "--"]
            else:
                argv += wrapper
                if self.host_uid is not None:
                    kw = dict(user=uid, group=gid, extra_groups=[])
            self._cg = self._make_cgroups()
            argv += [*bw, "--", *self._nproc_prefix(), *map(str, cmd)]
            self._launch(argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, "/", stdin, stdout, stderr, keep, kw)
        finally:
            for fd in to_close:
                os.close(fd)
        return self._started()

    def _launch(self, argv: list[str], env: dict[str, str], cwd: str, stdin: FileArg, stdout: FileArg,
                stderr: FileArg, keep: list[int], kw: Mapping[str, object]) -> None:
        """Start the wrapper, wait until it has stopped itself, put it into the run's cgroups
        and rlimits, let it go on (see bwrap.WRAPPER)."""
        self._t0 = time.monotonic()
        proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
            argv, stdin=stdin, stdout=stdout, stderr=stderr, pass_fds=keep, cwd=cwd,
            env=env, start_new_session=True, **kw)
        self.proc = proc
        try:
            _, status = os.waitpid(proc.pid, os.WUNTRACED)
            if not os.WIFSTOPPED(status):
                proc.returncode = os.waitstatus_to_exitcode(status)
                raise SandboxError(f"sandbox wrapper ended before starting the run "
                                   f"(status {proc.returncode})")
            if self._cg is not None:
                self._cg.join(proc.pid)
            resource.prlimit(proc.pid, resource.RLIMIT_CORE, (0, 0))
            if self.limits.fsize_bytes is not None:
                n = self.limits.fsize_bytes
                resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (n, n))
            os.kill(proc.pid, signal.SIGCONT)
        except BaseException:
            proc.kill()
            proc.wait()
            raise

    def _started(self) -> subprocess.Popen[bytes]:
        assert self.proc is not None
        self._watchdog = threading.Thread(target=self._watch, name=f"{self.name}-watchdog",
                                          daemon=True)
        self._watchdog.start()
        return self.proc

    def _start_unisolated(self, cmd: Sequence[str | os.PathLike[str]], env: Mapping[str, str],
                          cwd: Path | str | None, stdin: FileArg, stdout: FileArg, stderr: FileArg,
                          pass_fds: Sequence[int]) -> subprocess.Popen[bytes]:
        """--unsafe-no-sandbox: the command sees the build's file system and network and runs as
        the build's user; only the limits (cgroups or polling) and the kill of the whole tree
        remain. Never the default."""
        setpriv = shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")
        if setpriv is None:
            raise SandboxUnavailable("setpriv (util-linux) is needed to start a run")
        self._cg = self._make_cgroups()
        wrapper = ["/bin/sh", "-c", WRAPPER, "vh-sandbox", str(os.getpid()), str(self.spec.stage_dir), "0", "--"]
        argv = [setpriv, "--pdeathsig", "KILL", "--", *wrapper, *self._nproc_prefix(), *map(str, cmd)]
        self._launch(argv, dict(env), str(cwd or self.writable), stdin, stdout, stderr, list(pass_fds), {})
        return self._started()

    def _nproc_prefix(self) -> list[str]:
        """`prlimit --nproc=N:N --` run inside the sandbox, before the command.

        RLIMIT_NPROC is counted per (user namespace, uid) since Linux 5.14: set inside the
        run's own user namespace it bounds the tasks (processes + threads, bwrap's pid 1
        included) of this run alone, whatever else the host uid runs. It is the kernel's hard
        cap where there is no pids cgroup (the /proc poller alone cannot keep up with an
        exponential fork bomb: that took a 2-core machine down) and a second fence behind
        pids.max where there is one (pids.max also counts the outer bwrap, so it trips first).
        The kernel exempts host uid 0, i.e. the root-mapped mode (host_uid=None as root)."""
        n = self.limits.pids
        has_cgroup = self._cg is not None and self._cg.pids is not None
        if n is None:
            return []
        if not self.spec.isolate:
            # No user namespace of its own: RLIMIT_NPROC would count every process of the
            # build's user. The pids cgroup (root) or the poller bounds the run instead.
            if not has_cgroup:
                self.notes.append("process count polled only (--unsafe-no-sandbox, no pids cgroup)")
            return []
        nproc_applies = self.owner[0] != 0
        prlimit = shutil.which("prlimit", path="/usr/bin:/bin")
        bound = prlimit is not None and any(
            prlimit.startswith(d.rstrip("/") + "/") and os.path.isdir(d) and not os.path.islink(d)
            for d in self.spec.system)
        if nproc_applies and bound and prlimit is not None:
            self._nproc_cap = n
            return [prlimit, f"--nproc={n}:{n}", "--"]
        if not has_cgroup:
            why = ("the sandbox is host uid 0, which RLIMIT_NPROC exempts" if not nproc_applies
                   else "prlimit (util-linux) is not in the sandbox's /usr")
            raise SandboxError(f"no way to bound the run's processes: no pids cgroup and {why}")
        self.notes.append(f"no RLIMIT_NPROC fence ({'host uid 0' if not nproc_applies else 'no prlimit'}); "
                          "pids cgroup only")
        return []

    @staticmethod
    def _data_fd(data: bytes, to_close: list[int]) -> int:
        r, w = os.pipe()
        to_close.append(r)
        try:
            if len(data) > 65536:
                raise SandboxError("data for bwrap larger than a pipe buffer")
            os.write(w, data)
        finally:
            os.close(w)
        return r

    def _make_cgroups(self) -> RunCgroups | None:
        if not self.spec.use_cgroups:
            return None
        sup = cgroup_support()
        if sup.why_not:
            self.notes.append(f"cgroups: {sup.why_not}")
        if sup.memory is None and sup.pids is None:
            return None
        cg = RunCgroups(sup, self.name, self.limits)
        self.notes += cg.notes
        return cg

    # ---- outputs

    def read_output(self, rel: str | os.PathLike[str], max_bytes: int = 64 * MiB) -> bytes:
        """A file the run left under `writable`, read without trusting the run: see outputs.py.
        Call after wait() and before close()."""
        if self.proc is None or self.proc.returncode is None:
            raise SandboxError("read_output only after the run has ended")
        if self._closed:
            raise SandboxError("closed: the run's folder is gone")
        return read_output(self.writable, rel, max_bytes)

    # ---- teardown

    def close(self) -> None:
        """Kill what is left, remove the cgroups, unmount and delete `root`."""
        if self._closed:
            return
        self._closed = True
        if self.proc is not None:
            self._kill_tree()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.notes.append("bwrap did not exit after SIGKILL")
            self._exited.set()
            if self._watchdog is not None:
                self._watchdog.join(timeout=10)
        # the tmpfs first: its pages are charged to the run's memory group, and would be moved
        # to the build's own group if the group went first
        if self._tmpfs:
            umount(self.fs)
        shutil.rmtree(self.root, ignore_errors=True)
        if self._cg is not None:
            self._cg.remove()
            self.notes += [n for n in self._cg.notes if n not in self.notes]

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cleanup_stale(base_dir: Path | str | None = None) -> list[str]:
    """Remove what runs of dead builds left (a build killed with SIGKILL cannot clean up: its
    sandboxes die with it, but their empty cgroups, tmpfs mounts and folders stay). Names carry
    the creating build's pid; only those of pids that no longer exist are touched."""
    removed: list[str] = []

    def dead(name: str) -> bool:
        parts = name.split("-")
        return (len(parts) >= 4 and name.startswith("vh-sbx-") and parts[2].isdigit()
                and not pid_alive(int(parts[2])))

    removed += remove_stale_groups(dead)
    base = Path(base_dir or tempfile.gettempdir())
    for d in base.glob("vh-sbx-*"):
        if d.is_dir() and dead(d.name):
            if os.path.ismount(d / "fs"):
                umount(d / "fs")
            shutil.rmtree(d, ignore_errors=True)
            removed.append(str(d))
    return removed


def run(cmd: Sequence[str | os.PathLike[str]], spec: SandboxSpec | None = None,
        limits: Limits | None = None, *, base_dir: Path | str | None = None,
        **start_kw: object) -> RunResult:
    """Run `cmd` to the end in a fresh sandbox (see Sandbox.start for the keywords)."""
    with Sandbox(spec, limits, base_dir=base_dir) as sb:
        sb.start(cmd, **start_kw)  # type: ignore[arg-type]
        return sb.wait()

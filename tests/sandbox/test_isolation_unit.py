"""The sandbox on its own (generator/run/isolation): what a run can see and reach, the limits
over its whole process tree, and that nothing of it survives. Needs bubblewrap; the cgroup, tmpfs
and host-uid tests need root. Memory tests allocate at most ~2 GiB; process tests fork at most
300 times, and the ones that reach a limit run only inside a pids cgroup they verified first."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import socket
import subprocess
import sys
import shutil
import textwrap
import time
import types
from pathlib import Path

import pytest

from generator.run.isolation import cgroups, procs, seccomp, spec as spec_mod
from generator.run.isolation import sandbox as sandbox_mod

# The package's pieces under the names these tests use.
bs = types.SimpleNamespace(
    Limits=spec_mod.Limits, RunResult=spec_mod.RunResult, SandboxSpec=spec_mod.SandboxSpec,
    SandboxError=spec_mod.SandboxError, SandboxUnavailable=spec_mod.SandboxUnavailable,
    SECCOMP_EPERM=seccomp.SECCOMP_EPERM, seccomp_program=seccomp.seccomp_program,
    Sandbox=sandbox_mod.Sandbox, cleanup_stale=sandbox_mod.cleanup_stale, run=sandbox_mod.run,
    cgroup_support=cgroups.cgroup_support, _descendants=procs.descendants,
)

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

PY = sys.executable
ROOT_DIR = Path(__file__).resolve().parents[2]  # the checkout: helper scripts import generator from it
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (cgroups, tmpfs, host uid)")
MGE_ENV = {"MGE_DEFAULT_DEVICE": "cpux", "MGE_FASTRUN_CACHE_TYPE": "MEMORY",
           "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def py(code: str, tmp_path: Path, limits: bs.Limits | None = None,
       spec: bs.SandboxSpec | None = None, **kw: object) -> tuple[bs.RunResult, str, str]:
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as o, open(err, "wb") as e:
        r = bs.run([PY, "-c", textwrap.dedent(code)], spec, limits, stdout=o, stderr=e,
                   **kw)  # type: ignore[arg-type]
    return r, out.read_text(), err.read_text()


def host_procs_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# ---------------------------------------------------------------- setup and visibility


def test_missing_bwrap_is_an_error_not_an_unsandboxed_run(tmp_path: Path) -> None:
    with pytest.raises(bs.SandboxUnavailable, match="not installed"):
        bs.run(["true"], bs.SandboxSpec(bwrap="/nonexistent/bwrap"))


def test_secrets_and_checkout_are_invisible(tmp_path: Path) -> None:
    checkout = str(ROOT_DIR)
    r, out, err = py(f"""
        import os, json
        res = {{}}
        for p in ["/root/.bashrc", "/etc/shadow", {checkout + '/README.md'!r}, "/root/.ssh",
                  {checkout + '/pyproject.toml'!r}, "/usr/local/bin", "/sys/fs/cgroup"]:
            try:
                open(p).read(1); res[p] = "READ"
            except OSError as e:
                res[p] = type(e).__name__
        def ls(d):
            try:
                return sorted(os.listdir(d))
            except FileNotFoundError:
                return None
        res["ls checkout"] = ls({checkout!r})
        res["ls /root"] = ls("/root")
        res["ls /usr/local"] = ls("/usr/local")
        res["ls /"] = ls("/")
        print(json.dumps(res))
    """, tmp_path)
    assert r.ok, (r, err)
    res = json.loads(out)
    for p in ["/root/.bashrc", "/etc/shadow", checkout + "/README.md", "/root/.ssh",
              checkout + "/pyproject.toml", "/sys/fs/cgroup"]:
        assert res[p] in ("FileNotFoundError", "PermissionError"), (p, res[p])
    # Parents of binds are empty folders: of the checkout only the venv inside it (if it is there).
    venv_inside = Path(sys.prefix).resolve().parent == ROOT_DIR
    assert res["ls checkout"] == ([".venv"] if venv_inside else None)
    assert res["ls /root"] in ([".pyenv"], None)
    assert res["ls /usr/local"] == []
    assert set(res["ls /"]) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc",
                                "root", "sbin", "tmp", "usr", ROOT_DIR.parts[1]}


def test_no_host_processes_and_only_own_fds(tmp_path: Path) -> None:
    r, out, err = py("""
        import os, json
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        fds = sorted(int(f) for f in os.listdir("/proc/self/fd"))
        print(json.dumps({"pids": pids, "fds": fds, "me": os.getpid(), "ppid": os.getppid()}))
    """, tmp_path)
    assert r.ok, err
    res = json.loads(out)
    assert res["pids"] == [1, 2] and res["me"] == 2 and res["ppid"] == 1
    assert res["fds"] == [0, 1, 2, 3]    # 3: the listdir itself; no bind/seccomp fds leak


def test_only_loopback_and_no_way_to_the_host(tmp_path: Path) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    try:
        r, out, err = py(f"""
            import socket, json
            res = {{"ifaces": [n for _, n in socket.if_nameindex()]}}
            for host in ("127.0.0.1", "10.0.2.2", "1.1.1.1"):
                s = socket.socket(); s.settimeout(2)
                try:
                    s.connect((host, {port})); res[host] = "CONNECTED"
                except OSError as e:
                    res[host] = type(e).__name__
            srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
            c = socket.create_connection(srv.getsockname())   # own loopback works
            res["own"] = "ok"
            print(json.dumps(res))
        """, tmp_path)
    finally:
        srv.close()
    assert r.ok, err
    res = json.loads(out)
    assert res["ifaces"] == ["lo"]
    assert res["127.0.0.1"] == "ConnectionRefusedError"   # the sandbox's own, empty loopback
    assert res["10.0.2.2"] != "CONNECTED" and res["1.1.1.1"] != "CONNECTED"
    assert res["own"] == "ok"


def test_identity_capabilities_and_host_owner(tmp_path: Path) -> None:
    r, out, err = py("""
        import os, json
        st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
        open("made-inside", "w").write("x")
        print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                          "CapEff": st["CapEff"].strip(), "CapBnd": st["CapBnd"].strip(),
                          "CapPrm": st["CapPrm"].strip(), "NoNewPrivs": st["NoNewPrivs"].strip(),
                          "Seccomp": st["Seccomp"].strip(), "cwd": os.getcwd(),
                          "home": os.environ["HOME"], "hostname": os.uname().nodename,
                          "nproc": [l.split()[2:4] for l in open("/proc/self/limits")
                                    if l.startswith("Max processes")][0]}))
    """, tmp_path)
    assert r.ok, err
    res = json.loads(out)
    assert res["uid"] == 65534 and res["gid"] == 65534
    assert res["CapEff"] == res["CapBnd"] == res["CapPrm"] == "0000000000000000"
    assert res["NoNewPrivs"] == "1" and res["Seccomp"] == "2"
    assert res["cwd"] == res["home"]
    assert res["hostname"] == "sandbox"
    assert res["nproc"] == ["512", "512"]       # Limits().pids, as RLIMIT_NPROC


@needs_root
def test_sandbox_is_an_unprivileged_host_user(tmp_path: Path) -> None:
    with bs.Sandbox() as sb:
        sb.start(["sh", "-c", "echo hi > owned; sleep 1"])
        for _ in range(200):  # until the command itself runs (the wrapper before it is root)
            if (sb.writable / "owned").exists():
                break
            time.sleep(0.025)
        assert sb._cg is not None
        owners = {int(u) for p in sb._cg.procs()
                  for line in Path(f"/proc/{p}/status").read_text().splitlines()
                  if line.startswith(("Uid:", "Gid:")) for u in line.split()[1:]}
        r = sb.wait()
        st = os.stat(sb.writable / "owned")
    assert r.ok
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    assert owners == {65534}       # bwrap and everything it started


def test_read_only_binds_proc_sys_and_root(tmp_path: Path) -> None:
    mge = tmp_path / "mge_home"
    (mge / "hub").mkdir(parents=True)
    (mge / "hub" / "w.txt").write_text("weights")
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    spec = bs.SandboxSpec(mge_home=mge)
    r, out, err = py(f"""
        import json, sys
        res = {{"read": open("{mge}/hub/w.txt").read()}}
        for p in ["{sys.prefix}/x", "{sys.base_prefix}/x", "/usr/x", "/x", "/etc/x",
                  "{mge}/x", "{mge}/hub/w.txt", "/proc/sys/kernel/core_pattern",
                  "/proc/sys/vm/drop_caches", "/usr/local/x"]:
            try:
                open(p, "w").write("1"); res[p] = "WROTE"
            except OSError as e:
                res[p] = type(e).__name__
        open("/tmp/ok", "w").write("tmp is writable")
        open("/dev/shm/ok", "w").write("shm is writable")
        print(json.dumps(res))
    """, tmp_path, spec=spec)
    assert r.ok, err
    res = json.loads(out)
    assert res.pop("read") == "weights"
    assert all(v in ("OSError", "PermissionError") for v in res.values()), res
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


@needs_root
def test_root_mapped_mode_still_cannot_write_proc_sys(tmp_path: Path) -> None:
    """host_uid=None as root: bwrap maps the sandbox to host uid 0 (no capabilities). bwrap
    0.8 does not cover /proc/sys then (the sandbox could write core_pattern); we bind it ro."""
    before = Path("/proc/sys/kernel/core_pattern").read_text()
    r, out, err = py("""
        try:
            open("/proc/sys/kernel/core_pattern", "w").write("core"); print("WROTE")
        except OSError as e:
            print(type(e).__name__)
        open("f", "w")
    """, tmp_path, spec=bs.SandboxSpec(host_uid=None))
    assert r.ok, err
    assert out.strip() == "OSError"
    assert Path("/proc/sys/kernel/core_pattern").read_text() == before


def test_seccomp_refuses_dangerous_syscalls_but_threads_and_subprocess_work(
        tmp_path: Path) -> None:
    r, out, err = py("""
        import ctypes, json, os, subprocess, threading
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        def sc(nr, *a):
            ctypes.set_errno(0)
            rv = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(x) for x in a])
            return os.strerror(ctypes.get_errno()) if rv == -1 else rv
        res = {
            "ptrace": sc(101, 0, 0, 0, 0),            # PTRACE_TRACEME
            "keyctl": sc(250, 0, -3, 0),              # KEYCTL_GET_KEYRING_ID session
            "add_key": sc(248, 0, 0, 0, 0, 0),
            "mount": sc(165, 0, 0, 0, 0, 0),
            "unshare_user": sc(272, 0x10000000),
            "setns": sc(308, 0, 0),
            "bpf": sc(321, 0, 0, 0),
            "perf_event_open": sc(298, 0, 0, -1, -1, 0),
            "userfaultfd": sc(323, 0),
            "kexec_load": sc(246, 0, 0, 0, 0),
            "io_uring_setup": sc(425, 1, 0),
            "clone_newuser": sc(56, 0x10000000 | 17, 0, 0, 0, 0),
            "clone_newuser_hi_bits": sc(56, (1 << 32) | 0x10000000 | 17, 0, 0, 0, 0),
            "clone3": sc(435, 0, 0),
            "tiocsti": sc(16, 0, 0x5412, 0),
            "tiocsti_hi_bits": sc(16, 0, (1 << 32) | 0x5412, 0),
            "plain_ioctl": sc(16, 0, 0x5401, 0),      # TCGETS on /dev/null: not a tty
        }
        t = threading.Thread(target=lambda: None); t.start(); t.join()
        res["thread"] = "ok"
        res["subprocess"] = subprocess.run(["sh", "-c", "echo sub"], capture_output=True,
                                           text=True).stdout.strip()
        print(json.dumps(res))
    """, tmp_path)
    assert r.ok, err
    res = json.loads(out)
    eperm = os.strerror(1)
    for k in ("ptrace", "keyctl", "add_key", "mount", "unshare_user", "setns", "bpf",
              "perf_event_open", "userfaultfd", "kexec_load", "io_uring_setup",
              "clone_newuser", "clone_newuser_hi_bits", "tiocsti", "tiocsti_hi_bits"):
        assert res[k] == eperm, (k, res[k])
    assert res["clone3"] == os.strerror(38)              # ENOSYS: glibc falls back to clone
    assert res["plain_ioctl"] == os.strerror(25)         # ENOTTY: other ioctls untouched
    assert res["thread"] == "ok" and res["subprocess"] == "sub"


def test_seccomp_numbers_match_libseccomp() -> None:
    name = ctypes.util.find_library("seccomp")
    if not name:
        pytest.skip("libseccomp not installed")
    lib = ctypes.CDLL(name)
    for sc, nr in bs.SECCOMP_EPERM.items():
        assert lib.seccomp_syscall_resolve_name(sc.encode()) == nr, sc
    for sc, nr in (("clone", 56), ("clone3", 435), ("ioctl", 16)):
        assert lib.seccomp_syscall_resolve_name(sc.encode()) == nr
    assert len(bs.seccomp_program()) % 8 == 0


def test_pipe_fd_passes_through(tmp_path: Path) -> None:
    r_fd, w_fd = os.pipe()
    try:
        with bs.Sandbox() as sb:
            sb.start([PY, "-c", "import os, json; fd = int(os.environ['RESULT_FD']); "
                      "os.write(fd, (json.dumps({'type': 'done', 'uid': os.getuid()}) + '\\n')"
                      ".encode())"], env={"RESULT_FD": str(w_fd)}, pass_fds=(w_fd,))
            os.close(w_fd)
            w_fd = -1
            data = b""
            while chunk := os.read(r_fd, 4096):
                data += chunk
            r = sb.wait()
    finally:
        os.close(r_fd)
        if w_fd >= 0:
            os.close(w_fd)
    assert r.ok
    assert json.loads(data) == {"type": "done", "uid": 65534}


def test_outputs_are_read_without_following_the_runs_links(tmp_path: Path) -> None:
    with bs.Sandbox() as sb:
        sb.start(["sh", "-c", "mkdir -p out/sub && echo '{\"ok\": 1}' > out/sub/r.json && "
                  "ln -s /etc/shadow out/shadow && ln -s /root out/rootdir && "
                  "mkfifo out/fifo && head -c 2000 /dev/zero > out/big"])
        r = sb.wait()
        assert r.ok, r
        assert json.loads(sb.read_output("out/sub/r.json")) == {"ok": 1}
        for rel, why in (("out/shadow", "symlink"), ("out/rootdir/.bashrc", "symlink"),
                         ("out/fifo", "not a regular file"), ("out/big", "larger than"),
                         ("../../etc/passwd", "plain relative"), ("/etc/passwd", "plain")):
            with pytest.raises(bs.SandboxError, match=why):
                sb.read_output(rel, max_bytes=1000)


# ---------------------------------------------------------------- everything dies with the run


@needs_root
def test_setsid_daemon_dies_with_the_run_and_nothing_is_left(tmp_path: Path) -> None:
    marker = "987.125"
    r, out, err = py(f"""
        import os, subprocess, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "{marker}"])
            os._exit(0)
        time.sleep(0.3)
        print("parent exits; daemon left behind")
    """, tmp_path)
    assert r.ok, err
    time.sleep(0.2)
    assert host_procs_with(marker) == []
    left = [p for p in Path("/sys/fs/cgroup/pids").glob(f"vh-sbx-{os.getpid()}-*")]
    assert left == []
    assert not [d for d in Path("/tmp").glob(f"vh-sbx-{os.getpid()}-*")]
    assert f"vh-sbx-{os.getpid()}-" not in Path("/proc/self/mountinfo").read_text()


def test_kill_of_parent_pid_inside_does_not_reach_the_build(tmp_path: Path) -> None:
    r, out, err = py("""
        import os
        print(os.getppid())
        os.kill(os.getppid(), 9)        # pid 1 of the namespace (bwrap's init): ignored
        print("alive")
    """, tmp_path)
    assert r.ok, err
    assert out.split() == ["1", "alive"]


def test_kill_minus_one_inside_only_reaches_the_sandbox(tmp_path: Path) -> None:
    """kill(-1, SIGKILL) signals every process the caller may signal except itself and init:
    inside the PID namespace that is only the run's own processes."""
    marker = "765.25"
    keeper = subprocess.Popen(["sleep", marker])   # a host process of the build
    try:
        r, out, err = py("""
            import os, subprocess
            p = subprocess.Popen(["sleep", "30"])
            os.kill(-1, 9)
            print(p.wait())
        """, tmp_path, limits=bs.Limits(wall_s=20))
        assert r.ok, err
        assert out.strip() == "-9"
        assert keeper.poll() is None
    finally:
        keeper.kill()
        keeper.wait()


def test_build_death_kills_the_sandbox(tmp_path: Path) -> None:
    marker = "876.375"
    helper = tmp_path / "helper.py"
    helper.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT_DIR)!r})
        from generator.run.isolation.sandbox import Sandbox
        sb = Sandbox(base_dir={str(tmp_path)!r})
        sb.start(["sleep", "{marker}"])
        print("started", flush=True)
        time.sleep(60)
    """))
    p = subprocess.Popen([PY, str(helper)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "started"
        assert host_procs_with(marker)
        p.kill()     # at once: bwrap may still be setting up (before its own die-with-parent)
        p.wait()
        for _ in range(100):
            if not host_procs_with(marker):
                break
            time.sleep(0.05)
        assert host_procs_with(marker) == []
    finally:
        p.kill()
        p.wait()
        if p.stdout is not None:
            p.stdout.close()
        removed = bs.cleanup_stale(tmp_path)
    if ROOT:
        assert any("memory" in x for x in removed) and any(str(tmp_path) in x for x in removed)


def test_caller_kill(tmp_path: Path) -> None:
    with bs.Sandbox() as sb:
        sb.start(["sleep", "30"])
        time.sleep(0.2)
        sb.kill()
        r = sb.wait(timeout=10)
    assert r.killed_by_caller and r.limit is None and r.message == "stopped by the build"


# ---------------------------------------------------------------- limits


# Process-limit tests never run an unbounded fork loop (one took the machine down once):
# the programs below start at most 300 children, linearly, each sleeping then exiting.
BOUNDED_FORKS = """
    import errno, os, sys, time
    if {gate}:
        sys.stdin.readline()          # wait until the build has verified the cgroup
    n, err = 0, None
    for _ in range(300):              # hard cap, whatever the sandbox does
        try:
            pid = os.fork()
        except OSError as e:
            err = errno.errorcode[e.errno]
            break
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        n += 1
    print(n, err, flush=True)
    time.sleep(20)
"""


@needs_root
def test_fork_limit_in_a_verified_pids_cgroup(tmp_path: Path) -> None:
    r_fd, w_fd = os.pipe()
    err = tmp_path / "stderr"
    try:
        with bs.Sandbox(limits=bs.Limits(pids=50, wall_s=30)) as sb, open(err, "wb") as e:
            sb.start([PY, "-c", textwrap.dedent(BOUNDED_FORKS.format(gate=True))],
                     stdin=r_fd, stdout=subprocess.DEVNULL, stderr=e)
            os.close(r_fd)
            r_fd = -1
            group = sb.cgroups.get("pids")
            ok = group is not None and (group / "pids.max").read_text().strip() == "50" \
                and sb.in_cgroups(sb.proc.pid)       # type: ignore[union-attr]
            inner: list[int] = []
            for _ in range(200):                     # the Python inside, once it is running
                inner = [p for p in bs._descendants(sb.proc.pid)  # type: ignore[union-attr]
                         if cmdline(p).startswith(PY.encode() + b"\0")]
                if inner:
                    break
                time.sleep(0.02)
            ok = ok and bool(inner) and all(sb.in_cgroups(p) for p in inner)
            if not ok:
                sb.kill()
                pytest.fail(f"pids cgroup not verified ({sb.cgroups}); fork test not run")
            os.write(w_fd, b"go\n")
            r = sb.wait()
    finally:
        for fd in (r_fd, w_fd):
            if fd >= 0:
                os.close(fd)
    assert r.limit == "pids", r
    assert r.wall_s < 10
    assert r.peak_pids == 50
    assert r.message == "stopped by the build's limit of 50 processes and threads"


def test_process_limit_by_polling_without_cgroups(tmp_path: Path) -> None:
    r, out, err = py(BOUNDED_FORKS.format(gate=False), tmp_path,
                     limits=bs.Limits(pids=50, wall_s=30), spec=bs.SandboxSpec(use_cgroups=False))
    assert r.limit == "pids", (r, err)
    assert r.memory_source == "proc-poll"
    assert r.peak_pids is not None and r.peak_pids <= 50
    assert r.wall_s < 10


def test_rlimit_nproc_is_a_hard_cap_without_cgroups(tmp_path: Path) -> None:
    """Without a pids cgroup the kernel still refuses the 51st task of the run (RLIMIT_NPROC
    set inside the run's user namespace counts only the run's tasks). The poller is slowed
    down here so that the program can report what it got before it is stopped."""
    r, out, err = py(BOUNDED_FORKS.format(gate=False), tmp_path,
                     limits=bs.Limits(pids=50, wall_s=30, poll_s=1.5),
                     spec=bs.SandboxSpec(use_cgroups=False))
    assert r.limit == "pids", (r, err)
    n, why = out.split()
    assert why == "EAGAIN"
    assert int(n) == 48            # 50 = bwrap's pid 1 + the program + 48 children


@needs_root
def test_no_unbounded_run_when_nothing_can_bound_processes(tmp_path: Path) -> None:
    """Root-mapped (host uid 0: RLIMIT_NPROC does not apply) and no pids cgroup: refused."""
    marker = tmp_path / "ran"
    with pytest.raises(bs.SandboxError, match="no way to bound the run's processes"):
        bs.run(["sh", "-c", f"touch {marker}"], bs.SandboxSpec(host_uid=None, use_cgroups=False),
               bs.Limits(pids=50))
    assert not marker.exists()


NON_ROOT_BUILD = """
import json, sys
sys.path.insert(0, {here!r})
from pathlib import Path
from generator.run.isolation.sandbox import Sandbox, run
from generator.run.isolation.spec import Limits, SandboxSpec
from generator.run.isolation.cgroups import cgroup_support
spec = SandboxSpec(python_home=Path("/usr"), venv=None)   # the system Python
res = {{"support": cgroup_support().why_not != ""}}
r = run(["/usr/bin/python3", "-c", "import os; os.listdir('/root')"], spec)
res["root"] = [r.exit_code, r.memory_source]
r = run(["/usr/bin/python3", "-c", {forks!r}], spec, Limits(pids=50, wall_s=30),
           stdout=sys.stderr)
res["forks"] = [r.limit, r.peak_pids, r.wall_s]
r = run(["sleep", "100"], spec, Limits(wall_s=1))
res["time"] = [r.limit, r.wall_s]
print(json.dumps(res))
"""


@needs_root
def test_a_non_root_build_falls_back_to_polling_and_rlimit(tmp_path: Path) -> None:
    """The build as uid 1000: no cgroups, no tmpfs, no host-uid change; still bounded."""
    script = NON_ROOT_BUILD.format(here=str(ROOT_DIR),
                                   forks=textwrap.dedent(BOUNDED_FORKS.format(gate=False)))
    p = subprocess.run(["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
                        "/usr/bin/python3", "-c", script], capture_output=True, text=True,
                       timeout=60, cwd="/tmp", env={"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp"})
    assert p.returncode == 0, p.stderr[-2000:]
    res = json.loads(p.stdout)
    assert res["support"] is True                 # i.e. no cgroups for uid 1000
    assert res["root"][0] == 1 and res["root"][1] in ("none", "proc-poll")   # PermissionError; no cgroup
    limit, peak, wall = res["forks"]
    assert limit == "pids" and peak <= 50 and wall < 10
    assert res["time"][0] == "time"


@needs_root
def test_large_address_space_small_resident_is_not_killed(tmp_path: Path) -> None:
    r, out, err = py("""
        import mmap
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0x4000)
        m = mmap.mmap(-1, 11 << 30, flags=flags)
        for off in range(0, 1 << 30, 4096):
            m[off] = 1
        print(int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) >> 20, "GiB mapped")
    """, tmp_path, limits=bs.Limits(memory_bytes=2 << 30))
    assert r.ok, (r, err)
    assert int(out.split()[0]) >= 11
    assert r.peak_memory_bytes is not None and (1 << 30) < r.peak_memory_bytes < (2 << 30)


@needs_root
def test_one_big_child_hits_the_memory_limit(tmp_path: Path) -> None:
    r, out, err = py("""
        x = b"\\x01" * (2 << 30)
        print("survived")
    """, tmp_path, limits=bs.Limits(memory_bytes=1536 << 20, wall_s=60))
    assert r.limit == "memory", r
    assert "survived" not in out
    assert r.peak_memory_bytes is not None and r.peak_memory_bytes >= (1500 << 20)
    assert r.message.startswith("stopped by the build's memory limit of 1.5 GiB at peak 1.5 GiB")


@needs_root
def test_memory_spread_over_children_hits_the_whole_run_limit(tmp_path: Path) -> None:
    r, out, err = py("""
        import subprocess, sys
        code = "import time; x = b'\\\\x01' * (700 << 20); time.sleep(30)"
        ps = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
        for p in ps:
            p.wait()
        print("all done")
    """, tmp_path, limits=bs.Limits(memory_bytes=1536 << 20, wall_s=60))
    assert r.limit == "memory", (r, err)
    assert r.wall_s < 20
    assert r.peak_memory_bytes is not None and r.peak_memory_bytes >= (1400 << 20)


def test_memory_spread_over_children_without_cgroups(tmp_path: Path) -> None:
    r, out, err = py("""
        import subprocess, sys
        code = "import time; x = b'\\\\x01' * (700 << 20); time.sleep(30)"
        ps = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
        for p in ps:
            p.wait()
    """, tmp_path, limits=bs.Limits(memory_bytes=1536 << 20, wall_s=60),
        spec=bs.SandboxSpec(use_cgroups=False))
    assert r.limit == "memory", (r, err)
    assert r.memory_source == "proc-poll"
    assert r.peak_memory_bytes is not None and r.peak_memory_bytes > (1536 << 20)


def test_wall_time(tmp_path: Path) -> None:
    t = time.monotonic()
    r = bs.run(["sleep", "100"], limits=bs.Limits(wall_s=2))
    assert r.limit == "time" and r.signal == signal.SIGKILL
    assert 2 <= r.wall_s < 8 and time.monotonic() - t < 12  # start-up included: slow on a loaded machine
    assert r.message == "stopped by the build's wall-time limit of 2 s"


@needs_root
def test_disk_limit_tmpfs(tmp_path: Path) -> None:
    r, out, err = py("""
        with open("big", "wb") as f:
            for _ in range(100):
                f.write(b"\\x01" * (1 << 20))
    """, tmp_path, limits=bs.Limits(disk_bytes=50 << 20, wall_s=30))
    assert r.limit == "disk", (r, err)
    assert r.disk_used_bytes is not None and r.disk_used_bytes >= (49 << 20)


@needs_root
def test_disk_limit_covers_tmp(tmp_path: Path) -> None:
    r, out, err = py("""
        with open("/tmp/big", "wb") as f:
            for _ in range(100):
                f.write(b"\\x01" * (1 << 20))
    """, tmp_path, limits=bs.Limits(disk_bytes=50 << 20, wall_s=30))
    assert r.limit == "disk", (r, err)


def test_disk_limit_by_polling(tmp_path: Path) -> None:
    r, out, err = py("""
        import time
        with open("big", "wb") as f:
            for _ in range(100):
                f.write(b"\\x01" * (1 << 20)); f.flush(); time.sleep(0.02)
    """, tmp_path, limits=bs.Limits(disk_bytes=50 << 20, wall_s=30),
        spec=bs.SandboxSpec(use_tmpfs=False))
    assert r.limit == "disk", (r, err)


def test_file_size_limit_python(tmp_path: Path) -> None:
    """CPython ignores SIGXFSZ, so the write fails with EFBIG and the program exits 1."""
    r, out, err = py("""
        with open("big", "wb") as f:
            f.write(b"\\x01" * (20 << 20))
    """, tmp_path, limits=bs.Limits(fsize_bytes=10 << 20))
    assert r.limit == "fsize" and r.exit_code == 1, r
    assert "File too large" in err
    assert r.message == "stopped by the build's file-size limit of 10 MiB"


def test_file_size_limit_signal(tmp_path: Path) -> None:
    r = bs.run(["sh", "-c", "head -c 20000000 /dev/zero > big"],
               limits=bs.Limits(fsize_bytes=10 << 20))
    assert r.limit == "fsize" and r.signal == signal.SIGXFSZ, r


# ---------------------------------------------------------------- MegEngine


def test_megengine_imports_and_runs_a_forward(tmp_path: Path) -> None:
    r, out, err = py("""
        import cv2, numpy as np
        import megengine as mge, megengine.module as M, megengine.functional as F
        net = M.Sequential(M.Conv2d(3, 4, 3, padding=1), M.ReLU())
        x = mge.tensor(np.ones((1, 3, 8, 8), dtype="float32"))
        y = F.flatten(net(x), 1)
        print(mge.__version__, y.shape, float(y.sum()) >= 0)
    """, tmp_path, limits=bs.Limits(memory_bytes=4 << 30, wall_s=120), env=MGE_ENV)
    assert r.ok, (r, err[-3000:])
    assert out.split()[0] == "1.13.0" and "True" in out

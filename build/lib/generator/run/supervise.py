"""One program run: the child interpreter started in its run folder, watched block by block,
killed at its deadline, and its blocks' results read from the report pipe.

Isolation of a run:
- the child is `python runner.py` under `unshare --net` when that works (checked once per
  process), i.e. in a network namespace with no interfaces; in any case the offline shim
  (run/child/site/vh_offline.py) serves store URLs and fails every other connection at once;
- a fresh session/process group, killed as a whole when the run ends or a deadline passes;
- an allow-listed environment (no tokens or secrets of the parent), HOME/TMPDIR/cwd in a
  temporary folder deleted afterwards, MGE_HOME materialised from the asset store;
- limits: wall time per block (the child's SIGALRM, then the parent's kill after a grace period),
  RLIMIT_AS and RLIMIT_CORE=0 set by the runner itself before any card code.

Peak memory per block is the child's peak resident set size while the block ran (VmHWM, reset
before each block via /proc/self/clear_refs; where that is unsupported, ru_maxrss: the peak of
the whole program so far). It is the whole interpreter, so it includes what earlier blocks keep.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from generator.core.model import BlockResult, RunStatus, Snippet
from generator.run import sandbox
from generator.run.child import CHILD_DIR, protocol
from generator.run.plan import Limits, Plan, timeout_of

RUNNER = CHILD_DIR / "runner.py"
SITE_DIR = CHILD_DIR / "site"

SpawnHook = Callable[[Sequence[str]], None]


class RunAssetsLike(Protocol):
    """What execute reads of store.RunAssets (a test double only needs these). Read-only
    properties, so the frozen dataclass store.RunAssets satisfies the protocol."""

    @property
    def mge_home(self) -> Path: ...
    @property
    def url_map(self) -> dict[str, str]: ...
    @property
    def substitutes(self) -> frozenset[str]: ...
    @property
    def missing(self) -> tuple[Any, ...]: ...  # LockItem: .url, .kind, .repo (and .branch, .commit)


class AssetsFactory(Protocol):
    """Materialises the assets of one run into `run_dir` (called only when a program really
    runs, once per program, into a folder deleted afterwards). `digest` identifies everything the
    store can offer; it is part of every cache key. (A read-only property, so the frozen
    StoreAssets satisfies it.)"""

    @property
    def digest(self) -> str: ...

    def __call__(self, run_dir: Path) -> RunAssetsLike: ...


def network_isolation() -> tuple[str, ...]:
    return sandbox.network_prefix()


def _child_env(run_dir: Path, assets: RunAssetsLike, threads: int) -> dict[str, str]:
    """The shared allow-list environment, plus the offline shim and where it reports."""
    env = sandbox.child_env(run_dir / "home", assets.mge_home, threads)
    env.update({
        "TMPDIR": str(run_dir / "tmp"),
        "PYTHONPATH": str(SITE_DIR),
        protocol.OFFLINE_CONFIG_ENV: str(run_dir / "offline.json"),
        protocol.EVENTS_ENV: str(run_dir / "events.jsonl"),
    })
    return env


def _offline_config(assets: RunAssetsLike) -> dict[str, object]:
    missing = tuple(getattr(assets, "missing", ()))
    repos = []
    for it in missing:
        if getattr(it, "kind", "") == "hub-repo" and getattr(it, "repo", None):
            branch = getattr(it, "branch", "master") or "master"
            commit = getattr(it, "commit", None)
            repos.append(it.repo + (f":{branch}" if branch != "master" else "")
                         + (f"@{commit}" if commit else ""))
    return {
        "url_map": {u: str(p) for u, p in assets.url_map.items()},
        "substitutes": sorted(assets.substitutes),
        "missing_urls": sorted(it.url for it in missing),
        "missing_repos": repos,
    }


def _job(plan: Plan, run_dir: Path, limits: Limits) -> dict[str, object]:
    blocks = []
    for s in plan.blocks:
        timeout, source = timeout_of(s, limits)
        skip, expect, contains = s.mark("skip"), s.mark("expect-error"), s.mark("output-contains")
        blocks.append({
            "code": s.code, "code_line": s.code_line, "timeout": timeout, "timeout_source": source,
            "skip": (skip.value or "skipped by mark") if skip else None,
            "expect_error": expect.value.strip() if expect else None,
            "output_contains": contains.value if contains else None,
        })
    return {"card_path": plan.card.path, "card_source": plan.card.source,
            "out_dir": str(run_dir / "out"), "memory_bytes": limits.memory_bytes, "blocks": blocks}


def _signal_name(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _tail(path: Path, n: int = 2000) -> str:
    text = protocol.read_bounded(str(path), 100_000)
    return text[-n:].strip()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _block(s: Snippet, status: RunStatus, **kw: Any) -> BlockResult:
    return BlockResult(lang=s.lang, index=s.index, line=s.loc.line, status=status, **kw)


def spawn(plan: Plan, assets_factory: AssetsFactory, limits: Limits, threads: int,
           on_spawn: SpawnHook | None) -> list[BlockResult]:
    """Run the plan's blocks in a child; one BlockResult per block of plan.blocks."""
    run_dir = Path(tempfile.mkdtemp(prefix="vh-run-"))
    try:
        for sub in ("work", "home", "tmp", "out"):
            (run_dir / sub).mkdir()
        assets = assets_factory(run_dir)

        (run_dir / "offline.json").write_text(json.dumps(_offline_config(assets)), encoding="utf-8")
        (run_dir / "job.json").write_text(json.dumps(_job(plan, run_dir, limits)), encoding="utf-8")
        (run_dir / "events.jsonl").touch()
        return _supervise(plan, run_dir, assets, limits, threads, on_spawn)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _supervise(plan: Plan, run_dir: Path, assets: RunAssetsLike, limits: Limits, threads: int,
               on_spawn: SpawnHook | None) -> list[BlockResult]:
    timeouts = [timeout_of(s, limits)[0] for s in plan.blocks]
    cmd = [*network_isolation(), sys.executable, str(RUNNER), str(run_dir / "job.json")]
    env = _child_env(run_dir, assets, threads)
    read_fd, write_fd = os.pipe()
    env[protocol.RESULT_FD_ENV] = str(write_fd)
    if network_isolation():
        env["VH_NETNS"] = "1"  # the runner brings loopback up inside the empty namespace
    if on_spawn is not None:
        on_spawn(cmd)
    with open(run_dir / "runner.stdout", "wb") as out_f, open(run_dir / "runner.stderr", "wb") as err_f:
        try:
            proc = subprocess.Popen(cmd, cwd=run_dir / "work", env=env, stdin=subprocess.DEVNULL,
                                    stdout=out_f, stderr=err_f, pass_fds=(write_fd,),
                                    start_new_session=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
    results: dict[int, BlockResult] = {}
    started: dict[int, float] = {}
    current: int | None = None
    done, internal, killed_for = False, "", None
    t0 = time.monotonic()
    overall = t0 + limits.startup_s + sum(timeouts) + limits.kill_grace_s * len(timeouts)
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ)
    try:
        while True:
            now = time.monotonic()
            deadline = overall
            if current is not None and current not in results:
                deadline = min(deadline, started[current] + timeouts[current] + limits.kill_grace_s)
            if now >= deadline:
                killed_for = current
                break
            if not sel.select(timeout=min(deadline - now, 1.0)):
                continue
            data = os.read(read_fd, 1 << 16)
            if not data:
                break  # EOF: the runner finished, crashed or was killed
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                try:
                    msg = json.loads(line)
                    kind = msg.get("type")
                except (ValueError, AttributeError):
                    continue  # not the runner's (card code wrote to the pipe): ignore it
                if kind == "start":
                    current = int(msg["i"])
                    started[current] = time.monotonic()
                elif kind == "result":
                    i = int(msg["i"])
                    s = plan.blocks[i]
                    results[i] = _block(
                        s, msg["status"], flags=tuple(msg.get("flags", ())),
                        duration_s=float(msg.get("duration_s", 0.0)),
                        peak_mb=float(msg.get("peak_mb", 0.0)), stdout=msg.get("stdout", ""),
                        stderr=msg.get("stderr", ""), traceback=msg.get("traceback", ""),
                        reason=msg.get("reason", ""))
                elif kind == "done":
                    done = True
                elif kind == "internal-error":
                    internal = str(msg.get("message", ""))
            if done:
                break  # everything is reported: no need to wait for the interpreter to exit
    finally:
        sel.close()
        os.close(read_fd)
        _kill_group(proc)  # also whatever the card started in the background
        proc.wait()

    if len(results) == len(plan.blocks):
        return [results[i] for i in range(len(plan.blocks))]
    # The child did not report every block: it timed out, crashed, was killed or never started.
    out: list[BlockResult] = []
    stop = ""
    for i, s in enumerate(plan.blocks):
        if i in results:
            out.append(results[i])
            continue
        if stop:
            out.append(_block(s, "skipped", reason=stop))
            continue
        stdout_p, stderr_p = protocol.stream_paths(str(run_dir / "out"), i)
        partial = dict(stdout=protocol.read_bounded(stdout_p), stderr=protocol.read_bounded(stderr_p),
                       duration_s=round(time.monotonic() - started.get(i, t0), 4))
        if killed_for == i:
            out.append(_block(s, "timeout", reason=f"timed out after {timeouts[i]:g} s "
                              f"({timeout_of(s, limits)[1]}); the process was killed", **partial))
        elif killed_for is not None or current == i or i in started:
            why = ("the program exceeded its overall deadline" if killed_for is not None
                   else f"the Python process died ({_signal_name(proc.returncode)})")
            if proc.returncode == -signal.SIGKILL and killed_for is None:
                why += f"; the memory limit is {limits.memory_bytes / 2**30:g} GiB"
            out.append(_block(s, "failed", reason=why, **partial))
        else:
            detail = internal or _tail(run_dir / "runner.stderr") or _signal_name(proc.returncode)
            out.append(_block(s, "failed", reason=f"runner error: {detail}"))
        stop = "earlier block failed"
    return out

"""One program run: the child interpreter started in a sandbox, watched block by block, killed at
its deadline, and its blocks' results read from the report pipe.

Isolation of a run (run/isolation, docs/SECURITY.md):
- the child is `python runner.py` in a bubblewrap sandbox: its own user, mount, PID, IPC, UTS and
  network namespaces (only `lo`), host uid 65534, a seccomp filter; it sees the Python and its
  venv, the runner's folder, the run's MGE_HOME and the store files the offline shim serves, all
  read-only, and one writable folder (cwd, HOME, /tmp); nothing of the checkout, the store, the
  caches, the site or the cards;
- the offline shim (run/child/site/vh_offline.py) serves store URLs and fails every other
  connection at once;
- an allow-listed environment (no tokens or secrets of the parent);
- limits: wall time per block (the child's SIGALRM, then the parent's kill after a grace
  period); resident memory, processes and disk over the whole run (cgroups), so a run stopped by
  one gets the status `limit`, not the card's error.

Everything the parent reads of the run's folder (a block's output after a crash) is read with
isolation/outputs.py: the child controls that folder.

Peak memory per block is the child's peak resident set size while the block ran (VmHWM, reset
before each block via /proc/self/clear_refs; where that is unsupported, ru_maxrss: the peak of
the whole program so far). It is the whole interpreter, so it includes what earlier blocks keep.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from generator.core.model import RUN_STATUSES, BlockResult, RunStatus, Snippet
from generator.run import reasons, sandbox
from generator.run.child import CHILD_DIR, protocol
from generator.run.isolation.outputs import read_head_tail
from generator.run.isolation.spec import RunResult
from generator.run.plan import Limits, Plan, memory_of, timeout_of

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




def _child_env(run_dir: Path, assets: RunAssetsLike, threads: int) -> dict[str, str]:
    """The shared allow-list environment, plus the offline shim and where it reports."""
    env = sandbox.child_env(run_dir / "home", assets.mge_home, threads)
    env.update({
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
            # the author's words, or none: how a page says it (run/reasons.CODES)
            "skip_code": ("skip-mark" if skip.value else "skip-unexplained") if skip else "",
            "skip_args": {"text": skip.value} if skip and skip.value else {},
            "expect_error": expect.value.strip() if expect else None,
            "output_contains": contains.value if contains else None,
        })
    return {"card_path": plan.card.path, "card_source": plan.card.source,
            "out_dir": str(run_dir / "out"), "blocks": blocks}


def _block(s: Snippet, status: RunStatus, **kw: Any) -> BlockResult:
    return BlockResult(lang=s.lang, index=s.index, line=s.loc.line, status=status, **kw)


def spawn(plan: Plan, assets_factory: AssetsFactory, limits: Limits, threads: int,
          on_spawn: SpawnHook | None) -> list[BlockResult]:
    """Run the plan's blocks in a sandboxed child; one BlockResult per block of plan.blocks."""
    host = Path(tempfile.mkdtemp(prefix="vh-assets-"))  # the run's MGE_HOME: read-only inside
    try:
        assets = assets_factory(host)
        timeouts = [timeout_of(s, limits)[0] for s in plan.blocks]
        overall = limits.startup_s + sum(timeouts) + limits.kill_grace_s * len(timeouts)
        memory, memory_source = memory_of(plan.blocks, limits)
        box = sandbox.open_sandbox(
            isolate=limits.isolate, memory_bytes=memory, pids=limits.pids, disk_bytes=limits.disk_bytes,
            wall_s=overall + limits.kill_grace_s, mge_home=assets.mge_home,
            binds=[CHILD_DIR, *map(Path, assets.url_map.values())])
        with box:
            run_dir = box.writable
            for sub in ("work", "home", "tmp", "out"):
                (run_dir / sub).mkdir()
            (run_dir / "offline.json").write_text(json.dumps(_offline_config(assets)), encoding="utf-8")
            (run_dir / "job.json").write_text(json.dumps(_job(plan, run_dir, limits)), encoding="utf-8")
            (run_dir / "events.jsonl").touch()
            sandbox.ACTIVE.add(box)
            try:
                return _supervise(plan, box, assets, limits, threads, on_spawn, timeouts, overall, memory_source)
            finally:
                sandbox.ACTIVE.discard(box)
    finally:
        shutil.rmtree(host, ignore_errors=True)


@dataclass
class _Watch:
    """What the parent learns of a run from the report pipe."""

    results: dict[int, BlockResult] = field(default_factory=dict)
    started: dict[int, float] = field(default_factory=dict)
    current: int | None = None
    done: bool = False
    internal: str = ""
    killed_for: int | None = None  # the block whose deadline passed


def _supervise(plan: Plan, box: sandbox.Sandbox, assets: RunAssetsLike, limits: Limits, threads: int,
               on_spawn: SpawnHook | None, timeouts: list[float], overall_s: float,
               memory_source: str) -> list[BlockResult]:
    run_dir = box.writable
    cmd = [sys.executable, str(RUNNER), str(run_dir / "job.json")]
    env = _child_env(run_dir, assets, threads)
    read_fd, write_fd = os.pipe()
    env[protocol.RESULT_FD_ENV] = str(write_fd)
    if on_spawn is not None:
        on_spawn(cmd)
    logs = box.root  # host-only: the child cannot see or change these
    with open(logs / "runner.stdout", "wb") as out_f, open(logs / "runner.stderr", "wb") as err_f:
        try:
            box.start(cmd, cwd=run_dir / "work", env=env, stdin=None, stdout=out_f, stderr=err_f,
                      pass_fds=(write_fd,))
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
    w = _Watch()
    t0 = time.monotonic()
    in_time = False
    try:
        in_time = _read_reports(plan, read_fd, w, timeouts, t0 + overall_s, limits.kill_grace_s)
    finally:
        os.close(read_fd)
        if in_time:  # done, or the runner ended on its own: let it exit, so its status is its own
            _wait_exit(box, limits.kill_grace_s)
        box.kill()  # also whatever the card started in the background
    ended = box.wait()
    return _results(plan, box, w, ended, timeouts, limits, t0, memory_source)


def _read_reports(plan: Plan, read_fd: int, w: _Watch, timeouts: list[float], overall: float,
                  grace: float) -> bool:
    """Read the runner's JSON lines until it reports `done`, the pipe closes, or a deadline
    passes (False)."""
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(read_fd, selectors.EVENT_READ)
    try:
        while not w.done:
            now = time.monotonic()
            deadline = overall
            if w.current is not None and w.current not in w.results:
                deadline = min(deadline, w.started[w.current] + timeouts[w.current] + grace)
            if now >= deadline:
                w.killed_for = w.current
                return False
            if not sel.select(timeout=min(deadline - now, 1.0)):
                continue
            data = os.read(read_fd, 1 << 16)
            if not data:
                return True  # EOF: the runner finished, crashed or was killed
            buf += data
            *lines, buf = buf.split(b"\n")
            for line in lines:
                _report(plan, line, w)
        return True
    finally:
        sel.close()


def _report(plan: Plan, line: bytes, w: _Watch) -> None:
    """One message. Card code shares the runner's process and may write to the pipe too, so a
    message that is not well-formed, or out of order, is ignored rather than trusted."""
    try:
        msg = json.loads(line)
        kind, i = msg.get("type"), msg.get("i")
    except (ValueError, AttributeError):
        return
    if kind in ("start", "result") and not (isinstance(i, int) and 0 <= i < len(plan.blocks)):
        return
    if kind == "start" and i not in w.started:
        w.current = i
        w.started[i] = time.monotonic()
    elif kind == "result" and i not in w.results and msg.get("status") in RUN_STATUSES:
        try:
            w.results[i] = _block(
                plan.blocks[i], msg["status"], flags=tuple(str(f) for f in msg.get("flags", ())),
                duration_s=float(msg.get("duration_s", 0.0)), peak_mb=float(msg.get("peak_mb", 0.0)),
                stdout=str(msg.get("stdout", "")), stderr=str(msg.get("stderr", "")),
                traceback=str(msg.get("traceback", "")), reason=str(msg.get("reason", "")),
                served=_served(msg.get("served")), **_reason_data(msg))
        except (TypeError, ValueError):
            return
    elif kind == "done" and len(w.results) == len(plan.blocks):
        w.done = True
    elif kind == "internal-error":
        w.internal = str(msg.get("message", ""))[:2000]


def _reason_data(msg: dict[str, Any]) -> dict[str, Any]:
    """The reason's code and values as a result message gives them; none unless they are a
    listed code with exactly its values (card code can write to the pipe too)."""
    code, args = reasons.checked(msg.get("code"), msg.get("args"))
    return {"reason_code": code, "reason_args": args}


def _served(value: object) -> tuple[str, ...]:
    """The URLs a result message says the store served (card code can write to the pipe too:
    anything but a short list of short strings is dropped; the page names only locked URLs)."""
    if not isinstance(value, list):
        return ()
    return tuple(u for u in value[:64] if isinstance(u, str) and len(u) <= 2048)


def _wait_exit(box: sandbox.Sandbox, grace: float) -> None:
    """After `done` the runner exits at once (os._exit(0)); give it a moment to do so."""
    proc = box.proc
    if proc is None:
        return
    try:
        proc.wait(timeout=grace)
    except Exception:  # noqa: BLE001 - still running: the caller kills it
        pass


def _results(plan: Plan, box: sandbox.Sandbox, w: _Watch, ended: RunResult, timeouts: list[float],
             limits: Limits, t0: float, memory_source: str) -> list[BlockResult]:
    if len(w.results) == len(plan.blocks):
        out = [_limit_of(w.results[i], ended) for i in range(len(plan.blocks))]
        if w.done and ended.exit_code != 0 and not ended.killed_by_caller:
            # The runner reports `done` and exits 0 right after; anything else happened after
            # the last block, so that block is not trusted to have passed.
            last = out[-1]
            if last.status == "passed":
                out[-1] = replace_status(last, "failed", f"the program did not exit cleanly after its "
                                                           f"last block ({ended.message})",
                                         "unclean-exit", {"detail": ended.message})
        return out
    # The child did not report every block: it timed out, crashed, hit a limit, or never started.
    out = []
    stop: dict[str, Any] = {}  # what the blocks after a bad one say
    for i, s in enumerate(plan.blocks):
        if i in w.results:
            out.append(w.results[i])
            continue
        if stop:
            out.append(_block(s, "skipped", **stop))
            continue
        rel = [os.path.relpath(p, box.writable) for p in protocol.stream_paths(str(box.writable / "out"), i)]
        partial = dict(stdout=read_head_tail(box.writable, rel[0], protocol.STREAM_CAP, protocol.TAIL),
                       stderr=read_head_tail(box.writable, rel[1], protocol.STREAM_CAP, protocol.TAIL),
                       duration_s=round(time.monotonic() - w.started.get(i, t0), 4))
        if ended.limit is not None and not ended.killed_by_caller and (w.current == i or i in w.started):
            note = f" ({memory_source})" if ended.limit == "memory" else ""
            out.append(_block(s, "limit", reason=ended.message + note, **_limit_reason(ended), **partial))
            stop = dict(reason="stopped by a limit of the build in an earlier block", reason_code="earlier-limit")
            continue
        if w.killed_for == i:
            out.append(_block(s, "timeout", reason=f"timed out after {timeouts[i]:g} s "
                              f"({timeout_of(s, limits)[1]}); the process was killed",
                              reason_code="timeout", reason_args={"seconds": f"{timeouts[i]:g}"}, **partial))
        elif w.killed_for is not None:
            out.append(_block(s, "failed", reason="the program exceeded its overall deadline",
                              reason_code="deadline", **partial))
        elif w.current == i or i in w.started:
            out.append(_block(s, "failed", reason=f"the Python process died ({ended.message})",
                              reason_code="process-died", reason_args={"detail": ended.message}, **partial))
        else:
            detail = w.internal or _log_tail(box.root / "runner.stderr") or ended.message
            out.append(_block(s, "failed", reason=f"runner error: {detail}", reason_code="runner-error",
                              reason_args={"detail": detail[:reasons.MAX_VALUE]}))
        stop = dict(reason="earlier block failed", reason_code="earlier-failed")
    return out


def _limit_reason(ended: RunResult) -> dict[str, Any]:
    """The code and value of the limit that stopped the run (none for a limit without one)."""
    code, args = reasons.checked(f"limit.{ended.limit}", {"limit": ended.limit_value})
    return {"reason_code": code, "reason_args": args} if ended.limit_value else {}


# What a block's own error says when the sandbox's limit caused it (the kernel refused the
# write or the allocation): the limit's, not the card's.
_LIMIT_ERRORS = {"disk": ("[Errno 28]",), "fsize": ("[Errno 27]",), "memory": ("MemoryError",)}


def _limit_of(b: BlockResult, ended: RunResult) -> BlockResult:
    signs = _LIMIT_ERRORS.get(ended.limit or "", ())
    if b.status == "failed" and any(sign in b.reason for sign in signs):
        data = _limit_reason(ended)
        return replace_status(b, "limit", f"{ended.message} ({b.reason})", data.get("reason_code", ""),
                              data.get("reason_args", {}))
    return b


def replace_status(b: BlockResult, status: RunStatus, reason: str, code: str = "",
                   args: Mapping[str, str] | None = None) -> BlockResult:
    """`b` with another status and reason (`code`, `args`: the reason as data, run/reasons.py)."""
    return replace(b, status=status, reason=reason, reason_code=code, reason_args=dict(args or {}))


def _log_tail(path: Path, n: int = 2000) -> str:
    text = protocol.read_bounded(str(path), 100_000)
    return text[-n:].strip()

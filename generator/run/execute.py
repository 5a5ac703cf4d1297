"""Run every card program for real, offline, in a child interpreter; cache the results.

A program is `card.program(lang)`: the prelude and that language's Python blocks, run in order in
one fresh interpreter (generator/run/child/runner.py) sharing one `__main__` namespace. When zh_CN and
en_US have the same code and marks, the program runs once and reports for both languages.

Isolation of a run (see `_spawn`):
- the child is `python runner.py` under `unshare --net` when that works (checked once per
  process), i.e. in a network namespace with no interfaces; in any case the offline shim
  (child/site/vh_offline.py) serves store URLs and fails every other connection at once;
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

import concurrent.futures
import functools
import datetime
import json
import os
import platform
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, TextIO

from generator import __version__ as TOOL_VERSION
from generator.run import sandbox
from generator.run.child import protocol
from generator.core.errors import Code, Diagnostic, error
from generator.core.model import PRELUDE, BlockResult, Card, CardVerification, ProgramResult, RunStatus, Snippet
from generator.run.cache import RunCache, digest

CHILD_DIR = Path(__file__).parent / "child"
RUNNER = CHILD_DIR / "runner.py"
SITE_DIR = CHILD_DIR / "site"
PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = PROJECT_DIR / ".cache" / "runs"

BAD = ("failed", "timeout", "blocked")


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Limits:
    """Everything here is part of the cache key: a different limit can give a different result."""

    block_timeout_s: float = 600.0  # per block, unless the card says `<!-- verify: timeout=N -->`
    # `import megengine` maps ~2.2 GB of address space before any model (VmPeak, measured); a
    # ResNet-50 batch of 32 needs ~3.6 GB resident. 8 GiB leaves room and still stops a runaway.
    memory_bytes: int = sandbox.DEFAULT_MEMORY_BYTES
    kill_grace_s: float = 5.0  # after a block's limit, how long the child gets to report it
    startup_s: float = 60.0  # interpreter start-up allowance in the whole-program deadline


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


@dataclass(frozen=True)
class StoreAssets:
    """The real AssetsFactory: store.materialize / store.item_digest for one lock and store."""

    lock: Any
    store: Any
    megengine_version: str = "1.13.0"
    digest: str = ""

    def __call__(self, run_dir: Path) -> RunAssetsLike:
        from generator.store.content import materialize

        return materialize(self.lock, self.store, run_dir, self.megengine_version)


def store_assets(lock: Any, store: Any, megengine_version: str = "1.13.0") -> StoreAssets:
    from generator.store.content import item_digest

    return StoreAssets(lock, store, megengine_version, item_digest(lock, store))


@dataclass(frozen=True)
class Progress:
    """One progress event: `event` is started | finished | cached."""

    event: str
    card_id: str
    langs: tuple[str, ...]
    total: int
    done: int
    running: int
    failed: int
    result: ProgramResult | None = None


ProgressFn = Callable[[Progress], None]
SpawnHook = Callable[[Sequence[str]], None]


# ---------------------------------------------------------------- environment facts


def network_isolation() -> tuple[str, ...]:
    """Kept under this name for callers of the executor; the probe lives in sandbox.py."""
    return sandbox.network_prefix()


def runtime_environment() -> dict[str, str]:
    """Versions and platform facts that change a run's result (part of its cache key)."""
    return {**sandbox.library_versions(), "platform": f"{platform.system()}-{platform.machine()}",
            "device": "cpux"}


@functools.lru_cache(maxsize=1)
def _runner_digest() -> str:
    """Hash of the child-side code: changing how blocks are run invalidates cached runs even
    before the tool version is bumped."""
    h = []
    for p in sorted(CHILD_DIR.rglob("*.py")):
        h.append((str(p.relative_to(CHILD_DIR)), p.read_text(encoding="utf-8")))
    return digest({"files": h, "execute": Path(__file__).read_text(encoding="utf-8")})


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class Plan:
    """One program to run: `blocks` of the first language in `langs`, reported for all of them
    (`per_lang[lang]` are that language's own section snippets, aligned with the run's)."""

    card: Card
    langs: tuple[str, ...]
    blocks: tuple[Snippet, ...]
    per_lang: Mapping[str, tuple[Snippet, ...]]


def _judging(s: Snippet) -> tuple[object, ...]:
    return (s.code, tuple((m.kind, m.value) for m in s.marks))


def plan_programs(card: Card) -> list[Plan]:
    """Group the card's languages whose programs are identical (same code, same marks)."""
    plans: list[Plan] = []
    groups: dict[tuple[object, ...], list[str]] = {}
    for lang in card.sections:
        sec = tuple(s for s in card.program(lang) if s.lang != PRELUDE)
        groups.setdefault(tuple(_judging(s) for s in sec), []).append(lang)
    for langs in groups.values():
        per_lang = {lang: tuple(s for s in card.program(lang) if s.lang != PRELUDE) for lang in langs}
        plans.append(Plan(card, tuple(langs), card.program(langs[0]), per_lang))
    if not plans and card.prelude is not None and card.prelude.is_python:
        plans.append(Plan(card, (), (card.prelude,), {}))
    return [p for p in plans if p.blocks]


def _timeout_of(s: Snippet, limits: Limits) -> tuple[float, str]:
    m = s.mark("timeout")
    if m is not None:
        try:
            value = float(m.value.strip().rstrip("s"))
            if value > 0:
                return value, f"limit from <!-- verify: timeout={m.value} --> at line {m.loc.line}"
        except ValueError:
            pass  # the parser reports bad marks; fall back to the default
    return limits.block_timeout_s, "default limit"


def program_key(plan: Plan, assets_digest: str, limits: Limits) -> str:
    snippets = list(plan.blocks) + [s for lang in plan.langs[1:] for s in plan.per_lang[lang]]
    return digest({
        "tool": TOOL_VERSION,
        "runner": _runner_digest(),
        "card": plan.card.path,
        "langs": list(plan.langs),
        "blocks": [{"lang": s.lang, "index": s.index, "line": s.loc.line, "code_line": s.code_line,
                    "info": s.info, "code": s.code,
                    "marks": [[m.kind, m.value, m.loc.line] for m in s.marks]} for s in snippets],
        "assets": assets_digest,
        "env": runtime_environment(),
        "limits": [limits.block_timeout_s, limits.memory_bytes],
    })


# ---------------------------------------------------------------- one run


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
        timeout, source = _timeout_of(s, limits)
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


def _spawn(plan: Plan, assets_factory: AssetsFactory, limits: Limits, threads: int,
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
    timeouts = [_timeout_of(s, limits)[0] for s in plan.blocks]
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
                              f"({_timeout_of(s, limits)[1]}); the process was killed", **partial))
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


# ---------------------------------------------------------------- results for every language


_FRAME_RE = re.compile(r'(File "(?P<path>[^"]+)", line )(?P<line>\d+)')


def _for_lang(r: BlockResult, run: Snippet, other: Snippet, card_path: str) -> BlockResult:
    """A block's result restated for the same block of another language (identical code at
    another place in the card): its line, and traceback lines moved by the same offset."""
    offset = other.code_line - run.code_line
    lo, hi = run.code_line, run.code_line + run.code.count("\n") + 1

    def move(m: re.Match[str]) -> str:
        line = int(m.group("line"))
        if m.group("path") == card_path and lo <= line < hi:
            line += offset
        return f"{m.group(1)}{line}"

    return replace(r, lang=other.lang, index=other.index, line=other.loc.line,
                   traceback=_FRAME_RE.sub(move, r.traceback) if r.traceback else "")


def _program_result(plan: Plan, blocks: Sequence[BlockResult], key: str, ran_at: str) -> ProgramResult:
    allb = list(blocks)
    n_pre = len(plan.blocks) - (len(plan.per_lang[plan.langs[0]]) if plan.langs else 0)
    for lang in plan.langs[1:]:
        for run_s, other_s, r in zip(plan.blocks[n_pre:], plan.per_lang[lang], blocks[n_pre:]):
            allb.append(_for_lang(r, run_s, other_s, plan.card.path))
    # How the run was kept offline is recorded, but not part of the cache key: probing it
    # starts a process, and a rebuild with nothing changed must start none.
    network = "network namespace + shim" if network_isolation() else "shim only"
    return ProgramResult(card_id=plan.card.meta.id, langs=plan.langs, blocks=tuple(allb),
                         cache_key=key, ran_at=ran_at,
                         environment={**runtime_environment(), "network": network},
                         card_path=plan.card.path)


def run_plan(plan: Plan, assets_factory: AssetsFactory, limits: Limits = Limits(), *,
             cache: RunCache | None = None, rerun: bool = False, threads: int = 1,
             on_spawn: SpawnHook | None = None) -> ProgramResult:
    """One program: from the cache unless `rerun`, else run in a child (and cache the result)."""
    key = program_key(plan, assets_factory.digest, limits)
    if cache is not None and not rerun:
        hit = cache.get(key)
        if hit is not None:
            return hit
    ran_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    blocks = _spawn(plan, assets_factory, limits, threads, on_spawn)
    result = _program_result(plan, blocks, key, ran_at)
    if cache is not None and not any(b.reason.startswith("runner error") for b in blocks):
        cache.put(result)  # a broken tool is not a result worth keeping
    return result


def run_card(card: Card, assets_factory: AssetsFactory, limits: Limits = Limits(), **kw: Any
             ) -> tuple[ProgramResult, ...]:
    return tuple(run_plan(p, assets_factory, limits, **kw) for p in plan_programs(card))


def run_all(cards: Iterable[Card], assets_factory: AssetsFactory, jobs: int | None = None,
            rerun: bool = False, progress: ProgressFn | None = None, *,
            limits: Limits = Limits(), cache: RunCache | None | bool = True,
            on_spawn: SpawnHook | None = None) -> dict[str, tuple[ProgramResult, ...]]:
    """Run every program of every card, `jobs` child processes at a time (default: one per CPU).

    `progress` receives a Progress event per program started/finished/served from cache (default:
    a display on stderr). `cache=True` uses `<project>/.cache/runs`; pass a RunCache to choose,
    or None/False for none. `on_spawn(cmd)` is called before each child starts (tests count them).
    """
    if not isinstance(getattr(assets_factory, "digest", None), str):
        raise TypeError("assets_factory needs a `digest` (store.item_digest): it is part of the "
                        "cache key; use execute.store_assets(lock, store)")
    jobs = max(1, jobs or os.cpu_count() or 1)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    store: RunCache | None = (RunCache(DEFAULT_CACHE_DIR, TOOL_VERSION) if cache is True
                              else cache or None)
    report = progress if progress is not None else StderrProgress()
    cards = list(cards)
    plans = [p for c in cards for p in plan_programs(c)]
    out: dict[str, list[ProgramResult]] = {c.meta.id: [] for c in cards}
    state = {"done": 0, "running": 0, "failed": 0}
    lock = threading.Lock()

    def emit(event: str, plan: Plan, result: ProgramResult | None = None) -> None:
        report(Progress(event, plan.card.meta.id, plan.langs, len(plans), state["done"],
                        state["running"], state["failed"], result))

    def finish(plan: Plan, result: ProgramResult, event: str) -> None:
        with lock:
            state["done"] += 1
            if event == "finished":
                state["running"] -= 1
            if any(b.status in BAD for b in result.blocks):
                state["failed"] += 1
            emit(event, plan, result)

    def work(plan: Plan) -> ProgramResult:
        with lock:
            state["running"] += 1
            emit("started", plan)
        try:
            result = run_plan(plan, assets_factory, limits, cache=store, rerun=True,
                              threads=threads, on_spawn=on_spawn)
        except BaseException:
            with lock:
                state["running"] -= 1
            raise
        finish(plan, result, "finished")
        return result

    results: dict[int, ProgramResult] = {}
    pending: dict[concurrent.futures.Future[ProgramResult], int] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="run") as pool:
        for i, plan in enumerate(plans):
            hit = None
            if store is not None and not rerun:
                hit = store.get(program_key(plan, assets_factory.digest, limits))
            if hit is not None:
                results[i] = hit
                finish(plan, hit, "cached")
            else:
                pending[pool.submit(work, plan)] = i
        for fut in concurrent.futures.as_completed(pending):
            results[pending[fut]] = fut.result()
    for i, plan in enumerate(plans):
        out[plan.card.meta.id].append(results[i])
    report(Progress("all-done", "", (), len(plans), state["done"], 0, state["failed"]))
    return {k: tuple(v) for k, v in out.items()}


# ---------------------------------------------------------------- progress display


class StderrProgress:
    """Cards done/running/failed on one self-rewriting line on a TTY; plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, p: Progress) -> None:
        langs = "+".join(p.langs) or "prelude"
        if self.tty:
            line = f"\rrunning cards: {p.done}/{p.total} done, {p.running} running, {p.failed} failed"
            if p.event == "all-done":
                line += "\n"
            self.stream.write(line)
        elif p.event in ("finished", "cached") and p.result is not None:
            worst = _summary(p.result)
            where = " (cached)" if p.event == "cached" else ""
            self.stream.write(f"[{p.done}/{p.total}] {p.card_id} {langs}: {worst}{where}\n")
        self.stream.flush()


def _summary(result: ProgramResult) -> str:
    counts: dict[str, int] = {}
    for b in result.blocks:
        counts[b.status] = counts.get(b.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


# ---------------------------------------------------------------- --strict


_STRICT_CODES = {"failed": Code.SNIPPET_FAILED, "timeout": Code.SNIPPET_TIMEOUT,
                 "blocked": Code.SNIPPET_BLOCKED}


def strict_failures(results: Mapping[str, Sequence[ProgramResult]] | Iterable[CardVerification]
                    ) -> list[Diagnostic]:
    """An error at the block's card line for every failed, timed-out or blocked block (a block
    with a skip mark is `skipped`, so it never counts). Accepts run_all's mapping or
    CardVerification objects."""
    programs: list[ProgramResult] = []
    if isinstance(results, Mapping):
        for progs in results.values():
            programs.extend(progs)
    else:
        for cv in results:
            programs.extend(cv.programs)
    diags: list[Diagnostic] = []
    for p in programs:
        for b in p.blocks:
            code = _STRICT_CODES.get(b.status)
            if code is None:
                continue
            where = "prelude" if b.lang == PRELUDE else f"{b.lang} block {b.index + 1}"
            diags.append(error(code, f"{where} {b.status}: {b.reason}", p.card_path or p.card_id,
                               b.line))
    return sorted(set(diags), key=lambda d: (d.loc, d.code.value, d.message))

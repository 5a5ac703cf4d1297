"""Run every card program for real, offline, in a child interpreter; cache the results.

`run_all` is the run stage: plan every card's programs (plan.py), serve each from the run cache
when its key is known, else run it in a sandboxed child (supervise.py), `jobs` at a time, and
restate the results for every language (results.py).
"""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from generator import __version__ as TOOL_VERSION
from generator.core.model import BAD_RUN_STATUSES, Card, ProgramResult
from generator.run import sandbox
from generator.run.cache import RunCache
from generator.run.plan import Limits, Plan, plan_programs, program_key
from generator.run.progress import Progress, ProgressFn, StderrProgress
from generator.run.results import program_result
from generator.run.supervise import AssetsFactory, RunAssetsLike, SpawnHook, spawn

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = PROJECT_DIR / ".cache" / "runs"

BAD = tuple(BAD_RUN_STATUSES)


@dataclass(frozen=True)
class StoreAssets:
    """The real AssetsFactory: store.materialize / store.item_digest for one lock and store.
    `link`: hard-link store files into the run (safe when the sandbox mounts them read-only)."""

    lock: Any
    store: Any
    megengine_version: str = "1.13.0"
    digest: str = ""
    link: bool | None = None

    def __call__(self, run_dir: Path) -> RunAssetsLike:
        from generator.store.materialize import materialize

        return materialize(self.lock, self.store, run_dir, self.megengine_version, link=self.link)


def store_assets(lock: Any, store: Any, megengine_version: str = "1.13.0", *,
                 sandboxed: bool = False) -> StoreAssets:
    from generator.store.materialize import item_digest

    return StoreAssets(lock, store, megengine_version, item_digest(lock, store), True if sandboxed else None)


def run_plan(plan: Plan, assets_factory: AssetsFactory, limits: Limits = Limits(), *,
             cache: RunCache | None = None, rerun: bool = False, threads: int = 1,
             on_spawn: SpawnHook | None = None) -> ProgramResult:
    """One program: from the cache unless `rerun`, else run in a child (and cache the result)."""
    key = program_key(plan, assets_factory.digest, limits)
    if cache is not None and not rerun:
        hit = cache.get(key, plan)
        if hit is not None:
            return hit
    ran_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    blocks = spawn(plan, assets_factory, limits, threads, on_spawn)
    result = program_result(plan, blocks, key, ran_at, limits.isolate)
    if cache is not None and not any(b.reason_code == "runner-error" for b in blocks):
        cache.put(result)  # a broken tool is not a result worth keeping
    return result


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

    # A card's prelude is counted in its first program's line only (run/progress.py).
    first: dict[str, tuple[str, ...]] = {}
    for p in plans:
        first.setdefault(p.card.meta.id, p.langs)

    def emit(event: str, plan: Plan, result: ProgramResult | None = None) -> None:
        owner = first[plan.card.meta.id]
        report(Progress(event, plan.card.meta.id, plan.langs, len(plans), state["done"],
                        state["running"], state["failed"], result,
                        prelude_with=() if owner == plan.langs else (owner or ("prelude",))))

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
        try:
            for i, plan in enumerate(plans):
                hit = None
                if store is not None and not rerun:
                    hit = store.get(program_key(plan, assets_factory.digest, limits), plan)
                if hit is not None:
                    results[i] = hit
                    finish(plan, hit, "cached")
                else:
                    pending[pool.submit(work, plan)] = i
            for fut in concurrent.futures.as_completed(pending):
                results[pending[fut]] = fut.result()
        except BaseException:
            # Ctrl-C, SIGTERM, or a run that could not be sandboxed: stop every run now instead
            # of waiting for their deadlines (the pool's exit waits for its threads).
            sandbox.ACTIVE.kill_all()
            for fut in pending:
                fut.cancel()
            raise
    for i, plan in enumerate(plans):
        out[plan.card.meta.id].append(results[i])
    report(Progress("all-done", "", (), len(plans), state["done"], 0, state["failed"]))
    return {k: tuple(v) for k, v in out.items()}

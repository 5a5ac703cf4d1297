"""The build's stages, in order, after `cli/build.py` found the site out of date (see there).

    read -> verify (run programs, check numbers) -> render + write -> search -> --strict verdict
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from generator import __version__
from generator.cards.cache import ParseCache
from generator.cli.config import (Config, eval_cache_dir, eval_options, index_entries_file, param_cache_dir,
                                  parse_cache_dir, render_cache_dir, run_cache_dir, run_limits,
                                  site_signatures_file)
from generator.cli.inputs import Inputs, read_inputs
from generator.core.errors import Code, Diagnostic, Level, UserError, has_errors
from generator.core.jsonio import atomic_write
from generator.core.objcache import cache_usable
from generator.core.model import BAD_RUN_STATUSES, URL_LANG, AssetRecord, Card, CardVerification
from generator.core.text import for_terminal
from generator.run.progress import program_counts
from generator.site import state
from generator.site.badges import badge_files
from generator.site.build import BuildReport, build_site
from generator.site.entrycache import EntryCache
from generator.site.options import SITEMAP_FALLBACK_BASE, SiteOptions
from generator.site.rendercache import RenderCache
from generator.site.report import junit_xml, report_files
from generator.site.search import BUNDLE, Placed, index_stage, repair_index
from generator.site.search.worker import SearchWorker, WorkerGone, start_worker
from generator.site.search.later import SearchLater, carry_bundles
from generator.site.views import summarize
from generator.store.content import Store
from generator.store.lock import Lock

if TYPE_CHECKING:
    from generator.store.params import ParamCache



def run_stages(cfg: Config, options: SiteOptions, input_files: list[Path], fingerprint: str,
               started: float, later: SearchLater | None = None,
               stats: dict[str, tuple[int, int]] | None = None) -> int:
    """`later` (serve's rebuilds): the search stage is left for `search.later.catch_up`.
    `stats`: of `input_files` (at least), taken before anything was read (the fast path's)."""
    if later is not None and cfg.search:
        return _stages(cfg, options, input_files, fingerprint, started, None, later, stats)
    # The search stage's process (with Pagefind) starts now, beside the read and render stages.
    with start_worker(cfg.out) if cfg.search else contextlib.nullcontext(None) as worker:
        return _stages(cfg, options, input_files, fingerprint, started, worker, None, stats)


def _stages(cfg: Config, options: SiteOptions, input_files: list[Path], fingerprint: str,
            started: float, worker: SearchWorker | None, later: SearchLater | None,
            taken: dict[str, tuple[int, int]] | None = None) -> int:
    log = (lambda m: print(for_terminal(m), file=sys.stderr)) if cfg.verbose else None
    stats = taken if taken is not None else state.stat_inputs(input_files)
    clock = _Stopwatch()

    # 1. read: every card and registry, validated before anything runs
    caches = cache_usable(cfg.cache, cfg.out)  # never inside the output folder
    inputs, problems = read_inputs(cfg, verification=cfg.verify,
                                   parse_cache=ParseCache(parse_cache_dir(cfg), log) if caches else None)
    lock, store = inputs.lock, Store(cfg.store)
    if lock is not None and not has_errors(problems):
        from generator.store.sync import sync_local  # importlib.metadata: only a project with a lock

        lock, more = sync_local(lock, store, cfg.project, refresh=False)  # the project's own assets
        problems.extend(more)
    if has_errors(problems):
        raise UserError(problems)
    _print(problems)
    cards = list(inputs.cards)
    clock.lap("read")

    # 2. run every program, 3. check every number (both cached)
    verification: dict[str, CardVerification] = {}
    if lock is not None:
        verification = _verify(cfg, inputs, cards, lock, store, log, caches)
    clock.lap("verify")

    # 4. render and write the site with its machine-readable files, 5. search index (before the swap)
    extra = report_files(cards, verification, {k: dict(v.model_index) for k, v in inputs.datasets.items()},
                         cfg.eval_limit)
    extra.update(badge_files(cards, verification))
    report = build_site(cards, inputs.tags, verification, options, cfg.out, log=log, input_stats=stats,
                        fingerprint=fingerprint, workers=cfg.jobs, extra=extra,
                        render_cache=RenderCache(render_cache_dir(cfg), log) if caches else None,
                        signatures=site_signatures_file(cfg),
                        entry_cache=EntryCache(index_entries_file(cfg)) if caches else None,
                        before_swap=_search_stage(cfg, worker, later) if cfg.search else None,
                        search_ahead=(functools.partial(worker.copies_ahead, cfg.out)
                                      if worker is not None and later is None else None))
    if cfg.search and not report.wrote:
        if later is not None:
            later.pending = None
        _print(repair_index(cfg.out))
    clock.lap("render+write+search")
    if cfg.junit is not None and verification:
        atomic_write(cfg.junit, junit_xml(verification.values()))
    clock.save(started)

    return _verdict(cfg, cards, verification, report, clock, started)


def _search_stage(cfg: Config, worker: SearchWorker | None,
                  later: SearchLater | None
                  ) -> Callable[[Path, frozenset[str], frozenset[str]], Mapping[str, str | None] | list[str]]:
    """Index the new site folder before it is swapped in (in the search worker's process, else
    here), or (serve) carry the current index into it and leave the changed pages to `later`."""
    def index(stage: Path, changed: frozenset[str], pages: frozenset[str]) -> Mapping[str, str | None]:
        placed: Placed = {}
        if worker is not None and worker.running:
            try:
                _print(worker.index_stage(cfg.out, stage, changed, placed, pages))
                return placed
            except WorkerGone:
                # What it left in the new folder's bundles is not known: they are made again here.
                placed.clear()
                for lang in URL_LANG.values():
                    shutil.rmtree(stage / lang / BUNDLE, ignore_errors=True)
        _print(index_stage(cfg.out, stage, changed, None, placed, pages))
        return placed

    def defer(stage: Path, changed: frozenset[str], pages: frozenset[str]) -> list[str]:
        assert later is not None
        later.pending = changed
        return carry_bundles(cfg.out, stage, changed)

    return defer if later is not None else index


def _verify(cfg: Config, inputs: Inputs, cards: Sequence[Card], lock: Lock, store: Store,
            log: Callable[[str], None] | None, caches: bool) -> dict[str, CardVerification]:
    """2. run every program, 3. check every number (both cached). Imported here: a --no-verify
    build never loads the sandbox, the evaluator or the checks."""
    from generator.claims.evalcache import EvalCache
    from generator.claims.verify import verify_claims
    from generator.run import sandbox
    from generator.run.cache import RunCache
    from generator.run.execute import run_all, store_assets
    from generator.site.evidence import card_records
    from generator.store.params import ParamCache

    sandbox.cleanup_stale()  # what runs of builds killed with SIGKILL left (cgroups, mounts, folders)
    programs = run_all(cards, store_assets(lock, store, sandboxed=cfg.sandbox), jobs=cfg.workers, rerun=cfg.rerun,
                       limits=run_limits(cfg), cache=RunCache(run_cache_dir(cfg), __version__, log=log))
    claims, more = verify_claims(cards, inputs.specs, lock, store, inputs.datasets,
                                 eval_options(cfg, progress=sys.stderr.isatty()),
                                 None if cfg.rerun else EvalCache(eval_cache_dir(cfg), log=log))
    _print(more)
    verification = {}
    counts = ParamCache(param_cache_dir(cfg)) if caches else None
    for c in cards:
        ran, checked = programs.get(c.meta.id, ()), claims[c.meta.id]
        assets, dataset = card_records(c, ran, checked, inputs.specs.get(c.meta.id), lock, inputs.datasets)
        assets = tuple(_with_params(a, store, counts) for a in assets)
        verification[c.meta.id] = CardVerification(c.meta.id, ran, checked, assets, dataset)
    return verification


def _with_params(a: AssetRecord, store: Store, cache: "ParamCache | None") -> AssetRecord:
    """A weights record with the numbers its stored file holds (for the comparison table)."""
    if a.kind != "weights":
        return a
    from generator.store.params import count_stored

    n = count_stored(store, a.sha256, cache)
    return dataclasses.replace(a, params=n.params, params_refused=n.refused, params_detail=n.detail)


def _verdict(cfg: Config, cards: Sequence[Card], verification: Mapping[str, CardVerification],
             report: BuildReport, clock: "_Stopwatch", started: float) -> int:
    """Every bad block and mismatching number at its card line (warnings; errors under --strict),
    the summary line, and under --strict the exit code."""
    problems = _problems(verification, "error" if cfg.strict else "warning")
    _print(problems)
    if not cfg.base_url:
        print(NO_BASE_URL, file=sys.stderr)
    _say(cfg, _summary(cards, verification, report, time.perf_counter() - started)
         + " (" + ", ".join(f"{name} {sec:.2f} s" for name, sec in clock.laps) + ")")
    if cfg.strict and problems:
        print(f"build-site: --strict: {len(problems)} problem(s) ({_kinds(problems)}); the site was "
              "written, CI should fail", file=sys.stderr)
        return 1
    return 0


def _problems(verification: Mapping[str, CardVerification], level: Level) -> list[Diagnostic]:
    if not verification:
        return []
    from generator.claims.verify import mismatches
    from generator.run.results import strict_failures

    return strict_failures(verification.values(), level) + mismatches(verification.values(), level)


def _summary(cards: Sequence[Card], verification: Mapping[str, CardVerification],
             report: BuildReport, seconds: float) -> str:
    """One line: what was built, then every code block's status and every number's state, counted
    exactly (a failed block with placeholder weights is failed; only a passed one is
    "placeholder"), each bad kind with whose fault it is."""
    blocks: dict[str, int] = {}
    claims: dict[str, int] = {}
    for card in cards:
        cv = verification.get(card.meta.id)
        if cv is None:
            continue
        # Each code block of the card once: the same counts as the "[k/n] card lang:" lines
        # (the prelude in the card's first program only), so the summary is their sum.
        for i, program in enumerate(cv.programs):
            for k, n in program_counts(program, prelude=i == 0).items():
                blocks[k] = blocks.get(k, 0) + n
        for k, n in summarize(card, cv).claims.items():
            claims[k] = claims.get(k, 0) + n

    def label(status: str) -> str:
        fault = BAD_RUN_STATUSES.get(status)
        return f"{status} ({fault})" if fault else status

    fmt = lambda d: ", ".join(f"{n} {label(k)}" for k, n in sorted(d.items())) or "none"  # noqa: E731
    verified = f"; code blocks: {fmt(blocks)}; numbers: {fmt(claims)}" if verification else "; not verified (--no-verify)"
    return (f"built {len(cards)} card(s) in {seconds:.2f} s: {report.rendered} file(s) rendered, "
            f"{report.reused} reused, {report.removed} removed{verified}")


NO_BASE_URL = (f"build-site: warning: no --base-url: sitemap.xml lists its pages under the placeholder host "
               f"{SITEMAP_FALLBACK_BASE} (search engines cannot use it; pages and links are unaffected); "
               "pass --base-url https://<host>/<path>/ where the site will be served")

# --strict's codes and whose fault each is, for its closing line.
_STRICT_KINDS: Mapping[Code, str] = {
    Code.SNIPPET_FAILED: "failed: the card's code",
    Code.SNIPPET_TIMEOUT: "timeout: the card's code",
    Code.SNIPPET_HUB_ERROR: "hub-error: the hub repository",
    Code.SNIPPET_BLOCKED: "blocked: this machine's environment",
    Code.SNIPPET_LIMIT: "limit: the build's sandbox",
    Code.CLAIM_MISMATCH: "mismatch: a number of the card",
}


def _kinds(failures: Sequence[Diagnostic]) -> str:
    counts: dict[Code, int] = {}
    for d in failures:
        counts[d.code] = counts.get(d.code, 0) + 1
    return ", ".join(f"{counts[c]} {kind}" for c, kind in _STRICT_KINDS.items() if c in counts)


class _Stopwatch:
    """Wall and CPU time per stage; CPU counts the worker processes the stage waited for."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self.cpu: list[float] = []
        self._last, self._last_cpu = time.perf_counter(), _cpu()

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), _cpu()
        self.laps.append((name, now - self._last))
        self.cpu.append(cpu - self._last_cpu)
        self._last, self._last_cpu = now, cpu

    def save(self, started: float) -> None:
        """$BUILD_SITE_TIMINGS names a file for the stage figures (benchmarks/build_speed.py reads it)."""
        target = os.environ.get("BUILD_SITE_TIMINGS")
        if target:
            stages = [{"stage": n, "wall_s": round(w, 4), "cpu_s": round(c, 4)}
                      for (n, w), c in zip(self.laps, self.cpu)]
            Path(target).write_text(json.dumps({"wall_s": round(time.perf_counter() - started, 4),
                                                "stages": stages}), encoding="utf-8")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _print(diags: Sequence[Diagnostic]) -> None:
    for d in diags:
        print(d, file=sys.stderr)


def _say(cfg: Config, message: str) -> None:
    print(f"build-site: {message}", file=sys.stderr)

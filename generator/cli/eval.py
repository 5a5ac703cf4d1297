"""`build-site eval`: evaluate the accuracy claims on their own, optionally one shard of them.

A 50,000-image ImageNet evaluation of many models is too slow for one CI job, so the jobs (one
per table row and dataset) are split deterministically: `--shard i/n` on machine i writes its
results to `--results DIR`; `--merge DIR...` joins such folders into this checkout's cache, and
the next `build-site build` uses them as if they had been computed here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from generator.claims.evalcache import EvalCache, EvalResult, MergeConflict, merge, shard
from generator.claims.evaluate import EvalJob, plan_card, run_job
from generator.claims.extract import extract_claims
from generator.cli.config import Config, eval_cache_dir, eval_options
from generator.cli.inputs import read_inputs
from generator.core.errors import Code, UserError, error, has_errors
from generator.core.model import Card
from generator.store.content import Store
from generator.store.materialize import materialize
from generator.store.sync import sync_local


def run_eval(cfg: Config, args: argparse.Namespace) -> int:
    if args.merge is not None:
        absent = [f for f in args.merge if not Path(f).is_dir()]
        if absent or not args.merge:
            raise UserError([error(Code.VERIFY_SPEC, f"--merge needs results folders (from --results); not a folder: {f}",
                                   "<command line>", 0) for f in absent] or
                            [error(Code.VERIFY_SPEC, "--merge needs at least one results folder", "<command line>", 0)])
        try:
            merged = merge(args.merge, eval_cache_dir(cfg))
        except MergeConflict as exc:
            raise UserError([error(Code.VERIFY_SPEC, str(exc), "<command line>", 0)]) from exc
        print(f"build-site eval: the cache now holds {len(merged.results())} result(s)", file=sys.stderr)
        return 0
    index, count = _parse_shard(args.shard)
    inputs, problems = read_inputs(cfg, verification=True)
    if has_errors(problems):
        raise UserError(problems)
    cards = _chosen(inputs.cards, getattr(args, "card", None))
    if inputs.lock is None:
        raise UserError(problems)
    store = Store(cfg.store)
    lock, more = sync_local(inputs.lock, store, cfg.project, refresh=False)
    if has_errors(more):
        raise UserError(problems + more)
    options = eval_options(cfg, progress=True)
    if args.results:
        # Even a shard with no jobs leaves its (empty) folder: a CI matrix can always collect it.
        Path(args.results).mkdir(parents=True, exist_ok=True)
    out = EvalCache(args.results) if args.results else EvalCache(eval_cache_dir(cfg))
    with tempfile.TemporaryDirectory(prefix="eval-") as tmp:
        assets = materialize(lock, store, Path(tmp))
        jobs: dict[str, EvalJob] = {}
        for card in cards:
            claims, _ = extract_claims(card)
            plan = plan_card(card, claims, inputs.specs.get(card.meta.id), assets, inputs.datasets, options)
            for job in plan.jobs.values():
                jobs.setdefault(job.key, job)
            said: set[tuple[str, str]] = set()
            for claim, why in sorted(plan.blocked.items(), key=lambda kv: kv[0].loc):
                if (claim.row, why.reason) not in said:  # one line per row, not per cell and language
                    said.add((claim.row, why.reason))
                    print(f"{claim.loc}: not evaluated: {claim.row}: {why.reason}", file=sys.stderr)
        mine = shard(list(jobs.values()), index, count, key=lambda j: j.key)
        print(f"build-site eval: {len(mine)} of {len(jobs)} job(s) in shard {index + 1}/{count}", file=sys.stderr)
        for job in mine:
            result = run_job(job, options, None if cfg.rerun else out)
            if isinstance(result, EvalResult):
                if args.results or cfg.rerun:
                    out.put(result)
                top = ", ".join(f"{k} {100.0 * v / result.n:.3f} %" for k, v in sorted(result.correct.items()))
                sample = {"full": "", "random": " (a random sample)",
                          "subset": f" (measured on {job.holding.name}: never judged)"}[job.judged_as]
                print(f"{job.card_id} {job.row} ({job.entry}): {top} on {result.n} item(s){sample}")
            else:
                print(f"{job.card_id} {job.row} ({job.entry}): not evaluated: {result}")
    return 0


def _chosen(cards: Sequence[Card], wanted: Sequence[str] | None) -> Sequence[Card]:
    """The cards `--card` names (every card without it); an id no card has is an error, so a
    typo never evaluates nothing and says it succeeded."""
    if not wanted:
        return cards
    ids = {c.meta.id for c in cards}
    unknown = [w for w in dict.fromkeys(wanted) if w not in ids]
    if unknown:
        raise UserError([error(Code.VERIFY_SPEC, f"--card {w}: no card has this id (cards here: "
                               f"{', '.join(sorted(ids)[:8]) or 'none'}{', ...' if len(ids) > 8 else ''})",
                               "<command line>", 1) for w in unknown])
    return [c for c in cards if c.meta.id in set(wanted)]


def _parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    try:
        i, n = (int(x) for x in text.split("/", 1))
        if not 1 <= i <= n:
            raise ValueError
    except ValueError:
        raise UserError([error(Code.VERIFY_SPEC, f"--shard takes i/n with 1 <= i <= n, not {text!r}",
                               "<command line>", 0)]) from None
    return i - 1, n


def run(cfg: Config, args: argparse.Namespace) -> int:
    return run_eval(cfg, args)

"""The verify stage: run every card's programs and check every number, with the asset store.

Only this module and build.py know how execute (snippets) and evaluate (numbers) are wired to
the store and the caches; both halves are cached, so a rebuild with nothing changed starts no
child process at all.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from generator import __version__
from generator.cli.config import Config
from generator.claims.datasets import DatasetDef, load_registry
from generator.core.errors import Diagnostic, UserError, has_errors
from generator.claims.evalcache import EvalCache
from generator.claims.evaluate import EvalOptions, verify_card
from generator.run.execute import run_all, store_assets
from generator.store.lock import Lock, read_lock
from generator.core.model import Card, CardVerification
from generator.run.cache import RunCache
from generator.store.content import Store, materialize, sync_local
from generator.claims.spec import load_spec

LOCK_FILE = "store.lock.json"
DATASETS_FILE = "datasets.yaml"


@dataclass(frozen=True)
class VerifyInputs:
    """Everything verification reads besides the cards, loaded and checked up front."""

    lock: Lock
    store: Store
    registry: Mapping[str, DatasetDef]


def validate_inputs(cfg: Config, cards: Sequence[Card]
                    ) -> tuple[tuple[Lock, Mapping[str, DatasetDef]] | None, list[Diagnostic]]:
    """Read and check the lock, the dataset registry and every card's verify spec, touching
    nothing (what `build-site check` runs besides the card parser)."""
    problems: list[Diagnostic] = []
    lock_path = cfg.cards / LOCK_FILE
    try:
        lock = read_lock(lock_path, display=_shown(lock_path, cfg))
    except UserError as exc:
        return None, list(exc.diagnostics)
    registry: Mapping[str, DatasetDef] = {}
    if (cfg.cards / DATASETS_FILE).exists():
        registry, reg_problems = load_registry(cfg.cards / DATASETS_FILE)
        problems.extend(reg_problems)
    for card in cards:
        _, spec_problems = load_spec(card, cfg.cards)
        problems.extend(spec_problems)
    return (None if has_errors(problems) else (lock, registry)), problems


def load_inputs(cfg: Config, cards: Sequence[Card]) -> tuple[VerifyInputs | None, list[Diagnostic]]:
    """validate_inputs, then put the project's local assets into the store. Returns every
    problem; nothing has run yet."""
    checked, problems = validate_inputs(cfg, cards)
    if checked is None:
        return None, problems
    lock, registry = checked
    store = Store(cfg.store)
    lock, local_problems = sync_local(lock, store, cfg.project, refresh=False)
    problems.extend(local_problems)
    if has_errors(problems):
        return None, problems
    return VerifyInputs(lock, store, registry), problems


def verify_all(cfg: Config, cards: Sequence[Card], inputs: VerifyInputs
               ) -> tuple[dict[str, CardVerification], list[Diagnostic]]:
    factory = store_assets(inputs.lock, inputs.store)
    programs = run_all(cards, factory, jobs=cfg.workers, rerun=cfg.rerun,
                       cache=RunCache(cfg.cache / "runs", __version__))
    problems: list[Diagnostic] = []
    options = EvalOptions(limit=cfg.eval_limit or 0, workers=2,
                          dataset_dirs={"imagenet-val": str(cfg.imagenet_dir)} if cfg.imagenet_dir else {},
                          progress=sys.stderr.isatty())
    evalcache = EvalCache(cfg.cache / "evals" / __version__)
    results: dict[str, CardVerification] = {}
    # One MGE_HOME for every evaluation of this build: the evaluator only reads it.
    with tempfile.TemporaryDirectory(prefix="verify-eval-") as tmp:
        assets = materialize(inputs.lock, inputs.store, Path(tmp))
        for card in cards:
            states, diags = verify_card(card, assets=assets, registry=inputs.registry, options=options,
                                        cache=evalcache if not cfg.rerun else None, cards_dir=cfg.cards)
            problems.extend(diags)
            results[card.meta.id] = CardVerification(card.meta.id, programs.get(card.meta.id, ()), tuple(states))
    return results, problems


def _shown(path: Path, cfg: Config) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)

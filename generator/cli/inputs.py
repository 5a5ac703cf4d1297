"""The read stage: every file of the cards folder, read and validated once, before anything runs.

Cards, the tag registry and the UI catalog always; for verification also the store lock, the
dataset registry and each card's verify spec. Every problem of every file is returned together
(a card that cannot be read does not stop the others, nor the registries); nothing is run,
fetched or written. `build`, `check`, `eval` and `fetch` all start here, so they agree on what a
cards folder says: whatever the build would reject later, `check` rejects now.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from generator.cards.cache import ParseCache
from generator.cards.discover import read_cards
from generator.claims.datasets import DatasetDef, load_registry
from generator.claims.spec import VerifySpec, load_spec
from generator.cli.config import Config
from generator.core.errors import Code, Diagnostic, UserError, error
from generator.core.model import Card, Tag
from generator.site.i18n import load_catalog
from generator.site.options import SiteOptions
from generator.site.render import catalog_problems
from generator.store.lock import Lock, read_lock

DATASETS_FILE = "datasets.yaml"


@dataclass(frozen=True)
class Inputs:
    cards: tuple[Card, ...]
    tags: Mapping[str, Tag]
    # What verification reads besides the cards (None / empty when it was not asked for).
    lock: Lock | None = None
    datasets: Mapping[str, DatasetDef] = field(default_factory=dict)
    specs: Mapping[str, VerifySpec | None] = field(default_factory=dict)  # card id -> spec


def read_inputs(cfg: Config, *, verification: bool, parse_cache: ParseCache | None = None
                ) -> tuple[Inputs, list[Diagnostic]]:
    """The cards and the catalog (always) and, with `verification`, the lock, datasets and the
    specs of the cards that parsed. `parse_cache`: parse results of unchanged cards (the build's)."""
    cards, tags, problems = read_cards(cfg.cards, parse_cache)
    problems += _catalog(cfg)
    if not verification:
        return Inputs(tuple(cards), tags), problems
    lock: Lock | None
    try:
        lock = read_lock(cfg.lock_file, cfg.lock_display)
    except UserError as exc:
        lock = None
        problems += exc.diagnostics
    datasets: Mapping[str, DatasetDef] = {}
    registry_read = True  # False: datasets.yaml is there but broken (reported already)
    if os.path.lexists(cfg.cards / DATASETS_FILE):
        datasets, more = load_registry(cfg.cards / DATASETS_FILE)
        problems += more
        registry_read = not more
    specs: dict[str, VerifySpec | None] = {}
    for card in cards:
        spec, more = load_spec(card, cfg.cards)
        specs[card.meta.id] = spec
        problems += more
        if spec is not None and registry_read and spec.dataset not in datasets:
            problems.append(error(Code.VERIFY_SPEC, f"unknown dataset {spec.dataset!r} (known: "
                                  f"{', '.join(sorted(datasets)) or f'none; add it to {DATASETS_FILE}'})",
                                  spec.path, spec.line))
    return Inputs(tuple(cards), tags, lock, datasets, specs), problems


def _catalog(cfg: Config) -> list[Diagnostic]:
    """The UI catalog the site will use, checked as the renderer will use it."""
    options = SiteOptions.for_project(cfg.cards, cfg.templates)
    try:
        catalog = load_catalog(options.catalog_path, options.catalog_display)
    except UserError as exc:
        return list(exc.diagnostics)
    return catalog_problems(catalog, options.templates_dir)

"""The read stage: every file of the cards folder, read and validated once, before anything runs.

Cards and the tag registry always; for verification also the store lock, the dataset registry
and each card's verify spec. Every problem of every file is returned together; nothing is run,
fetched or written. `build`, `check`, `eval` and `fetch` all start here, so they agree on what a
cards folder says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from generator.cards.discover import read_cards
from generator.claims.datasets import DatasetDef, load_registry
from generator.claims.spec import VerifySpec, load_spec
from generator.cli.config import Config
from generator.core.errors import Diagnostic, UserError, has_errors
from generator.core.model import Card, Tag
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


def read_inputs(cfg: Config, *, verification: bool) -> tuple[Inputs, list[Diagnostic]]:
    """The cards (always) and, with `verification`, the lock, datasets and specs. The registries
    of verification are read only when every card is valid: their checks refer to cards."""
    cards, tags, problems = read_cards(cfg.cards)
    inputs = Inputs(tuple(cards), tags)
    if not verification or has_errors(problems):
        return inputs, problems
    try:
        lock = read_lock(cfg.lock_file, cfg.lock_display)
    except UserError as exc:
        return inputs, problems + list(exc.diagnostics)
    datasets: Mapping[str, DatasetDef] = {}
    if (cfg.cards / DATASETS_FILE).exists():
        datasets, more = load_registry(cfg.cards / DATASETS_FILE)
        problems.extend(more)
    specs: dict[str, VerifySpec | None] = {}
    for card in cards:
        specs[card.meta.id], more = load_spec(card, cfg.cards)
        problems.extend(more)
    return Inputs(tuple(cards), tags, lock, datasets, specs), problems

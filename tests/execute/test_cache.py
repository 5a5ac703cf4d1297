"""Cached runs: a rebuild with nothing changed starts no child; any change reruns."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from exec_support import CARDS, TEST_LIMITS, AssetsFactoryDouble, load_card
from generator.run.execute import run_all
from generator.run.cache import RunCache

pytestmark = pytest.mark.megengine


def test_rebuild_uses_cache_and_one_character_change_reruns(
        tmp_path: Path, cache: RunCache, spawns: tuple[list[Any], Callable[[Any], None]]) -> None:
    seen, hook = spawns
    events: list[Any] = []
    card_file = tmp_path / "exec_secrets.md"
    card_file.write_text((CARDS / "exec_secrets.md").read_text())
    cards = [load_card("", card_file), load_card("exec_pass.md")]
    assets = AssetsFactoryDouble()

    first = run_all(cards, assets, jobs=2, progress=events.append, limits=TEST_LIMITS, cache=cache,
                    on_spawn=hook)
    assert len(seen) == 2 and assets.calls == 2
    assert not any(b.cached for ps in first.values() for p in ps for b in p.blocks)
    assert {e.event for e in events} >= {"started", "finished", "all-done"}

    again = run_all(cards, assets, progress=events.append, limits=TEST_LIMITS, cache=cache,
                    on_spawn=hook)
    assert len(seen) == 2 and assets.calls == 2  # no child process, no materialising
    assert all(b.cached for ps in again.values() for p in ps for b in p.blocks)
    assert again["exec_pass"][0].ran_at == first["exec_pass"][0].ran_at
    assert [b.stdout for b in again["exec_pass"][0].blocks] == [b.stdout for b in first["exec_pass"][0].blocks]

    card_file.write_text(card_file.read_text().replace("print(os.getcwd())", "print(os.getcwd() )"))
    cards[0] = load_card("", card_file)
    changed = run_all(cards, assets, progress=events.append, limits=TEST_LIMITS, cache=cache,
                      on_spawn=hook)
    assert len(seen) == 3  # only the changed card ran
    assert not changed["exec_secrets"][0].blocks[0].cached
    assert changed["exec_pass"][0].blocks[0].cached

    run_all(cards, assets, rerun=True, progress=events.append, limits=TEST_LIMITS, cache=cache,
            on_spawn=hook)
    assert len(seen) == 5

    other_assets = AssetsFactoryDouble(files={"https://x.example/a.txt": card_file})
    run_all(cards[1:], other_assets, progress=events.append, limits=TEST_LIMITS, cache=cache,
            on_spawn=hook)
    assert len(seen) == 6  # the store's content is part of the key

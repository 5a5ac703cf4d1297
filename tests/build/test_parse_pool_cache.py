"""The parse workers store what they parse in the parse cache, and the next read uses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.cards import discover
from generator.cards.cache import ParseCache
from generator.core.objcache import ObjectCache

ROOT = Path(__file__).resolve().parents[2]


def test_pool_fills_the_parse_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    n = len([p for p in cards.glob("*.md") if p.name.lower() != "readme.md"])
    assert n >= 2
    monkeypatch.setattr(discover, "PARALLEL_PARSE_MIN", 2)  # the forked pool even for a few cards
    first = ParseCache(tmp_path / "parse")
    got, _tags, problems = discover.read_cards(cards, first)
    assert not [p for p in problems if p.level == "error"]
    assert first.store.hits == 0 and len(ObjectCache(tmp_path / "parse", "t").entries()) == n

    again = ParseCache(tmp_path / "parse")
    cached, _tags, _problems = discover.read_cards(cards, again)
    assert again.store.hits == n and again.store.misses == 0
    assert [c.meta for c in cached] == [c.meta for c in got]
    assert all(c.tokens_dropped for c in cached) and not any(c.tokens_dropped for c in got)
    assert [list(s.tokens) for c in got for s in c.sections.values()]  # the pool's cards keep tokens


def test_a_card_from_the_parse_cache_is_the_card_parsed_without_its_text_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.cards import cache as cache_mod

    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    got, _tags, _problems = discover.read_cards(cards, ParseCache(tmp_path / "parse"))
    monkeypatch.setattr(cache_mod, "_IN_PROCESS", {})  # from the disk this time, not this process
    again = ParseCache(tmp_path / "parse")
    cached, _tags, _problems = discover.read_cards(cards, again)
    assert again.store.hits == len(got) and again.store.misses == 0
    assert cached == got and all(c.source for c in cached)
    text = got[0].source.encode("utf-8")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "parse").rglob("*") if p.is_file())
    assert text[:4000] not in stored  # the text is the caller's, not stored again

"""The evaluation cache only ever answers for the key an entry was computed for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from generator.claims.evalcache import EvalCache, EvalResult, cache_key


def test_an_entry_under_another_name_is_a_miss(tmp_path: Path) -> None:
    cache = EvalCache(tmp_path / "c")
    job = {"entry": "x", "n": 100}
    key, other = cache_key(job), cache_key({"entry": "y", "n": 100})
    honest = EvalResult(key=key, job=job, n=100, correct={"top1": 99}, full=True)
    cache.put(honest)
    assert cache.get(key) == honest
    # The same file copied under the key of another job (tampering, or a botched merge).
    shutil.copy(cache.root / f"{key}.json", cache.root / f"{other}.json")
    assert cache.get(other) is None
    assert set(cache.results()) == {key}


def test_entries_that_do_not_parse_are_misses(tmp_path: Path) -> None:
    cache = EvalCache(tmp_path / "c")
    cache.root.mkdir(parents=True)
    for key, text in (("1" * 64, "[]"), ("2" * 64, '{"key": "x"}'), ("3" * 64, "not json"),
                      ("4" * 64, json.dumps({"key": "4" * 64, "job": {}, "n": "many", "correct": {}, "full": True}))):
        (cache.root / f"{key}.json").write_text(text, encoding="utf-8")
        assert cache.get(key) is None

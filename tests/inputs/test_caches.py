"""Caches are a pure optimisation (cache_entries.yaml): a damaged entry is a miss, said under -v,
never a crash and never a weaker verdict (a shortened block list would hide a failed block)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.cards.parse import parse_card
from generator.cards.tags import load_tags
from generator.claims.evalcache import EvalCache, EvalResult, cache_key
from generator.core.model import BlockResult, ProgramResult
from generator.run.cache import RunCache
from generator.run.plan import plan_programs

HERE = Path(__file__).parent
ENTRIES = yaml.safe_load((HERE / "cache_entries.yaml").read_text(encoding="utf-8"))
TAGS, _ = load_tags(HERE.parents[1] / "cards")


def _damage(valid: dict[str, Any], case: dict[str, Any]) -> str:
    if "entry" in case:
        return "[" * 100_000 + "]" * 100_000 if case["entry"] == "DEEP" else case["entry"]
    data = json.loads(json.dumps(valid))
    data.update(case.get("set", {}))
    if case.get("set_job"):
        data["job"].update(case["set_job"])
    for key in case.get("drop", ()):
        del data[key]
    if case.get("set_block"):
        data["blocks"][0].update(case["set_block"])
    for key in case.get("drop_block", ()):
        del data["blocks"][0][key]
    if case.get("drop_last_block"):
        data["blocks"] = data["blocks"][:-1]
    return json.dumps(data)


def _eval_result() -> EvalResult:
    job = {"repo": "a/b", "entry": "net", "n": 10, "limit": 0}
    return EvalResult(cache_key(job), job, 10, {"top1": 7, "top5": 10}, True, {"date": "2026-01-01"})


@pytest.mark.parametrize("case", ENTRIES["eval"], ids=[c["name"] for c in ENTRIES["eval"]])
def test_damaged_evaluation_entry_is_a_miss(case: dict[str, Any], tmp_path: Path) -> None:
    said: list[str] = []
    cache = EvalCache(tmp_path, log=said.append)
    good = _eval_result()
    cache.put(good)
    assert cache.get(good.key) == good  # the valid entry is a hit
    cache.store.path(good.key).write_text(_damage(good.to_json(), case))
    assert cache.get(good.key) is None
    assert len(said) == 1 and case["reason"] in said[0], said


def _program() -> tuple[Any, ProgramResult]:
    card, _ = parse_card("cards/good.md", (HERE / "base" / "good.md").read_text(encoding="utf-8"), TAGS)
    assert card is not None
    plan = plan_programs(card)[0]  # zh_CN and en_US have the same code: one program for both
    blocks = tuple(BlockResult(s.lang, s.index, s.loc.line, "passed") for s in plan.blocks)
    blocks += tuple(BlockResult(s.lang, s.index, s.loc.line, "passed") for s in plan.per_lang[plan.langs[1]])
    return plan, ProgramResult(card.meta.id, plan.langs, blocks, "k" * 64, "2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize("case", ENTRIES["run"], ids=[c["name"] for c in ENTRIES["run"]])
def test_damaged_run_entry_is_a_miss(case: dict[str, Any], tmp_path: Path) -> None:
    said: list[str] = []
    cache = RunCache(tmp_path, "test", log=said.append)
    plan, good = _program()
    if case.get("drop_last_block"):  # a one-language program: prelude + one block
        plan = type(plan)(plan.card, plan.langs[:1], plan.blocks, {plan.langs[0]: plan.per_lang[plan.langs[0]]})
        good = ProgramResult(good.card_id, plan.langs, good.blocks[:2], good.cache_key, good.ran_at)
    cache.put(good)
    hit = cache.get(good.cache_key, plan)
    assert hit is not None and [b.status for b in hit.blocks] == [b.status for b in good.blocks]
    path = cache.store.path(good.cache_key)
    path.write_text(_damage(json.loads(path.read_text()), case))
    assert cache.get(good.cache_key, plan) is None
    assert len(said) == 1 and case["reason"] in said[0], said

"""Check 3 with a real MegEngine model (trained in conftest on scikit-learn's digits) evaluated in
a sandboxed child, plus the user's ResNet card."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.claims.datasets import load_registry
from generator.claims.evalcache import EvalCache, merge, shard
from generator.claims.evaluate import EvalOptions, plan_card, run_job
from generator.claims.verify import verify_card
from generator.site.report import claim_json
from generator.claims.extract import extract_claims
from generator.site.modelindex import model_index
from generator.cards.parse import parse_card
from generator.claims.stats import wilson_interval
from generator.claims.spec import load_spec

from claims_support import DigitsZoo, make_card

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.megengine


def _verify(card, cards_dir=None, **kw):  # type: ignore[no-untyped-def]
    """verify_card with the card's own spec, loaded as the read stage does."""
    spec, spec_diags = load_spec(card, cards_dir)
    states, diags = verify_card(card, spec, **kw)
    return states, spec_diags + diags


def _by(states, lang="en_US"):
    return {(s.claim.lang, s.claim.row, s.claim.metric): s for s in states}


def test_exact_claim_is_verified_and_changed_number_is_mismatch(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    z = digits_zoo
    cache = EvalCache(tmp_path / "cache")
    card = make_card(tmp_path, f"| DigitsLinear | {z.percent} |")
    states, diags = _verify(card, assets=z.assets, registry=z.registry, cache=cache)
    assert not diags
    assert [s.status for s in states] == ["verified", "verified"], [s.reason for s in states]
    rec = claim_json(states[1])
    assert rec["measured"] == pytest.approx(100.0 * z.correct / z.n)
    prov = rec["provenance"]
    assert prov["n"] == z.n and prov["full"] is True and len(prov["weights_sha256"]) == 64
    assert prov["dataset"] == "digits-test" and len(prov["dataset_fingerprint"]) == 64
    assert prov["versions"]["megengine"] == "1.13.0" and prov["cpu"] and prov["date"].endswith("+00:00")
    # what the page's evidence panel names: the evaluated file's size and the tool that counted
    from generator.hub.layout import serialized_filename
    evaluated = z.assets.mge_home / "serialized" / serialized_filename(prov["weights_url"])
    assert prov["weights_size"] == evaluated.stat().st_size > 0
    assert prov["tool_version"] == "0.1.0"
    weight = next(o for o in states[0].checks if o.name == "weight-name")
    assert weight.status == "pass"
    mi = model_index(card, states, {"digits-test": z.registry["digits-test"].model_index})
    metric = mi["model-index"][0]["results"][0]["metrics"][0]
    assert metric["verified"] is True and metric["value"] == float(z.percent)

    # one number changed in the zh_CN table only: mismatch at that line; the en cell the evaluation
    # backs stays verified (its languages check still records the disagreement)
    wrong = f"{float(z.percent) + 0.2:.3f}"
    card2 = make_card(tmp_path, f"| DigitsLinear | {wrong} |", f"| DigitsLinear | {z.percent} |")
    states2, _ = _verify(card2, assets=z.assets, registry=z.registry, cache=cache)  # cached run
    zh, en = states2
    assert zh.status == "mismatch" and en.status == "verified"
    line = card2.source.split("\n").index(f"| DigitsLinear | {wrong} |") + 1
    assert zh.claim.loc.line == line
    assert "evaluation check" in zh.reason and z.percent[:5] in zh.reason
    en_lang = next(o for o in en.checks if o.name == "languages")
    assert en_lang.status == "mismatch" and f"line {line}" in en_lang.reason
    assert next(o for o in en.checks if o.name == "evaluation").status == "verified"


def test_error_rate_and_fraction_tables_are_verified(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    z = digits_zoo
    err = f"{100.0 - 100.0 * z.correct / z.n:.3f}"
    frac = f"{z.correct / z.n:.5f}"
    card = make_card(tmp_path, f"| DigitsLinear | {err} | {frac} |",
                     header="| 模型 | Top-1 err. | Top1 acc |", en_header="| model | Top-1 err. | Top1 acc |")
    states, _ = _verify(card, assets=z.assets, registry=z.registry, cache=EvalCache(tmp_path / "c"))
    st = {(s.claim.lang, s.claim.column): s for s in states}
    e = st[("en_US", "Top-1 err.")]
    f = st[("en_US", "Top1 acc")]
    assert (e.claim.kind, f.claim.scale) == ("error", "fraction")
    assert e.status == "verified" and f.status == "verified", (e.reason, f.reason)
    assert claim_json(f)["measured"] == pytest.approx(z.correct / z.n)


def test_weight_name_disagreeing_with_its_row(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    z = digits_zoo
    verify = VERIFY_B = "verify:\n  repo: testzoo/digits\n  dataset: digits-test\n  preprocess: {channel_order: GRAY, scale: 0.0625}\n"
    card = make_card(tmp_path, f"| Digits Linear B | {z.percent} |", verify=VERIFY_B)
    states, _ = _verify(card, assets=z.assets, registry=z.registry, options=EvalOptions(run=False))
    for s in states:
        w = next(o for o in s.checks if o.name == "weight-name")
        assert w.status == "mismatch" and w.measured == 50.0 and w.provenance["entry"] == "digits_linear_b"
        assert s.status == "mismatch" and "weight-name check" in s.reason and "Top1 acc" in s.reason
        ev = next(o for o in s.checks if o.name == "evaluation")
        assert ev.status == "unverified" and "cached results only" in ev.reason
    del verify


def test_subset_uses_wilson_interval(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    z = digits_zoo
    card = make_card(tmp_path, f"| DigitsLinear | {z.percent} |")
    opts = EvalOptions(limit=100)
    states, _ = _verify(card, assets=z.assets, registry=z.registry, options=opts, cache=EvalCache(tmp_path / "c"))
    ev = next(o for o in states[0].checks if o.name == "evaluation")
    assert ev.provenance["n"] == 100 and ev.provenance["limit"] == 100 and ev.provenance["full"] is False
    k = ev.provenance["correct"]
    lo, hi = wilson_interval(k, 100)
    assert ev.provenance["wilson95_percent"] == pytest.approx([100 * lo, 100 * hi])
    inside = 100 * lo <= float(z.percent) <= 100 * hi
    assert states[0].status == ("consistent" if inside else "mismatch")
    assert states[0].status != "verified"  # a subset can never verify

    # a claim far outside the interval of the same subset run (served from the cache) is a mismatch
    card2 = make_card(tmp_path, "| DigitsLinear | 55.000 |")
    states2, _ = _verify(card2, assets=z.assets, registry=z.registry, options=opts, cache=EvalCache(tmp_path / "c"))
    assert states2[0].status == "mismatch" and "95 % interval" in states2[0].reason


def test_two_shards_merged_equal_one_run(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    z = digits_zoo
    verify = ("verify:\n  repo: testzoo/digits\n  dataset: digits-test\n"
              "  preprocess: {channel_order: GRAY, scale: 0.0625}\n")
    card = make_card(tmp_path, f"| digits_linear | {z.percent} |\n| digits_linear_b | {z.percent} |", verify=verify)
    claims, _ = extract_claims(card)
    spec, d = load_spec(card)
    assert not d
    opts = EvalOptions(limit=300)
    plan = plan_card(card, claims, spec, z.assets, z.registry, opts)
    jobs = sorted(plan.jobs.values(), key=lambda j: j.id)
    assert len(jobs) == 2
    one = EvalCache(tmp_path / "one")
    for j in jobs:
        run_job(j, opts, one)
    s0, s1 = shard(jobs, 0, 2), shard(jobs, 1, 2)
    assert len(s0) == len(s1) == 1 and s0 != s1 and shard(jobs, 0, 2) == s0
    for part, folder in ((s0, "a"), (s1, "b")):
        for j in part:
            run_job(j, opts, EvalCache(tmp_path / folder))
    merged = merge([tmp_path / "a", tmp_path / "b"], tmp_path / "merged")
    a, b = one.results(), merged.results()
    assert a.keys() == b.keys() and len(a) == 2
    assert {k: (r.n, dict(r.correct)) for k, r in a.items()} == {k: (r.n, dict(r.correct)) for k, r in b.items()}


def test_resnet_card_checks(tmp_path: Path) -> None:
    path = "cards/megengine_vision_resnet.md"
    card, diags = parse_card(path, (ROOT / path).read_text(encoding="utf-8"))
    assert card is not None
    registry, _ = load_registry(ROOT / "cards" / "datasets.yaml")
    # A store with no megengine/models repository and no weights; no ImageNet on this machine.
    empty = tmp_path / "mge_home"
    (empty / "hub").mkdir(parents=True)
    from generator.store.materialize import RunAssets

    assets = RunAssets(empty, {}, frozenset(), (), {}, {})
    opts = EvalOptions(dataset_dirs={"imagenet-val": str(tmp_path / "no-imagenet")})
    states, diags = _verify(card, assets=assets, registry=registry, options=opts, cards_dir=ROOT / "cards")
    assert not diags and len(states) == 24
    for s in states:
        checks = {o.name: o for o in s.checks}
        assert checks["languages"].status == "pass"
        assert checks["weight-name"].status == "unverified" and "megengine/models" in checks["weight-name"].reason
        ev = checks["evaluation"]
        assert ev.status == "unverified"
        assert "not in the asset store, so neither are its weights" in ev.reason
        assert "ImageNet val not available on this machine: set IMAGENET_VAL_DIR" in ev.reason
        assert s.status == "unverified"

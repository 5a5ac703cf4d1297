"""The pieces behind verdicts on real card shapes, one at a time: the metrics registry, row labels
and entry matching, weight-name decoding, what a dataset location holds, and the reason data."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.claims.checks import (check_weight_name, decode_weight_metric, decode_weight_name,
                                     evaluation_outcome)
from generator.claims.combine import combine
from generator.claims.datasets import load_registry
from generator.claims.extract import extract_claims, metric_of, parse_number, row_labels, table_claims
from generator.claims.samples import holding
from generator.core.errors import Loc
from generator.core.model import CheckOutcome, Claim, Mark, Table
from generator.hub.names import match_label, name_keys, weight_stem


def table(header: list[str], rows: list[list[str]], marks: tuple[Mark, ...] = ()) -> Table:
    return Table("c", "en_US", 0, tuple(header), tuple(tuple(r) for r in rows), Loc("c.md", 10),
                 tuple(12 + i for i in range(len(rows))), marks)


def claim(text: str, scale: str = "percent", kind: str = "accuracy", col: int = 1, metric: str = "top1",
          row: str = "r", direction: str = "higher") -> Claim:
    return Claim("c", "en_US", 0, row, "col", metric, text, float(text), scale, kind,  # type: ignore[arg-type]
                 Loc("c.md", 12), 0, col, direction)  # type: ignore[arg-type]


# ---------------------------------------------------------------- metrics registry

@pytest.mark.parametrize("header, expected", [
    ("FID", ("fid", "score", "lower", "value")),
    ("FID-50k ↓", ("fid", "score", "lower", "value")),
    ("IS", ("is", "score", "higher", "value")),
    ("IS ↑", ("is", "score", "higher", "value")),
    ("Inception Score", ("is", "score", "higher", "value")),
    ("KID", ("kid", "score", "lower", "value")),
    ("Top-1 err.", ("top1", "error", "lower", "auto")),
    ("Top1 acc", ("top1", "accuracy", "higher", "auto")),
    ("mAP<br>@5-95", ("map", "accuracy", "higher", "auto")),
    ("AP (M)", ("ap_m", "accuracy", "higher", "auto")),
    ("BLEU", ("bleu", "score", "higher", "value")),
    ("WER (%)", ("wer", "score", "lower", "auto")),
    ("loss", ("loss", "score", "lower", "value")),
    ("Latency (ms)", ("latency", "score", "lower", "value")),
    ("PSNR (dB)", ("psnr", "score", "higher", "value")),
    ("β<sub>1</sub>", None), ("lr", None), ("Backbone", None), ("Input Size", None), ("#Params.", None),
    ("Arch", None), ("Approach", None),
])
def test_registry(header: str, expected: tuple[str, str, str, str] | None) -> None:
    m = metric_of(header)
    assert (None if m is None else (m.id, m.kind, m.direction, m.scale)) == expected


def test_gan_table_claims_keep_their_own_scale_and_direction() -> None:
    t = table(["model", "FID", "IS", "KID"], [["DCGAN", "37.7", "6.40", "0.0281"], ["WGAN", "31.2", "6.92", "0.0244"]])
    claims, diags = table_claims("c", t)
    assert not diags and len(claims) == 6
    kid = next(c for c in claims if c.metric == "kid")
    assert (kid.scale, kid.kind, kid.direction, kid.value) == ("value", "score", "lower", 0.0281)
    assert kid.accuracy_percent == 0.0281  # a score is compared as written, never as 2.81 %
    assert {c.direction for c in claims if c.metric == "is"} == {"higher"}


def test_plus_minus_cells_are_the_value() -> None:
    assert parse_number("12.3 ± 0.4") == (12.3, "12.3")
    assert parse_number("**76.1**±0.2") == (76.1, "76.1")
    assert parse_number("-") is None and parse_number("N/A") is None


def test_tables_that_look_like_results_but_give_nothing_are_warnings(tmp_path: Path) -> None:
    from generator.cards.parse import parse_card

    text = ("---\ntemplate: hub1\ntitle: T\nsummary: {en_US: a, zh_CN: b}\nauthor: x\ntags: [vision]\n"
            "github-link: https://github.com/a/b\n---\n\n```python\nprint(1)\n```\n"
            "<!-- section: zh_CN -->\n\n| 模型 | 参数 |\n| --- | --- |\n| a | 1 |\n\n"
            "<!-- section: en_US -->\n\n| model | Score ↑ |\n| --- | --- |\n| a | 71.2 |\n\n"
            "| model | Top-1 acc |\n| --- | --- |\n| a | - |\n\n"
            "| model | lr | β<sub>1</sub> |\n| --- | --- | --- |\n| a | 0.1 | 0.9 |\n")
    card, diags = parse_card("cards/t.md", text)
    assert card is not None, diags
    claims, diags = extract_claims(card)
    assert not claims
    said = [(d.loc.line, d.code.value, d.message) for d in diags]
    assert len(said) == 2, said
    assert said[0][0] == 21 and "looks like results ('Score ↑' hold numbers)" in said[0][2]
    assert said[1][0] == 25 and said[1][1] == "results-table" and "'Top-1 acc' holds no number" in said[1][2]


# ---------------------------------------------------------------- rows and entries

def test_a_repeated_first_column_takes_the_column_that_tells_rows_apart() -> None:
    t = table(["Methods", "Backbone", "Input Size", "AP"],
              [["SimpleBaseline", "res50", "256x192", "0.712"], ["SimpleBaseline", "res101", "256x192", "0.722"],
               ["SimpleBaseline", "res152", "256x192", "0.724"]])
    assert row_labels(t) == ["SimpleBaseline res50", "SimpleBaseline res101", "SimpleBaseline res152"]
    claims, _ = table_claims("c", t)
    assert [c.row for c in claims] == row_labels(t) and {c.scale for c in claims} == {"fraction"}
    unique = table(["model", "Top1 acc"], [["a", "1"], ["b", "2"]])
    assert row_labels(unique) == ["a", "b"]


@pytest.mark.parametrize("label, entry", [
    ("ShuffleNetV2 x0.5", "shufflenet_v2_x0_5"), ("ShuffleNetV2 0.5x", "shufflenet_v2_x0_5"),
    ("ShuffleNet V2 x1.0", "shufflenet_v2_x1_0"), ("ShuffleNetV2 x1.0", "shufflenet_v2_x1"),
    ("ResNeXt50 32x4d", "resnext50_32x4d"), ("ResNet-18", "resnet18"),
    ("retinanet-res50-1x-800size", "retinanet_res50_1x_800size"), ("SimpleBaseline res50", "simplebaseline_res50"),
])
def test_labels_match_entry_names(label: str, entry: str) -> None:
    assert name_keys(label) & name_keys(entry), (name_keys(label), name_keys(entry))
    assert match_label(label, {entry: None, "resnet50": None, "other_x2_0": None}).entry == entry


def test_matching_is_unique_or_nothing_and_falls_back_to_weight_file_names() -> None:
    entries = {"retinanet_res50_coco_1x_800size": "https://x/retinanet_res50_1x_800size_36dot4_5b2b3a9c.pkl",
               "retinanet_res50_coco_3x_800size": "https://x/retinanet_res50_3x_800size_39dot1_0a0b0c0d.pkl",
               "shufflenet_v2_x0_5": "https://x/snetv2_x0_5_60750_c28db1a2.pkl"}
    m = match_label("retinanet-res50-1x-800size", entries)
    assert (m.entry, m.how) == ("retinanet_res50_coco_1x_800size", "weights")
    amb = match_label("retinanet-res50", entries)
    assert amb.entry is None and amb.how == "ambiguous" and len(amb.candidates) == 2
    assert match_label("fcos-res50", entries).how == "none"
    assert weight_stem("https://x/simplebaseline_res50_256x192_71dot1_2c0de7.pkl") == "simplebaseline_res50_256x192"
    assert weight_stem("https://x/resnet18_naiveaug_70312_78a63ca6.pkl") == "resnet18_naiveaug"


# ---------------------------------------------------------------- weight names

@pytest.mark.parametrize("url, value, decimals", [
    ("https://x/simplebaseline_res50_256x192_71dot1_2c0de7.pkl", 71.1, 1),  # 6 hex digits
    ("https://x/r_70312_" + "ab" * 32 + ".pkl", 70.312, 3),  # 64 hex digits
    ("https://x/atss_res18_coco_3x_800size_38dot3_58e249d5.pkl", 38.3, 1),
])
def test_digests_of_any_length_from_6_to_64(url: str, value: float, decimals: int) -> None:
    wm = decode_weight_metric(url)
    assert wm is not None and wm.value == pytest.approx(value) and wm.decimals == decimals


def test_ambiguous_and_absent_metrics_say_which() -> None:
    amb = decode_weight_name("https://x/resnet18_7031_78a63ca6.pkl")
    assert not hasattr(amb, "value") and amb.code == "ambiguous" and "70.31" in amb.reason  # type: ignore[union-attr]
    none = decode_weight_name("https://x/model_final_12ab5.pkl")  # 5 hex digits: no digest
    assert none.code == "no-metric"  # type: ignore[union-attr]
    o = check_weight_name(claim("70.3"), "https://x/resnet18_7031_78a63ca6.pkl", "resnet18", 1)
    assert o.status == "unverified" and o.code == "ambiguous" and "ambiguous" in o.reason


def test_the_names_scale_is_read_against_the_tables() -> None:
    kp = claim("0.712", scale="fraction", metric="ap")
    o = check_weight_name(kp, "https://x/simplebaseline_res50_71dot1_2c0de7.pkl", "e", 1)
    assert o.status == "mismatch" and o.measured == pytest.approx(0.711) and o.args["encoded"] == "71dot1"
    assert check_weight_name(claim("0.711", scale="fraction"), "https://x/s_71dot1_2c0de7.pkl", "e", 1).status == "pass"
    # a 0-1 name against a percent table
    assert check_weight_name(claim("71.2"), "https://x/s_0dot712_2c0de7.pkl", "e", 1).status == "pass"
    assert check_weight_name(claim("71.5"), "https://x/s_0dot712_2c0de7.pkl", "e", 1).status == "mismatch"
    # a score is compared as written
    fid = claim("37.7", scale="value", kind="score", metric="fid", direction="lower")
    assert check_weight_name(fid, "https://x/dcgan_37dot7_3ad2e1b7.pkl", "dcgan", 1).status == "pass"
    assert check_weight_name(fid, "https://x/dcgan_36dot1_3ad2e1b7.pkl", "dcgan", 1).status == "mismatch"


# ---------------------------------------------------------------- what a location holds

def test_holdings() -> None:
    def held(**kw: object) -> tuple[str, str, bool]:
        args: dict[str, object] = dict(dataset_id="imagenet-val", title="ImageNet val", size=50000, holds="full",
                                       seed="", population="", samples=(), fingerprint="f" * 64, root="/d", n=50000)
        args.update(kw)
        h = holding(**args)  # type: ignore[arg-type]
        return h.kind, h.name, h.declared

    assert held() == ("full", "ImageNet val", True)
    assert held(n=1300) == ("subset", "an undeclared part of ImageNet val (1,300 of 50,000 items)", False)
    assert held(n=1300, holds="random-sample", seed="0", population="x")[0] == "random-sample"


def test_declared_samples_in_the_registry(tmp_path: Path) -> None:
    reg = tmp_path / "datasets.yaml"
    reg.write_text(
        "imagenet-val:\n  title: ImageNet val\n  kind: imagenet-folder\n  size: 50000\n  samples:\n"
        "    rand5k:\n      holds: random-sample\n      seed: 7\n      population: imagenet-val\n"
        "      fingerprint: abc\n"
        "    demo:\n      holds: subset\n      title: curated demo subset\n      path: /data/demo\n"
        "    broken:\n      holds: random-sample\n      fingerprint: def\n"
        "    nowhere:\n      holds: subset\n", encoding="utf-8")
    defs, diags = load_registry(reg)
    msgs = [(d.loc.line, d.message) for d in diags]
    assert (15, "sample 'broken' of imagenet-val: a random-sample declares its seed") in msgs
    assert (15, "sample 'broken' of imagenet-val: a random-sample declares its population") in msgs
    assert any(line == 18 and "say which location it is" in m for line, m in msgs)
    samples = {s.name: s for s in defs["imagenet-val"].samples}
    assert set(samples) == {"rand5k", "demo"} and samples["rand5k"].seed == "7"
    h = holding("imagenet-val", "ImageNet val", 50000, "full", "", "", defs["imagenet-val"].samples, "abc", "/x", 5000)
    assert (h.kind, h.name, h.declared, h.seed) == ("random-sample", "rand5k", True, "7")
    h = holding("imagenet-val", "ImageNet val", 50000, "full", "", "", defs["imagenet-val"].samples, "zzz",
                "/data/demo", 1300)
    assert (h.kind, h.name) == ("subset", "curated demo subset")


def test_a_subset_measurement_is_its_own_state() -> None:
    c = claim("75.1")
    o = evaluation_outcome(c, 1071, 1300, False, None, {}, subset="imagenet-demo-1300")
    assert o.status == "measured-on-subset" and o.measured == pytest.approx(82.3846, abs=1e-3)
    assert o.reason.startswith("measured on imagenet-demo-1300: 82.4 % (n=1,300)") and "interval" not in o.reason
    assert o.args == {"subset": "imagenet-demo-1300", "measured": "82.4 %", "n": 1300}
    # without `subset` the same counts give the interval that excluded 75.1 before
    assert evaluation_outcome(c, 1071, 1300, False, None, {}).status == "mismatch"
    lang = CheckOutcome("languages", "pass")
    assert combine(c, [lang, o]).status == "measured-on-subset"
    assert combine(c, [lang, CheckOutcome("weight-name", "mismatch", reason="x"), o]).status == "mismatch"


def test_rows_no_column_tells_apart_match_no_entry(tmp_path: Path) -> None:
    from generator.claims.rows import row_diagnostics, row_entries

    t = table(["model", "input", "AP"], [["SimpleBaseline", "256", "0.712"], ["SimpleBaseline", "384", "0.731"]])
    assert row_labels(t) == ["SimpleBaseline 256", "SimpleBaseline 384"]  # numbers, as a last resort
    same = table(["model", "AP"], [["SimpleBaseline", "0.712"], ["SimpleBaseline", "0.731"]])
    claims, _ = table_claims("c", same)
    tree = tmp_path / "hub"
    tree.mkdir()
    (tree / "hubconf.py").write_text('from megengine import hub\n\n@hub.pretrained("https://x/sb_71dot1_2c0de7.pkl")\n'
                                     "def simplebaseline():\n    return 1\n", encoding="utf-8")
    rows = row_entries(claims, tree, None)
    assert rows.entries == {"SimpleBaseline": None}, "one label for two rows names no one model"
    (d,) = row_diagnostics(claims, rows, "megengine/models", None)
    assert d.loc.line == 12 and "several rows of its table carry this label" in d.message

"""Tables -> claims: which tables and columns are results, scales, kinds, metric ids, row keys."""

from __future__ import annotations

import pytest

from generator.claims.extract import extract_claims, match_entry, metric_of, row_key, table_claims
from generator.core.errors import Loc
from generator.core.model import Mark, Table


def table(header: list[str], rows: list[list[str]], marks: tuple[Mark, ...] = ()) -> Table:
    return Table("c", "en_US", 0, tuple(header), tuple(tuple(r) for r in rows), Loc("c.md", 10),
                 tuple(12 + i for i in range(len(rows))), marks)


@pytest.mark.parametrize("header, expected", [
    ("Top1 acc", ("top1", "accuracy")),
    ("Top5 acc", ("top5", "accuracy")),
    ("Top-1 err.", ("top1", "error")),
    ("top-5 error", ("top5", "error")),
    ("Accuracy", ("top1", "accuracy")),
    ("Top-1 精度", ("top1", "accuracy")),
    ("准确率", ("top1", "accuracy")),
    ("错误率", ("top1", "error")),
    ("mAP<br>@5-95", ("map", "accuracy")),
    ("mAP@50", ("map50", "accuracy")),
    ("AP", ("ap", "accuracy")),
    ("AP .5", ("ap50", "accuracy")),
    ("AP .75", ("ap75", "accuracy")),
    ("AP (M)", ("ap_m", "accuracy")),
    ("APl", ("ap_l", "accuracy")),
    ("AR .5", ("ar50", "accuracy")),
    ("mIoU", ("miou", "accuracy")),
    ("#Params.", None), ("FLOPs", None), ("Activation", None), ("model", None), ("模型", None),
    ("Arch", None), ("Approach", None), ("batch size", None), ("lr", None),
])
def test_metric_of(header: str, expected: tuple[str, str] | None) -> None:
    m = metric_of(header)
    assert (None if m is None else (m.id, m.kind)) == expected


@pytest.mark.parametrize("label, key", [
    ("ResNet18", "resnet18"), ("ResNet101", "resnet101"), ("ResNeXt50 32x4d", "resnext50_32x4d"),
    ("retinanet-res50-1x-800size", "retinanet_res50_1x_800size"), ("**ShuffleNet V2 x0.5**", "shufflenet_v2_x0_5"),
])
def test_row_key(label: str, key: str) -> None:
    assert row_key(label) == key


def test_match_entry_explicit_and_by_key() -> None:
    entries = ["resnet18", "resnext50_32x4d", "retinanet_res50_1x_800size"]
    assert match_entry("ResNeXt50 32x4d", entries) == "resnext50_32x4d"
    assert match_entry("retinanet-res50-1x-800size", entries) == "retinanet_res50_1x_800size"
    assert match_entry("R18", entries) is None
    assert match_entry("R18", entries, {"R18": "resnet18"}) == "resnet18"


def test_bold_cells_non_metric_columns_and_lines() -> None:
    t = table(["Model", "#Params.", "FLOPs", "Top-1 err."],
              [["ShuffleNetV2 0.5x", "1.4M", "41M", "**39.7**"], ["ShuffleNetV2 1.0x", "2.3M", "146M", "30.6"]])
    claims, diags = table_claims("c", t)
    assert not diags
    assert [(c.row, c.column, c.value, c.text, c.kind, c.scale, c.loc.line) for c in claims] == [
        ("ShuffleNetV2 0.5x", "Top-1 err.", 39.7, "39.7", "error", "percent", 12),
        ("ShuffleNetV2 1.0x", "Top-1 err.", 30.6, "30.6", "error", "percent", 13),
    ]
    assert claims[0].accuracy_percent == pytest.approx(60.3)


def test_fraction_scale_is_decided_per_column() -> None:
    t = table(["model", "AP", "AR", "Top1 acc (%)"], [["a", "0.712", "0.9", "0.5"], ["b", "0.699", "1.0", "0.7"]])
    claims, _ = table_claims("c", t)
    scales = {(c.metric, c.scale) for c in claims}
    # AP and AR are 0-1; the third column says % in its header, so 0.5 there means 0.5 %
    assert scales == {("ap", "fraction"), ("ar", "fraction"), ("top1", "percent")}
    ap = next(c for c in claims if c.metric == "ap")
    assert ap.accuracy_percent == pytest.approx(71.2) and ap.decimals == 3


def test_br_header_and_non_numbers() -> None:
    t = table(["model", "mAP<br>@5-95"], [["tinydet-res18-1x-800size", "**30.1**"], ["other", "-"]])
    claims, _ = table_claims("c", t)
    assert [(c.row, c.metric, c.value) for c in claims] == [("tinydet-res18-1x-800size", "map", 30.1)]


def test_marks_and_hyper_parameter_tables() -> None:
    from generator.claims.extract import is_results_table

    hyper = table(["参数", "值"], [["lr", "0.1"], ["epochs", "90"]])
    assert not is_results_table(hyper)
    assert is_results_table(table(["参数", "值"], [["lr", "0.1"]], (Mark("table", "results", Loc("c.md", 9)),)))
    ignored = table(["model", "Top1 acc"], [["a", "1.0"]], (Mark("table", "ignore", Loc("c.md", 9)),))
    assert not is_results_table(ignored)


def test_resnet_card_claims() -> None:
    from pathlib import Path

    from generator.cards.parse import parse_card

    root = Path(__file__).resolve().parents[2]
    path = "cards/megengine_vision_resnet.md"
    card, _ = parse_card(path, (root / path).read_text(encoding="utf-8"))
    assert card is not None
    claims, diags = extract_claims(card)
    assert not diags and len(claims) == 24
    first = claims[0]
    assert (first.lang, first.row, first.metric, first.value, first.loc.line) == ("zh_CN", "ResNet18", "top1", 70.312, 62)
    assert {c.row for c in claims} >= {"ResNeXt50 32x4d", "ResNet101"}

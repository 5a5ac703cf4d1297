"""Checks 1 and 2, the Wilson interval and the combination of outcomes (pure)."""

from __future__ import annotations

import pytest

from generator.claims.checks import check_languages, check_weight_name, decode_weight_metric, evaluation_outcome
from generator.claims.combine import combine
from generator.core.errors import Loc
from generator.core.model import CheckOutcome, Claim
from generator.claims.stats import wilson_interval


def claim(value: str, lang: str = "en_US", line: int = 20, row: str = "ResNet18", col: int = 1,
          metric: str = "top1", scale: str = "percent", kind: str = "accuracy", column: str = "Top1 acc",
          row_index: int = 0) -> Claim:
    return Claim("c", lang, 0, row, column, metric, value, float(value), scale, kind,  # type: ignore[arg-type]
                 Loc("cards/c.md", line), row_index, col)


def test_languages_agree_and_disagree() -> None:
    zh = [claim("70.312", "zh_CN", 10), claim("89.430", "zh_CN", 10, col=2, metric="top5")]
    en = [claim("70.312", "en_US", 30), claim("89.43", "en_US", 30, col=2, metric="top5")]
    out = check_languages(zh + en, ["zh_CN", "en_US"])
    assert out[zh[0]].status == out[en[0]].status == "pass"
    # 89.430 and 89.43 are the same number
    assert out[zh[1]].status == "pass"
    en2 = [claim("70.312", "en_US", 30), claim("89.530", "en_US", 30, col=2, metric="top5")]
    out = check_languages(zh + en2, ["zh_CN", "en_US"])
    a, b = out[zh[1]], out[en2[1]]
    assert a.status == b.status == "mismatch"
    assert a.provenance["other_line"] == 30 and b.provenance["other_line"] == 10
    assert a.measured == 89.53 and b.measured == 89.43
    assert "en_US line 30 says 89.530" in a.reason


def test_languages_translated_labels_and_missing_counterpart() -> None:
    zh = [claim("70.1", "zh_CN", 10, row="小模型"), claim("75.0", "zh_CN", 11, row="大模型", row_index=1)]
    en = [claim("70.1", "en_US", 30, row="small"), claim("75.0", "en_US", 31, row="large", row_index=1)]
    out = check_languages(zh + en, ["zh_CN", "en_US"])
    assert all(o.status == "pass" for o in out.values())
    extra = claim("80.0", "zh_CN", 12, row="巨模型", row_index=2)
    out = check_languages(zh + en + [extra], ["zh_CN", "en_US"])
    assert out[extra].status == "unverified" and "no en_US counterpart" in out[extra].reason
    only = check_languages(zh, ["zh_CN"])
    assert only[zh[0]].status == "unverified" and "no en_US section" in only[zh[0]].reason


@pytest.mark.parametrize("url, value, decimals", [
    ("https://data.megengine.org.cn/models/weights/resnet18_naiveaug_70312_78a63ca6.pkl", 70.312, 3),
    ("https://x/atss_res18_coco_3x_800size_38dot3_58e249d5.pkl", 38.3, 1),
    ("https://x/simplebaseline_res50_256x192_0dot712_5f5b2ae5.pkl", 0.712, 3),
])
def test_decode_weight_metric(url: str, value: float, decimals: int) -> None:
    wm = decode_weight_metric(url)
    assert wm is not None and wm.value == pytest.approx(value) and wm.decimals == decimals


@pytest.mark.parametrize("url", [
    "https://x/resnet18_7031_78a63ca6.pkl",  # 4 digits: 70.31 or 7.031? no check
    "https://x/model_final.pkl", "https://x/resnet18_naiveaug_70312.pkl", "https://x/a_b_70312_xyz.pkl",
])
def test_decode_weight_metric_conservative(url: str) -> None:
    assert decode_weight_metric(url) is None


def test_weight_name_check() -> None:
    url = "https://x/shufflenet_v2_x0_5_60750_b3cd4b7e.pkl"
    c = claim("60.696", row="ShuffleNetV2 x0.5")
    o = check_weight_name(c, url, "shufflenet_v2_x0_5", 1)
    assert o.status == "mismatch" and o.measured == pytest.approx(60.75) and "60750" in o.reason
    assert check_weight_name(claim("60.750"), url, "e", 1).status == "pass"
    # 0-1 table vs percent weight name: 0.712 vs 71dot1 differ at the table's precision
    kp = claim("0.712", scale="fraction", metric="ap", column="AP")
    o = check_weight_name(kp, "https://x/simplebaseline_res50_71dot1_5f5b2ae5.pkl", "e", 1)
    assert o.status == "mismatch" and o.measured == pytest.approx(0.711)
    assert check_weight_name(claim("0.711", scale="fraction"), "https://x/s_71dot1_5f5b2ae5.pkl", "e", 1).status == "pass"
    # shorter representation sets the tolerance: 70.3 agrees with 70312 (|70.312-70.3| < 0.05)
    assert check_weight_name(claim("70.3"), "https://x/r_70312_78a63ca6.pkl", "e", 1).status == "pass"
    # only the primary column; no metric in the name -> no check
    assert check_weight_name(claim("89.43", col=2), "https://x/r_70312_78a63ca6.pkl", "e", 1).status == "unverified"
    o = check_weight_name(claim("70.3"), "https://x/r_final.pkl", "e", 1)
    assert o.status == "unverified" and o.reason == "weight name encodes no metric"


def test_wilson_interval_by_hand() -> None:
    # 95 of 100, z = 1.959964, z^2 = 3.841459:
    #   centre = (0.95 + 3.841459/200) / (1 + 3.841459/100) = 0.9692073 / 1.0384146 = 0.9333529
    #   half   = 1.959964 * sqrt(0.95*0.05/100 + 3.841459/40000) / 1.0384146
    #          = 1.959964 * sqrt(0.000475 + 0.0000960365) / 1.0384146 = 0.0451034
    #   -> [0.8882495, 0.9784563]
    lo, hi = wilson_interval(95, 100)
    assert lo == pytest.approx(0.8882495, abs=1e-6) and hi == pytest.approx(0.9784563, abs=1e-6)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_evaluation_outcome_full_and_subset() -> None:
    c = claim("93.000")
    assert evaluation_outcome(c, 930, 1000, True, None, {}).status == "verified"
    o = evaluation_outcome(c, 931, 1000, True, None, {})
    assert o.status == "mismatch" and o.measured == pytest.approx(93.1)
    assert evaluation_outcome(c, 931, 1000, True, 0.2, {}).status == "verified"
    # subset: 95/100 -> [88.82, 97.85] contains 93.0; 85.0 is outside
    assert evaluation_outcome(c, 95, 100, False, None, {}).status == "consistent"
    assert evaluation_outcome(claim("85.0"), 95, 100, False, None, {}).status == "mismatch"
    err = claim("7.000", kind="error", column="Top-1 err.")
    o = evaluation_outcome(err, 930, 1000, True, None, {})
    assert o.status == "verified" and o.measured == pytest.approx(7.0)


def test_combine_priorities() -> None:
    c = claim("70.0")
    p = CheckOutcome("languages", "pass")
    u = CheckOutcome("weight-name", "unverified", reason="weight name encodes no metric")
    v = CheckOutcome("evaluation", "verified", measured=70.0, reason="ok")
    k = CheckOutcome("evaluation", "consistent", measured=69.0, reason="subset")
    m = CheckOutcome("weight-name", "mismatch", measured=71.0, reason="weight file name encodes 71000")
    assert combine(c, [p, u, v]).status == "verified"
    assert combine(c, [p, u, k]).status == "consistent"
    s = combine(c, [p, m, v])
    assert s.status == "mismatch" and s.reason.startswith("weight-name check") and len(s.checks) == 3
    s = combine(c, [p, u])
    assert s.status == "unverified" and "weight name encodes no metric" in s.reason and "evaluation: not run" in s.reason

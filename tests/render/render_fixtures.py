"""Data for the rendering tests: the fixture cards parsed by the real parser, with a fixed
update time (git/mtime would make golden files depend on the checkout), and hand-written
verification results (test data, not produced by running anything)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from generator.cards.tags import load_tags
from generator.core.errors import Loc
from generator.core.model import (PRELUDE, AssetRecord, BlockResult, Card, CardVerification, CheckOutcome, Claim,
                             ClaimState, DatasetRecord, ProgramResult, Tag)
from generator.cards.parse import parse_card
from generator.site.options import SiteOptions

HERE = Path(__file__).resolve().parent
CARDS = HERE / "cards"
GOLDEN = HERE / "golden"
FIXED_TIME = "2024-05-01T12:00:00Z"
RESNET = "megengine_vision_resnet"
TINYDET = "example_vision_tinydet"
# Fixture URLs of what the (hand-written) runs were served: the cat photo a stand-in, weights real.
CAT_URL = "https://data.megengine.org.cn/images/cat.jpg"
WEIGHTS_URL = "https://data.megengine.org.cn/models/weights/resnet18_naiveaug_70312_78a63ca6.pkl"


def read_fixture_cards() -> tuple[list[Card], dict[str, Tag]]:
    tags, problems = load_tags(CARDS)
    assert not problems
    cards = []
    for f in sorted(CARDS.glob("*.md")):
        card, diags = parse_card(f"cards/{f.name}", f.read_text(encoding="utf-8"), tags)
        assert card is not None, diags
        cards.append(dataclasses.replace(card, update_time=FIXED_TIME))
    return cards, tags


def _claim(lang: str, row: str, column: str, text: str, line: int) -> Claim:
    return Claim(RESNET, lang, 0, row, column, "top1" if column.startswith("Top1") else "top5", text,
                 float(text), "percent", "accuracy", Loc(f"cards/{RESNET}.md", line))


def sample_verification() -> dict[str, CardVerification]:
    """ResNet: one program for both languages; the prelude ran with placeholder weights, the
    section block failed; Top1 of ResNet18 verified, of ResNet34 a mismatch, the rest unverified.
    tinydet: no verification at all (it must read 'not verified')."""
    prov = {"n": 50000, "dataset": "imagenet-val", "date": "2024-04-30T08:00:00Z", "correct": 35150,
            "repo": "megengine/models", "entry": "resnet18", "weights_url": WEIGHTS_URL,
            "weights_sha256": "ab" * 32, "weights_size": 46_827_520, "tool_version": "0.1.0",
            "dataset_fingerprint": "cd" * 32, "dataset_size": 50000, "limit": 0, "full": True, "holds": "full",
            "sample": "ImageNet-1k validation set", "preprocess": {"resize": 256, "crop": 224, "channel_order": "BGR"},
            "versions": {"megengine": "1.13.0", "numpy": "1.26.4", "opencv": "4.11.0.86", "python": "3.10.13"},
            "cpu": "Test CPU", "wall_s": 1234.5, "images_per_s": 40.5, "batch_size": 32, "sandbox": "bubblewrap"}
    blocks = (
        BlockResult(PRELUDE, 0, 12, "passed", flags=("placeholder-weights",), duration_s=1.5,
                    stdout="", reason=""),
        BlockResult("zh_CN", 0, 30, "failed", flags=("substitute-asset",), duration_s=0.25, served=(CAT_URL,),
                    stdout="02 06:43:00 load_serialized_obj_from_url: Using cached download\npartial <output>\n",
                    stderr="libpng warning: iCCP: known incorrect sRGB profile\n",
                    traceback='File "cards/megengine_vision_resnet.md", line 51\n'
                              "TypeError: expected Tensor, got ndarray",
                    reason="TypeError: expected Tensor, got ndarray", reason_code="exception",
                    reason_args={"detail": "TypeError: expected Tensor, got ndarray"}),
    )
    program = ProgramResult(RESNET, ("en_US", "zh_CN"), blocks, "k" * 40, "2024-04-30T07:00:00Z",
                            {"python": "3.10.13", "megengine": "1.13.0"},
                            card_path="cards/megengine_vision_resnet.md")
    claims = []
    for lang, other, header_line, col1 in (("zh_CN", "en_US", 60, "Top1 acc"), ("en_US", "zh_CN", 112, "Top1 acc")):
        c18 = _claim(lang, "ResNet18", col1, "70.312", header_line + 2)
        c34 = _claim(lang, "ResNet34", col1, "73.960", header_line + 3)
        c50 = _claim(lang, "ResNet50", "Top5 acc", "93.056", header_line + 4)
        claims += [
            ClaimState(c18, "verified", (
                CheckOutcome("languages", "pass", reason="zh_CN and en_US agree", code="same",
                             args={"lang": other, "line": header_line + 2}),
                CheckOutcome("evaluation", "verified", 70.3, "within tolerance", prov, code="full-agrees",
                             args={"measured": "70.300 %", "n": 50000, "tolerance_pp": 0.0005}))),
            ClaimState(c34, "mismatch", (CheckOutcome("evaluation", "mismatch", 72.5, "off by 1.46 pp",
                                                      {**prov, "correct": 36250},
                                                      code="full-differs",
                                                      args={"measured": "72.500 %", "n": 50000,
                                                            "tolerance_pp": 0.0005}),),
                       reason="measured 72.500"),
            ClaimState(c50, "unverified", (CheckOutcome("evaluation", "unverified", None, "dataset absent"),)),
        ]
    assets = (AssetRecord(CAT_URL, "file", "ef" * 32, 240_512, substitute=True, local=True),
              AssetRecord(WEIGHTS_URL, "weights", "ab" * 32, 46_827_520, params=11_689_512))
    return {RESNET: CardVerification(RESNET, (program,), tuple(claims), assets,
                                     DatasetRecord("imagenet-val", "ImageNet-1k validation set", 50000, "IMAGENET_VAL_DIR"))}


def options() -> SiteOptions:
    # The project's own templates and catalog: the golden build tests what ships.
    return SiteOptions()

"""The one registry of metrics a results table may report: how a column header names each, which
way is better, and whether its numbers are percentages (or 0-1 fractions) or plain scores.

    kind       accuracy  a share that is better high (top-1, AP, mIoU), percent or 0-1
               error     the complement of an accuracy (top-1 err.): 100 - error is an accuracy
               score     a number on its own scale (FID, IS, BLEU, latency): compared as written
    direction  higher | lower: which way is better (error, FID, KID, loss, WER, latency: lower)
    scale      auto      percent, or a 0-1 fraction when every value of the column is <= 1
               value     as written, never converted (KID 0.012 is not 1.2 %)

`metric_of(header)` is the only lookup. Rules are tried in order; the first whose pattern is found
in the header's plain text (lower case, arrows removed) names the metric. An arrow in the header
(`FID↓`, `IS ↑`) states the direction and wins over the registry's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Literal

Kind = Literal["accuracy", "error", "score"]
Direction = Literal["higher", "lower"]
Scale = Literal["auto", "value"]

_ERROR_WORDS = re.compile(r"\berr(or|\.|\b)|错误率|误差")
_ACCURACY_WORDS = re.compile(r"acc(uracy|\.|\b)|精度|准确率|正确率")
_ARROWS = {"↓": "lower", "↑": "higher", "⬇": "lower", "⬆": "higher"}


@dataclass(frozen=True)
class Metric:
    id: str  # normalised id: top1, top5, map, ap50, miou, fid, ...
    kind: Kind
    direction: Direction = "higher"
    scale: Scale = "auto"


@dataclass(frozen=True)
class Rule:
    """One metric family: `pattern` searched in the header's plain lower-case text; `name` gives
    the id from the match (AP/AR carry their IoU and size suffixes)."""

    pattern: re.Pattern[str]
    kind: Kind
    direction: Direction
    scale: Scale
    name: Callable[[re.Match[str], str], str]


def _fixed(name: str) -> Callable[[re.Match[str], str], str]:
    return lambda m, text: name


def _iou_suffix(rest: str) -> str:
    """The IoU-threshold / object-size part of an AP/AR header: `@5-95` -> "", `.5` -> "50",
    `.75` -> "75", `(M)` -> "_m"."""
    nums = []
    for n in re.findall(r"\d*\.\d+|\d+", rest):
        x = float(n)
        x = x * 100 if x < 1 else (x * 10 if x < 10 else x)
        nums.append(int(round(x)))
    suffix = ""
    if len(nums) == 1:
        suffix = str(nums[0])
    elif len(nums) >= 2 and nums[:2] != [50, 95]:
        suffix = "_".join(str(n) for n in nums[:2])
    for word in re.sub(r"[^a-z]", " ", rest.lower()).split():
        if word in ("s", "small", "m", "medium", "l", "large"):
            suffix += "_" + word[0]
            break
    return suffix


def _ap_name(m: re.Match[str], text: str) -> str:
    rest = m.group(2)
    glued = re.match(r"^([sml])\b", rest)  # `APm` / `ARl`: the size letter glued to the name
    return m.group(1) + (("_" + glued.group(1)) if glued else _iou_suffix(rest))


def _r(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# In order: the first rule found in a header names its metric. Top-k first (a "Top-1 err." is a
# top-1 error, not a generic error); the generic accuracy/error words last.
RULES: tuple[Rule, ...] = (
    Rule(_r(r"top\s*-?\s*([15])(?!\d)"), "accuracy", "higher", "auto", lambda m, t: f"top{m.group(1)}"),
    Rule(_r(r"\bm?iou\b"), "accuracy", "higher", "auto", _fixed("miou")),
    Rule(_r(r"^(map|ap|ar)(?![a-z]{2})(.*)$"), "accuracy", "higher", "auto", _ap_name),
    Rule(_r(r"\bfid\b|fréchet inception"), "score", "lower", "value", _fixed("fid")),
    Rule(_r(r"\bkid\b|kernel inception"), "score", "lower", "value", _fixed("kid")),
    Rule(_r(r"^is\b|\binception score\b"), "score", "higher", "value", _fixed("is")),
    Rule(_r(r"\blpips\b"), "score", "lower", "value", _fixed("lpips")),
    Rule(_r(r"\bpsnr\b"), "score", "higher", "value", _fixed("psnr")),
    Rule(_r(r"\bssim\b"), "score", "higher", "value", _fixed("ssim")),
    Rule(_r(r"\bbleu\b"), "score", "higher", "value", _fixed("bleu")),
    Rule(_r(r"\brouge"), "score", "higher", "value", _fixed("rouge")),
    Rule(_r(r"\bcider\b"), "score", "higher", "value", _fixed("cider")),
    Rule(_r(r"\bwer\b|word error"), "score", "lower", "auto", _fixed("wer")),
    Rule(_r(r"\bcer\b|character error"), "score", "lower", "auto", _fixed("cer")),
    Rule(_r(r"\bperplexity\b|\bppl\b"), "score", "lower", "value", _fixed("perplexity")),
    Rule(_r(r"\bloss\b|损失"), "score", "lower", "value", _fixed("loss")),
    Rule(_r(r"\blatency\b|延迟|时延"), "score", "lower", "value", _fixed("latency")),
    Rule(_r(r"\b(fps|throughput)\b|吞吐"), "score", "higher", "value", _fixed("throughput")),
)


def _arrow(text: str) -> Direction | None:
    for arrow, direction in _ARROWS.items():
        if arrow in text:
            return "lower" if direction == "lower" else "higher"
    return None


def metric_of(text: str) -> Metric | None:
    """The metric a column header (already reduced to plain text) names, or None when it is not
    a metric column (#Params., FLOPs, Backbone, ...)."""
    arrow = _arrow(text)
    low = text.lower()
    for a in _ARROWS:
        low = low.replace(a, " ")
    low = " ".join(low.split())
    if not low:
        return None
    error = bool(_ERROR_WORDS.search(low))
    for rule in RULES:
        m = rule.pattern.search(low)
        if m is None:
            continue
        kind, direction = rule.kind, rule.direction
        if rule.kind == "accuracy" and error:
            kind, direction = "error", "lower"
        return Metric(rule.name(m, low), kind, arrow or direction, rule.scale)
    if error:
        return Metric("top1", "error", "lower")
    if _ACCURACY_WORDS.search(low):
        return Metric("top1", "accuracy", arrow or "higher")
    return None


def arrow_direction(text: str) -> Direction | None:
    """The direction an arrow in a header states (`Score ↑`), None without one."""
    return _arrow(text)

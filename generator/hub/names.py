"""Matching what people write in a table (`ShuffleNetV2 x0.5`, `ResNeXt50 32x4d`,
`retinanet-res50-1x-800size`, `SimpleBaseline res50`) with what code names (`shufflenet_v2_x0_5`,
`resnext50_32x4d`, `retinanet_res50_1x_800size`, `simplebaseline_res50`, or a weight file
`simplebaseline_res50_256x192_71dot1_2c0de7.pkl`).

Both sides are reduced to the same keys: lower case, a width multiplier written either way
(`0.5x`, `x0.5`, `x0_5`) as `x0.5`, trailing `.0` of a multiplier optional (`x1.0` = `x1`), then
every character that is not a letter or digit dropped. A label matches an entry when one of its
keys is one of the entry's; failing that, when it is the start of the entry's weight file name
(cut at a separator). A match must be unique: a label that fits several entries matches none, and
says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping
from urllib.parse import urlparse

# A stand-alone multiplier token: `0.5x`, `1x`, `x0.5`, `x0_5` (not `32x4d`: a digit follows).
_MULT_AFTER = re.compile(r"(?<![0-9a-z])(\d+(?:[._]\d+)?)x(?![0-9a-z])")
_MULT_BEFORE = re.compile(r"(?<![0-9a-z])x(\d+)(?:[._](\d+))?(?![0-9a-z.])")
_NOT_ALNUM = re.compile(r"[^0-9a-z.]+")
_TRAILING_ZERO = re.compile(r"(x\d+)\.0+(?![0-9])")
# The parts of a MegEngine weight file name after the model's: a metric and a digest.
_METRIC_TAIL = re.compile(r"_(\d+dot\d+|\d{4,6})(_[0-9a-f]{6,64})?$")
_DIGEST_TAIL = re.compile(r"_[0-9a-f]{6,64}$")


def _canonical(text: str) -> str:
    """Lower case with multipliers as `x<int>[.<frac>]` and separators as spaces."""
    t = text.lower().replace("×", "x")
    t = _MULT_AFTER.sub(lambda m: "x" + m.group(1).replace("_", "."), t)
    t = _MULT_BEFORE.sub(lambda m: "x" + m.group(1) + (f".{m.group(2)}" if m.group(2) else ""), t)
    return _NOT_ALNUM.sub(" ", t).strip()


def name_keys(text: str) -> frozenset[str]:
    """The keys a label or a code name is known by (see the module docstring)."""
    c = _canonical(text)
    variants = {c, _TRAILING_ZERO.sub(r"\1", c)}
    return frozenset(re.sub(r"[^0-9a-z]", "", v) for v in variants if v)


def _prefix_keys(text: str) -> frozenset[str]:
    """Keys of every leading run of tokens of a code name (`a_b_c` -> a, ab, abc)."""
    tokens = _canonical(text).split()
    out: set[str] = set()
    for k in range(1, len(tokens) + 1):
        out |= name_keys(" ".join(tokens[:k]))
    return frozenset(out)


def weight_stem(url: str) -> str:
    """The model part of a weight file name: `…/simplebaseline_res50_71dot1_2c0de7.pkl` ->
    `simplebaseline_res50`."""
    base = urlparse(url).path.rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    cut = _METRIC_TAIL.sub("", stem)
    return _DIGEST_TAIL.sub("", cut) if cut == stem else cut


@dataclass(frozen=True)
class RowMatch:
    entry: str | None
    how: str  # "name" | "weights" | "none" | "ambiguous" | "repeated" (several rows, one label)
    candidates: tuple[str, ...] = ()  # when ambiguous


def match_label(label: str, entries: Mapping[str, str | None]) -> RowMatch:
    """The entry (name -> weight URL or None) a row label speaks for."""
    keys = name_keys(label)
    if not keys:
        return RowMatch(None, "none")
    by_name = sorted(e for e in entries if name_keys(e) & keys)
    if len(by_name) == 1:
        return RowMatch(by_name[0], "name")
    if len(by_name) > 1:
        exact = [e for e in by_name if e.lower() == label.lower()]
        if len(exact) == 1:
            return RowMatch(exact[0], "name")
        return RowMatch(None, "ambiguous", tuple(by_name))
    by_weights = sorted(e for e, url in entries.items() if url and keys & _prefix_keys(weight_stem(url)))
    if len(by_weights) == 1:
        return RowMatch(by_weights[0], "weights")
    if len(by_weights) > 1:
        # `res50` starts both `res50_1x` and `res50_3x`: only a whole-stem match may decide.
        whole = [e for e in by_weights if keys & name_keys(weight_stem(entries[e] or ""))]
        if len(whole) == 1:
            return RowMatch(whole[0], "weights")
        return RowMatch(None, "ambiguous", tuple(by_weights))
    return RowMatch(None, "none")


def match_labels(labels: Iterable[str], entries: Mapping[str, str | None]) -> dict[str, RowMatch]:
    return {label: match_label(label, entries) for label in dict.fromkeys(labels)}

"""The three checks of a claimed number. Pure: no I/O.

1. languages   — the zh_CN and en_US tables say the same number (`check_languages`).
2. weight-name — the metric encoded in the published weight file name agrees with the table's
                 primary column (`decode_weight_metric`, `check_weight_name`).
3. evaluation  — the model was run on the dataset (`evaluation_outcome`, fed by evaluate.py).

combine.py turns the outcomes of one claim into exactly one state; verify.py runs the checks.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from generator.claims.extract import primary_column, row_key
from generator.core.model import LANGS, Claim, CheckOutcome
from generator.claims.stats import wilson_interval



def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{max(decimals, 0)}f}"


def _in_unit(claim: Claim, accuracy_percent: float) -> float:
    """An accuracy in percent expressed in the claim's own unit and kind."""
    v = 100.0 - accuracy_percent if claim.kind == "error" else accuracy_percent
    return v / 100.0 if claim.scale == "fraction" else v


def percent_decimals(claim: Claim) -> int:
    """Decimals of the claim once written in percent (0.712 -> 1, 70.312 -> 3)."""
    return max(claim.decimals - 2, 0) if claim.scale == "fraction" else claim.decimals


def half_unit(decimals: int) -> float:
    return 0.5 * 10.0 ** (-decimals)


# ---------------------------------------------------------------- check 1: languages

def _pair_key(c: Claim, ordinal: Mapping[tuple[str, int], int]) -> tuple[int, int]:
    return (ordinal.get((c.lang, c.table), c.table), c.col_index)


def check_languages(
    claims: Sequence[Claim],
    langs_present: Iterable[str],
    table_ordinal: Mapping[tuple[str, int], int] | None = None,
) -> dict[Claim, CheckOutcome]:
    """Match every claim with its counterpart in each other language: the same (k-th results)
    table, the row with the same key (else the same position when labels are translated), the
    same column position with the same metric. Differing numbers -> mismatch on both sides."""
    ordinal = table_ordinal or {}
    present = set(langs_present)
    by_lang: dict[str, list[Claim]] = {}
    for c in claims:
        by_lang.setdefault(c.lang, []).append(c)
    out: dict[Claim, CheckOutcome] = {}
    for c in claims:
        if c.lang not in LANGS:
            out[c] = CheckOutcome("languages", "unverified", reason=f"no rule pairs {c.lang} with another language")
            continue
        results = [_against(c, other, present, by_lang.get(other, []), ordinal) for other in LANGS if other != c.lang]
        out[c] = results[0] if len(results) == 1 else _joined(results)
    return out


def _against(c: Claim, other_lang: str, present: set[str], others: list[Claim],
             ordinal: Mapping[tuple[str, int], int]) -> CheckOutcome:
    """Check 1 of `c` against one other language."""
    if other_lang not in present:
        return CheckOutcome("languages", "unverified", reason=f"the card has no {other_lang} section",
                            code="no-section", args={"lang": other_lang})
    other = _counterpart(c, others, ordinal)
    if other is None:
        return CheckOutcome("languages", "unverified",
                            reason=f"no {other_lang} counterpart of row {c.row!r}, column {c.column!r}",
                            code="no-counterpart", args={"lang": other_lang, "row": c.row, "column": c.column})
    prov = {"other_lang": other.lang, "other_line": other.loc.line, "other_text": other.text}
    if other.metric != c.metric or other.kind != c.kind:
        return CheckOutcome("languages", "mismatch",
                            reason=f"{other.lang} line {other.loc.line} has {other.metric} "
                                   f"({other.kind}) in this column, not {c.metric} ({c.kind})",
                            provenance=prov)
    if math.isclose(other.accuracy_percent, c.accuracy_percent, abs_tol=1e-9):
        return CheckOutcome("languages", "pass", measured=c.value,
                            reason=f"{other.lang} line {other.loc.line} says the same ({other.text})",
                            provenance=prov, code="same", args={"lang": other.lang, "line": other.loc.line})
    return CheckOutcome("languages", "mismatch", measured=_in_unit(c, other.accuracy_percent),
                        reason=f"{other.lang} line {other.loc.line} says {other.text}, "
                               f"{c.lang} line {c.loc.line} says {c.text}",
                        provenance=prov, code="differs",
                        args={"lang": other.lang, "line": other.loc.line, "text": other.text})


def _joined(results: Sequence[CheckOutcome]) -> CheckOutcome:
    """One outcome from the comparisons with several other languages: the worst wins."""
    for status in ("mismatch", "unverified"):
        worst = [r for r in results if r.status == status]
        if worst:
            return CheckOutcome("languages", worst[0].status, measured=worst[0].measured,
                                reason="; ".join(r.reason for r in worst), provenance=worst[0].provenance)
    return results[0]


def _counterpart(c: Claim, others: list[Claim], ordinal: Mapping[tuple[str, int], int]) -> Claim | None:
    mine = _pair_key(c, ordinal)
    same_table = [o for o in others if _pair_key(o, ordinal) == mine]
    if not same_table:
        return None
    key = row_key(c.row)
    by_key = [o for o in same_table if row_key(o.row) == key]
    if len(by_key) == 1:
        return by_key[0]
    at_pos = [o for o in same_table if o.row_index == c.row_index]
    # Labels may be translated: fall back to position only when no row in the other table has
    # this row's key (otherwise the rows were reordered and position would pair the wrong ones).
    if len(by_key) > 1:
        at_pos = [o for o in by_key if o.row_index == c.row_index]
    return at_pos[0] if len(at_pos) == 1 else None


# ---------------------------------------------------------------- check 2: weight file name

@dataclass(frozen=True)
class WeightMetric:
    text: str  # as encoded, e.g. "70312" or "38dot3"
    value: float  # 70.312 / 38.3 / 0.712
    decimals: int  # digits after the point in `value`
    scale: str  # "percent" | "fraction": how `value` reads on its own (<= 1: a fraction)


@dataclass(frozen=True)
class Undecodable:
    """A weight file name whose metric cannot be read, or not read one way only."""

    reason: str
    code: str  # "no-metric" | "ambiguous"


_DIGEST = re.compile(r"^[0-9a-f]{6,64}$")
_DOT = re.compile(r"^(\d+)dot(\d+)$")


def decode_weight_name(url: str) -> WeightMetric | Undecodable:
    """The metric a MegEngine weight file name encodes, by its conventions:
    `<model>_<metric>_<digest>.<ext>` with a digest of 6 to 64 hex digits and the metric either
    5 digits (`70312`: 2 integer digits + 3 decimals, top-1 x 1000) or `<int>dot<digits>`
    (`38dot3`, `71dot1`, `0dot712`). Other digit runs before the digest (`7031`: 70.31 or 7.031?)
    are ambiguous; a name without a digest or without digits there encodes no metric."""
    base = url.rstrip("/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    parts = stem.split("_")
    if len(parts) < 3 or not _DIGEST.match(parts[-1].lower()):
        return Undecodable("weight name encodes no metric", "no-metric")
    m = parts[-2]
    dot = _DOT.fullmatch(m)
    if dot:
        text = f"{dot.group(1)}.{dot.group(2)}"
        value, decimals = float(text), len(dot.group(2))
    elif re.fullmatch(r"\d{5}", m):
        value, decimals = int(m) / 1000.0, 3
    elif re.fullmatch(r"\d{3,4}|\d{6,7}", m):
        readings = sorted({f"{int(m) / 10 ** k:g}" for k in range(1, len(m)) if int(m) / 10 ** k <= 100})
        return Undecodable(f"weight name token {m} could be read as {' or '.join(readings)}: "
                           "ambiguous, not compared", "ambiguous")
    else:
        return Undecodable("weight name encodes no metric", "no-metric")
    return WeightMetric(m, value, decimals, "fraction" if value <= 1.0 else "percent")


def decode_weight_metric(url: str) -> WeightMetric | None:
    """`resnet18_naiveaug_70312_78a63ca6.pkl` -> 70.312; `…_38dot3_58e249d5.pkl` -> 38.3;
    None when the name encodes no metric or an ambiguous one (decode_weight_name says which)."""
    wm = decode_weight_name(url)
    return wm if isinstance(wm, WeightMetric) else None


def _weight_percent(wm: WeightMetric, claim: Claim) -> tuple[float, int] | None:
    """The encoded metric in percent with its decimals there, its scale read against the table's:
    a value <= 1 is a fraction unless the table's own number is below 1 % too (an error of
    0.9 %); a value above 1 is a percentage, also for a 0-1 table (`71dot1` against AP 0.712).
    None for a value no percentage can be."""
    claimed_pct = claim.value * 100.0 if claim.scale == "fraction" else claim.value
    if wm.value <= 1.0 and not (claim.scale == "percent" and claimed_pct <= 1.0):
        return wm.value * 100.0, max(wm.decimals - 2, 0)
    return (wm.value, wm.decimals) if wm.value <= 100.0 else None


def check_weight_name(claim: Claim, url: str | None, entry: str | None, primary_col: int | None) -> CheckOutcome:
    """Compare one claim with the metric its row's weight file name encodes. Only the primary
    column (top-1, else the first metric column) is compared."""
    if entry is None:
        return CheckOutcome("weight-name", "unverified", reason=f"no hub entry point found for row {claim.row!r}",
                            code="no-entry", args={"row": claim.row})
    if url is None:
        return CheckOutcome("weight-name", "unverified", reason=f"entry {entry!r} has no pretrained weight URL",
                            code="no-weights-url", args={"entry": entry})
    prov = {"entry": entry, "url": url}
    if primary_col is not None and claim.col_index != primary_col:
        return CheckOutcome("weight-name", "unverified", reason="the weight name speaks only for the table's "
                            "primary (top-1 / first metric) column", provenance=prov, code="not-primary")
    wm = decode_weight_name(url)
    if isinstance(wm, Undecodable):
        return CheckOutcome("weight-name", "unverified", reason=wm.reason, provenance=prov, code=wm.code)
    prov = {**prov, "encoded": wm.text}
    if claim.kind == "score":
        return _check_score(claim, wm, prov)
    read = _weight_percent(wm, claim)
    if read is None:
        return CheckOutcome("weight-name", "unverified", reason=f"weight name encodes {wm.text}, which is "
                            "no percentage: not compared", provenance=prov, code="ambiguous")
    w_pct, w_dec = read
    tol = half_unit(min(w_dec, percent_decimals(claim))) + 1e-9
    claimed_pct = claim.value * 100.0 if claim.scale == "fraction" else claim.value
    # The name encodes "the metric" without saying accuracy or error: for an error column either
    # reading is accepted, so the check never invents a mismatch it cannot be sure of.
    readings = [w_pct] if claim.kind == "accuracy" else [w_pct, 100.0 - w_pct]
    measured = w_pct / 100.0 if claim.scale == "fraction" else w_pct
    shown = _fmt(measured, w_dec + 2 if claim.scale == "fraction" else w_dec)
    args = {"encoded": wm.text, "encoded_value": shown, "claimed": claim.text, "column": claim.column}
    if any(abs(claimed_pct - r) <= tol for r in readings):
        return CheckOutcome("weight-name", "pass", measured=measured,
                            reason=f"weight name {wm.text} agrees (column {claim.column!r})", provenance=prov,
                            code="agrees", args=args)
    return CheckOutcome("weight-name", "mismatch", measured=measured,
                        reason=f"weight file name encodes {wm.text} ({shown}), "
                               f"the table says {claim.text} (column {claim.column!r})",
                        provenance=prov, code="differs", args=args)


def _check_score(claim: Claim, wm: WeightMetric, prov: Mapping[str, object]) -> CheckOutcome:
    """A score (FID, IS) against the encoded number, both as written."""
    tol = half_unit(min(wm.decimals, claim.decimals)) + 1e-9
    args = {"encoded": wm.text, "encoded_value": _fmt(wm.value, wm.decimals), "claimed": claim.text,
            "column": claim.column}
    if abs(claim.value - wm.value) <= tol:
        return CheckOutcome("weight-name", "pass", measured=wm.value, provenance=prov, code="agrees", args=args,
                            reason=f"weight name {wm.text} agrees (column {claim.column!r})")
    return CheckOutcome("weight-name", "mismatch", measured=wm.value, provenance=prov, code="differs", args=args,
                        reason=f"weight file name encodes {wm.text} ({args['encoded_value']}), "
                               f"the table says {claim.text} (column {claim.column!r})")


def check_weight_names(
    claims: Sequence[Claim], entry_of_row: Mapping[str, str | None], url_of_entry: Mapping[str, str | None]
) -> dict[Claim, CheckOutcome]:
    """Check 2 for every claim; rows map to entries (by label as written)."""
    out: dict[Claim, CheckOutcome] = {}
    tables: dict[tuple[str, int], list[Claim]] = {}
    for c in claims:
        tables.setdefault((c.lang, c.table), []).append(c)
    for group in tables.values():
        prim = primary_column(group)
        for c in group:
            entry = entry_of_row.get(c.row)
            out[c] = check_weight_name(c, url_of_entry.get(entry) if entry else None, entry, prim)
    return out


# ---------------------------------------------------------------- check 3: evaluation

def evaluation_outcome(
    claim: Claim,
    correct: int,
    n: int,
    full: bool,
    tolerance_pp: float | None,
    provenance: Mapping[str, object],
    subset: str | None = None,
) -> CheckOutcome:
    """Judge a claim against `correct` of `n` (counts of the claim's metric, as an accuracy).
    Full set: |measured − claimed| <= tolerance -> verified, else mismatch; tolerance in
    percentage points, default half a unit of the claim's last written digit.
    A random sample (drawn by the tool, or declared random in datasets.yaml): the claim inside
    the Wilson 95 % interval -> consistent, else mismatch.
    `subset` (its name): any other part of the set (a curated folder): no interval holds for a
    sample nobody drew at random, so the measurement is only reported (measured-on-subset)."""
    acc_pct = 100.0 * correct / n
    measured = _in_unit(claim, acc_pct)
    claimed = claim.accuracy_percent
    prov = dict(provenance)
    if subset is not None:
        prov["subset"] = subset
        shown = f"{acc_pct:.{max(percent_decimals(claim), 1)}f} %"
        return CheckOutcome("evaluation", "measured-on-subset", measured=measured,
                            reason=f"measured on {subset}: {shown} (n={n:,}); not a random sample, "
                                   "so it neither confirms nor contradicts the claim",
                            provenance=prov, code="measured-on-subset",
                            args={"subset": subset, "measured": shown, "n": n})
    if full:
        tol = tolerance_pp if tolerance_pp is not None else half_unit(percent_decimals(claim))
        prov["tolerance_pp"] = tol
        args = {"measured": f"{acc_pct:.3f} %", "n": n, "tolerance_pp": tol}
        if abs(acc_pct - claimed) <= tol + 1e-9:
            return CheckOutcome("evaluation", "verified", measured=measured,
                                reason=f"measured {acc_pct:.3f} % on all {n} items", provenance=prov,
                                code="full-agrees", args=args)
        return CheckOutcome("evaluation", "mismatch", measured=measured,
                            reason=f"evaluation measured {_fmt(measured, claim.decimals + 1)} on all {n} items "
                                   f"(|difference| {abs(acc_pct - claimed):.4f} pp > tolerance {tol:g} pp)",
                            provenance=prov, code="full-differs", args=args)
    lo, hi = wilson_interval(correct, n)
    prov["wilson95_percent"] = [100 * lo, 100 * hi]
    args = {"measured": f"{acc_pct:.2f} %", "n": n, "low": f"{100 * lo:.2f}", "high": f"{100 * hi:.2f}"}
    if 100 * lo - 1e-9 <= claimed <= 100 * hi + 1e-9:
        return CheckOutcome("evaluation", "consistent", measured=measured,
                            reason=f"sample of {n}: measured {acc_pct:.2f} %, 95 % interval "
                                   f"[{100 * lo:.2f}, {100 * hi:.2f}] contains the claim", provenance=prov,
                            code="interval-contains", args=args)
    return CheckOutcome("evaluation", "mismatch", measured=measured,
                        reason=f"evaluation on a sample of {n} measured {acc_pct:.2f} %; 95 % interval "
                               f"[{100 * lo:.2f}, {100 * hi:.2f}] excludes the claimed {claimed:.3f} %",
                        provenance=prov, code="interval-excludes", args=args)

"""The hub index's comparison table: one row per model, only from what the build knows.

A row is built from the card and its verification as that language's page shows them
(`views.summarize(card, v, lang)`, the page's own numbers). What the build does not know is
None and shows as "—": nothing is guessed (no parameter count from a model name, no dataset from
a tag). The parameters are counted from the card's one weights file in the store (the build fills
`AssetRecord.params`, store/params.py); a "—" says why not (`params_why`). Its size is the
stored file's, else what an evaluation records in its provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from markupsafe import Markup, escape

from generator.core.model import AssetRecord, Card, CardVerification, ClaimState
from generator.site.views import BAD_BLOCK_STATUSES, BLOCK_STATUSES, Summary, header_text, summarize

Translate = Callable[..., str]

# Number states, worst first: a model's numbers are summed up by the worst one present.
NUMBER_WORST_FIRST: tuple[str, ...] = ("mismatch", "unverified", "measured-on-subset", "consistent", "verified")
# Provenance keys an evaluation may record them under (the first present one is used).
_SIZE_KEYS = ("weights_size", "weights_bytes", "weights_size_bytes")
_DATE_KEYS = ("date", "evaluated_at")


def code_state(s: Summary) -> str | None:
    """The worst state of the page's code blocks; None when the page has none."""
    if not s.verified:
        return "not-run"
    present = [k for k, n in s.blocks.items() if n]
    if not present:
        return None
    return min(present, key=BLOCK_STATUSES.index)


def number_state(s: Summary) -> str | None:
    """The worst state of the page's numbers; None when it has none (or nothing was checked)."""
    present = [k for k, n in s.claims.items() if n]
    if not present:
        return None
    return min(present, key=lambda k: NUMBER_WORST_FIRST.index(k) if k in NUMBER_WORST_FIRST else 0)


def state_rank(s: Summary) -> int:
    """Sort key of the state column: higher is better (everything verified and passed on top
    of a descending sort)."""
    code, numbers = code_state(s), number_state(s)
    rank = 0
    if code is not None and code not in BAD_BLOCK_STATUSES and code != "not-run":
        rank += 10
    if numbers is not None:
        rank += 1 + NUMBER_WORST_FIRST.index(numbers)
        total = sum(s.claims.values())
        rank = rank * 1000 + (1000 * s.claims.get("verified", 0)) // max(total, 1)
    return rank


@dataclass(frozen=True)
class Metric:
    column: str
    text: str  # "87.700" or "70.312–78.582"
    rows: int  # how many models of the card's table the value covers


@dataclass(frozen=True)
class CompareRow:
    id: str
    href: str  # relative to the site root
    title: str
    task: str  # the card's tags in the page's language
    dataset: str | None
    metrics: tuple[Metric, ...]
    metric_sort: float | None  # the first metric's best value
    code_state: str | None
    number_state: str | None
    verified: int
    numbers: int
    state_rank: int
    params: int | None
    size_bytes: int | None
    last_verified: str | None  # ISO date (YYYY-MM-DD)
    # why params is None (catalog `compare.params.<code>`): no-weights, several, not-counted (the
    # build did not count it), or why store/params.py did not (not-stored, refused, ...)
    params_why: str = ""
    params_detail: str = ""  # the refused name, the number of weights files ...
    weights_sha256: str = ""  # of the counted file


def _first(prov: Mapping[str, object], keys: Sequence[str]) -> object | None:
    return next((prov[k] for k in keys if prov.get(k) not in (None, "")), None)


def _int(value: object | None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


def _metrics(claims: Sequence[ClaimState]) -> tuple[tuple[Metric, ...], float | None]:
    by_column: dict[str, list[tuple[float, str]]] = {}
    for s in claims:
        text = s.claim.text.strip().strip("*").strip()
        by_column.setdefault(header_text(s.claim.column), []).append((s.claim.value, text))
    out = []
    for column, values in by_column.items():
        low, high = min(values), max(values)
        text = low[1] if low[0] == high[0] else f"{low[1]}–{high[1]}"
        out.append(Metric(column, text, len(values)))
    first = next(iter(by_column.values()), None)
    best = max(v for v, _ in first) if first else None
    return tuple(out), best


def compare_row(card: Card, verification: CardVerification | None, lang: str, href: str,
                tag_name: Callable[[str], str], sep: str = ", ") -> CompareRow:
    """`tag_name`: a tag's name in the page's language; `sep`: that language's list separator."""
    s = summarize(card, verification, lang)
    claims = [c for c in (verification.claims if verification else ()) if c.claim.lang == lang]
    metrics, metric_sort = _metrics(claims)
    evaluations = [o for c in claims for o in c.checks if o.name == "evaluation" and o.provenance]
    datasets = sorted({str(_first(o.provenance, ("sample", "dataset"))) for o in evaluations
                       if _first(o.provenance, ("sample", "dataset")) is not None})
    sizes = {v for o in evaluations if (v := _int(_first(o.provenance, _SIZE_KEYS))) is not None}
    weights = _weights(verification)
    dates = [str(_first(o.provenance, _DATE_KEYS)) for o in evaluations if _first(o.provenance, _DATE_KEYS)]
    program = verification.program_for(lang) if verification else None
    if program is not None and program.ran_at:
        dates.append(program.ran_at)
    last = max((d[:10] for d in dates if len(d) >= 10 and d[4] == "-" and d[7] == "-"), default=None)
    return CompareRow(
        id=card.meta.id, href=href, title=card.meta.title,
        task=sep.join(tag_name(t) for t in card.meta.tags),
        dataset=sep.join(datasets) or None,
        metrics=metrics, metric_sort=metric_sort,
        code_state=code_state(s), number_state=number_state(s),
        verified=s.claims.get("verified", 0), numbers=sum(s.claims.values()),
        state_rank=state_rank(s),
        # One value only when every evaluation agrees on it (a card's rows are different models).
        params=weights.params if isinstance(weights, AssetRecord) else None,
        size_bytes=(weights.size if isinstance(weights, AssetRecord) and weights.params_refused != "not-stored"
                    else sizes.pop() if len(sizes) == 1 else None),
        last_verified=last,
        params_why=weights[0] if isinstance(weights, tuple) else (
            "" if weights.params is not None else weights.params_refused or "not-counted"),
        params_detail=weights[1] if isinstance(weights, tuple) else weights.params_detail,
        weights_sha256=weights.sha256 if isinstance(weights, AssetRecord) else "",
    )


def _weights(verification: CardVerification | None) -> AssetRecord | tuple[str, str]:
    """The card's one weights file, or (why there is none to count, detail)."""
    files = {a.sha256 or a.url: a for a in (verification.assets if verification else ()) if a.kind == "weights"}
    if not files:
        return ("no-weights", "")
    if len(files) > 1:
        return ("several", str(len(files)))
    return next(iter(files.values()))


def readable_size(n: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


# How a language groups large counts: thousands and millions, or 万 (10⁴) and 亿 (10⁸).
_COUNT_UNITS = {"en_US": (("B", 1e9), ("M", 1e6), ("k", 1e3)), "zh_CN": (("亿", 1e8), ("万", 1e4))}


def readable_count(n: int, lang: str = "en_US") -> str:
    """`4.7 M` / `465 万`: three significant digits at most, the exact value is in the tooltip."""
    for unit, size in _COUNT_UNITS.get(lang, _COUNT_UNITS["en_US"]):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v >= 100 else f"{v:.1f} {unit}"
    return str(n)


# Why a model has no parameter count: the catalog says each (`compare.params.<code>`).
PARAMS_WHY: tuple[str, ...] = ("no-weights", "several", "not-counted", "not-stored", "refused", "not-arrays", "unreadable",
                               "changed", "too-large")


@dataclass(frozen=True)
class ParamsCell:
    text: str  # "4.7 M", "465 万", or "—"
    tip: Markup  # the exact count and what was counted, or why there is none (HTML: names as code)


def params_cell(t: Translate, row: CompareRow, lang: str) -> ParamsCell:
    if row.params is not None:
        return ParamsCell(readable_count(row.params, lang), escape(t("compare.params.counted")).format(
            n=f"{row.params:,}", sha=Markup("<code>{}</code>").format(row.weights_sha256[:12])))
    why = row.params_why if row.params_why in PARAMS_WHY else "not-counted"
    return ParamsCell("—", escape(t(f"compare.params.{why}")).format(
        detail=Markup("<code>{}</code>").format(row.params_detail), n=row.params_detail))


def catalog_keys() -> tuple[str, ...]:
    return ("compare.params.counted",) + tuple(f"compare.params.{w}" for w in PARAMS_WHY)

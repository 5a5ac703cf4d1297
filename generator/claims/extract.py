"""Card tables -> accuracy claims, one `Claim` per number a card asserts.

A table is a *results* table when one of its header cells (other than the first, which holds the
row labels) names a metric of the registry (claims/metrics.py: acc/top-1/top-5, err, mAP, AP,
AR, mIoU, FID, KID, IS, BLEU, WER, loss, latency, 精度/准确率/错误率, ...). A
`<!-- verify: table=ignore -->` mark before the table leaves it alone; `table=results` forces it
(its numeric columns then count as metrics even if the header says nothing). Hyper-parameter and
definition tables have no metric headers and are skipped; a table that *looks* like results
(numbers under a header with an arrow, a '%', "score"/"result") but names no known metric, and a
results table that yields no number, are warnings, never silently dropped.

Per column, from the registry: the metric id, its kind (accuracy / error / score), which way is
better, and the scale: "fraction" when every value is <= 1.0 and the header has no '%', else
"percent"; a score (FID 12.3, KID 0.012) keeps its own scale ("value").

Cells are read as written: `**36.7**` is 36.7, `76.2%` is 76.2, `12.3 ± 0.4` is 12.3; cells that
are not a number ("-", "N/A") are not claims.

Rows: the label is the first cell as written. When the first column is the same in several rows
(`SimpleBaseline` x3, the model's identity in a `Backbone` column), the label is the first cell
plus the cells of the leftmost non-metric column that tells the rows apart
(`SimpleBaseline res50`), so every row names one model.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from generator.claims import metrics
from generator.claims.metrics import Metric
from generator.core.errors import Code, Diagnostic, Loc, warning
from generator.core.model import Card, Claim, Table
from generator.hub.names import match_label

_TAG_RE = re.compile(r"<[^>]+>")
_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_PLUS_MINUS_RE = re.compile(r"^(?P<v>[^±]+?)\s*(?:±|\+/?-|\(\s*±)\s*[\d.]+\s*\)?$")
# Headers that look like results without naming a known metric.
_RESULTS_HINT = re.compile(r"[↑↓⬆⬇%]|\bscore\b|\bresults?\b|\bmetric|得分|指标|结果")

__all__ = ["Metric", "plain_text", "row_key", "metric_of", "parse_number", "table_claims",
           "extract_claims", "results_table_ordinal", "primary_column", "match_entry"]


def plain_text(cell: str) -> str:
    """Inline Markdown/HTML -> text: `<br>` becomes a space, other tags go (`β<sub>1</sub>` ->
    `β1`), emphasis and code marks go."""
    t = re.sub(r"<br\s*/?>", " ", cell, flags=re.I)
    t = _TAG_RE.sub("", t)
    t = _LINK_RE.sub(r"\1", t)
    t = t.replace("**", "").replace("__", "").replace("`", "")
    t = t.strip().strip("*_").strip()
    return re.sub(r"\s+", " ", t)


def row_key(label: str) -> str:
    """The form of a row label matched across languages and against `rows:` keys: lower case,
    runs of anything that is not a letter or digit become one '_'
    (`retinanet-res50-1x-800size` -> `retinanet_res50_1x_800size`). Matching against hub entry
    names is looser: hub/names.py."""
    return re.sub(r"[^0-9a-z]+", "_", plain_text(label).lower()).strip("_")


def metric_of(header: str) -> Metric | None:
    """The metric a column header (as written, inline markup and all) names, or None."""
    return metrics.metric_of(plain_text(header))


def parse_number(cell: str) -> tuple[float, str] | None:
    """(value, text as written without emphasis) or None when the cell is not a number. A stated
    uncertainty is not part of the claim: `12.3 ± 0.4` is 12.3."""
    t = plain_text(cell)
    pm = _PLUS_MINUS_RE.match(t)
    if pm:
        t = pm.group("v").strip()
    t = t.rstrip("%").strip()
    if not _NUMBER_RE.match(t):
        return None
    return float(t), t


def table_mark(table: Table) -> str | None:
    for m in table.marks:
        if m.kind == "table":
            return m.value
    return None


def is_results_table(table: Table) -> bool:
    mark = table_mark(table)
    if mark == "ignore":
        return False
    if mark == "results":
        return True
    return any(metric_of(h) is not None for h in table.header[1:])


def row_labels(table: Table) -> list[str]:
    """One label per body row that names its model: the first cell, joined with the cells of
    the leftmost non-metric column that makes the labels unique when the first column repeats."""
    first = [plain_text(r[0]) if r else "" for r in table.rows]
    if len(set(first)) == len(first):
        return first
    candidates = [c for c in range(1, len(table.header)) if metric_of(table.header[c]) is None]
    # Words first (`res50`, `1x`), then numbers (an input size of 256 vs 384) as a last resort.
    for numbers_too in (False, True):
        for col in candidates:
            cells = [plain_text(r[col]) if col < len(r) else "" for r in table.rows]
            if all(cells) and (numbers_too or all(parse_number(c) is None for c in cells)):
                joined = [f"{a} {b}" if a else b for a, b in zip(first, cells)]
                if len(set(joined)) == len(joined):
                    return joined
    return first  # still not unique: rows.py matches such rows with no entry


def table_claims(card_id: str, table: Table) -> tuple[list[Claim], list[Diagnostic]]:
    """The claims of one table (results or not is decided by the caller)."""
    claims: list[Claim] = []
    diags: list[Diagnostic] = []
    forced = table_mark(table) == "results"
    labels = row_labels(table)
    for col in range(1, len(table.header)):
        header = table.header[col]
        metric = metric_of(header)
        cells = [(r, row[col]) for r, row in enumerate(table.rows) if col < len(row)]
        numbers = [(r, parse_number(c)) for r, c in cells]
        numeric = [(r, n) for r, n in numbers if n is not None]
        if metric is None:
            if not forced or not numeric:
                continue
            metric = Metric(row_key(header) or f"col{col}", "accuracy",
                            metrics.arrow_direction(plain_text(header)) or "higher")
        if not numeric:
            diags.append(warning(Code.RESULTS_TABLE, f"metric column {plain_text(header)!r} holds no number",
                                 table.loc.path, table.loc.line))
            continue
        if metric.scale == "value":
            scale = "value"
        else:
            scale = "fraction" if "%" not in header and all(n[0] <= 1.0 for _, n in numeric) else "percent"
        for r, (value, text) in numeric:
            claims.append(Claim(
                card_id=card_id, lang=table.lang, table=table.index,
                row=labels[r], column=header, metric=metric.id, text=text, value=value,
                scale=scale,  # type: ignore[arg-type]  # one of the three by construction
                kind=metric.kind,
                loc=Loc(table.loc.path, table.row_lines[r] if r < len(table.row_lines) else table.loc.line),
                row_index=r, col_index=col, direction=metric.direction,
            ))
    return claims, diags


def looks_like_results(table: Table) -> list[str]:
    """Headers of the columns that hold numbers under a results-like header (an arrow, a '%',
    "score", "result", 指标...) in a table that names no known metric."""
    hinted = []
    for col in range(1, len(table.header)):
        header = plain_text(table.header[col])
        if not _RESULTS_HINT.search(header.lower()):
            continue
        if any(parse_number(r[col]) is not None for r in table.rows if col < len(r)):
            hinted.append(header)
    return hinted


def extract_claims(card: Card) -> tuple[list[Claim], list[Diagnostic]]:
    """Every number of every results table of every language section, in card order; a warning
    for every table that looks like results but yields no claim."""
    claims: list[Claim] = []
    diags: list[Diagnostic] = []
    for lang, section in card.sections.items():
        for table in section.tables:
            where = (table.loc.path, table.loc.line)
            if table_mark(table) == "ignore":
                continue
            if not is_results_table(table):
                hinted = looks_like_results(table)
                if hinted:
                    diags.append(warning(
                        Code.RESULTS_TABLE,
                        f"this table looks like results ({', '.join(repr(h) for h in hinted)} hold numbers) "
                        "but names no metric the checker knows, so none of its numbers is checked; "
                        "mark it <!-- verify: table=results --> or <!-- verify: table=ignore -->", *where))
                continue
            c, d = table_claims(card.meta.id, table)
            claims.extend(c)
            diags.extend(d)
            if not c and not d:
                diags.append(warning(Code.RESULTS_TABLE, "this results table yields no number to check",
                                     *where))
    return claims, diags


def results_table_ordinal(card: Card) -> dict[tuple[str, int], int]:
    """(lang, table index) -> ordinal among that section's results tables: the zh_CN and en_US
    versions of a table are the k-th results table of their sections."""
    out: dict[tuple[str, int], int] = {}
    for lang, section in card.sections.items():
        k = 0
        for table in section.tables:
            if is_results_table(table):
                out[(lang, table.index)] = k
                k += 1
    return out


def primary_column(claims: Iterable[Claim]) -> int | None:
    """The column a weight file name speaks for: the top-1 column if there is one, else the first
    metric column."""
    cols = sorted({(c.col_index, c.metric) for c in claims})
    for col, metric in cols:
        if metric == "top1":
            return col
    return cols[0][0] if cols else None


def match_entry(label: str, entries: Iterable[str],
                explicit: Mapping[str, str | None] | None = None) -> str | None:
    """The hub entry point of a row: an explicit `rows:` mapping from the spec (keys as written or
    in row_key form; a None value means the row has no model), else the one entry whose name
    hub/names.py matches with the label (`ShuffleNetV2 x0.5` -> `shufflenet_v2_x0_5`)."""
    if explicit:
        if label in explicit:
            return explicit[label]
        key = row_key(label)
        for k, v in explicit.items():
            if row_key(k) == key:
                return v
    return match_label(label, {e: None for e in entries}).entry

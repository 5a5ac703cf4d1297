"""Card tables -> accuracy claims, one `Claim` per number a card asserts.

A table is a *results* table when one of its header cells (other than the first, which holds the
row labels) uses metric vocabulary: acc/accuracy, top1/top-1/top5, err/error, mAP, AP, AR, mIoU,
精度/准确率/正确率, 错误率. A `<!-- verify: table=ignore -->` mark before the table leaves it
alone; `table=results` forces it (its numeric columns then count as metrics even if the header
says nothing). Hyper-parameter and definition tables have no metric headers and are skipped.

Per column:
* kind: "error" when the header says err/error/错误率, else "accuracy";
* scale: "fraction" when every value is <= 1.0 and the header has no '%', else "percent";
* metric id: top1, top5, map, map50, ap, ap50, ap75, ap_m, ap_l, ar, ar50, …, miou. A bare
  "acc"/"accuracy" (or "err") is a top-1 figure, so it becomes top1;
* columns without metric vocabulary (#Params., FLOPs, Activation, Backbone…) are not claims.

Cells are read as written: `**36.7**` is 36.7, `76.2%` is 76.2; cells that are not a number
("-", "N/A") are not claims. Row labels are kept as written; `row_key` gives the form that is
matched against hub entry points (`ResNeXt50 32x4d` -> `resnext50_32x4d`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from generator.core.errors import Code, Diagnostic, Loc, warning
from generator.core.model import Card, Claim, Table

_TAG_RE = re.compile(r"<[^>]+>")
_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True)
class Metric:
    id: str  # normalised id: top1, top5, map, ap50, miou, ...
    kind: str  # "accuracy" | "error"


def plain_text(cell: str) -> str:
    """Inline Markdown/HTML -> text: `<br>` becomes a space, emphasis and code marks go."""
    t = re.sub(r"<br\s*/?>", " ", cell, flags=re.I)
    t = _TAG_RE.sub("", t)
    t = _LINK_RE.sub(r"\1", t)
    t = t.replace("**", "").replace("__", "").replace("`", "")
    t = t.strip().strip("*_").strip()
    return re.sub(r"\s+", " ", t)


def row_key(label: str) -> str:
    """The form of a row label matched against entry points: lower case, runs of anything that is
    not a letter or digit become one '_' (`retinanet-res50-1x-800size` -> `retinanet_res50_1x_800size`)."""
    return re.sub(r"[^0-9a-z]+", "_", plain_text(label).lower()).strip("_")


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
    letters = re.sub(r"[^a-z]", " ", rest.lower()).split()
    for word in letters:
        if word in ("s", "small", "m", "medium", "l", "large"):
            suffix += "_" + word[0]
            break
    return suffix


def metric_of(header: str) -> Metric | None:
    """The metric a column header names, or None when it is not a metric column."""
    text = plain_text(header)
    low = text.lower()
    if not low:
        return None
    error = bool(re.search(r"\berr(or|\.|\b)|错误率|误差", low))
    accuracy = bool(re.search(r"acc(uracy|\.|\b)|精度|准确率|正确率", low))
    topk = re.search(r"top\s*-?\s*([15])(?!\d)", low)
    if topk:
        return Metric(f"top{topk.group(1)}", "error" if error else "accuracy")
    if re.search(r"\bmiou\b", low):
        return Metric("miou", "accuracy")
    m = re.match(r"^(map|ap|ar)(?![a-z]{2})(.*)$", low)
    if m:
        rest = m.group(2)
        # `APm` / `ARl`: the size letter glued to the name
        glued = re.match(r"^([sml])\b", rest)
        suffix = ("_" + glued.group(1)) if glued else _iou_suffix(rest)
        return Metric(m.group(1) + suffix, "accuracy")
    if error or accuracy:
        return Metric("top1", "error" if error else "accuracy")
    return None


def parse_number(cell: str) -> tuple[float, str] | None:
    """(value, text as written without emphasis) or None when the cell is not a number."""
    t = plain_text(cell).rstrip("%").strip()
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


def table_claims(card_id: str, table: Table) -> tuple[list[Claim], list[Diagnostic]]:
    """The claims of one table (results or not is decided by the caller)."""
    claims: list[Claim] = []
    diags: list[Diagnostic] = []
    forced = table_mark(table) == "results"
    for col in range(1, len(table.header)):
        header = table.header[col]
        metric = metric_of(header)
        cells = [(r, row[col]) for r, row in enumerate(table.rows) if col < len(row)]
        numbers = [(r, parse_number(c)) for r, c in cells]
        numeric = [(r, n) for r, n in numbers if n is not None]
        if metric is None:
            if not forced or not numeric:
                continue
            metric = Metric(row_key(header) or f"col{col}", "accuracy")
        if not numeric:
            diags.append(warning(Code.VERIFY_SPEC, f"metric column {plain_text(header)!r} holds no number",
                                 table.loc.path, table.loc.line))
            continue
        fraction = "%" not in header and all(n[0] <= 1.0 for _, n in numeric)
        for r, (value, text) in numeric:
            claims.append(Claim(
                card_id=card_id, lang=table.lang, table=table.index,
                row=plain_text(table.rows[r][0]) if table.rows[r] else "",
                column=header, metric=metric.id, text=text, value=value,
                scale="fraction" if fraction else "percent",
                kind="error" if metric.kind == "error" else "accuracy",
                loc=Loc(table.loc.path, table.row_lines[r] if r < len(table.row_lines) else table.loc.line),
                row_index=r, col_index=col,
            ))
    return claims, diags


def extract_claims(card: Card) -> tuple[list[Claim], list[Diagnostic]]:
    """Every number of every results table of every language section, in card order."""
    claims: list[Claim] = []
    diags: list[Diagnostic] = []
    for lang, section in card.sections.items():
        for table in section.tables:
            if not is_results_table(table):
                continue
            c, d = table_claims(card.meta.id, table)
            claims.extend(c)
            diags.extend(d)
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
    in row_key form; a None value means the row has no model), else the entry whose row_key
    equals the label's."""
    if explicit:
        if label in explicit:
            return explicit[label]
        key = row_key(label)
        for k, v in explicit.items():
            if row_key(k) == key:
                return v
    key = row_key(label)
    for e in entries:
        if row_key(e) == key:
            return e
    return None

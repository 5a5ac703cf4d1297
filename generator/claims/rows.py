"""Which hub entry point each table row speaks for, and a warning for every row that finds none.

A row is mapped by the spec's `rows:` (label as written or in row_key form -> entry, null: no
model), else matched against the repository's entries by name and by weight file name
(hub/names.py). The checks that need a model (weight name, evaluation) use the mapping; a row
that matches nothing is said once, at its first line, with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from generator.claims.extract import row_key
from generator.claims.spec import VerifySpec
from generator.core.errors import Code, Diagnostic, warning
from generator.core.model import Claim
from generator.hub.hubconf import entry_urls
from generator.hub.names import RowMatch, match_label


@dataclass(frozen=True)
class RowEntries:
    entries: Mapping[str, str | None] = field(default_factory=dict)  # row label -> entry
    urls: Mapping[str, str | None] = field(default_factory=dict)  # entry -> weight URL
    unmatched: Mapping[str, RowMatch] = field(default_factory=dict)  # label -> why not


def explicit_entry(label: str, rows: Mapping[str, str | None]) -> tuple[bool, str | None]:
    """(listed, entry) from a spec's `rows:`; keys match as written or in row_key form."""
    if label in rows:
        return True, rows[label]
    key = row_key(label)
    for k, v in rows.items():
        if row_key(k) == key:
            return True, v
    return False, None


def row_entries(claims: Sequence[Claim], tree: Path | None, spec: VerifySpec | None) -> RowEntries:
    rows = dict(spec.rows) if spec is not None else {}
    urls = entry_urls(tree) if tree is not None else {}
    entries: dict[str, str | None] = {}
    unmatched: dict[str, RowMatch] = {}
    # A label several rows of one table share names no one model: matching it would compare
    # every such row with the same weights.
    positions: dict[tuple[str, int, str], set[int]] = {}
    for c in claims:
        positions.setdefault((c.lang, c.table, c.row), set()).add(c.row_index)
    repeated = {row for (_, _, row), where in positions.items() if len(where) > 1}
    for c in claims:
        if c.row in entries:
            continue
        if c.row in repeated and not explicit_entry(c.row, rows)[0]:
            entries[c.row] = None
            unmatched[c.row] = RowMatch(None, "repeated")
            continue
        listed, entry = explicit_entry(c.row, rows)
        if listed:
            entries[c.row] = entry
            continue
        m = match_label(c.row, urls)
        entries[c.row] = m.entry
        if m.entry is None:
            unmatched[c.row] = m
    return RowEntries(entries, urls, unmatched)


def row_diagnostics(claims: Sequence[Claim], rows: RowEntries, repo: str | None,
                    spec: VerifySpec | None) -> list[Diagnostic]:
    """A warning at the first line of each row no entry of `repo` matches (only when the
    repository is at hand: without it nothing can be said)."""
    out: list[Diagnostic] = []
    said: set[str] = set()
    fix = (f"add it under `rows:` in {spec.path}" if spec is not None
           else "add a verify spec with `rows:` (label -> entry point)")
    for c in sorted(claims, key=lambda c: c.loc):
        m = rows.unmatched.get(c.row)
        if m is None or c.row in said:
            continue
        said.add(c.row)
        if m.how == "repeated":
            why = "several rows of its table carry this label and no other column tells them apart"
        elif m.how == "ambiguous":
            why = f"matches several entry points of {repo} ({', '.join(m.candidates)})"
        else:
            why = f"no entry point of {repo} matches it (by name or weight file name)"
        out.append(warning(Code.ROW_NO_ENTRY, f"row {c.row!r}: {why}, so its weight name and evaluation "
                           f"are not checked; {fix}", c.loc.path, c.loc.line))
    return out

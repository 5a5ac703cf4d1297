"""Bad cards in, exact diagnostics out. Each `bad/<name>.md` has `bad/<name>.expected` listing
every diagnostic `path:line: level: message [code]`; `--regen-golden` rewrites them."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cards.tags import load_tags
from generator.cards.parse import parse_card

HERE = Path(__file__).parent
BAD = sorted((HERE / "bad").glob("*.md"))
TAGS, _ = load_tags(HERE.parent.parent / "cards")


@pytest.mark.parametrize("card", BAD, ids=[p.stem for p in BAD])
def test_bad_card_diagnostics(card: Path, regen: bool) -> None:
    shown = f"bad/{card.name}"
    result, diags = parse_card(shown, card.read_text(encoding="utf-8"), TAGS)
    got = "".join(f"{d}\n" for d in sorted(diags, key=lambda d: (d.loc.line, d.code.value, d.message)))
    expected = card.with_suffix(".expected")
    if regen:
        expected.write_text(got, encoding="utf-8")
    assert got, "a bad card must produce at least one diagnostic"
    assert got == expected.read_text(encoding="utf-8")
    if any(d.level == "error" for d in diags):
        assert result is None


def test_enough_kinds_of_bad_card() -> None:
    codes = set()
    for exp in (HERE / "bad").glob("*.expected"):
        for line in exp.read_text(encoding="utf-8").splitlines():
            codes.add(line.rsplit("[", 1)[1].rstrip("]"))
    assert len(codes) >= 15, sorted(codes)

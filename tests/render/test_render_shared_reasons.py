"""A reason many checks of a page give is said once, above the table, and the checks point at it."""

from __future__ import annotations

from generator.site.notes import MIN_SHARED, share_reasons
from generator.site.views import CheckView, ClaimView


def _claim(i: int, reasons: tuple[str, ...]) -> ClaimView:
    checks = tuple(CheckView(f"c{j}", f"check {j}", "unverified", "unverified", r) for j, r in enumerate(reasons))
    return ClaimView(f"claim-{i}", i, "r", "col", "col", "1.0", "unverified", "unverified", "", "", (), checks, "")


def test_a_reason_given_often_becomes_one_numbered_note() -> None:
    claims = [_claim(i, ("dataset absent", f"own reason {i}", "")) for i in range(MIN_SHARED + 1)]
    out, notes = share_reasons(claims)
    assert [(n.number, n.text, n.count) for n in notes] == [(1, "dataset absent", MIN_SHARED + 1)]
    for i, c in enumerate(out):
        first, own, empty = c.checks
        assert first.reason == "" and first.note == 1
        assert own.reason == f"own reason {i}" and own.note == 0
        assert empty.reason == "" and empty.note == 0


def test_a_reason_given_rarely_stays_in_its_row() -> None:
    claims = [_claim(i, ("dataset absent",)) for i in range(MIN_SHARED - 1)]
    out, notes = share_reasons(claims)
    assert notes == () and tuple(claims) == out

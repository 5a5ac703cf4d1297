"""Reasons that many numbers of a page share, said once.

A card whose evaluation cannot run gives every one of its numbers the same reason ("ImageNet
validation set absent"); repeated in each row it made the ResNet page's table several screens
long on a phone. A reason shared by `MIN_SHARED` or more checks becomes one numbered note above
the table, and those checks point at it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from generator.site.views import ClaimView

MIN_SHARED = 3


@dataclass(frozen=True)
class SharedReason:
    number: int  # 1-based, in order of first appearance
    text: str
    count: int  # checks that give it


def share_reasons(claims: Sequence[ClaimView]) -> tuple[tuple[ClaimView, ...], tuple[SharedReason, ...]]:
    """`claims` with each shared check reason replaced by a reference (CheckView.note), and the notes."""
    counts = Counter(ch.reason for c in claims for ch in c.checks if ch.reason)
    numbers: dict[str, int] = {}
    for c in claims:
        for ch in c.checks:
            if ch.reason and counts[ch.reason] >= MIN_SHARED and ch.reason not in numbers:
                numbers[ch.reason] = len(numbers) + 1
    if not numbers:
        return tuple(claims), ()
    out = tuple(dataclasses.replace(c, checks=tuple(
        dataclasses.replace(ch, reason="", note=numbers[ch.reason]) if ch.reason in numbers else ch
        for ch in c.checks)) for c in claims)
    notes = tuple(SharedReason(n, text, counts[text]) for text, n in numbers.items())
    return out, notes

"""Where a traceback that was mapped onto a card points in that card.

Block tracebacks are rewritten onto card lines by the run stage (`File "cards/x.md", line 42`);
the terminal's `path:line` of a failed block and the page's marked line both come from here, so
they always name the same line."""

from __future__ import annotations

import re


def failing_line(traceback: str, card_path: str) -> int | None:
    """The card line of the innermost traceback frame inside the card, or None."""
    if not traceback or not card_path:
        return None
    found: int | None = None
    pattern = re.compile(r'File "' + re.escape(card_path) + r'", line (\d+)')
    for m in pattern.finditer(traceback):
        found = int(m.group(1))
    return found

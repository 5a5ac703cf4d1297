"""Progress of the snippet runs: one event per program started, finished or served from the
cache; the default display writes them to stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, TextIO

from generator.core.model import ProgramResult


@dataclass(frozen=True)
class Progress:
    """One progress event: `event` is started | finished | cached."""

    event: str
    card_id: str
    langs: tuple[str, ...]
    total: int
    done: int
    running: int
    failed: int
    result: ProgramResult | None = None




ProgressFn = Callable[[Progress], None]


class StderrProgress:
    """Cards done/running/failed on one self-rewriting line on a TTY; plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, p: Progress) -> None:
        langs = "+".join(p.langs) or "prelude"
        if self.tty:
            line = f"\rrunning cards: {p.done}/{p.total} done, {p.running} running, {p.failed} failed"
            if p.event == "all-done":
                line += "\n"
            self.stream.write(line)
        elif p.event in ("finished", "cached") and p.result is not None:
            worst = _summary(p.result)
            where = " (cached)" if p.event == "cached" else ""
            self.stream.write(f"[{p.done}/{p.total}] {p.card_id} {langs}: {worst}{where}\n")
        self.stream.flush()


def _summary(result: ProgramResult) -> str:
    counts: dict[str, int] = {}
    for b in result.blocks:
        counts[b.status] = counts.get(b.status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))

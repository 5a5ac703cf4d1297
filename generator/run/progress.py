"""Progress of the snippet runs: one event per program started, finished or served from the
cache; the default display writes them to stderr.

The per-program lines add up to the build's summary line: both count with `program_counts`,
and a card's prelude, which runs at the head of each of its programs, is counted once, in the
card's first program (the line of any other program says where it was counted)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, TextIO

from generator.core.model import PRELUDE, BlockResult, ProgramResult


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
    # The languages of the card's program whose line counts the prelude; () when this one does.
    prelude_with: tuple[str, ...] = ()




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
            counts = program_counts(p.result, prelude=not p.prelude_with)
            worst = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no code block"
            notes = ["cached"] if p.event == "cached" else []
            if p.prelude_with and any(b.lang == PRELUDE for b in p.result.blocks):
                notes.append(f"prelude counted with {'+'.join(p.prelude_with)}")
            where = f" ({'; '.join(notes)})" if notes else ""
            self.stream.write(f"[{p.done}/{p.total}] {p.card_id} {langs}: {worst}{where}\n")
        self.stream.flush()


def counted_status(b: BlockResult) -> str:
    """A block's status as every count says it: a pass with placeholder weights is "placeholder"
    (its output is not the real model's), anything else its run status."""
    if b.status == "passed" and "placeholder-weights" in b.flags:
        return "placeholder"
    return b.status


def program_counts(result: ProgramResult, prelude: bool = True) -> dict[str, int]:
    """How many of the program's blocks ended in each status; without the prelude when it is
    counted in another program of the card."""
    counts: dict[str, int] = {}
    for b in result.blocks:
        if b.lang == PRELUDE and not prelude:
            continue
        s = counted_status(b)
        counts[s] = counts.get(s, 0) + 1
    return counts

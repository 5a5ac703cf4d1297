"""A block's reason as a code and its values, so a page can say it in its own language.

The run stage words every block reason in English for the terminal, JUnit and report.json, and
part of it is worded inside the sandbox (run/child/, which imports nothing of `generator` and
sends plain text). This module names the formats those producers write — each pattern below
sits beside the producer it reads — and returns None for any other text (a card's own skip
reason, an exception message, a limit's wording), which pages then show only as code."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from generator.core.model import BlockResult
from generator.run.child.protocol import FETCH_HINT, STOPS as _STOPS

_FETCH = re.escape(FETCH_HINT)


@dataclass(frozen=True)
class BlockReason:
    code: str  # catalog key `vt.block.<code>`
    args: Mapping[str, str] = field(default_factory=dict)


# (code, pattern): run/child/runner.py (a block after a bad one; a timeout; output-contains,
# expect-error), run/child/site/vh_offline.py (what the store lacks), run/supervise.py (the
# blocks after a run that died).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    *((f"stopped.{status}", re.compile(r"not run: the block at line (?P<line>\d+) " + re.escape(words)))
      for status, words in _STOPS.items()),
    ("earlier-failed", re.compile(r"earlier block failed")),
    ("earlier-limit", re.compile(r"stopped by a limit of the build in an earlier block")),
    ("repo-not-stored", re.compile(r"hub repository (?P<repo>\S+) is locked but not in the asset store; " + _FETCH)),
    ("repo-not-locked", re.compile(r"hub repository (?P<repo>\S+) is not in the asset store; runs are offline "
                                   r"— add it to the store lock, then " + _FETCH)),
    ("url-not-stored", re.compile(r"card code needs (?P<url>\S+), which is locked but not in the asset store; " + _FETCH)),
    ("url-not-locked", re.compile(r"card code tried to download (?P<url>\S+), which is not in the asset store; "
                                  r"runs are offline — add the URL to the store lock, then " + _FETCH)),
    ("timeout", re.compile(r"timed out after (?P<seconds>[0-9.e+]+) s \(.*\)(?:; the process was killed)?")),
    ("output-lacks", re.compile(r"the output does not contain (?P<text>.+)")),
    ("expected-passed", re.compile(r"expected (?P<expect>\S+), but the block passed")),
    ("expected-other", re.compile(r"expected (?P<expect>\S+), but the block raised (?P<detail>.+)")),
    ("sys-exit", re.compile(r"the block called (?P<call>sys\.exit\(.*\)) before its end .*")),
)


def block_reason(result: BlockResult) -> BlockReason | None:
    """The reason's code and values; None when it is no format of the run stage's own."""
    text = result.reason.strip()
    if not text:
        return None
    for code, pattern in _PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            return BlockReason(code, m.groupdict())
    if result.status in ("failed", "expected-error") and result.traceback.strip():
        # the exception the card's code raised, as its last traceback line says it
        return BlockReason("exception", {"detail": text})
    return None


def catalog_keys() -> tuple[str, ...]:
    codes = [code for code, _ in _PATTERNS] + ["exception"]
    return tuple(f"vt.block.{c}" for c in codes)

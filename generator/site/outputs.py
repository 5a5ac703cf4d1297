"""A block's captured output as a reader wants it: the program's own lines first, the framework's
log chatter set apart, and for a failed block the card line it failed on.

MegEngine's logger prints `02 06:43:00 [WRN] …`-style lines (its timestamp is day and time), and
libpng complains about colour profiles of the sample images (`libpng warning: iCCP: …`). Neither
is what the snippet printed, and mixed in they bury it; they stay on the page, collapsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.core.tracebacks import failing_line as failing_line  # re-exported: the page marks the line the terminal names

# MegEngine's formatter: "%d %H:%M:%S" then the message (colour codes are already gone).
_MGE_LOG = re.compile(r"^\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? ")
_LIBPNG = re.compile(r"^libpng (?:warning|error): ")


def is_log_line(line: str) -> bool:
    return bool(_MGE_LOG.match(line) or _LIBPNG.match(line))


@dataclass(frozen=True)
class SplitOutput:
    program: str  # what the snippet printed, in order
    log: str  # framework log lines, in order ("" when none)


def split_log(text: str) -> SplitOutput:
    program: list[str] = []
    log: list[str] = []
    for line in text.splitlines(keepends=True):
        (log if is_log_line(line) else program).append(line)
    return SplitOutput("".join(program), "".join(log))

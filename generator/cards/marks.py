"""`<!-- verify: ... -->` marks: comments just before a code block or a table that change how it
is judged (`skip reason="..."`, `expect-error Name`, `timeout=N`, `output-contains "..."`,
`table=results|ignore`, `memory=16GiB`). The executor and claims stages give them meaning.
"""

from __future__ import annotations

import math
import re
import shlex
from typing import Callable, Mapping

from markdown_it.token import Token

from generator.cards.problems import Problems
from generator.core.errors import Code, Loc
from generator.core.sizes import parse_size
from generator.core.model import Mark

VERIFY_RE = re.compile(r"<!--\s*verify:(?P<body>.*?)-->", re.S)

# Mark kinds and whether they take an argument.
SNIPPET_MARKS = ("skip", "expect-error", "timeout", "output-contains", "memory")
TABLE_MARKS = ("table",)


def marks_before(tokens: list[Token], target: Token, out: Problems) -> list[Mark]:
    """Marks in html comments immediately before `target` (no other block in between)."""
    i = tokens.index(target)
    found: list[Mark] = []
    j = i - 1
    while j >= 0 and tokens[j].type == "html_block" and VERIFY_RE.search(tokens[j].content):
        found[:0] = parse_marks(tokens[j], out)
        j -= 1
    return found


def marks_for(marks: list[Mark], allowed: tuple[str, ...], out: Problems) -> list[Mark]:
    kept = []
    for m in marks:
        if m.kind not in allowed:
            target = "a code block" if allowed is SNIPPET_MARKS else "a table"
            out.err(Code.BAD_MARK, m.loc.line, f"mark {m.kind!r} does not apply to {target}")
        else:
            kept.append(m)
    return kept


# One reader per mark kind: (the comment's words, the index of this mark's word, its `=value`,
# where it is, problems) -> (the mark or None, how many of the following words it took). A new
# mark is one entry here (and its kind in SNIPPET_MARKS or TABLE_MARKS).
_Reader = Callable[[list[str], int, str, Loc, Problems], tuple[Mark | None, int]]


def _skip(words: list[str], k: int, value: str, loc: Loc, out: Problems) -> tuple[Mark | None, int]:
    reason, took = "", 0
    if k + 1 < len(words) and words[k + 1].startswith("reason="):
        reason, took = words[k + 1].partition("=")[2], 1
    if not reason.strip():
        out.err(Code.BAD_MARK, loc.line, 'skip needs a reason: <!-- verify: skip reason="..." -->')
    return Mark("skip", reason, loc), took


def _expect_error(words: list[str], k: int, value: str, loc: Loc, out: Problems) -> tuple[Mark | None, int]:
    if k + 1 >= len(words) or not words[k + 1].isidentifier():
        out.err(Code.BAD_MARK, loc.line, "expect-error needs an exception name, e.g. expect-error TypeError")
        return None, 0
    return Mark("expect-error", words[k + 1], loc), 1


# A block may ask for up to a day: `inf`, `nan` or 1e400 would reach the supervisor's deadline
# arithmetic as a number no clock can wait for.
MAX_TIMEOUT_S = 24 * 60 * 60


def _timeout(words: list[str], k: int, value: str, loc: Loc, out: Problems) -> tuple[Mark | None, int]:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT_S:  # also false for nan
        out.err(Code.BAD_MARK, loc.line, f"timeout must be a positive number of seconds, at most "
                f"{MAX_TIMEOUT_S} (24 h), not {value!r}")
        return None, 0
    return Mark("timeout", value, loc), 0


def _memory(words: list[str], k: int, value: str, loc: Loc, out: Problems) -> tuple[Mark | None, int]:
    try:
        parse_size(value)
    except ValueError as exc:
        out.err(Code.BAD_MARK, loc.line, f"memory= takes a size such as 16GiB: {exc}")
        return None, 0
    return Mark("memory", value, loc), 0


def _output_contains(words: list[str], k: int, value: str, loc: Loc, out: Problems) -> tuple[Mark | None, int]:
    if k + 1 >= len(words) or not words[k + 1]:
        out.err(Code.BAD_MARK, loc.line, 'output-contains needs a quoted text, e.g. output-contains "tiger cat"')
        return None, 0
    return Mark("output-contains", words[k + 1], loc), 1


def _table(words: list[str], k: int, value: str, loc: Loc, out: Problems) -> tuple[Mark | None, int]:
    if value not in ("results", "ignore"):
        out.err(Code.BAD_MARK, loc.line, f"table= takes results or ignore, not {value!r}")
        return None, 0
    return Mark("table", value, loc), 0


# kind -> (reader, whether it is written `kind=value`)
_READERS: Mapping[str, tuple[_Reader, bool]] = {
    "skip": (_skip, False),
    "expect-error": (_expect_error, False),
    "timeout": (_timeout, True),
    "output-contains": (_output_contains, False),
    "table": (_table, True),
    "memory": (_memory, True),
}


def parse_marks(tok: Token, out: Problems) -> list[Mark]:
    """`<!-- verify: skip reason="needs a GPU" -->`, `expect-error TypeError`, `timeout=300`,
    `output-contains "tiger cat"`, `table=results|ignore`; several may share one comment."""
    assert tok.map is not None
    line = tok.map[0] + 1
    marks: list[Mark] = []
    for m in VERIFY_RE.finditer(tok.content):
        try:
            words = shlex.split(m.group("body"))
        except ValueError as exc:
            out.err(Code.BAD_MARK, line, f"cannot read verify mark: {exc}")
            continue
        k = 0
        while k < len(words):
            key, eq, value = words[k].partition("=")
            reader = _READERS.get(key)
            if reader is None or (reader[1] and not eq):  # `timeout` alone is not `timeout=N`
                out.err(Code.UNKNOWN_MARK, line, f"unknown verify mark {words[k]!r} (known: skip, expect-error, "
                        "timeout=, output-contains, table=, memory=)")
                k += 1
                continue
            mark, took = reader[0](words, k, value, Loc(out.path, line), out)
            if mark is not None:
                marks.append(mark)
            k += 1 + took
    return marks

"""`<!-- verify: ... -->` marks: comments just before a code block or a table that change how it
is judged (`skip reason="..."`, `expect-error Name`, `timeout=N`, `output-contains "..."`,
`table=results|ignore`). The executor and claims stages give them meaning.
"""

from __future__ import annotations

import re
import shlex

from markdown_it.token import Token

from generator.cards.problems import Problems
from generator.core.errors import Code, Loc
from generator.core.model import Mark

VERIFY_RE = re.compile(r"<!--\s*verify:(?P<body>.*?)-->", re.S)

# Mark kinds and whether they take an argument.
SNIPPET_MARKS = ("skip", "expect-error", "timeout", "output-contains")
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
            word = words[k]
            key, eq, value = word.partition("=")
            loc = Loc(out.path, line)
            if key == "skip":
                reason = ""
                if k + 1 < len(words) and words[k + 1].startswith("reason="):
                    reason = words[k + 1].partition("=")[2]
                    k += 1
                if not reason.strip():
                    out.err(Code.BAD_MARK, line, 'skip needs a reason: <!-- verify: skip reason="..." -->')
                marks.append(Mark("skip", reason, loc))
            elif key == "expect-error":
                if k + 1 >= len(words) or not words[k + 1].isidentifier():
                    out.err(Code.BAD_MARK, line, "expect-error needs an exception name, e.g. expect-error TypeError")
                else:
                    marks.append(Mark("expect-error", words[k + 1], loc))
                    k += 1
            elif key == "timeout" and eq:
                try:
                    seconds = float(value)
                    if seconds <= 0:
                        raise ValueError
                except ValueError:
                    out.err(Code.BAD_MARK, line, f"timeout must be a positive number of seconds, not {value!r}")
                else:
                    marks.append(Mark("timeout", value, loc))
            elif key == "output-contains":
                if k + 1 >= len(words) or not words[k + 1]:
                    out.err(Code.BAD_MARK, line, 'output-contains needs a quoted text, e.g. output-contains "tiger cat"')
                else:
                    marks.append(Mark("output-contains", words[k + 1], loc))
                    k += 1
            elif key == "table" and eq:
                if value not in ("results", "ignore"):
                    out.err(Code.BAD_MARK, line, f"table= takes results or ignore, not {value!r}")
                else:
                    marks.append(Mark("table", value, loc))
            else:
                out.err(Code.UNKNOWN_MARK, line, f"unknown verify mark {word!r} (known: skip, expect-error, "
                        "timeout=, output-contains, table=)")
            k += 1
    return marks

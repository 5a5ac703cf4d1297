"""A program's block results restated for every language it stands for, and the diagnostics of
bad blocks (failed, timed out, hub-error, blocked, limit): warnings in every build, errors under
--strict."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Iterable, Mapping, Sequence

from generator.core.errors import Code, Diagnostic, Level, Loc
from generator.core.model import BAD_RUN_STATUSES, PRELUDE, BlockResult, CardVerification, ProgramResult, Snippet
from generator.core.tracebacks import failing_line
from generator.run.plan import Plan, runtime_environment


_FRAME_RE = re.compile(r'(File "(?P<path>[^"]+)", line )(?P<line>\d+)')


def _for_lang(r: BlockResult, run: Snippet, other: Snippet, card_path: str) -> BlockResult:
    """A block's result restated for the same block of another language (identical code at
    another place in the card): its line, and traceback lines moved by the same offset."""
    offset = other.code_line - run.code_line
    lo, hi = run.code_line, run.code_line + run.code.count("\n") + 1

    def move(m: re.Match[str]) -> str:
        line = int(m.group("line"))
        if m.group("path") == card_path and lo <= line < hi:
            line += offset
        return f"{m.group(1)}{line}"

    return replace(r, lang=other.lang, index=other.index, line=other.loc.line,
                   traceback=_FRAME_RE.sub(move, r.traceback) if r.traceback else "")


def program_result(plan: Plan, blocks: Sequence[BlockResult], key: str, ran_at: str,
                   isolated: bool = True) -> ProgramResult:
    allb = list(blocks)
    n_pre = len(plan.blocks) - (len(plan.per_lang[plan.langs[0]]) if plan.langs else 0)
    for lang in plan.langs[1:]:
        for run_s, other_s, r in zip(plan.blocks[n_pre:], plan.per_lang[lang], blocks[n_pre:]):
            allb.append(_for_lang(r, run_s, other_s, plan.card.path))
    network = "bubblewrap sandbox + offline shim" if isolated else "offline shim only (--unsafe-no-sandbox)"
    return ProgramResult(card_id=plan.card.meta.id, langs=plan.langs, blocks=tuple(allb),
                         cache_key=key, ran_at=ran_at,
                         environment={**runtime_environment(), "network": network},
                         card_path=plan.card.path)


_STRICT_CODES = {"failed": Code.SNIPPET_FAILED, "timeout": Code.SNIPPET_TIMEOUT,
                 "blocked": Code.SNIPPET_BLOCKED, "hub-error": Code.SNIPPET_HUB_ERROR,
                 "limit": Code.SNIPPET_LIMIT}


def strict_failures(results: Mapping[str, Sequence[ProgramResult]] | Iterable[CardVerification],
                    level: Level = "error") -> list[Diagnostic]:
    """A diagnostic for every bad block (failed, timeout, hub-error, blocked, limit), saying whose
    fault it is, at the card line it went wrong on: the innermost traceback frame inside the
    card (the line the page marks), else the block's fence. A block with a skip mark is
    `skipped`, so it never counts. `level` is "error" under --strict, "warning" otherwise.
    Accepts run_all's mapping or CardVerification objects."""
    programs: list[ProgramResult] = []
    if isinstance(results, Mapping):
        for progs in results.values():
            programs.extend(progs)
    else:
        for cv in results:
            programs.extend(cv.programs)
    diags: list[Diagnostic] = []
    for p in programs:
        path = p.card_path or p.card_id
        for b in p.blocks:
            code = _STRICT_CODES.get(b.status)
            if code is None:
                continue
            where = "prelude" if b.lang == PRELUDE else f"{b.lang} block {b.index + 1}"
            line = failing_line(b.traceback, p.card_path) or b.line
            at = f" (starts at line {b.line})" if line != b.line else ""
            diags.append(Diagnostic(level, code, f"{where}{at} {b.status} ({BAD_RUN_STATUSES[b.status]}): {b.reason}",
                                    Loc(path, line)))
    return sorted(set(diags), key=lambda d: (d.loc, d.code.value, d.message))

"""Cache of program runs: one JSON file per cache key, never pickle.

Layout: `<root>/<tool version>/<key[:2]>/<key>.json` (default root `<project>/.cache/runs`), so a
new tool version never reads an older version's results. What goes into a key is decided by
plan.program_key; this module only stores and loads, and (de)serialises results.

The cache is a pure optimisation: an entry is used only when every field has the type it must
have, every status is one a run can give, and (given the plan) it holds exactly the plan's
blocks. Anything else (a hand-edited, truncated or foreign file) is a miss, said under `-v`, and
the program runs again: a damaged entry can neither crash a build nor turn a block into
"not run" and so let `--strict` pass.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Mapping, get_args

from generator.core.jsonio import JsonCache
from generator.core.model import BlockResult, ProgramResult, RunStatus
from generator.run import reasons
from generator.run.plan import Plan

# Bump when the JSON shape changes. 2: blocks carry `reason_code` and `reason_args` (an entry of
# format 1 has neither, and its reasons would show as untranslated English: a miss, run again).
FORMAT = 2

STATUSES = frozenset(get_args(RunStatus))
Log = Callable[[str], None]


def program_to_json(p: ProgramResult) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "card_id": p.card_id,
        "card_path": p.card_path,
        "langs": list(p.langs),
        "cache_key": p.cache_key,
        "ran_at": p.ran_at,
        "environment": dict(p.environment),
        "blocks": [{**dataclasses.asdict(b), "flags": list(b.flags), "served": list(b.served),
                    "reason_args": dict(b.reason_args)} for b in p.blocks],
    }


class BadEntry(ValueError):
    """A cache entry that does not have the shape of a result."""


# BlockResult field -> what its JSON value must be
def _is_text(v: object) -> bool:
    return isinstance(v, str)


def _is_count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_seconds(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


_BLOCK_FIELDS: Mapping[str, Callable[[object], bool]] = {
    "lang": _is_text, "index": _is_count, "line": _is_count, "status": lambda v: v in STATUSES,
    "flags": lambda v: isinstance(v, list) and all(map(_is_text, v)), "duration_s": _is_seconds,
    "peak_mb": _is_seconds, "stdout": _is_text, "stderr": _is_text, "traceback": _is_text,
    "reason": _is_text, "cached": lambda v: isinstance(v, bool),
    "reason_code": _is_text, "reason_args": lambda v: isinstance(v, dict),
}
_PROGRAM_FIELDS: Mapping[str, Callable[[object], bool]] = {
    "card_id": _is_text, "card_path": _is_text, "cache_key": _is_text, "ran_at": _is_text,
    "langs": lambda v: isinstance(v, list) and all(map(_is_text, v)),
    "environment": lambda v: isinstance(v, dict) and all(map(_is_text, v.values())),
    "blocks": lambda v: isinstance(v, list),
}


def _check(d: object, fields: Mapping[str, Callable[[object], bool]], what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise BadEntry(f"{what} is {type(d).__name__}, not an object")
    for name, ok in fields.items():
        if name not in d:
            raise BadEntry(f"{what} has no {name!r}")
        if not ok(d[name]):
            raise BadEntry(f"{what} has a bad {name!r}: {str(d[name])[:60]!r}")
    return d


def program_from_json(d: Mapping[str, Any], cached: bool = False) -> ProgramResult:
    """The result an entry holds; BadEntry when any field is missing or of the wrong type."""
    d = _check(d, _PROGRAM_FIELDS, "the entry")
    blocks = []
    for n, raw in enumerate(d["blocks"]):
        b = _check(raw, _BLOCK_FIELDS, f"block {n}")
        served = b.get("served", [])  # entries written before blocks recorded it: none
        if not (isinstance(served, list) and all(map(_is_text, served))):
            raise BadEntry(f"block {n} has a bad 'served'")
        why = (b["reason_code"], b["reason_args"])
        if why != ("", {}) and reasons.checked(*why) != why:
            raise BadEntry(f"block {n} has a reason code {str(why[0])[:40]!r} the run stage does not write, "
                           "or other values than that code has")
        blocks.append(BlockResult(**{**{k: b[k] for k in _BLOCK_FIELDS}, "flags": tuple(b["flags"]),
                                     "served": tuple(served),
                                     "duration_s": float(b["duration_s"]), "peak_mb": float(b["peak_mb"]),
                                     "cached": cached or b["cached"]}))
    return ProgramResult(card_id=d["card_id"], langs=tuple(d["langs"]), blocks=tuple(blocks),
                         cache_key=d["cache_key"], ran_at=d["ran_at"], environment=dict(d["environment"]),
                         card_path=d["card_path"])


def expected_blocks(plan: Plan) -> list[tuple[str, int, int]]:
    """(lang, index, line) of every block a run of `plan` reports, in order (results.py restates
    the section blocks for each further language)."""
    n_pre = len(plan.blocks) - (len(plan.per_lang[plan.langs[0]]) if plan.langs else 0)
    out = [(s.lang, s.index, s.loc.line) for s in plan.blocks]
    for lang in plan.langs[1:]:
        out += [(s.lang, s.index, s.loc.line) for s in plan.per_lang[lang][:len(plan.blocks) - n_pre]]
    return out


class RunCache:
    def __init__(self, root: Path, tool_version: str, log: Log | None = None) -> None:
        self.store = JsonCache(Path(root) / tool_version, fanout=True)
        self.log = log

    @property
    def dir(self) -> Path:
        return self.store.root

    def get(self, key: str, plan: Plan | None = None) -> ProgramResult | None:
        """The stored result with every block marked cached=True; None if absent or not a
        well-formed result of this key (and, given `plan`, of exactly its blocks)."""
        data, problem = self.store.read_checked(key)
        try:
            if problem:
                raise BadEntry(problem)
            if data is None:
                return None
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise BadEntry(f"format {data.get('format') if isinstance(data, dict) else None!r}, not {FORMAT}")
            if data.get("cache_key") != key:
                raise BadEntry("it holds the result of another key")
            result = program_from_json(data, cached=True)
            if plan is not None:
                got = [(b.lang, b.index, b.line) for b in result.blocks]
                if got != expected_blocks(plan) or list(result.langs) != list(plan.langs):
                    raise BadEntry(f"its {len(got)} block(s) are not the {len(expected_blocks(plan))} of the program")
            return result
        except BadEntry as exc:
            if self.log is not None:
                self.log(f"run cache: ignoring entry {key[:12]} ({exc}); running the program again")
            return None

    def put(self, result: ProgramResult) -> None:
        self.store.write(result.cache_key, program_to_json(result))

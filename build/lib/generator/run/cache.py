"""Cache of program runs: one JSON file per cache key, never pickle.

Layout: `<root>/<tool version>/<key[:2]>/<key>.json` (default root `<project>/.cache/runs`), so a
new tool version never reads an older version's results. What goes into a key is decided by
execute.program_key; this module only stores and loads, and (de)serialises results.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

from generator.core.jsonio import JsonCache
from generator.core.model import BlockResult, ProgramResult

FORMAT = 1  # bump when the JSON shape changes


def program_to_json(p: ProgramResult) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "card_id": p.card_id,
        "card_path": p.card_path,
        "langs": list(p.langs),
        "cache_key": p.cache_key,
        "ran_at": p.ran_at,
        "environment": dict(p.environment),
        "blocks": [{**dataclasses.asdict(b), "flags": list(b.flags)} for b in p.blocks],
    }


def program_from_json(d: Mapping[str, Any], cached: bool = False) -> ProgramResult:
    names = {f.name for f in dataclasses.fields(BlockResult)}
    blocks = tuple(
        BlockResult(**{**{k: v for k, v in b.items() if k in names},
                       "flags": tuple(b.get("flags", ())), "cached": cached or bool(b.get("cached"))})
        for b in d["blocks"])
    return ProgramResult(card_id=d["card_id"], langs=tuple(d["langs"]), blocks=blocks,
                         cache_key=d["cache_key"], ran_at=d["ran_at"],
                         environment=dict(d.get("environment", {})),
                         card_path=d.get("card_path", ""))


class RunCache:
    def __init__(self, root: Path, tool_version: str) -> None:
        self.store = JsonCache(Path(root) / tool_version, fanout=True)

    @property
    def dir(self) -> Path:
        return self.store.root

    def get(self, key: str) -> ProgramResult | None:
        """The stored result with every block marked cached=True; None if absent or unreadable
        (a damaged entry is simply a miss: the program runs again and overwrites it)."""
        data = self.store.read(key)
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("cache_key") != key:
                return None
            return program_from_json(data, cached=True)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, result: ProgramResult) -> None:
        self.store.write(result.cache_key, program_to_json(result))

"""Evaluation results as JSON files, one per job, keyed on everything that changes the result.

A result folder is self-describing (each file holds its key, its job and its provenance), so
results measured on several machines can be merged: `shard(jobs, i, n)` gives machine i its
deterministic share of the jobs, each machine writes its results to its own folder, and
`merge(folders, into)` joins them into one cache. Never pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

EVALUATOR_VERSION = "1"  # bump when the evaluator's way of counting changes


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({"evaluator": EVALUATOR_VERSION, **fields}).encode()).hexdigest()


@dataclass(frozen=True)
class EvalResult:
    key: str
    job: Mapping[str, Any]  # the key's fields: repo, entry, weights sha, dataset fingerprint, ...
    n: int
    correct: Mapping[str, int]  # "top1" -> count, "top5" -> count
    full: bool  # every item of the complete dataset was evaluated
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "job": dict(self.job), "n": self.n, "correct": dict(self.correct),
                "full": self.full, "provenance": dict(self.provenance)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "EvalResult":
        return cls(key=str(d["key"]), job=dict(d["job"]), n=int(d["n"]),
                   correct={str(k): int(v) for k, v in d["correct"].items()}, full=bool(d["full"]),
                   provenance=dict(d.get("provenance", {})))


class MergeConflict(Exception):
    pass


class EvalCache:
    """A folder of `<key>.json` results."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str) -> EvalResult | None:
        p = self._path(key)
        try:
            return EvalResult.from_json(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: evaluate again

    def put(self, result: EvalResult) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(result.to_json(), f, indent=1, sort_keys=True)
        os.replace(tmp, self._path(result.key))

    def results(self) -> dict[str, EvalResult]:
        out: dict[str, EvalResult] = {}
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.glob("*.json")):
            r = self.get(p.stem)
            if r is not None:
                out[r.key] = r
        return out


J = TypeVar("J")


def shard(jobs: Sequence[J], i: int, n: int, key: Any = None) -> list[J]:
    """Machine i's (0-based) share of n: jobs sorted by `key` (default: their repr, stable across
    machines for frozen dataclasses of strings), then every n-th one starting at i."""
    if n <= 0 or not 0 <= i < n:
        raise ValueError(f"shard {i} of {n} does not exist")
    ordered = sorted(jobs, key=key or (lambda j: getattr(j, "id", repr(j))))
    return [j for k, j in enumerate(ordered) if k % n == i]


def merge(folders: Iterable[Path], into: Path) -> EvalCache:
    """Join result folders into one cache. The same key with different counts is a conflict (the
    evaluation is meant to be deterministic: someone's data or weights differ)."""
    target = EvalCache(into)
    have = target.results()
    for folder in folders:
        for key, r in EvalCache(folder).results().items():
            old = have.get(key)
            if old is not None:
                if (old.n, dict(old.correct)) != (r.n, dict(r.correct)):
                    raise MergeConflict(f"result {key} differs between folders: {old.correct} of {old.n} "
                                        f"vs {r.correct} of {r.n} (from {folder})")
                continue
            target.put(r)
            have[key] = r
    return target

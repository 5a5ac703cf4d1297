"""Evaluation results as JSON files, one per job, keyed on everything that changes the result.

A result folder is self-describing (each file holds its key, its job and its provenance), so
results measured on several machines can be merged: `shard(jobs, i, n)` gives machine i its
deterministic share of the jobs, each machine writes its results to its own folder, and
`merge(folders, into)` joins them into one cache. Never pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

from generator.core.jsonio import JsonCache, digest

EVALUATOR_VERSION = "1"  # bump when the evaluator's way of counting changes


def cache_key(fields: Mapping[str, Any]) -> str:
    return digest({"evaluator": EVALUATOR_VERSION, **fields})


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
        self.store = JsonCache(root)

    @property
    def root(self) -> Path:
        return self.store.root

    def get(self, key: str) -> EvalResult | None:
        try:
            data = self.store.read(key)
            result = EvalResult.from_json(data) if data is not None else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # unreadable: evaluate again
        # An entry speaks only for the key it was computed for (a file copied under another
        # name, or tampered with, must not decide a number).
        return result if result is not None and result.key == key else None

    def put(self, result: EvalResult) -> None:
        self.store.write(result.key, result.to_json())

    def results(self) -> dict[str, EvalResult]:
        out: dict[str, EvalResult] = {}
        for key in self.store.keys():
            r = self.get(key)
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

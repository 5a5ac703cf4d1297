"""Evaluation results as JSON files, one per job, keyed on everything that changes the result.

A result folder is self-describing (each file holds its key, its job and its provenance), so
results measured on several machines can be merged: `shard(jobs, i, n)` gives machine i its
deterministic share of the jobs, each machine writes its results to its own folder, and
`merge(folders, into)` joins them into one cache. Never pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from generator.core.jsonio import JsonCache, digest

# Bump when the evaluator's way of counting changes. 2: predictions may come from the compiled
# graph (traced, optimised for inference, checked against eager to 1e-4 on logits), which can
# flip a near-tie that eager counted the other way; results counted by version 1 are not reused.
EVALUATOR_VERSION = "2"


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
        """The result an entry holds; BadEntry unless every field has its type and the counts
        make sense (0 < n, each count within 0..n, n the job's own n)."""
        if not isinstance(d, dict):
            raise BadEntry(f"the entry is {type(d).__name__}, not an object")
        key, job, n, correct, full = (d.get(k) for k in ("key", "job", "n", "correct", "full"))
        prov = d.get("provenance", {})
        if not isinstance(key, str) or not isinstance(job, dict) or not isinstance(prov, dict):
            raise BadEntry("key, job or provenance has the wrong type")
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0 or job.get("n") != n:
            raise BadEntry(f"n is {n!r}, not the job's number of items")
        if not isinstance(correct, dict) or not all(
                isinstance(k, str) and _is_int(v) and 0 <= v <= n for k, v in correct.items()):
            raise BadEntry(f"correct is {str(correct)[:60]!r}, not counts within 0..{n}")
        if not isinstance(full, bool):
            raise BadEntry(f"full is {full!r}, not true or false")
        return cls(key=key, job=dict(job), n=n, correct=dict(correct), full=full, provenance=dict(prov))


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class BadEntry(ValueError):
    """A stored evaluation that does not have the shape of one."""


class MergeConflict(Exception):
    pass


class EvalCache:
    """A folder of `<key>.json` results."""

    def __init__(self, root: Path, log: Callable[[str], None] | None = None) -> None:
        self.store = JsonCache(root)
        self.log = log

    @property
    def root(self) -> Path:
        return self.store.root

    def get(self, key: str) -> EvalResult | None:
        """The stored result of `key`; None when absent or when the entry is not a well-formed
        result of exactly this job (a miss: the evaluation runs again, said under `-v`)."""
        data, problem = self.store.read_checked(key)
        try:
            if problem:
                raise BadEntry(problem)
            if data is None:
                return None
            result = EvalResult.from_json(data)
            if result.key != key or cache_key(result.job) != key:
                raise BadEntry("it holds the result of another job")
            return result
        except BadEntry as exc:
            if self.log is not None:
                self.log(f"evaluation cache: ignoring entry {key[:12]} ({exc}); evaluating again")
            return None

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

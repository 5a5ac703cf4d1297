"""What a dataset location holds, and so what a measurement on it may say about a claim.

    full           every item of the split (`size` of them): a full run can verify a claim
    random-sample  items drawn at random (with a seed) from a population: a confidence interval
                   applies, so a run can make a claim `consistent` or a `mismatch`
    subset         anything else (a curated demo folder, a part of the split): the measurement is
                   shown as such (`measured-on-subset`), never judged

A location with as many items as the declared split is `full`; one with fewer (or more) is a
`subset` unless `cards/datasets.yaml` declares it. Declarations sit under the dataset, matched by
the manifest fingerprint the tool prints (or by path, for a machine's own registry):

```yaml
imagenet-val:
  ...
  size: 50000
  samples:
    imagenet-val-rand5k:                # the name pages show
      holds: random-sample
      seed: 0                           # required for a random sample
      population: imagenet-val          # what it was drawn from (required)
      fingerprint: 3f1c...              # or path: /data/imagenet/val-rand5k
    imagenet-demo-1300:
      holds: subset
      title: curated ImageNet demo subset (725 classes)
      fingerprint: 9ab0...
```
A dataset may itself declare `holds: random-sample` (with seed and population) or `holds: subset`.
The tool's own `--eval-limit` sample is drawn by the tool (class-stratified, fixed): an interval
applies to it when the location it is drawn from is full or a random sample.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from generator.core.errors import Code, Diagnostic, error

Holds = Literal["full", "random-sample", "subset"]
HOLDS: tuple[str, ...] = ("full", "random-sample", "subset")


@dataclass(frozen=True)
class SampleDecl:
    name: str
    holds: Holds
    fingerprint: str = ""
    path: str = ""
    title: str = ""
    seed: str = ""
    population: str = ""
    line: int = 0


@dataclass(frozen=True)
class Holding:
    """What one location holds: its kind, the name a page gives it, and whether a declaration
    said so (an undeclared subset gets a warning with the fingerprint to declare it by)."""

    kind: Holds
    name: str
    declared: bool = False
    seed: str = ""
    population: str = ""

    @property
    def random(self) -> bool:
        return self.kind == "random-sample"


def parse_samples(dataset: str, raw: Any, path: str, lines: Mapping[str, int]
                  ) -> tuple[tuple[SampleDecl, ...], list[Diagnostic]]:
    """The `samples:` mapping of one dataset entry, every problem located."""
    if raw is None:
        return (), []
    at = f"{dataset}.samples"
    if not isinstance(raw, dict):
        return (), [error(Code.REGISTRY, f"{at} must map sample names to declarations", path, lines.get(at, 1))]
    out: list[SampleDecl] = []
    diags: list[Diagnostic] = []
    for name, d in raw.items():
        key = f"{at}.{name}"
        line = lines.get(key, lines.get(at, 1))
        problems = declaration_problems(d, need_location=True)
        if problems:
            diags.extend(error(Code.REGISTRY, f"sample {name!r} of {dataset}: {p}", path, line) for p in problems)
            continue
        out.append(SampleDecl(name=str(name), holds=d["holds"], fingerprint=str(d.get("fingerprint", "")),
                              path=str(d.get("path", "")), title=str(d.get("title", "")),
                              seed=str(d.get("seed", "")), population=str(d.get("population", "")), line=line))
    return tuple(out), diags


def declaration_problems(d: Any, need_location: bool) -> list[str]:
    if not isinstance(d, dict):
        return ["a declaration is a mapping (holds, seed, population, fingerprint or path)"]
    problems = []
    holds = d.get("holds", "full")
    if holds not in HOLDS:
        problems.append(f"holds must be one of {', '.join(HOLDS)}, not {holds!r}")
    if holds == "random-sample":
        for k in ("seed", "population"):
            if d.get(k) in (None, ""):
                problems.append(f"a random-sample declares its {k}")
    if need_location and not (d.get("fingerprint") or d.get("path")):
        problems.append("say which location it is: fingerprint (printed by the build) or path")
    return problems


def holding(dataset_id: str, title: str, size: int, holds: str, seed: str, population: str,
            samples: tuple[SampleDecl, ...], fingerprint: str, root: str, n: int) -> Holding:
    """What the location at `root` (manifest `fingerprint`, `n` items) holds."""
    real = os.path.realpath(root) if root else ""
    for s in samples:
        if (s.fingerprint and s.fingerprint == fingerprint) or (s.path and os.path.realpath(s.path) == real):
            return Holding(s.holds, s.title or s.name, True, s.seed, s.population)
    shown = title or dataset_id
    if holds == "random-sample":
        return Holding("random-sample", shown, True, seed, population)
    if holds == "subset":
        return Holding("subset", shown, True)
    if size <= 0 or n == size:
        return Holding("full", shown, True)
    return Holding("subset", f"an undeclared part of {shown} ({n:,} of {size:,} items)")

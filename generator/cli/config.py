"""Command-line options as one frozen value, validated once before any work starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Config:
    project: Path  # the folder holding cards/, templates/, site/
    cards: Path
    templates: Path
    out: Path
    store: Path
    cache: Path
    verify: bool = True  # run snippets and check numbers (off: render only)
    strict: bool = False  # exit 1 on failed/timeout/blocked blocks and on mismatching numbers
    rerun: bool = False  # ignore cached run/evaluation results
    jobs: int = 0  # 0: one per core
    junit: Path | None = None
    verbose: bool = False
    base_url: str = ""
    eval_limit: int | None = None  # evaluate a class-stratified subset of N items
    imagenet_dir: Path | None = None
    search: bool = True  # build the Pagefind index (off: faster local builds; the box stays hidden)

    @property
    def workers(self) -> int:
        return self.jobs or (os.cpu_count() or 1)


def project_root(start: Path) -> Path:
    """The folder with a cards/ folder: the working directory or one of its parents."""
    for p in (start, *start.parents):
        if (p / "cards").is_dir():
            return p
    return start

"""Command-line options as one frozen value, validated once before any work starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from generator.store import LOCK_FILE  # the package, not store/lock.py: options need no YAML


if TYPE_CHECKING:
    from generator.claims.evaluate import EvalOptions
    from generator.run.plan import Limits


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
    eval_eager: bool = False  # no compiled graph: every evaluation batch runs eagerly
    search: bool = True  # build the Pagefind index (off: faster local builds; the box stays hidden)
    # The sandbox of every child (card programs and evaluations); see docs/SECURITY.md.
    sandbox: bool = True  # False only with --unsafe-no-sandbox
    memory_limit: int | None = None  # bytes per run (None: the machine's default)
    pids_limit: int = 512
    disk_limit: int = 2 * 1024 ** 3

    @property
    def workers(self) -> int:
        return self.jobs or (os.cpu_count() or 1)

    @property
    def lock_file(self) -> Path:
        """The one lock every command reads: the cards folder's (build, check, fetch, setup)."""
        return self.cards / LOCK_FILE

    @property
    def lock_display(self) -> str:
        """How diagnostics name the lock: relative to the project (what is committed), else whole."""
        try:
            return self.lock_file.relative_to(self.project).as_posix()
        except ValueError:
            return str(self.lock_file)


def project_root(start: Path) -> Path:
    """The folder with a cards/ folder: the working directory or one of its parents."""
    for p in (start, *start.parents):
        if (p / "cards").is_dir():
            return p
    return start


def eval_cache_dir(cfg: Config) -> Path:
    """Evaluation results of this tool version (build, eval --shard/--merge share them)."""
    from generator import __version__

    return cfg.cache / "evals" / __version__


def parse_cache_dir(cfg: Config) -> Path:
    """Parse results of cards (cards/cache.py); the version is part of every key."""
    return cfg.cache / "parse"


def render_cache_dir(cfg: Config) -> Path:
    """Rendered Markdown of cards (site/rendercache.py)."""
    return cfg.cache / "render"


def site_signatures_file(cfg: Config) -> Path | None:
    """Stat signatures of the output folder's files (site/state.py), one file per output path;
    None when the cache folder cannot be used (core/objcache.cache_usable)."""
    import hashlib

    from generator.core.objcache import cache_usable

    if not cache_usable(cfg.cache, cfg.out):
        return None
    return cfg.cache / "site-files" / (hashlib.sha256(os.fsencode(cfg.out)).hexdigest()[:32] + ".json")


def index_entries_file(cfg: Config) -> Path:
    """The index and tag pages' entries of the last build (site/entrycache.py), one file per
    output path: two sites built from one cache do not evict each other's entries."""
    import hashlib

    return cfg.cache / "index-entries" / (hashlib.sha256(os.fsencode(cfg.out)).hexdigest()[:32] + ".bin")


def run_cache_dir(cfg: Config) -> Path:
    return cfg.cache / "runs"


def param_cache_dir(cfg: Config) -> Path:
    """Parameter counts of stored weights files by sha256 (store/params.py)."""
    return cfg.cache / "params"


def eval_options(cfg: Config, progress: bool) -> "EvalOptions":
    """How this build evaluates: the --eval-limit sample, where ImageNet is, progress lines."""
    from generator.claims.evaluate import EvalOptions

    from generator.run import sandbox

    return EvalOptions(limit=cfg.eval_limit or 0, workers=2, progress=progress,
                       dataset_dirs={"imagenet-val": str(cfg.imagenet_dir)} if cfg.imagenet_dir else {},
                       isolate=cfg.sandbox, memory_bytes=cfg.memory_limit or sandbox.DEFAULT_MEMORY_BYTES,
                       pids=cfg.pids_limit, disk_bytes=cfg.disk_limit, compiled=not cfg.eval_eager,
                       cpu_checks=cfg.cache / "cpu-checks")


def run_limits(cfg: Config) -> "Limits":
    """How card programs may run in this build (per-block marks can ask for more memory)."""
    from generator.run import sandbox
    from generator.run.plan import Limits

    return Limits(memory_bytes=cfg.memory_limit or sandbox.DEFAULT_MEMORY_BYTES, pids=cfg.pids_limit,
                  disk_bytes=cfg.disk_limit, isolate=cfg.sandbox)

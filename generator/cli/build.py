"""`build-site build`: the whole pipeline, top to bottom. The only place that orders the stages.

    read + validate every card, registry, lock and verify spec   (nothing runs before all pass)
 -> verify: run every program, check every number                (cached: no child when unchanged)
 -> render + write the site, report.json and model-index files    (only what changed; atomic)
 -> search index
 -> under --strict: exit 1 on bad code (failed, timeout, hub-error, blocked, limit: each says
    whose fault it is) or mismatching numbers

This module is the fast path only: an unchanged site is recognised from file stats and the
fingerprint, with nothing of the pipeline imported (Jinja2, markdown-it, Pygments, MegEngine's
helpers cost ~0.2 s of start-up); the stages themselves are in `cli/pipeline.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from generator import __version__
from generator.cli.config import Config, site_signatures_file
from generator.core.errors import Code, Diagnostic, Loc, UserError
from generator.site.current import outputs_are_the_builds, site_is_current
from generator.site.options import SiteOptions
from generator.site.write import OutputLock

if TYPE_CHECKING:  # the pipeline's modules are imported only when a build runs
    from generator.site.search.later import SearchLater


def build(cfg: Config, later: SearchLater | None = None, collect_after: bool = True) -> int:
    """`later`: `serve` swaps a rebuilt site in before its search index catches up (search/later.py).
    `collect_after=False`: the process ends with this build, so the cycle collector stays off
    (see _no_cycle_collection)."""
    if cfg.strict and not cfg.verify:
        # CI would pass with nothing checked; refused before the output (and report.json) is touched.
        raise UserError([Diagnostic("error", Code.REGISTRY,
                                    "--strict with --no-verify checks nothing, so it cannot pass or fail "
                                    "a build; drop one of them", Loc("<command line>", 1))])
    # One build at a time per output folder (exit 3 if another holds it); leftovers of killed
    # builds beside the folder are cleaned once the lock is held.
    with OutputLock(cfg.out), _no_cycle_collection(collect_after):
        return _build(cfg, later)


@contextlib.contextmanager
def _no_cycle_collection(restore: bool = True) -> Iterator[None]:
    """A build makes millions of small objects that reference counting frees; the cycle
    collector's passes over the growing heap (from the pipeline's imports on) cost 0.5 s of a
    2.8 s one-card edit of 1,000 cards, and turning it off left the peak memory of a cold build
    of them the same (246 MB). On again when the build ends: `serve` runs many in one process.
    Not when the process ends with the build (`restore=False`): the first collection after it
    traverses every object the build left (60-90 ms for 1,000 cards), and an exiting process
    with the collector off skips the final one too."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting and restore:
            gc.enable()
        elif not restore:
            # Python's finalization still makes one full collection, whatever gc.disable()
            # says: moving every object to the permanent generation leaves it nothing to
            # traverse (0.07 s of the end of a one-card edit of 1,000 cards).
            gc.freeze()


def _build(cfg: Config, later: SearchLater | None = None) -> int:
    started = time.perf_counter()
    options = SiteOptions.for_project(cfg.cards, cfg.templates, cfg.base_url)
    input_files = _input_files(cfg)
    fingerprint = _fingerprint(cfg)
    # The fast path skips even reading the cards. Under --strict the verdict must be recomputed
    # (from the caches), --junit needs it written, and --rerun asks for real runs.
    seen: dict[str, tuple[int, int]] = {}  # the input files' stats the fast path took
    if (not cfg.strict and not cfg.rerun and cfg.junit is None
            and site_is_current(cfg.out, input_files, options, fingerprint, seen)
            and outputs_are_the_builds(cfg.out, site_signatures_file(cfg))):
        print(f"build-site: site is up to date ({time.perf_counter() - started:.3f} s)", file=sys.stderr)
        return 0
    from generator.cli.pipeline import run_stages  # only now: the pipeline's imports are the slow part

    return run_stages(cfg, options, input_files, fingerprint, started, later, seen or None)


# ---------------------------------------------------------------- inputs and fingerprint

def _input_files(cfg: Config) -> list[Path]:
    """Every file the read and verify stages read from the cards folder (cards, registries, lock,
    verify sidecars). Templates and the catalog are added by the site stage."""
    return sorted(p for p in cfg.cards.iterdir() if p.is_file() and not p.name.startswith("."))


def _fingerprint(cfg: Config) -> str:
    """What else changes the output besides the input files: options, and for verification the
    tool and library versions, which store items are present and which datasets are reachable.
    (The project's own hub repository is pinned by tree hash in the lock, so a change to it
    changes the lock file, which is an input file.)"""
    parts: list[str] = [f"tool={__version__}", f"verify={cfg.verify}", f"base={cfg.base_url}",
                        f"search={cfg.search}"]
    if cfg.verify:
        from generator.run.plan import environment_digest
        from generator.run.sandbox import library_versions

        parts += [f"eval_limit={cfg.eval_limit}", f"imagenet={cfg.imagenet_dir}"]
        parts += [f"{k}={v}" for k, v in sorted(library_versions().items())]
        parts.append(f"environment={environment_digest()}")  # every installed package, the sandbox
        parts += [f"{k}={os.environ.get(k, '')}" for k in ("IMAGENET_VAL_DIR", "FASHION_MNIST_DIR")]
        parts.append(f"fmnist={Path('/usr/share/datasets/fashion-mnist').is_dir()}")
        parts.append(f"store={_store_presence(cfg)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _store_presence(cfg: Config) -> str:
    """Which lock items the store holds (a `build-site fetch` changes this, not the lock): the
    same digest the run cache keys on."""
    if not os.path.lexists(cfg.lock_file):
        return "no lock"
    from generator.core.files import InputFileError, read_text
    from generator.store.content import Store
    from generator.store.lock import parse_lock
    from generator.store.materialize import item_digest

    try:  # the read stage reports an unreadable lock; here it only must not hang or crash
        lock, problems = parse_lock(read_text(cfg.lock_file, cfg.lock_display, within=cfg.cards))
    except InputFileError:
        return "unreadable"
    return "unreadable" if problems else item_digest(lock, Store(cfg.store))


def run(cfg: Config, args: argparse.Namespace) -> int:
    from generator import cli

    return build(cfg, collect_after=not cli.PROCESS_ENDS_WITH_COMMAND)

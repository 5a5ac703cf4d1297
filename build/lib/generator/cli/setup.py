"""`build-site setup`: put the project's own assets into the store, offline.

Three kinds of lock item can be produced on this machine without a network:
- `path:` and `package:` items are copied from the project or an installed package (store.sync_local);
- `build:<script>` items are made by running a project script (e.g. the EfficientNet-Lite0 weight
  converter) as `python <script> <out_dir>`; it prints the path of the one file it made. The file
  must hash to the lock's sha256, so a converter that stops being deterministic is caught here.
Everything else (plain URLs) needs `build-site fetch`, and a build reports it as blocked.
"""

from __future__ import annotations

import argparse
import sys

from generator.cli.config import Config
from generator.core.errors import Diagnostic, UserError, has_errors
from generator.store.content import Store
from generator.store.lock import read_lock
from generator.store.sync import build_item, sync_local


def setup(cfg: Config) -> int:
    lock = read_lock(cfg.lock_file, cfg.lock_display)
    store = Store(cfg.store)
    problems: list[Diagnostic] = []
    built = 0
    for item in lock.items:
        if item.source_kind == "build" and not store.has(item):
            problems.extend(build_item(item, lock, store, cfg.project))
            built += 1
    _, local_problems = sync_local(lock, store, cfg.project, refresh=False)
    problems.extend(local_problems)
    if has_errors(problems):
        raise UserError(problems)
    present = sum(1 for it in lock.items if store.has(it))
    print(f"build-site setup: {present} of {len(lock.items)} store items present"
          f"{f' ({built} built)' if built else ''}; store {cfg.store}", file=sys.stderr)
    return 0


def run(cfg: Config, args: argparse.Namespace) -> int:
    return setup(cfg)

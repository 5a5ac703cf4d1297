"""`build-site setup`: put the project's own assets into the store, offline.

Three kinds of lock item can be produced on this machine without a network:
- `path:` and `package:` items are copied from the project or an installed package (store.sync_local);
- `build:<script>` items are made by running a project script (e.g. the EfficientNet-Lite0 weight
  converter) as `python <script> <out_dir>`; it prints the path of the one file it made. The file
  must hash to the lock's sha256, so a converter that stops being deterministic is caught here.
Everything else (plain URLs) needs `build-site fetch`, and a build reports it as blocked.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from generator.cli.config import Config
from generator.core.errors import Code, Diagnostic, UserError, error, has_errors
from generator.store.lock import LOCK_RELPATH, Lock, LockItem, read_lock
from generator.store.content import Store, StoreError, sync_local


def setup(cfg: Config) -> int:
    lock = read_lock(cfg.project / LOCK_RELPATH)
    store = Store(cfg.store)
    problems: list[Diagnostic] = []
    built = 0
    for item in lock.items:
        if item.source_kind == "build" and not store.has(item):
            problems.extend(_build_item(item, lock, store, cfg.project))
            built += 1
    _, local_problems = sync_local(lock, store, cfg.project, refresh=False)
    problems.extend(local_problems)
    if has_errors(problems):
        raise UserError(problems)
    present = sum(1 for it in lock.items if store.has(it))
    print(f"build-site setup: {present} of {len(lock.items)} store items present"
          f"{f' ({built} built)' if built else ''}; store {cfg.store}", file=sys.stderr)
    return 0


def _build_item(item: LockItem, lock: Lock, store: Store, project: Path) -> list[Diagnostic]:
    script = project / item.source_arg

    def err(msg: str) -> list[Diagnostic]:
        return [error(Code.LOCKFILE, f"{item.url}: {msg}", lock.path, item.line)]

    if not script.is_file():
        return err(f"{item.source}: no such script in the project")
    with tempfile.TemporaryDirectory(prefix="build-item-") as tmp:
        proc = subprocess.run([sys.executable, str(script), tmp], cwd=project, capture_output=True,
                              text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            return err(f"{item.source} failed (exit {proc.returncode}): {tail}")
        lines = proc.stdout.strip().splitlines()
        made = Path(lines[-1].strip()) if lines else None
        if made is None or not made.is_file():
            return err(f"{item.source} did not print the path of the file it made")
        try:
            store.put_file(made, item.sha256, item.size or None)
        except StoreError as exc:
            return err(f"{item.source} made a different file than the lock pins ({exc}); "
                       "the build is not reproducible, or the lock is out of date")
    return []

"""Local sources of lock items: `path:` and `package:` items copied into the store, and
`build:` items made by running a project script (`build-site setup`). No network.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from generator.core.errors import Code, Diagnostic, error
from generator.store.content import Store, StoreError, sha256_file, tree_hash
from generator.store.lock import Lock, LockItem

FETCH_HINT = "run `build-site fetch`"


def resolve_local_source(item: LockItem, project: Path) -> Path:
    """The file or folder a `path:` / `package:` source names. Raises StoreError."""
    arg = item.source_arg
    if item.source_kind == "path":
        p = (project / arg).resolve()
        if not p.exists():
            raise StoreError(f"{item.source} does not exist ({p})")
        return p
    if item.source_kind == "package":
        dist_name, rel = arg.split("/", 1)
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise StoreError(f"{item.source}: Python package {dist_name!r} is not installed")
        p = Path(str(dist.locate_file(rel)))
        if not p.exists():
            raise StoreError(f"{item.source}: {rel} is not in the installed {dist_name} "
                             f"{dist.version}")
        return p
    raise StoreError(f"{item.source} is not a local source")


def is_in_project(item: LockItem, project: Path) -> bool:
    if item.source_kind != "path":
        return False
    return (project / item.source_arg).resolve().is_relative_to(project.resolve())


def is_refreshable(item: LockItem, project: Path) -> bool:
    """The project's own hub repositories: their lock hash follows the folder (via fetch)."""
    return item.kind == "hub-repo" and is_in_project(item, project)


def sync_local(lock: Lock, store: Store, project: Path, refresh: bool = False
               ) -> tuple[Lock, list[Diagnostic]]:
    """Put every `path:` / `package:` item into the store, without network, checking it against
    the lock. With `refresh` (build-site fetch), the project's own hub repositories get their
    lock hash updated; without it (build) a stale one is an error that says to run fetch."""
    diags: list[Diagnostic] = []
    for item in lock.items:
        if item.source_kind not in ("path", "package"):
            continue

        def err(msg: str, item: LockItem = item) -> None:
            diags.append(error(Code.LOCKFILE, f"{item.url}: {msg}", lock.path, item.line))

        try:
            src = resolve_local_source(item, project)
            if item.kind == "hub-repo":
                if not src.is_dir():
                    err(f"{item.source} is not a folder")
                    continue
                sha, size = tree_hash(src)
                if sha != item.sha256 or size != item.size:
                    if refresh and is_refreshable(item, project):
                        store.put_tree(src, sha)
                        lock = lock.with_item(replace(item, sha256=sha, size=size))
                        continue
                    what = "has no recorded hash" if not item.sha256 else (
                        f"is stale: {item.source} now hashes to {sha[:12]}…, "
                        f"the lock says {item.sha256[:12]}…")
                    hint = FETCH_HINT + " to record the folder's current content" if (
                        is_refreshable(item, project)) else "update the lock"
                    err(f"{what}; {hint}")
                    continue
                if not store.has(item):
                    store.put_tree(src, sha)
            else:
                if not src.is_file():
                    err(f"{item.source} is not a file")
                    continue
                sha = sha256_file(src)
                if not item.sha256 and refresh:
                    store.put_file(src)
                    lock = lock.with_item(replace(item, sha256=sha, size=src.stat().st_size))
                    continue
                if sha != item.sha256:
                    err(f"{item.source} has sha256 {sha}, the lock says "
                        f"{item.sha256 or '(none)'}" + ("" if item.sha256 else f"; {FETCH_HINT}"))
                    continue
                if not store.has(item):
                    store.put_file(src, item.sha256, item.size)
        except (StoreError, OSError) as e:
            err(str(e))
    return lock, diags


def build_item(item: LockItem, lock: Lock, store: Store, project: Path) -> list[Diagnostic]:
    """Run the project script a `build:` item names and put the file it made into the store,
    checked against the lock."""
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

"""A run's view of the store: a fresh MGE_HOME in MegEngine's own cache layout, the files the
offline shim may serve, and what is missing; plus the digest of everything the store offers,
which keys every cached run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

from generator.hub.layout import hub_cache_dirname, serialized_filename
from generator.core.errors import EnvironmentFailure
from generator.store.content import Store, tree_files
from generator.store.lock import Lock, LockItem
from generator.store.sync import FETCH_HINT


class StoreCorrupted(EnvironmentFailure):
    pass


@dataclass(frozen=True)
class RunAssets:
    """What one run may use: an MGE_HOME to export, and the files the urllib shim may serve."""

    mge_home: Path
    url_map: dict[str, str]  # url -> absolute path of the file in the store ("file" items)
    substitutes: frozenset[str]  # urls whose content stands in for the real one
    missing: tuple[LockItem, ...]  # in the lock, not in the store: a run needing one is blocked
    hub_repos: dict[str, str]  # repo_info ("owner/name", "owner/name:branch", +"@commit") -> sha
    weights: dict[str, str]  # url -> sha256

    def env(self) -> dict[str, str]:
        return {"MGE_HOME": str(self.mge_home)}

    def blocked_reason(self, item: LockItem) -> str:
        return f"{item.url} is not in the asset store; {FETCH_HINT}"


def _place(src: Path, dest: Path, link: bool) -> None:
    if link:
        try:
            os.link(src, dest)
            return
        except OSError:
            pass  # other filesystem, or hard links not allowed: copy instead
    shutil.copyfile(src, dest)


def materialize(lock: Lock, store: Store, run_dir: Path, megengine_version: str = "1.13.0", *,
                only: Collection[str] | None = None, link: bool | None = None) -> RunAssets:
    """Build `run_dir/mge_home` in MegEngine's own cache layout from the store.

    Every hub repository gets a fresh folder (files hard-linked or copied, never the store's
    folder itself) so the __pycache__ MegEngine's import writes lands in the run, not the store.
    `link` defaults to hard links only when not running as root: root ignores the read-only
    modes that keep a hard-linked store file from being written through.
    `only` restricts the run to those urls (default: every item in the lock).
    """
    if link is None:
        link = hasattr(os, "geteuid") and os.geteuid() != 0
    for item in lock.items:
        if (only is None or item.url in only) and store.has(item):
            verify_once(store, item)
    mge_home = run_dir / "mge_home"
    (mge_home / "hub").mkdir(parents=True, exist_ok=True)
    (mge_home / "serialized").mkdir(parents=True, exist_ok=True)
    url_map: dict[str, str] = {}
    missing: list[LockItem] = []
    hub_repos: dict[str, str] = {}
    weights: dict[str, str] = {}
    items = [it for it in lock.items if only is None or it.url in only]
    for item in items:
        if not store.has(item):
            missing.append(item)
            continue
        if item.kind == "file":
            url_map[item.url] = str(store.object_path(item.sha256))
        elif item.kind == "weights":
            dest = mge_home / "serialized" / serialized_filename(item.url)
            dest.unlink(missing_ok=True)
            _place(store.object_path(item.sha256), dest, link)
            weights[item.url] = item.sha256
        else:
            owner, name = item.owner_name
            dest = mge_home / "hub" / hub_cache_dirname(owner, name, item.branch, item.commit,
                                                        megengine_version)
            if dest.exists():
                shutil.rmtree(dest)
            tree = store.tree_path(item.sha256)
            for rel, p in tree_files(tree):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                _place(p, dest / rel, link)
            dest.mkdir(parents=True, exist_ok=True)  # an empty repository is still a repository
            key = item.repo_info + (f"@{item.commit}" if item.commit else "")
            hub_repos[key] = item.sha256
    return RunAssets(
        mge_home=mge_home,
        url_map=url_map,
        substitutes=frozenset(it.url for it in items if it.substitute),
        missing=tuple(missing),
        hub_repos=hub_repos,
        weights=weights,
    )


_VERIFIED: set[tuple[str, str]] = set()
_VERIFIED_LOCK = threading.Lock()


def verify_once(store: Store, item: LockItem) -> None:
    """Check that the stored content still hashes to the lock's sha256 (once per item and
    process, i.e. per build): the store is named by content, but a file edited in place or a
    damaged disk would otherwise be served as the pinned asset. StoreCorrupted when not."""
    key = (str(store.root), item.sha256)
    with _VERIFIED_LOCK:
        if key in _VERIFIED:
            return
    if not store.verify(item):
        raise StoreCorrupted(
            f"the asset store was changed: {store.path_of(item)} no longer hashes to the sha256 "
            f"the lock pins for {item.url}; delete it and run `build-site setup` or `build-site fetch`")
    with _VERIFIED_LOCK:
        _VERIFIED.add(key)


def item_digest(lock: Lock, store: Store) -> str:
    """One hash over every lock item and whether the store has it (for cache keys): a run's
    result changes when any asset it could read changes, appears, or becomes (or stops being) a
    substitute."""
    # Absent items count too: whether a missing URL is listed in the lock changes what a
    # blocked run says ("locked but not in the store" vs "not in the lock").
    rows = sorted(f"{it.kind} {it.url} {it.sha256} {'substitute' if it.substitute else 'real'} "
                  f"{'present' if store.has(it) else 'absent'}" for it in lock.items)
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()

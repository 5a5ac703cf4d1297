"""The hermetic asset store: content-addressed files and hub-repository trees.

Layout under the store root (default `<project>/.store/`, env `HUB_STORE`):
    objects/<sha[:2]>/<sha>   a file or weight file, named by its sha256
    trees/<sha>/              an unpacked hub repository, named by its tree hash
    tmp/                      work area; everything enters objects/ or trees/ by os.replace
                              only after its hash has been checked, so a partial or mismatching
                              download can never be found under its final name.

Only the store package touches the store; no network here (fetch.py downloads).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from generator.store.lock import LockItem

ENV_STORE = "HUB_STORE"
DEFAULT_STORE_DIRNAME = ".store"

_IGNORED_DIRS = frozenset({"__pycache__", ".git"})
_IGNORED_SUFFIXES = (".pyc",)
_CHUNK = 1 << 20


class StoreError(Exception):
    """Content did not match what the lock expects, or a source could not be read."""


# ---------------------------------------------------------------- hashing


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def is_ignored(rel_parts: tuple[str, ...]) -> bool:
    """Files that are not part of a repository's identity: bytecode and VCS metadata."""
    return any(p in _IGNORED_DIRS for p in rel_parts) or rel_parts[-1].endswith(_IGNORED_SUFFIXES)


def tree_files(folder: Path) -> list[tuple[str, Path]]:
    """(posix relative path, absolute path) of every regular file that counts, sorted by path."""
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in _IGNORED_DIRS]
        base = Path(dirpath)
        for fn in filenames:
            p = base / fn
            rel = p.relative_to(folder)
            if not is_ignored(rel.parts) and p.is_file():
                out.append((rel.as_posix(), p))
    return sorted(out)


def tree_hash(folder: Path) -> tuple[str, int]:
    """(tree hash, total bytes). The hash covers sorted relative paths and each file's sha256:
    one `<sha256>  <path>\\n` line per file, like `sha256sum` output, hashed again."""
    h = hashlib.sha256()
    total = 0
    for rel, p in tree_files(folder):
        h.update(f"{sha256_file(p)}  {rel}\n".encode("utf-8"))
        total += p.stat().st_size
    return h.hexdigest(), total


# ---------------------------------------------------------------- the store


def store_root(project: Path, override: str | os.PathLike[str] | None = None) -> Path:
    """Argument, else $HUB_STORE, else <project>/.store."""
    chosen = override or os.environ.get(ENV_STORE) or project / DEFAULT_STORE_DIRNAME
    return Path(chosen).expanduser().absolute()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_only(path: Path) -> None:
    # Store content is immutable; read-only modes make an accidental write from a hard-linked
    # run directory fail (for non-root users; root is why materialize copies by default then).
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


@dataclass(frozen=True)
class Store:
    root: Path

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def trees(self) -> Path:
        return self.root / "trees"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def object_path(self, sha: str) -> Path:
        return self.objects / sha[:2] / sha

    def tree_path(self, sha: str) -> Path:
        return self.trees / sha

    def has(self, item: LockItem) -> bool:
        if not item.sha256:
            return False
        if item.kind == "hub-repo":
            return self.tree_path(item.sha256).is_dir()
        return self.object_path(item.sha256).is_file()

    def path_of(self, item: LockItem) -> Path:
        return self.tree_path(item.sha256) if item.kind == "hub-repo" else self.object_path(
            item.sha256)

    # ---- files

    @contextmanager
    def temp_file(self) -> Iterator[tuple[BinaryIO, Path]]:
        """A temporary file inside the store; removed on exit unless committed (moved) away."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="obj-", dir=self.tmp)
        path = Path(name)
        try:
            with os.fdopen(fd, "w+b") as f:
                yield f, path
        finally:
            path.unlink(missing_ok=True)

    def commit_object(self, tmp: Path, expect_sha: str = "", expect_size: int | None = None
                      ) -> tuple[str, int]:
        """Hash a finished temp file and move it to its final name. Raises StoreError on a
        mismatch (the temp file is then deleted by its `temp_file` context)."""
        sha, size = sha256_file(tmp), tmp.stat().st_size
        if expect_size is not None and size != expect_size:
            raise StoreError(f"size is {size} bytes, the lock says {expect_size}")
        if expect_sha and sha != expect_sha:
            raise StoreError(f"sha256 is {sha}, the lock says {expect_sha}")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        dest = self.object_path(sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        _read_only(tmp)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        return sha, size

    def put_file(self, src: Path, expect_sha: str = "", expect_size: int | None = None
                 ) -> tuple[str, int]:
        with self.temp_file() as (f, tmp):
            with open(src, "rb") as s:
                shutil.copyfileobj(s, f, _CHUNK)
            f.flush()
            return self.commit_object(tmp, expect_sha, expect_size)

    # ---- trees

    @contextmanager
    def temp_dir(self) -> Iterator[Path]:
        self.tmp.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="tree-", dir=self.tmp))
        try:
            yield path
        finally:
            if path.exists():
                shutil.rmtree(path)

    def commit_tree(self, tmp: Path, expect_sha: str = "", expect_size: int | None = None
                    ) -> tuple[str, int]:
        """Hash a finished temp folder (already stripped of ignored files) and rename it to
        trees/<sha>. Raises StoreError on a mismatch."""
        sha, size = tree_hash(tmp)
        if expect_sha and sha != expect_sha:
            raise StoreError(f"tree hash is {sha}, the lock says {expect_sha}")
        if expect_size is not None and size != expect_size:
            raise StoreError(f"tree holds {size} bytes, the lock says {expect_size}")
        for _, p in tree_files(tmp):
            with open(p, "rb+") as f:
                os.fsync(f.fileno())
            _read_only(p)
        dest = self.tree_path(sha)
        if dest.is_dir():  # same content already stored (e.g. by a concurrent fetch)
            return sha, size
        self.trees.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
        _fsync_dir(self.trees)
        return sha, size

    def put_tree(self, src: Path, expect_sha: str = "") -> tuple[str, int]:
        """Copy the counted files of a local folder into the store."""
        with self.temp_dir() as tmp:
            for rel, p in tree_files(src):
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, dest)
            return self.commit_tree(tmp, expect_sha)

    def verify(self, item: LockItem) -> bool:
        """Re-hash stored content (slow path; for `build-site fetch --verify` style checks)."""
        if not self.has(item):
            return False
        if item.kind == "hub-repo":
            return tree_hash(self.tree_path(item.sha256))[0] == item.sha256
        return sha256_file(self.object_path(item.sha256)) == item.sha256

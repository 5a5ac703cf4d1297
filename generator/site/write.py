"""Putting a built site on disk so that it is never half-written.

The new site is assembled in a temporary folder next to the output folder (same file system, so
renames are atomic), then swapped in: old -> `.<name>.old-<pid>`, new -> `<name>`, old deleted.
If anything fails before the swap the temporary folder is removed and the old site is untouched;
the only moment without a site folder is between the two renames.

Incremental builds hard-link unchanged files from the old site into the new folder (cheap, and
safe because no file in a site folder is ever modified in place: every output is a new file).
Where hard links are not possible the file is copied.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _tmp_name(out_dir: Path, kind: str) -> Path:
    return out_dir.parent / f".{out_dir.name}.{kind}-{os.getpid()}"


class FolderWriter:
    """Writes site files under one folder, creating each sub-folder once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._dirs: set[str] = set()

    def _ensure_dir(self, url: str) -> None:
        parent = url.rpartition("/")[0]
        if parent and parent not in self._dirs:
            (self.path / parent).mkdir(parents=True, exist_ok=True)
            while parent and parent not in self._dirs:  # each folder is created once
                self._dirs.add(parent)
                parent = parent.rpartition("/")[0]

    def write(self, url: str, data: bytes) -> None:
        self._ensure_dir(url)
        with open(self.path / url, "wb") as fh:
            fh.write(data)


class Stage(FolderWriter):
    """A new site being assembled next to `out_dir`. Use as a context manager: on a clean exit
    it is swapped in, on an exception it is deleted and the old site stays. Other processes may
    write into `stage.path` with their own FolderWriter."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir.resolve()
        super().__init__(_tmp_name(self.out_dir, "new"))

    def __enter__(self) -> "Stage":
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        swap_in(self.path, self.out_dir)

    def reuse(self, url: str) -> None:
        """Carry `url` over from the current site unchanged (a hard link, else a copy)."""
        self._ensure_dir(url)
        src, dst = self.out_dir / url, self.path / url
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def swap_in(new: Path, out_dir: Path) -> None:
    old = _tmp_name(out_dir, "old")
    if old.exists():
        shutil.rmtree(old)
    had_old = out_dir.exists()
    if had_old:
        os.rename(out_dir, old)
    try:
        os.rename(new, out_dir)
    except BaseException:
        if had_old:
            os.rename(old, out_dir)  # put the previous site back
        shutil.rmtree(new, ignore_errors=True)
        raise
    if had_old:
        shutil.rmtree(old, ignore_errors=True)

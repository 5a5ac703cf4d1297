"""Putting a built site on disk so that it is never half-written, never missing, and never
written anywhere but inside the output folder.

- `OutputLock`: one build at a time per output folder (an flock on `.<name>.lock` beside it,
  released by the kernel however the holder dies). Holding it, a build removes what dead builds
  left beside the folder (`.<name>.new-<pid>` staging folders, old copies) and puts back a site
  that a kill left only as `.<name>.old-<pid>`.
- `Stage`: the new site is assembled in `.<name>.new-<pid>` next to the output folder (same file
  system), then swapped in with one atomic step: Linux `renameat2(RENAME_EXCHANGE)` exchanges
  the two folders, so the output path always names a complete site. Where the system has no
  exchange, the output path becomes a symlink to a versioned folder (`.<name>.v-<id>`) replaced
  by a single rename; converting a plain folder to that layout is the one step with a gap, and
  the lock's recovery covers it.
- Every URL written is checked (`safe_url`): relative, no `..`, no control characters; ids are
  validated where they are read (core/ids.py), this is the last line of defence.

Incremental builds hard-link unchanged files from the old site into the new folder (cheap, and
safe because no file in a site folder is ever modified in place: every output is a new file,
opened with O_EXCL). The replaced site is kept as `.<name>.spare` and recycled (see Stage).
Where hard links are not possible the file is copied. An OSError while writing (disk full,
read-only, permissions) becomes an EnvironmentFailure: exit 3 with one line.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Collection, Mapping

from generator.core.errors import Code, EnvironmentFailure, UserError, error
from generator.core.text import escape_path

# Names beside the output folder `<name>`, all starting `.<name>.`
_STAGING = ("new", "old", "link", "trash")  # `.<name>.<kind>-<pid>`
_VERSION = "v"  # `.<name>.v-<id>`: a site folder the output symlink points at (fallback layout)
_SPARE = "spare"  # `.<name>.spare`: the previous site, recycled as the next staging folder


def _tmp_name(out_dir: Path, kind: str) -> Path:
    return out_dir.parent / f".{out_dir.name}.{kind}-{os.getpid()}"


def output_path(path: Path) -> Path:
    """The output folder made absolute without following a symlink at its own name (in the
    fallback layout the output path is a symlink that a build replaces, not a folder to enter)."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name


def os_problem(exc: OSError, doing: str) -> EnvironmentFailure:
    """`doing` ("cannot write the site to x") + what the system said, as one line."""
    name = errno.errorcode.get(exc.errno or 0, "")
    where = f" ({escape_path(str(exc.filename))})" if exc.filename and str(exc.filename) not in doing else ""
    hint = _HINTS.get(exc.errno or 0, "")
    return EnvironmentFailure(f"{doing}: {exc.strerror or exc}{f' [{name}]' if name else ''}{where}{hint}")


_HINTS = {
    errno.ENOSPC: "; the disk is full",
    errno.EDQUOT: "; the disk quota is used up",
    errno.EROFS: "; the file system is read-only",
    errno.EACCES: "; the output folder is not writable by this user",
    errno.EPERM: "; the output folder is not writable by this user",
}


# ---------------------------------------------------------------- the URL check


def safe_url(url: str, root: Path) -> str:
    """`url` if it names a file strictly inside `root`; else a UserError (nothing is written)."""
    parts = url.split("/")
    bad = (not url or url.startswith("/") or "\\" in url or any(ord(c) < 32 or c == "\x7f" for c in url)
           or any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."))
    if bad:
        raise UserError([error(Code.BAD_ID, f"refusing to write {url!r}: it is not a plain path inside the "
                               "output folder", str(root), 1)])
    return url


# A small file with the bytes of one this writer wrote already (most badges say the same) is a
# hard link to that one. On the disks measured, a new inode cost 0.15-0.75 ms and a link 0.01 ms;
# sharing is safe because no file in a site folder is ever changed in place. Larger files are
# almost never repeated, and keeping their bytes as keys would cost memory.
SHARE_MAX_BYTES = 4096


class FolderWriter:
    """Writes site files under one folder, creating each sub-folder once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._dirs: set[str] = set()
        self._small: dict[bytes, str] = {}  # bytes -> path of the first file written with them

    def _ensure_dir(self, url: str) -> None:
        parent = url.rpartition("/")[0]
        if parent and parent not in self._dirs:
            (self.path / parent).mkdir(parents=True, exist_ok=True)
            while parent and parent not in self._dirs:  # each folder is created once
                self._dirs.add(parent)
                parent = parent.rpartition("/")[0]

    def write(self, url: str, data: bytes) -> None:
        self._ensure_dir(safe_url(url, self.path))
        path = os.path.join(self.path, url)
        if len(data) <= SHARE_MAX_BYTES:
            first = self._small.get(data)
            if first is not None and self._link(first, path):
                return
            self._small.setdefault(data, path)
        # Always a new file (O_EXCL): a name already there may be a hard link into the current
        # site, which must never change in place. O_NOFOLLOW: a symlink is never followed out.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError:
            os.unlink(path)
            fd = os.open(path, flags, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

    @staticmethod
    def _link(first: str, path: str) -> bool:
        try:
            try:
                os.link(first, path, follow_symlinks=False)
            except FileExistsError:  # a carried link of the current site: replaced, not changed
                os.unlink(path)
                os.link(first, path, follow_symlinks=False)
        except OSError:  # no hard links here (or too many): the file is written instead
            return False
        return True


class Stage(FolderWriter):
    """A new site being assembled next to `out_dir`. Use as a context manager: on a clean exit
    it is swapped in, on an exception (also Ctrl-C) it is deleted and the old site stays. Other
    processes may write into `stage.path` with their own FolderWriter. Hold an OutputLock.

    Recycling: the site a swap replaces is kept as `.<name>.spare` and becomes the next build's
    staging folder, so a small change costs neither a new folder per page nor deleting the old
    tree (on file systems that discard freed blocks, each removed folder cost ~3 ms: 6 s for a
    1,000-card site). `prune` must run first: it leaves in the spare only hard links to files of
    the current site that this build carries over, and the folders the new site needs."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = output_path(out_dir)
        super().__init__(_tmp_name(self.out_dir, "new"))
        self.spare = self.out_dir.parent / f".{self.out_dir.name}.{_SPARE}"
        self.recycled = False
        self.kept: set[str] = set()  # files prune kept: hard links to the current site's files
        # What prune takes out of the recycled folder is renamed into this one and deleted by a
        # thread while the build goes on: removing a file's last link frees its blocks, 3 ms a
        # file on the disks measured (0.66 s of a one-card edit for ~200 files).
        self._trash = _tmp_name(self.out_dir, "trash")
        self._trashed = 0
        self._remover: threading.Thread | None = None

    def __enter__(self) -> "Stage":
        try:
            self.out_dir.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                shutil.rmtree(self.path)
            if os.path.isdir(self.spare) and not os.path.islink(self.spare) and os.path.isdir(self.out_dir):
                os.rename(self.spare, self.path)
                self.recycled = True
            else:
                if os.path.lexists(self.spare):
                    _remove(self.spare)
                self.path.mkdir()
        except OSError as exc:
            raise os_problem(exc, f"cannot write the site to {self.out_dir}") from None
        return self

    def prune(self, wanted: Collection[str], carried: Mapping[str, int]) -> None:
        """In a recycled folder keep only what this build's site needs: a file of a `carried`
        URL that is already the current site's file (`carried`: url -> the inode of the current
        site's file, which the build checked), and the folders of `wanted` URLs. Everything else
        goes (other files, old versions, symlinks, anything planted)."""
        if not self.recycled:
            return
        keep_dirs = {""}
        for url in wanted:
            parent = url.rpartition("/")[0]
            while parent not in keep_dirs:
                keep_dirs.add(parent)
                parent = parent.rpartition("/")[0]
        try:
            self._prune_dir("", keep_dirs, carried)
        except OSError as exc:
            raise os_problem(exc, f"cannot write the site to {self.out_dir}") from None
        if self._trashed:
            self._remover = threading.Thread(target=shutil.rmtree, args=(self._trash,),
                                             kwargs={"ignore_errors": True}, daemon=True)
            self._remover.start()

    def _discard(self, path: str, folder: bool) -> None:
        """Out of the staging folder at once (a rename); deleted later (see _trash)."""
        try:
            if not self._trashed:
                os.mkdir(self._trash)
            os.rename(path, os.path.join(self._trash, str(self._trashed)))
            self._trashed += 1
        except OSError:
            if folder:
                shutil.rmtree(path)
            else:
                os.unlink(path)

    def _wait_for_remover(self) -> None:
        if self._remover is not None:
            self._remover.join()
            self._remover = None

    def _prune_dir(self, rel: str, keep_dirs: set[str], carried: Mapping[str, int]) -> None:
        folder = self.path / rel if rel else self.path
        with os.scandir(folder) as it:
            items = list(it)
        for entry in items:
            url = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                if url in keep_dirs:
                    self._dirs.add(url)  # there already: writes need not create it
                    self._prune_dir(url, keep_dirs, carried)
                else:
                    self._discard(entry.path, folder=True)
                continue
            # The spare and the site are sibling folders (one file system): an equal inode
            # number (from the folder listing, no stat) is the same file.
            if entry.is_file(follow_symlinks=False) and carried.get(url) == entry.inode():
                self.kept.add(url)
                continue
            self._discard(entry.path, folder=False)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: object) -> None:
        try:
            self._exit(exc_type, exc)
        finally:
            self._wait_for_remover()  # no thread of a build outlives its stage

    def _exit(self, exc_type: Any, exc: BaseException | None) -> None:
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            if isinstance(exc, OSError):
                raise os_problem(exc, f"cannot write the site to {self.out_dir}; the previous site is "
                                 "left as it was") from None
            return
        try:
            swap_in(self.path, self.out_dir, keep_previous=self.spare)
        except OSError as exc:
            shutil.rmtree(self.path, ignore_errors=True)
            raise os_problem(exc, f"cannot put the new site in place at {self.out_dir}") from None

    def reuse(self, url: str) -> None:
        """Carry `url` over from the current site unchanged (a hard link, else a copy)."""
        if url in self.kept:  # prune found it already linked
            return
        self._ensure_dir(safe_url(url, self.path))
        src, dst = self.out_dir / url, self.path / url
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


# ---------------------------------------------------------------- the swap

RENAME_EXCHANGE = 2  # <linux/fs.h>
AT_FDCWD = -100
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


def _load_renameat2() -> Any:
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _load_renameat2()


def exchange(a: Path, b: Path) -> None:
    """Atomically swap the names of `a` and `b` (both exist). OSError(ENOSYS) where unsupported."""
    if _RENAMEAT2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if _RENAMEAT2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a), None, str(b))


def swap_in(new: Path, out_dir: Path, keep_previous: Path | None = None) -> None:
    """Make `new` the site at `out_dir` in one atomic step and delete the previous site (or,
    with `keep_previous`, rename it there: the next build recycles it, see Stage)."""
    if not os.path.lexists(out_dir):
        os.rename(new, out_dir)
        return
    if out_dir.is_symlink():
        _swap_symlink(new, out_dir)
        return
    try:
        exchange(new, out_dir)
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
        _swap_symlink(new, out_dir)
        return
    # `new` now holds the previous site
    if keep_previous is not None and not os.path.lexists(keep_previous):
        try:
            os.rename(new, keep_previous)
            return
        except OSError:
            pass
    shutil.rmtree(new, ignore_errors=True)


def _swap_symlink(new: Path, out_dir: Path) -> None:
    """Fallback: `out_dir` is a symlink to `.<name>.v-<id>`, replaced by one rename."""
    version = out_dir.parent / f".{out_dir.name}.{_VERSION}-{os.getpid()}-{time.monotonic_ns()}"
    os.rename(new, version)
    link = _tmp_name(out_dir, "link")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(version.name, link)
    if out_dir.is_symlink():
        previous = out_dir.parent / os.readlink(out_dir)
        os.rename(link, out_dir)  # atomic: the name always points at a complete site
    else:
        # A plain folder cannot be replaced by a symlink in one rename: the one gap, once.
        previous = _tmp_name(out_dir, "old")
        os.rename(out_dir, previous)
        os.rename(link, out_dir)
    shutil.rmtree(previous, ignore_errors=True)


# ---------------------------------------------------------------- the lock


class OutputLock:
    """Exclusive right to write `out_dir` (context manager). Raises EnvironmentFailure when
    another live process holds it; cleans up after dead builds once it is held."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = output_path(out_dir)
        self.path = self.out_dir.parent / f".{self.out_dir.name}.lock"
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        try:
            self.out_dir.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise os_problem(exc, f"cannot create the build lock {self.path}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise EnvironmentFailure(f"another build (pid {holder}) is writing {self.out_dir}; wait "
                                         "for it to finish or use another --out") from None
            raise os_problem(exc, f"cannot lock {self.path}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        try:
            clean_leftovers(self.out_dir)
        except OSError as exc:
            self.__exit__(None, None, None)
            raise os_problem(exc, f"cannot clean up beside {self.out_dir}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock; the file stays (removing it would race)
            self._fd = None


def _remove(path: Path) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def clean_leftovers(out_dir: Path) -> list[str]:
    """Under the lock: put back a site a kill left renamed away, then delete every staging folder,
    old copy and unused version beside `out_dir`. Returns the names removed."""
    prefix = f".{out_dir.name}."
    parent = out_dir.parent
    try:
        names = sorted(os.listdir(parent))
    except FileNotFoundError:
        return []
    ours = [n for n in names if n.startswith(prefix) and n[len(prefix):].split("-", 1)[0] in (*_STAGING, _VERSION)]
    if not os.path.lexists(out_dir):
        olds = [parent / n for n in ours if n[len(prefix):].startswith("old-") and (parent / n).is_dir()]
        if olds:  # killed between the two renames of a folder -> symlink conversion
            newest = max(olds, key=lambda p: p.stat().st_mtime_ns)
            os.rename(newest, out_dir)
            ours.remove(newest.name)
    current = os.readlink(out_dir) if out_dir.is_symlink() else None
    removed = []
    for name in ours:
        if name == current:
            continue
        p = parent / name
        if p.is_symlink() or p.is_file():
            p.unlink()
        else:
            shutil.rmtree(p, ignore_errors=True)
        removed.append(name)
    return removed

"""Reading one input file (a card, a registry, a verify spec, the lock) as a stranger may have
made it: bytes with a size cap, only a regular file, strictly UTF-8.

A pull request can add anything git stores: a symlink to `/dev/zero` (an endless read), to a
FIFO (an open that never returns), to a file outside the repository (`/proc/self/environ`, whose
text would then appear in diagnostics), a dangling one, a folder named `x.md`, or bytes in
another encoding. Each is one located Diagnostic (`InputFileError`), never a traceback or a hang;
the caller reports it and goes on with the other files.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Iterator

from generator.core.errors import Code, Diagnostic, error

# Far above any real card or registry (the bundled ones are < 10 kB; a 10,000-block card is
# ~0.4 MB), far below what would hurt: everything read is held in memory several times over.
MAX_INPUT_BYTES = 8 * 1024 * 1024

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class InputFileError(Exception):
    """The file cannot be read as an input; `diagnostic` says why, at its line."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic))


def _fail(code: Code, message: str, shown: str, line: int = 1) -> InputFileError:
    return InputFileError(error(code, message, shown, line))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def read_bytes(path: Path, shown: str, *, within: Path | None = None,
               limit: int = MAX_INPUT_BYTES) -> bytes:
    """The file's bytes. `within`: a symlink must resolve to a file inside this folder."""
    try:
        link = os.lstat(path)
    except OSError as exc:
        raise _fail(Code.UNREADABLE, f"cannot read: {exc.strerror}", shown) from None
    if stat.S_ISLNK(link.st_mode):
        target = os.path.realpath(path)
        if not os.path.lexists(target) or not os.path.exists(path):
            raise _fail(Code.NOT_A_FILE, f"a symlink to {os.readlink(path)!r}, which does not exist", shown)
        if within is not None and not _inside(target, os.path.realpath(within)):
            raise _fail(Code.NOT_A_FILE, f"a symlink to {target}, outside {within.name}/: only files "
                        "inside the folder are read", shown)
    elif not stat.S_ISREG(link.st_mode):
        raise _fail(Code.NOT_A_FILE, f"{_kind(link.st_mode)}, not a file", shown)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENODEV):
            raise _fail(Code.NOT_A_FILE, "a device or socket, not a file", shown) from None
        raise _fail(Code.UNREADABLE, f"cannot read: {exc.strerror}", shown) from None
    try:
        st = os.fstat(fd)  # what was opened, not what the name pointed at a moment before
        if not stat.S_ISREG(st.st_mode):
            raise _fail(Code.NOT_A_FILE, f"{'a symlink to ' if stat.S_ISLNK(link.st_mode) else ''}"
                        f"{_kind(st.st_mode)}, not a file", shown)
        if st.st_size > limit:
            raise _too_large(f"{st.st_size:,}", limit, shown)
        chunks: list[bytes] = []
        got = 0
        while True:  # bounded even if the file grows while it is read
            chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
            if got > limit:
                raise _too_large(f"more than {limit:,}", limit, shown)
        return b"".join(chunks)
    except OSError as exc:
        raise _fail(Code.UNREADABLE, f"cannot read: {exc.strerror}", shown) from None
    finally:
        os.close(fd)


def _too_large(size: str, limit: int, shown: str) -> InputFileError:
    return _fail(Code.TOO_LARGE, f"{size} bytes; an input file may have at most {limit:,}", shown)


def decode(data: bytes, shown: str) -> str:
    """Strict UTF-8 (a leading byte-order mark is dropped). The first bad byte is reported with
    its line and column, so an editor can jump to it."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        start = exc.start
    line = data.count(b"\n", 0, start) + 1
    line_start = data.rfind(b"\n", 0, start) + 1
    column = len(data[line_start:start].decode("utf-8", "replace")) + 1
    # UTF-16 (what some Windows editors save) is worth naming; any other byte speaks for itself.
    hint = ", it looks like UTF-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ""
    raise _fail(Code.ENCODING, f"not valid UTF-8 (byte 0x{data[start]:02x} at column {column}){hint}",
                shown, line)


def read_text(path: Path, shown: str, *, within: Path | None = None, limit: int = MAX_INPUT_BYTES) -> str:
    """`read_bytes` + `decode`: the text of an input file, or InputFileError."""
    return decode(read_bytes(path, shown, within=within, limit=limit), shown)


def tree_entries(root: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(posix path relative to `root`, entry) of everything below `root` that is not a folder,
    never entering a symlinked folder (os.scandir: pathlib's rglob took 0.35 s for 3,000 files)."""
    folders = [""]
    while folders:
        rel = folders.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as it:
            for entry in it:
                name = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append(name)
                else:
                    yield name, entry

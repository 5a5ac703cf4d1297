"""Reading what a run left in its writable folder without trusting the run.

The run controls that folder, so a "result file" may be a symlink to a secret of the build
(/root/.ssh/...), a FIFO that would block the build forever, or huge. Every path component is
opened with O_NOFOLLOW from the previous one, the file must be a regular file, and reads are
bounded.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from generator.run.isolation.spec import MiB, SandboxError, fmt_bytes

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def open_output(folder: Path, rel: str | os.PathLike[str]) -> int:
    """An fd of the regular file `folder/rel`, or SandboxError (symlink, FIFO, device, missing)."""
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or any(x in (".", "..") for x in parts):
        raise SandboxError(f"not a plain relative path: {rel}")
    try:
        fd = os.open(folder, _DIR_FLAGS)
        try:
            for part in parts[:-1]:
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nfd
            ffd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise SandboxError(f"output {rel}: {e.strerror}"
                           + (" (a symlink?)" if e.errno in (errno.ELOOP, errno.ENOTDIR) else "")) from e
    if not stat.S_ISREG(os.fstat(ffd).st_mode):
        os.close(ffd)
        raise SandboxError(f"output {rel} is not a regular file")
    return ffd


def read_output(folder: Path, rel: str | os.PathLike[str], max_bytes: int = 64 * MiB) -> bytes:
    """The whole file, or SandboxError when it is larger than `max_bytes`."""
    fd = open_output(folder, rel)
    try:
        if os.fstat(fd).st_size > max_bytes:
            raise SandboxError(f"output {rel} is larger than {fmt_bytes(max_bytes)}")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise SandboxError(f"output {rel} is larger than {fmt_bytes(max_bytes)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_head_tail(folder: Path, rel: str | os.PathLike[str], cap: int, tail: int) -> str:
    """At most `cap` bytes of a text the run wrote: all of it, or its head and its last `tail`
    bytes around a `[truncated: N bytes omitted]` note. "" when the file is absent or unsafe."""
    try:
        fd = open_output(folder, rel)
    except SandboxError:
        return ""
    try:
        size = os.fstat(fd).st_size
        if size <= cap:
            return os.pread(fd, cap, 0).decode("utf-8", "replace")
        keep = min(tail, cap // 2)
        head = os.pread(fd, cap - keep, 0)
        end = os.pread(fd, keep, size - keep)
    finally:
        os.close(fd)
    omitted = size - len(head) - len(end)
    return (head.decode("utf-8", "replace") + f"\n[truncated: {omitted} bytes omitted]\n"
            + end.decode("utf-8", "replace"))

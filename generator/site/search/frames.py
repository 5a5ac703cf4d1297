"""The pipes of the search stage's own child processes (the segmenter, the search worker): each
message an 8-byte little-endian length and a `marshal` payload, and how such a child is ended.
Only between processes of this package: marshal is not for anything a card or a child of a card
wrote."""

from __future__ import annotations

import marshal
import subprocess
from typing import IO, Any


def write(pipe: IO[bytes], value: Any) -> None:
    data = marshal.dumps(value)
    pipe.write(len(data).to_bytes(8, "little") + data)
    pipe.flush()


def read(pipe: IO[bytes]) -> object:
    """The next message; EOFError when the other side has closed the pipe."""
    head = _exactly(pipe, 8)
    return marshal.loads(_exactly(pipe, int.from_bytes(head, "little")))


def _exactly(pipe: IO[bytes], n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = pipe.read(n - got)
        if not chunk:
            raise EOFError("the other side stopped")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def end(proc: "subprocess.Popen[bytes]", wait_s: float) -> None:
    """Close both pipes (the child ends when its input closes), wait, kill it if it has not."""
    for pipe in (proc.stdin, proc.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

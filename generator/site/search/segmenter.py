"""The Chinese cutting of the search stage in a process of its own, started with the Pagefind
services (`Services`, before the cards are read).

Why: importing rjieba loads jieba's dictionary, ~0.15 s during which it holds the GIL, so no
thread of the build can run beside it; in the build's own process that was 0.15 s of every
one-card edit. Started early in a child, it loads while the pages are read and rendered, and
the search stage sends it the pages to cut (`indexable` copies and `words`, texts.py: the same
functions, so the same bytes). The child is this package's own code, never a card's.

Protocol on the child's stdin and stdout: each message is an 8-byte little-endian length and a
`marshal` payload; a request is (pages, which of them need their words), the answer is (the
indexable copy of each page, the words of those asked for else None). The child ends when its
stdin closes (also when the build dies), and any failure of it makes `cut` return None: the
caller cuts in its own process instead.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO, Sequence

Answer = tuple[list[str], list["tuple[str, ...] | None"]]


class Segmenter:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[3])  # the folder holding this `generator`
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        except OSError:
            self._proc = None

    def cut(self, pages: Sequence[str], with_words: Sequence[bool]) -> Answer | None:
        """`texts.indexable` of every page and `texts.words` of those flagged; None when the child
        is not there (or stopped): cut them here."""
        with self._lock:
            proc = self._proc
            if proc is None or proc.stdin is None or proc.stdout is None:
                return None
            try:
                _send(proc.stdin, (list(pages), list(with_words)))
                answer = _receive(proc.stdout)
            except (OSError, ValueError, EOFError, TypeError):
                self._stop()
                return None
            if not _well_formed(answer, len(pages)):
                self._stop()
                return None
            return answer

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for pipe in (proc.stdin, proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _well_formed(answer: object, n: int) -> bool:
    if not (isinstance(answer, tuple) and len(answer) == 2):
        return False
    copies, words = answer
    return (isinstance(copies, list) and isinstance(words, list) and len(copies) == len(words) == n
            and all(isinstance(c, str) for c in copies)
            and all(w is None or (isinstance(w, tuple) and all(isinstance(x, str) for x in w)) for w in words))


def _send(pipe: BinaryIO, value: object) -> None:
    data = marshal.dumps(value)
    pipe.write(len(data).to_bytes(8, "little") + data)
    pipe.flush()


def _receive(pipe: BinaryIO) -> object:
    head = _read_exactly(pipe, 8)
    return marshal.loads(_read_exactly(pipe, int.from_bytes(head, "little")))


def _read_exactly(pipe: BinaryIO, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = pipe.read(n - got)
        if not chunk:
            raise EOFError("the segmenter stopped")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The child: load the dictionary at once, then answer requests until stdin closes."""
    from generator.site import segment
    from generator.site.search.texts import indexable, words

    segment._cut()
    while True:
        try:
            pages, with_words = _receive(stdin)  # type: ignore[misc]
        except EOFError:
            return
        _send(stdout, ([indexable(p) for p in pages],
                       [words(p) if w else None for p, w in zip(pages, with_words)]))


_CHILD = "import sys; from generator.site.search.segmenter import serve; serve(sys.stdin.buffer, sys.stdout.buffer)"

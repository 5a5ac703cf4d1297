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

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Sequence, cast

from generator.site.search import frames

Answer = tuple[list[str], list["tuple[str, ...] | None"]]


class Segmenter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        paths = _child_paths()
        if paths is None:
            return  # no rjieba: nothing to start (the caller's own cut says why)
        try:
            # -S -E: without `site` (and the editable install's finder) nor PYTHON* variables the
            # child starts in ~10 ms instead of ~60 ms; it is given the two folders it imports from.
            self._proc = subprocess.Popen([sys.executable, "-S", "-E", "-c", _CHILD, *paths],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL)
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
                frames.write(proc.stdin, (list(pages), list(with_words)))
                answer = frames.read(proc.stdout)
            except (OSError, ValueError, EOFError, TypeError):
                self._stop()
                return None
            if not _well_formed(answer, len(pages)):
                self._stop()
                return None
            return cast(Answer, answer)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def finish(self) -> None:
        """Close the child's input (it ends on its own); `close` then only waits."""
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                except OSError:
                    pass

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            frames.end(proc, 5.0)


def _well_formed(answer: object, n: int) -> bool:
    if not (isinstance(answer, tuple) and len(answer) == 2):
        return False
    copies, words = answer
    return (isinstance(copies, list) and isinstance(words, list) and len(copies) == len(words) == n
            and all(isinstance(c, str) for c in copies)
            and all(w is None or (isinstance(w, tuple) and all(isinstance(x, str) for x in w)) for w in words))


def _child_paths() -> tuple[str, str] | None:
    """The folder holding this `generator` package and the one holding rjieba."""
    import importlib.util

    spec = importlib.util.find_spec("rjieba")
    if spec is None or not spec.submodule_search_locations:
        return None
    return (str(Path(__file__).resolve().parents[3]),
            str(Path(next(iter(spec.submodule_search_locations))).resolve().parent))


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The child: load the dictionary at once, then answer requests until stdin closes."""
    from generator.site import segment
    from generator.site.search.texts import indexable, words

    segment._cut()
    while True:
        try:
            request = cast("tuple[list[str], list[bool]]", frames.read(stdin))
        except EOFError:
            return
        pages, with_words = request
        frames.write(stdout, ([indexable(p) for p in pages],
                       [words(p) if w else None for p, w in zip(pages, with_words)]))


# The child's start: its import folders first; then this package stands in for itself, empty,
# so that importing texts.py and this module does not run the package's __init__ (Pagefind's
# client, the core model: ~85 ms the child does not need).
_CHILD = """
import sys, types
sys.path[:0] = sys.argv[1:3]
here = sys.argv[1] + "/generator/site/search"
package = types.ModuleType("generator.site.search")
package.__path__ = [here]
sys.modules["generator.site.search"] = package
from generator.site.search.segmenter import serve
serve(sys.stdin.buffer, sys.stdout.buffer)
"""

"""The search stage in a process of its own, started when the build starts.

Why: the stage's own Python work (reading the current bundle's records, linking the parts it
carries over, reading and sending pages to Pagefind, writing what comes back: ~0.3 s of a
one-card edit of 1,000 cards) shared the build's one GIL with the rendering of the listing
pages beside it, so on two cores it was the wall time of both, one after the other, and work
moved to a thread ahead of time only slowed the rendering by as much. In a process of its own
it runs on the other core, and what it can do ahead (the records, `copies_ahead`) it does while
the build reads and renders.

`SearchWorker` is the build's side: `copies_ahead` and `index_stage` are sent to the worker,
which holds the Pagefind processes and the segmenter (`Services`) and runs the same
`index_stage` there. The worker is this package's own code, never a card's; messages are an
8-byte length and a `marshal` payload each way. It ends when its input closes (the build ended
or died). A worker that cannot start or stops answering makes the stage run in the build's own
process instead, as before it existed: the same bytes, only slower.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any, Iterator

from generator.core.errors import Code, Diagnostic, Loc
from generator.site.search import frames

TIMEOUT_S = 600.0  # a stage answer; Pagefind's own requests time out sooner (search.TIMEOUT_S)


class WorkerGone(Exception):
    """The worker could not start, stopped, or answered out of turn."""


class SearchWorker:
    def __init__(self, site: Path | None) -> None:
        root = str(Path(__file__).resolve().parents[3])  # the folder holding this `generator`
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _START, root, os.fspath(site) if site is not None else ""],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None)
        except OSError:
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def copies_ahead(self, site: Path, changed: frozenset[str], pages: frozenset[str]) -> None:
        """As Services.copies_ahead, in the worker (no answer is waited for)."""
        try:
            with self._lock:
                self._send(("copies", os.fspath(site), sorted(changed), sorted(pages)))
        except WorkerGone:
            pass  # index_stage finds it gone and indexes here

    def index_stage(self, current: Path, stage: Path, changed: frozenset[str],
                    placed: dict[str, str | None], pages: frozenset[str] | None) -> tuple[Diagnostic, ...]:
        """search.index_stage with the worker's services; raises WorkerGone if it cannot."""
        with self._lock:
            self._send(("index", os.fspath(current), os.fspath(stage), sorted(changed),
                        None if pages is None else sorted(pages)))
            answer = self._receive()
        if isinstance(answer, tuple) and len(answer) == 4 and answer[0] == "oserror":
            _tag, errno, why, filename = answer
            raise OSError(errno, why, filename) if isinstance(errno, int) else OSError(str(why))
        if not (isinstance(answer, tuple) and len(answer) == 3 and answer[0] == "indexed"):
            self.close()
            raise WorkerGone(f"the search worker answered {str(answer)[:200]}")
        _tag, files, diagnostics = answer
        placed.update(files)
        return tuple(Diagnostic(level, Code(code), message, Loc(path, line))
                     for level, code, message, path, line in diagnostics)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            frames.end(proc, 30.0)  # it closes its Pagefind processes first

    def _send(self, message: Any) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise WorkerGone("the search worker is not running")
        try:
            frames.write(proc.stdin, message)
        except (OSError, ValueError) as exc:
            self.close()
            raise WorkerGone(f"the search worker stopped ({exc})") from exc

    def _receive(self) -> object:
        proc = self._proc
        if proc is None or proc.stdout is None:
            raise WorkerGone("the search worker is not running")
        try:
            return frames.read(proc.stdout)
        except (OSError, ValueError, EOFError, TypeError) as exc:
            self.close()
            raise WorkerGone(f"the search worker stopped ({exc})") from exc


@contextlib.contextmanager
def start_worker(site: Path | None) -> Iterator[SearchWorker]:
    """`with start_worker(site) as worker:` the search stage's process, for the build's length."""
    worker = SearchWorker(site)
    try:
        yield worker
    finally:
        worker.close()


def serve(site: str, stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker: Pagefind and the segmenter started at once (with the current site's records
    read ahead), then requests until its input closes. It never prints a traceback: whatever
    goes wrong ends it, and the build then runs the stage itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's to handle: it closes our input
    try:
        _serve(site, stdin, stdout)
    except BaseException:  # noqa: BLE001 (the build's side says what it meets, see above)
        os._exit(1)


def _serve(site: str, stdin: IO[bytes], stdout: IO[bytes]) -> None:
    from generator.site import search

    with search.prestart(Path(site) if site else None) as services:
        while True:
            try:
                request = frames.read(stdin)
            except EOFError:
                return
            if not isinstance(request, tuple) or not request:
                return
            if request[0] == "copies" and services is not None:
                _op, at, changed, pages = request
                services.copies_ahead(Path(at), frozenset(changed), frozenset(pages))
            elif request[0] == "index":
                _op, current, stage, changed, pages = request
                placed: dict[str, str | None] = {}
                try:
                    found = search.index_stage(Path(current), Path(stage), frozenset(changed), services, placed,
                                               None if pages is None else frozenset(pages))
                except OSError as exc:  # a full disk, say: the build says it as it does for its own writes
                    frames.write(stdout, ("oserror", exc.errno, exc.strerror or str(exc),
                                    None if exc.filename is None else os.fsdecode(exc.filename)))
                    continue
                except Exception as exc:  # a bug: the build runs the stage itself, and meets it there
                    frames.write(stdout, ("failed", f"{type(exc).__name__}: {exc}"))
                    continue
                frames.write(stdout, ("indexed", placed,
                                [(d.level, d.code.value, d.message, d.loc.path, d.loc.line) for d in found]))


_START = """
import sys
sys.path.insert(0, sys.argv[1])
from generator.site.search.worker import serve
serve(sys.argv[2], sys.stdin.buffer, sys.stdout.buffer)
"""

"""The waker of `serve`: an event in a watched folder ends the wait at once; no event, the wait
is the poll interval; a folder deleted and made again is watched again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from generator.cli.serve import folders
from generator.cli.wake import Waker


def _timed_wait(waker: Waker, timeout: float) -> tuple[bool, float]:
    t0 = time.monotonic()
    woke = waker.wait(timeout)
    return woke, time.monotonic() - t0


def test_a_write_wakes_at_once_and_silence_waits_the_whole_time(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    waker = Waker(threading.Event())
    assert waker.active  # Linux: inotify is there
    waker.watch(folders((tmp_path,)))
    assert _timed_wait(waker, 0.3)[0] is False
    threading.Timer(0.1, lambda: (tmp_path / "sub" / "card.md").write_text("x")).start()
    woke, took = _timed_wait(waker, 5.0)
    assert woke and took < 2.0
    waker.close()


def test_a_folder_made_again_is_watched_again(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    waker = Waker(threading.Event())
    waker.watch([str(sub)])
    sub.rmdir()
    assert waker.wait(1.0)  # its removal is an event
    waker.wait(0.2)  # the watch's end arrives
    sub.mkdir()
    waker.watch([str(sub)])
    threading.Timer(0.1, lambda: (sub / "card.md").write_text("x")).start()
    woke, took = _timed_wait(waker, 5.0)
    assert woke and took < 2.0
    waker.close()


def test_without_inotify_it_is_a_sleep(tmp_path: Path) -> None:
    stop = threading.Event()
    waker = Waker(stop)
    waker.close()  # as where inotify is missing
    waker.watch([str(tmp_path)])
    (tmp_path / "card.md").write_text("x")
    assert _timed_wait(waker, 0.2)[1] >= 0.19
    stop.set()
    assert waker.wait(5.0) is True

"""core/beside.Beside: the search stage's thread beside the rendering of index and tag pages."""

from __future__ import annotations

import threading
import time

import pytest

from generator.core.beside import Beside


def test_the_work_runs_while_the_block_does_and_its_value_comes_back() -> None:
    started = threading.Event()
    with Beside(lambda x: (started.set(), x * 2)[1], 21) as job:
        assert started.wait(5), "the work did not start before the block ended"
    assert job.result() == 42


def test_what_the_work_raises_is_raised_by_result_in_the_callers_thread() -> None:
    def fail() -> None:
        raise OSError("disk full")

    with Beside(fail) as job:
        pass
    with pytest.raises(OSError, match="disk full"):
        job.result()


def test_the_thread_is_joined_even_when_the_block_raises() -> None:
    done = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        done.set()

    with pytest.raises(KeyboardInterrupt):
        with Beside(slow):
            raise KeyboardInterrupt
    assert done.is_set(), "the block's exception left the work running"


def test_no_work_gives_none() -> None:
    with Beside(None) as job:
        pass
    assert job.result() is None

"""`with Beside(fn, *args) as job: ...; value = job.result()`: `fn(*args)` in a thread while the
block runs.

For work that mostly waits on other processes (the search stage waits on Pagefind and the
segmenter), so the GIL is free for the block most of the time. The thread is always joined when
the block ends, also when it raises: nothing outlives the folder it works in. `result()` gives
what `fn` returned, or raises what it raised, in the caller's thread.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Beside(Generic[T]):
    def __init__(self, fn: Callable[..., T] | None, *args: Any) -> None:
        self._fn, self._args = fn, args
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Beside[T]:
        if self._fn is not None:
            self._thread = threading.Thread(target=self._run, name="beside", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self._fn is not None
        try:
            self._value = self._fn(*self._args)
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._thread.join()

    def result(self) -> T | None:
        """None when there was no `fn`. Only after the block."""
        assert self._thread is None or not self._thread.is_alive()
        if self._error is not None:
            raise self._error
        return self._value

"""What every forked worker process of this tool (card parsing, page rendering) does first: die
with its parent, and leave Ctrl-C to it.

A build killed with `kill -9` cannot tear its pool down, and a forked worker would live on,
writing pages into a folder nobody will swap in. Linux can deliver a signal to a process when its
parent dies (prctl PR_SET_PDEATHSIG); elsewhere the worker at least checks its parent is still
the one that forked it. SIGINT goes to the whole foreground process group: the parent stops the
pool itself, so a worker's own KeyboardInterrupt traceback would only be noise.

The pool is started with SIGINT and SIGTERM blocked (`start_blocked`): a signal that arrives
while the parent forks would otherwise be raised inside an at-fork hook, where Python ignores the
exception (the build would go on), or reach a fresh worker that still has the parent's handler.
Blocked, it waits: the parent gets it right after the pool exists, a worker after its handlers
are set.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from typing import Callable, TypeVar

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _set_parent_death_signal(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def worker_init(parent_pid: int) -> None:
    """Initializer of a forked pool worker; `parent_pid` is os.getpid() of the forking process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler raises; a worker just ends
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


T = TypeVar("T")


def start_blocked(start: Callable[[], T]) -> T:
    """`start()` (which forks the pool) with SIGINT and SIGTERM held back until it returns."""
    if threading.current_thread() is not threading.main_thread():
        return start()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        return start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

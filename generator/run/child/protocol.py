"""What the parent and the child agree on. Standard library only: imported by the parent as
`generator.run.child.protocol` and by the runner as a top-level module.

Transport: the child writes one JSON object per line to the file descriptor named by
`RESULT_FD_ENV` (a pipe the parent reads), never pickle, and never on stdout/stderr, so card code
may print anything. Messages: {"type": "start", "i": n}, {"type": "result", "i": n, ...block
fields...}, {"type": "done"}; {"type": "internal-error", "message": ...} if the runner itself
cannot work. Each block's fd 1/2 go to `out/<i>.stdout|stderr` in the run folder, so the parent
can still read what a block printed when the child is killed or crashes mid-block.
"""

from __future__ import annotations

import os

RESULT_FD_ENV = "VH_RESULT_FD"
OFFLINE_CONFIG_ENV = "VH_OFFLINE_CONFIG"  # JSON file the shim reads (url map, MGE_HOME, ...)
EVENTS_ENV = "VH_EVENTS"  # JSON-lines file the shim appends to (served / blocked / placeholder)

STREAM_CAP = 20_000  # bytes of each captured stream kept per block
TAIL = 4_000  # of which the last bytes (tracebacks and final results are at the end)

FETCH_HINT = "run: build-site fetch"


def stream_paths(out_dir: str, index: int) -> tuple[str, str]:
    return (os.path.join(out_dir, f"{index}.stdout"), os.path.join(out_dir, f"{index}.stderr"))


def read_bounded(path: str, cap: int = STREAM_CAP) -> str:
    """The text of a captured stream, at most `cap` bytes: its head and tail around a
    `[truncated: N bytes]` note. Missing file -> ""."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if size <= cap:
                data = f.read()
                return data.decode("utf-8", "replace")
            tail = min(TAIL, cap // 2)
            head = f.read(cap - tail)
            f.seek(size - tail)
            end = f.read(tail)
    except OSError:
        return ""
    omitted = size - len(head) - len(end)
    return (head.decode("utf-8", "replace") + f"\n[truncated: {omitted} bytes omitted]\n"
            + end.decode("utf-8", "replace"))


# What the blocks after a bad one say ("not run: the block at line N <words>"), by the bad
# block's status; the result also says it as code `stopped.<status>` (run/reasons.py).
STOPS = {"failed": "failed", "timeout": "timed out", "blocked": "was blocked (not in the asset store)",
         "hub-error": "hit an error of the hub repository", "limit": "was stopped by a limit of the build's sandbox"}

"""The one rule for ids that become part of a path or a URL: card ids (file stems), tag ids,
dataset ids, the owner and name of a hub repository.

An id is a single safe path segment: ASCII letters and digits, then also `_`, `-` and `.`, at
most MAX_ID_LENGTH long. It cannot be `.` or `..`, hold a `/`, a backslash, a space, a newline
or anything a shell or a URL would need to quote. `fullmatch` (not `match` with `$`, which also
accepts a trailing newline).
"""

from __future__ import annotations

import re

MAX_ID_LENGTH = 100
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
ID_RULE = f"letters, digits, '_', '-', '.'; starting with a letter or digit; at most {MAX_ID_LENGTH} characters"


def is_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH and ID_PATTERN.fullmatch(value) is not None


def id_problem(kind: str, value: object) -> str | None:
    """None for a valid id, else the message (e.g. "tag id '../x' cannot be used in a path (...)")."""
    if is_id(value):
        return None
    shown = repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        shown = repr(value[:MAX_ID_LENGTH] + "...")
    return f"{kind} {shown} cannot be used in a path or URL ({ID_RULE})"

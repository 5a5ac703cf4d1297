"""The one way sizes are written (memory and disk limits, `<!-- verify: memory=16GiB -->`)."""

from __future__ import annotations

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000 ** 2, "mb": 1000 ** 2,
          "mib": 1024 ** 2, "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3, "t": 1000 ** 4,
          "tb": 1000 ** 4, "tib": 1024 ** 4}


def parse_size(text: str) -> int:
    """`16GiB`, `512 MiB`, `2G`, `3000000000` -> bytes. ValueError for anything else."""
    t = text.strip().lower().replace(" ", "")
    num = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(num):]
    if not num or unit not in _UNITS:
        raise ValueError(f"not a size: {text!r} (e.g. 16GiB, 512MiB)")
    value = float(num) * _UNITS[unit]
    if not 0 < value < 2 ** 62:
        raise ValueError(f"not a size: {text!r}")
    return int(value)

"""JSON as this tool writes it, and the one way files are replaced.

- `canonical` / `digest`: sorted keys, no whitespace, UTF-8: the same data always gives the same
  text, so its sha256 can key a cache;
- `pretty`: what people read and diff (the JSON API, report.json, model-index files): sorted keys,
  2-space indent, final newline, UTF-8 kept as is;
- `atomic_write`: a sibling temp file renamed over the target, so a reader (or a crash) sees the
  old file or the new one, never half of one;
- `JsonCache`: a folder of `<key>.json` entries, the storage of the run and evaluation caches.
  An entry that is absent or does not parse is a miss, never an error: caches only save time
  (the run and evaluation caches also check every field's type before trusting an entry).
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Mapping


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(obj: Any) -> str:
    """sha256 (hex) of the canonical JSON of `obj`."""
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()


def pretty(obj: Any) -> bytes:
    """`json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)` and a newline, the same
    text: with `indent` the json module uses its pure-Python encoder (0.05-0.1 s for the API
    index of 1,000 cards), here only strings are encoded, by its C function."""
    out: list[str] = []
    try:
        _pretty(obj, "\n", out)
    except _Unusual:
        return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    out.append("\n")
    return "".join(out).encode("utf-8")


class _Unusual(Exception):
    """A value `_pretty` leaves to the json module (which also says what cannot be encoded)."""


_encode_str = json.encoder.encode_basestring  # ensure_ascii=False: the C one where there is one


def _pretty(o: Any, newline: str, out: list[str]) -> None:
    if isinstance(o, str):
        out.append(_encode_str(o))
    elif o is None or o is True or o is False:
        out.append("null" if o is None else "true" if o else "false")
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(float.__repr__(o) if o == o and o not in (math.inf, -math.inf)
                   else "NaN" if o != o else "Infinity" if o > 0 else "-Infinity")
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        if not all(type(k) is str for k in o):
            raise _Unusual
        inner = newline + "  "
        sep = "{" + inner
        for k, v in sorted(o.items()):
            out.append(sep)
            out.append(_encode_str(k))
            out.append(": ")
            _pretty(v, inner, out)
            sep = "," + inner
        out.append(newline + "}")
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = newline + "  "
        sep = "[" + inner
        for v in o:
            out.append(sep)
            _pretty(v, inner, out)
            sep = "," + inner
        out.append(newline + "]")
    else:
        raise _Unusual


def atomic_write(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Replace `path` with `data` in one rename. `durable` also fsyncs the data first (for files
    that must survive a power cut, like the lock), which costs a disk flush."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# A cache entry holds a program's captured output (capped by the supervisor) or one evaluation.
MAX_ENTRY_BYTES = 64 * 1024 * 1024


class JsonCache:
    """`<root>/<key>.json`, or `<root>/<key[:2]>/<key>.json` with `fanout` (many entries)."""

    def __init__(self, root: Path, *, fanout: bool = False) -> None:
        self.root = Path(root)
        self.fanout = fanout

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json" if self.fanout else self.root / f"{key}.json"

    def read(self, key: str) -> Any | None:
        return self.read_checked(key)[0]

    def read_checked(self, key: str) -> tuple[Any | None, str]:
        """(data, "") for an entry that parses, (None, "") for none, (None, why) for a broken one."""
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None, ""
        except OSError as exc:
            return None, f"cannot read {path}: {exc.strerror}"
        try:
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    return None, f"{path} is not a file"
                if st.st_size > MAX_ENTRY_BYTES:
                    return None, f"{path} is larger than {MAX_ENTRY_BYTES:,} bytes"
                return json.loads(f.read(MAX_ENTRY_BYTES + 1).decode("utf-8")), ""
        except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            return None, f"{path} does not parse: {type(exc).__name__}: {str(exc)[:120]}"

    def write(self, key: str, data: Mapping[str, Any]) -> None:
        atomic_write(self.path(key), (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)
                                      + "\n").encode("utf-8"))

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        pattern = "*/*.json" if self.fanout else "*.json"
        return sorted(p.stem for p in self.root.glob(pattern))

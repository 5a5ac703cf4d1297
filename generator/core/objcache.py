"""A content-addressed store of values the build derived from input bytes (a card's parse, a
section's rendered HTML), so that a later build with the same bytes loads them instead of
computing them again. Used by the read stage (`cards/cache.py`) and the site stage
(`site/rendercache.py`).

Caches only save time (docs/ARCHITECTURE.md): an entry is used only when

- it is a regular file of at most MAX_ENTRY_BYTES, starting with this format's magic line;
- it names the key it was asked for, and its payload has the sha256 its header records
  (a truncated or bit-flipped file is a miss, not a wrong page);
- its pickle names no class outside the caller's allow-list (the unpickler refuses anything
  else, so an entry cannot make the build call an arbitrary function), and
- the value passes the caller's shape check.

Anything else is a miss, said under `-v`, and the value is computed again. Entries are written
only by the build (its own process and its forked render workers, from card bytes and the
tool's code), never by a sandboxed child, and never inside the output folder.

Layout: `<root>/<key[:2]>/<key>.pickle`; a key already covers the tool's code, so nothing is ever
overwritten with different content and concurrent writers (forked workers) cannot disagree.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import stat
from pathlib import Path
from typing import Callable, Collection

from generator.core.jsonio import atomic_write

MAGIC = b"verified-hub objcache 1\n"
MAX_ENTRY_BYTES = 16 * 1024 * 1024
Log = Callable[[str], None]


class _Refused(pickle.UnpicklingError):
    pass


class _StrictUnpickler(pickle.Unpickler):
    """Builds only the allowed classes (and the builtin containers pickle encodes itself)."""

    def __init__(self, data: bytes, allowed: Collection[tuple[str, str]]) -> None:
        super().__init__(io.BytesIO(data))
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._allowed:
            raise _Refused(f"it names {module}.{name}, which a cache entry may not")
        return super().find_class(module, name)


def code_digest(*parts: str | Path) -> str:
    """A digest of text parts and of the bytes of source files (a Path names a `.py` file or a
    folder of them): entries keyed with it die with any change to the code that made them."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(part.glob("*.py")) if part.is_dir() else [part]
            for f in files:
                h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        else:
            h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()


class ObjectCache:
    def __init__(self, root: Path, what: str, allowed: Collection[tuple[str, str]] = (),
                 log: Log | None = None) -> None:
        self.root = Path(root)
        self.what = what  # how -v names it: "parse cache"
        self.allowed = frozenset(allowed)
        self.log = log
        self.hits = self.misses = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pickle"

    def get(self, key: str, check: Callable[[object], bool]) -> object | None:
        """The stored value of `key`, or None (absent, or not a well-formed entry: said under -v)."""
        value, problem = self._read(key)
        if problem is None and value is not None and not check(value):
            value, problem = None, "its value does not have the expected shape"
        if value is None:
            self.misses += 1
            if problem and self.log is not None:
                self.log(f"{self.what}: ignoring entry {key[:12]} ({problem}); computing it again")
            return None
        self.hits += 1
        return value

    def _read(self, key: str) -> tuple[object | None, str | None]:
        path = self.path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"cannot read it: {exc.strerror}"
        try:
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    return None, "it is not a file"
                if st.st_size > MAX_ENTRY_BYTES:
                    return None, f"it is larger than {MAX_ENTRY_BYTES:,} bytes"
                data = f.read(MAX_ENTRY_BYTES + 1)
        except OSError as exc:
            return None, f"cannot read it: {exc.strerror}"
        header_len = len(MAGIC) + 65 + 65
        if not data.startswith(MAGIC) or len(data) < header_len:
            return None, "it is not an entry of this format"
        stored_key = data[len(MAGIC):len(MAGIC) + 64].decode("ascii", "replace")
        stored_sum = data[len(MAGIC) + 65:header_len - 1].decode("ascii", "replace")
        payload = data[header_len:]
        if stored_key != key:
            return None, "it holds the value of another key"
        if hashlib.sha256(payload).hexdigest() != stored_sum:
            return None, "its payload is damaged (sha256 differs)"
        try:
            return _StrictUnpickler(payload, self.allowed).load(), None
        except Exception as exc:  # noqa: BLE001 - any failure to load is a miss, never a crash
            return None, f"it does not load: {type(exc).__name__}: {str(exc)[:120]}"

    def put(self, key: str, value: object) -> None:
        """Store `value` (best effort: a cache that cannot be written only costs time)."""
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        data = MAGIC + key.encode("ascii") + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
        try:
            atomic_write(self.path(key), data)
        except OSError as exc:
            if self.log is not None:
                self.log(f"{self.what}: cannot write entry {key[:12]} ({exc.strerror})")


def cache_usable(cache_dir: Path, out_dir: Path) -> bool:
    """A cache inside the output folder would be published and swapped away with the site (and
    an output folder inside the cache would be overwritten by it): neither is used."""
    cache, out = os.path.realpath(cache_dir), os.path.realpath(out_dir)
    return not (_within(cache, out) or _within(out, cache))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)

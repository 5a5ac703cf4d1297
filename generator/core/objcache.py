"""A content-addressed store of values the build derived from input bytes (a card's parse, a
section's rendered HTML), so that a later build with the same bytes loads them instead of
computing them again. Used by the read stage (`cards/cache.py`) and the site stage
(`site/rendercache.py`).

Caches only save time (docs/ARCHITECTURE.md): an entry is used only when

- it lies wholly inside a regular pack file, is at most MAX_ENTRY_BYTES, and its record starts
  with this format's magic;
- its payload and the key it is filed under have the sha256 its header records (a truncated or
  bit-flipped record is a miss, not a wrong page);
- its pickle names no class outside the caller's allow-list (the unpickler refuses anything
  else, so an entry cannot make the build call an arbitrary function), and
- the value passes the caller's shape check.

Anything else is a miss, said under `-v`, and the value is computed again. Entries are written
only by the build (its own process and its forked workers, from card bytes and the tool's code),
never by a sandboxed child, and never inside the output folder.

Layout: append-only pack files, `<root>/<time>-<pid>-<random>.pack`, one per writing process,
each a run of records `MAGIC | key | sha256(key, payload) | length | payload`. One file per
entry cost a new inode each: 3,000 of them were 2.3 s of system time in a cold build of 1,000
cards on the disks measured, against 0.03 s for the same bytes appended to one file. A process
holds a shared flock on the pack it appends to; when there are more than MAX_PACKS packs, a
build merges every pack nobody holds into one (the newest record of each key) and deletes them.
A key already covers the tool's code, so two records of one key never disagree. Once more than
half of the records are of keys the build no longer needs (`evict`: an edited card's old parse
and render), the packs are rewritten with the needed ones only.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import mmap
import os
import pickle
import stat
import time
from pathlib import Path
from typing import Callable, Collection, Iterator, NamedTuple


MAGIC = b"vh-objcache-2\n"
_HEADER = len(MAGIC) + 64 + 64 + 8  # magic, key, sha256 (hex), payload length (little-endian)
MAX_ENTRY_BYTES = 16 * 1024 * 1024
MAX_PACKS = 16
PACK_SUFFIX = ".pack"
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


def record_sum(key: str, payload: bytes) -> str:
    h = hashlib.sha256(key.encode("ascii") + b"\n")
    h.update(payload)
    return h.hexdigest()


def record(key: str, payload: bytes) -> bytes:
    """One pack record of `payload` under `key`."""
    return (MAGIC + key.encode("ascii") + record_sum(key, payload).encode("ascii")
            + len(payload).to_bytes(8, "little") + payload)


class Entry(NamedTuple):
    pack: str  # path of the pack file
    offset: int  # of the payload in it
    length: int
    sum: str  # the header's sha256


def scan_pack(data: bytes | mmap.mmap, pack: str) -> Iterator[tuple[str, Entry]]:
    """The records of one pack, in order, up to the first that is not whole (a pack being
    written, or cut short, ends there)."""
    off, size = 0, len(data)
    while off + _HEADER <= size and data[off:off + len(MAGIC)] == MAGIC:
        at = off + len(MAGIC)
        key = bytes(data[at:at + 64]).decode("ascii", "replace")
        total = int.from_bytes(data[at + 128:at + 136], "little")
        start = off + _HEADER
        if start + total > size:
            return
        yield key, Entry(pack, start, total, bytes(data[at + 64:at + 128]).decode("ascii", "replace"))
        off = start + total


class ObjectCache:
    def __init__(self, root: Path, what: str, allowed: Collection[tuple[str, str]] = (),
                 log: Log | None = None) -> None:
        self.root = Path(root)
        self.what = what  # how -v names it: "parse cache"
        self.allowed = frozenset(allowed)
        self.log = log
        self.hits = self.misses = 0
        self._index: dict[str, Entry] | None = None
        self._maps: dict[str, mmap.mmap | bytes] = {}
        self._writer: tuple[int, int, str] | None = None  # (pid, fd, path) of this process's pack

    # ------------------------------------------------------------ reading

    def entries(self) -> dict[str, Entry]:
        """key -> where its newest record is, over every pack (read once per instance)."""
        if self._index is None:
            self.compact()
            self._index = {}
            for pack in self._packs():
                data = self._map(pack)
                if data is not None:
                    self._index.update(scan_pack(data, pack))
        return self._index

    def _packs(self) -> list[str]:
        try:
            with os.scandir(self.root) as it:
                # names start with the time they were made (the order only matters to a reader)
                return sorted(e.path for e in it if e.name.endswith(PACK_SUFFIX) and e.is_file(follow_symlinks=False))
        except OSError:
            return []

    def _map(self, pack: str) -> mmap.mmap | bytes | None:
        if pack in self._maps:
            return self._maps[pack]
        try:
            fd = os.open(pack, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            # A map of what is there now: records appended later are not seen (nor needed)
            data: mmap.mmap | bytes = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if st.st_size else b""
        except (OSError, ValueError):
            return None
        finally:
            os.close(fd)
        self._maps[pack] = data
        return data

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
        found = self.entries().get(key)
        if found is None:
            return None, None
        if found.length > MAX_ENTRY_BYTES:
            return None, f"it is larger than {MAX_ENTRY_BYTES:,} bytes"
        data = self._map(found.pack)
        if data is None:
            return None, "its pack cannot be read"
        payload = bytes(data[found.offset:found.offset + found.length])
        if record_sum(key, payload) != found.sum:
            return None, "its payload is damaged (sha256 differs)"
        try:
            return _StrictUnpickler(payload, self.allowed).load(), None
        except Exception as exc:  # noqa: BLE001 - any failure to load is a miss, never a crash
            return None, f"it does not load: {type(exc).__name__}: {str(exc)[:120]}"

    # ------------------------------------------------------------ writing

    def put(self, key: str, value: object) -> None:
        """Store `value` (best effort: a cache that cannot be written only costs time)."""
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(payload) > MAX_ENTRY_BYTES:
            return
        try:
            fd, pack = self._pack()
            data = record(key, payload)
            offset = os.lseek(fd, 0, os.SEEK_END)  # this process is the pack's only writer
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            if self.log is not None:
                self.log(f"{self.what}: cannot write entry {key[:12]} ({exc.strerror})")
            return
        entries = self.entries()
        entries[key] = Entry(pack, offset + _HEADER, len(payload), record_sum(key, payload))
        self._maps.pop(pack, None)  # mapped before this record: map it again when read

    def _pack(self) -> tuple[int, str]:
        """This process's pack, opened on its first write (a forked worker opens its own)."""
        pid = os.getpid()
        if self._writer is not None and self._writer[0] == pid:
            return self._writer[1], self._writer[2]
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._new_name()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)  # "being written": never merged away under this process
        self._writer = (pid, fd, path)
        return fd, path

    def _new_name(self) -> str:
        return os.path.join(self.root, f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}{PACK_SUFFIX}")

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close this process's pack (its lock goes with it); kept records stay readable."""
        writer = getattr(self, "_writer", None)
        if writer is not None and writer[0] == os.getpid():
            os.close(writer[1])
        self._writer = None

    def compact(self) -> int:
        """When there are more than MAX_PACKS packs, merge those no process is writing into one,
        all but the largest (a cold build's: rewriting it would cost a one-card edit that
        happens to merge 0.1-0.2 s); damaged records are left out. Two records of a key never
        disagree (a key covers the code), so the merged pack's place among the others does not
        matter. Returns how many packs it removed."""
        packs = self._packs()
        if len(packs) <= MAX_PACKS:
            return 0
        sizes = {}
        for pack in packs:
            try:
                sizes[pack] = os.lstat(pack).st_size
            except OSError:
                continue
        largest = max(sizes, key=lambda p: sizes[p]) if sizes else None
        return self._merge([p for p in packs if p != largest and p in sizes], None, at_least=2)

    def evict(self, live: Collection[str]) -> int:
        """Once more than half of the records in packs no process is writing are of keys not in
        `live` (the keys the build needs now: every edit leaves its card's old records behind),
        rewrite those packs as one with the newest whole record of each `live` key only, so the
        cache stays within about twice what a build needs. Returns how many packs it removed."""
        keep = live if isinstance(live, (set, frozenset)) else set(live)
        packs = self._others()
        keys = [key for pack in packs for key in self._keys_in(pack)]
        stale = sum(1 for key in keys if key not in keep)
        if 2 * stale <= len(keys):
            return 0
        return self._merge(packs, keep, at_least=1)

    def records(self) -> int:
        """How many records the packs hold, superseded ones included (this instance's own pack
        left out): more than twice the keys a build needs and `evict` may have work."""
        return sum(1 for pack in self._others() for _key in self._keys_in(pack))

    def _others(self) -> list[str]:
        return [p for p in self._packs() if self._writer is None or p != self._writer[2]]

    def _keys_in(self, pack: str) -> Iterator[str]:
        data = self._map(pack)
        return (key for key, _e in scan_pack(data, pack)) if data is not None else iter(())

    def _merge(self, packs: list[str], keep: Collection[str] | None, at_least: int) -> int:
        """Replace those of `packs` no process is writing (at least `at_least` of them, else
        nothing is done) by one pack of their newest whole records (of `keep` keys only)."""
        held: list[tuple[int, str]] = []
        try:
            for pack in packs:
                if self._writer is not None and pack == self._writer[2]:
                    continue
                try:
                    fd = os.open(pack, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:  # a build is still writing it
                    os.close(fd)
                    continue
                held.append((fd, pack))
            if len(held) < at_least:
                return 0
            newest: dict[str, bytes] = {}
            for fd, pack in held:
                data = self._map(pack)
                if data is None:
                    continue
                for key, e in scan_pack(data, pack):
                    if keep is not None and key not in keep:
                        continue
                    payload = bytes(data[e.offset:e.offset + e.length])
                    if record_sum(key, payload) == e.sum:
                        newest[key] = payload
            merged = self._new_name()
            tmp = merged + ".tmp"  # not a pack name until it is whole
            with open(tmp, "wb") as f:
                for key, payload in newest.items():
                    f.write(record(key, payload))
            os.replace(tmp, merged)
            for _fd, pack in held:
                os.unlink(pack)
                self._maps.pop(pack, None)
            self._index = None
            return len(held)
        except OSError as exc:
            if self.log is not None:
                self.log(f"{self.what}: cannot merge packs ({exc.strerror})")
            return 0
        finally:
            for fd, _pack in held:
                os.close(fd)


def cache_usable(cache_dir: Path, out_dir: Path) -> bool:
    """A cache inside the output folder would be published and swapped away with the site (and
    an output folder inside the cache would be overwritten by it): neither is used."""
    cache, out = os.path.realpath(cache_dir), os.path.realpath(out_dir)
    return not (_within(cache, out) or _within(out, cache))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)

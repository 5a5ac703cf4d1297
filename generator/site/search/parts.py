"""Which index part a page belongs to, and the record each part keeps of what it was made from.

A language's model pages are split into 2^k parts of about `PART_PAGES` pages. A page's part is
a hash of its URL (never its position in a sorted list), so adding or removing a card changes
only the parts of its own pages; the number of parts changes only when the page count crosses a
power of two times `PART_PAGES`. The assignment is a function of the URLs alone, so an
incremental build and a build from scratch make the same parts, byte for byte.

Each part folder holds `part.json` (`PartRecord`): the sha256 of every page it indexes, a key of
the indexing code and tool versions, the sha256 of each of its own files, and the two things the
bundle-wide files are assembled from (each page's Han words and file:// fallback entry; kept per
page, so a part indexed again reads and cuts only its pages that changed). A part
is carried over to the next build (hard links) when its record says it indexed exactly the pages
it would index now, with the same key, and none of its files changed since it was written.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

PART_PAGES = 64  # pages per part, about: a one-card edit re-indexes two parts (one per language)
RECORD = "part.json"
FORMAT = 2  # of part.json; a change makes every part index again


def part_count(pages: int, per_part: int = PART_PAGES) -> int:
    """2^k parts, k the smallest with at most `per_part` pages a part on average (0: no pages)."""
    if pages <= 0:
        return 0
    return 1 << max(0, math.ceil(math.log2(pages / per_part)))


def part_of(url: str, count: int) -> int:
    """The part of the page at `url` (relative to its language folder) among `count` parts."""
    return int.from_bytes(hashlib.sha256(url.encode("utf-8")).digest()[:4], "big") & (count - 1)


def part_name(i: int) -> str:
    return f"part{i}"


def split(urls: list[str], per_part: int = PART_PAGES) -> dict[str, list[str]]:
    """{part name: its page urls, sorted}; parts without pages are left out."""
    count = part_count(len(urls), per_part)
    out: dict[str, list[str]] = {}
    for url in sorted(urls):
        out.setdefault(part_name(part_of(url, count)), []).append(url)
    return dict(sorted(out.items(), key=lambda kv: int(kv[0][4:])))


@dataclass(frozen=True)
class PartRecord:
    key: str  # indexing code + Pagefind + segmenter versions
    pages: Mapping[str, str]  # page url -> sha256 of the page as written
    files: Mapping[str, str]  # file of the part folder (posix, relative) -> sha256; part.json not included
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # page url -> its Han words (words.js)
    fallback: tuple[Mapping[str, str], ...] = field(default=())  # entries of fallback.js

    def to_bytes(self) -> bytes:
        data = {"format": FORMAT, "key": self.key, "pages": dict(self.pages), "files": dict(self.files),
                "words": {u: list(w) for u, w in self.words.items()}, "fallback": [dict(e) for e in self.fallback]}
        return (json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def load_record(path: Path) -> PartRecord | None:
    """The record in `path`, or None when it is missing, of another format, or malformed."""
    try:
        return _record(path.read_bytes())
    except OSError:
        return None


def _record(raw: bytes) -> PartRecord | None:
    try:
        data: Any = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        return PartRecord(
            key=str(data["key"]),
            pages={str(u): str(h) for u, h in data["pages"].items()},
            files={str(f): str(h) for f, h in data["files"].items()},
            words={str(u): tuple(str(w) for w in ws) for u, ws in data["words"].items()},
            fallback=tuple({str(k): str(v) for k, v in e.items()} for e in data["fallback"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class RecordsAhead:
    """The records of a site's current bundles, read in a thread from the start of a build
    (`Services`), so that a one-card edit's search stage does not begin by reading the records
    of every part (~0.15 s of it, both languages at once beside the listing pages). `get` hands
    one over only while the file still has the stat signature it had when read; else the
    caller reads it again. What may be trusted at all is still the caller's decision (the
    build state's check of every file, search/_Previous.trusted)."""

    MISS = object()

    def __init__(self, site: Path, langs: tuple[str, ...], bundle: str) -> None:
        self._paths = [(site / lang / bundle) for lang in langs]
        self._read: dict[str, tuple[tuple[int, ...], PartRecord | None]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for bundle in self._paths:
            try:
                with os.scandir(bundle) as it:
                    names = [e.name for e in it if e.name.startswith("part") and e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            for name in names:
                path = os.path.join(bundle, name, RECORD)
                try:
                    with open(path, "rb") as f:
                        sig = _signature(os.fstat(f.fileno()))
                        raw = f.read()
                except OSError:
                    continue
                self._read[path] = (sig, _record(raw))

    def get(self, path: Path) -> "PartRecord | None | object":
        """The record read ahead from `path` (None: malformed), or MISS."""
        self._thread.join()
        found = self._read.get(os.fspath(path))
        if found is None:
            return self.MISS
        try:
            now = _signature(os.stat(path))
        except OSError:
            return self.MISS
        return found[1] if now == found[0] else self.MISS


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)

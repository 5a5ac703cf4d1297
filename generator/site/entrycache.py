"""The rendered entries of the index and tag pages, kept across builds.

An index page of a thousand cards is a thousand entries (the card's list item and its row of the
comparison table); a one-card edit changes one of them. Each entry's HTML is a function of the
entry's values (render.CardEntry), the page's language, its root prefix and legend link, the
two templates that make it (`_entries.html`, `_parts.html`), the catalog and the code of the
template globals, so its key is a digest of all of these and its value is reused whenever the
key recurs: a page assembled from kept entries is the same bytes as one rendered whole.

One JSON file (`<cache>/index-entries.json`) holds the entries of the last build only, so it
does not grow with edits. It is written by the build's own process (index and tag pages are never
rendered in forked workers) and read back only as str -> [str, str]; anything else in it is
ignored as a whole (a miss: the entries are rendered again).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from generator.core.jsonio import atomic_write
from generator.site.state import Signature, signature

FORMAT = 1
Entry = tuple[str, str]  # (list item, comparison-table row)


def key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()[:40]


class EntryCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._old: dict[str, Entry] | None = None
        self._used: dict[str, Entry] = {}
        self._new = False

    def get(self, k: str) -> Entry | None:
        if self._old is None:
            self._old = _load_kept(self.path)
        found = self._used.get(k) or self._old.get(k)
        if found is not None:
            self._used[k] = found
        return found

    def put(self, k: str, value: Entry) -> None:
        self._used[k] = value
        self._new = True

    def save(self) -> None:
        """Keep what this build used; nothing is written when every entry was found and none
        of the file's entries went unused."""
        if self._old is None or (not self._new and len(self._used) == len(self._old)):
            return
        data = {"format": FORMAT, "entries": {k: list(v) for k, v in sorted(self._used.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        signature = _signature(self.path)
        if signature is not None:
            _KEPT[str(self.path)] = (signature, dict(self._used))


# What this process last read or wrote of each file, with the file's stat signature then: the
# next build of `serve` takes it instead of decoding the file again (0.05 s for 1,000 cards)
# while the file still has that signature (a file replaced or edited since has another).
_KEPT: dict[str, tuple[Signature, dict[str, Entry]]] = {}


def _signature(path: Path) -> Signature | None:
    try:
        return signature(os.stat(path))
    except OSError:
        return None


def _load_kept(path: Path) -> dict[str, Entry]:
    signature = _signature(path)
    kept = _KEPT.get(str(path))
    if kept is not None and signature is not None and kept[0] == signature:
        return kept[1]
    entries = _load(path)
    if signature is not None:
        _KEPT[str(path)] = (signature, entries)
    return entries


def _load(path: Path) -> dict[str, Entry]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) and data.get("format") == FORMAT else None
    if not isinstance(entries, dict):
        return {}
    out: dict[str, Entry] = {}
    for k, v in entries.items():
        if not (isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], str)):
            return {}
        out[k] = (v[0], v[1])
    return out

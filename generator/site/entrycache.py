"""The rendered entries of the index and tag pages, kept across builds.

An index page of a thousand cards is a thousand entries (the card's list item and its row of the
comparison table); a one-card edit changes one of them. Each entry's HTML is a function of the
card's bytes and verification (plan.card_key), the page's language, its root prefix and legend
link, the tag names, the two templates that make it (`_entries.html`, `_parts.html`), the
catalog and the tool's code (render._entry_code), so its key is a digest of all of these and
its value is reused whenever the key recurs: a page assembled from kept entries is the same
bytes as one rendered whole.

One file per output folder (`<cache>/index-entries/<digest of the path>.bin`) holds the entries
of the last build only, so it does not grow with edits. It is written by the build's own process
(index and tag pages are never rendered in forked workers). Format: MAGIC, then per entry its
key (40 ASCII hex digits), the two texts' byte lengths (8 bytes each, little-endian) and the
two texts (UTF-8). Not JSON: 2,000 entries of index HTML were 7 MB of escaped quotes, 0.05-0.08 s
to decode on every edit, against ~0.01 s to slice. Anything that does not read back exactly as
that (a cut, a bad length, bytes that are not UTF-8, bytes after the last entry) is ignored as a
whole: a miss, the entries are rendered again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from generator.core.jsonio import atomic_write
from generator.site.state import Signature, signature

MAGIC = b"vh-index-entries-2\n"
KEY_CHARS = 40
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, to_bytes(self._used))
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


def to_bytes(entries: dict[str, Entry]) -> bytes:
    out = [MAGIC]
    for k, (item, row) in sorted(entries.items()):
        a, b = item.encode("utf-8", "surrogatepass"), row.encode("utf-8", "surrogatepass")
        out += [k.encode("ascii"), len(a).to_bytes(8, "little"), len(b).to_bytes(8, "little"), a, b]
    return b"".join(out)


def from_bytes(data: bytes) -> dict[str, Entry]:
    """The entries `to_bytes` wrote; {} for anything else."""
    if not data.startswith(MAGIC):
        return {}
    out: dict[str, Entry] = {}
    at, end = len(MAGIC), len(data)
    try:
        while at < end:
            head = at + KEY_CHARS + 16
            if head > end:
                return {}
            k = data[at:at + KEY_CHARS].decode("ascii")
            na = int.from_bytes(data[at + KEY_CHARS:at + KEY_CHARS + 8], "little")
            nb = int.from_bytes(data[at + KEY_CHARS + 8:head], "little")
            if head + na + nb > end:
                return {}
            out[k] = (data[head:head + na].decode("utf-8"), data[head + na:head + na + nb].decode("utf-8"))
            at = head + na + nb
    except UnicodeDecodeError:
        return {}
    return out


def _load(path: Path) -> dict[str, Entry]:
    try:
        return from_bytes(path.read_bytes())
    except OSError:
        return {}

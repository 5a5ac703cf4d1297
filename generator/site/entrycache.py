"""The rendered entries of the index and tag pages, kept across builds.

An index page of a thousand cards is a thousand entries (the card's list item and its row of the
comparison table); a one-card edit changes one of them. Each entry's HTML is a function of the
card's bytes and verification (plan.card_key), the page's language, its root prefix and legend
link, the tag names, the two templates that make it (`_entries.html`, `_parts.html`), the
catalog and the tool's code (render._entry_code), so its key is a digest of all of these and
its value is reused whenever the key recurs: a page assembled from kept entries is the same
bytes as one rendered whole.

One file per output folder (`<cache>/index-entries/<digest of the path>.bin`) holds the entries
of recent builds. A build that made new entries appends them when the file is still the one it
read and no more than half of what the file would then hold is unused by this build (a one-card
edit of 1,000 cards with two tags: 6 new entries, where rewriting meant 6,000 entries, 6.6 MB;
in the whole process no difference beyond the machine's noise, A/B 0.99 over 11 pairs); else it
rewrites the file with the entries it used only, so the file stays within twice what a build
needs. It is written by the build's own process (index and tag pages are never rendered in
forked workers). Format: MAGIC, then per entry its key (40 ASCII hex digits), the two texts'
byte lengths (8 bytes each, little-endian) and the two texts (UTF-8); an appended entry follows
the last one in the same form (a key met twice has the same texts: the key covers everything
they are made from). Not JSON: 2,000 entries of index HTML were 7 MB of escaped quotes,
0.05-0.08 s to decode on every edit, against ~0.01 s to slice. Anything that does not read back exactly as
that (a cut, a bad length, bytes that are not UTF-8, bytes after the last entry) is ignored as a
whole: a miss, the entries are rendered again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from generator.core.jsonio import atomic_write
from generator.site.state import Signature, signature

MAGIC = b"vh-index-entries-2\n"
KEY_CHARS = 40
Entry = tuple[str, str]  # (list item, comparison-table row)


def key(*parts: str) -> str:
    return key_after(key_prefix(*parts[:-1]), parts[-1]) if parts else key_prefix().hexdigest()[:40]


def key_prefix(*parts: str) -> Any:  # a hashlib sha256 object
    """The digest state after `parts`: a page's 2,000 entries share their first five parts (the
    tag names' JSON among them), which are then hashed once, not once an entry."""
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little") + b)
    return h


def key_after(prefix: Any, last: str) -> str:
    """key(*parts, last) for the `prefix` of parts."""
    h = prefix.copy()
    b = last.encode("utf-8", "surrogatepass")
    h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()[:40]


class EntryCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._old: dict[str, Entry] | None = None
        self._read_as: Signature | None = None  # the file's stat signature when it was read
        self._used: dict[str, Entry] = {}

    def get(self, k: str) -> Entry | None:
        if self._old is None:
            self._read_as = _signature(self.path)
            self._old = _load_kept(self.path, self._read_as)
        found = self._used.get(k) or self._old.get(k)
        if found is not None:
            self._used[k] = found
        return found

    def put(self, k: str, value: Entry) -> None:
        self._used[k] = value

    def save(self) -> None:
        """Keep what this build used (see the module's docstring); nothing is written when
        every entry was found and at most half of the file's went unused."""
        old = self._old
        if old is None:
            return
        new = {k: v for k, v in self._used.items() if k not in old}
        unused = len(old) - (len(self._used) - len(new))
        if not new and 2 * unused <= len(old):
            return
        if (new and old and self._read_as is not None and _signature(self.path) == self._read_as
                and 2 * unused <= len(old) + len(new) and self._append(new)):
            merged = {**old, **new}
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, to_bytes(self._used))
            merged = dict(self._used)
        signature = _signature(self.path)
        if signature is not None:
            _KEPT[str(self.path)] = (signature, merged)

    def _append(self, new: dict[str, Entry]) -> bool:
        """`new` written after the file's last entry; False (the file then rewritten whole)
        when that fails. A build cut off mid-write leaves a file that reads as nothing."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            view = memoryview(_records(new))
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            return False
        finally:
            os.close(fd)
        return True


# What this process last read or wrote of each file, with the file's stat signature then: the
# next build of `serve` takes it instead of decoding the file again (0.05 s for 1,000 cards)
# while the file still has that signature (a file replaced or edited since has another).
_KEPT: dict[str, tuple[Signature, dict[str, Entry]]] = {}


def _signature(path: Path) -> Signature | None:
    try:
        return signature(os.stat(path))
    except OSError:
        return None


def _load_kept(path: Path, signature: Signature | None) -> dict[str, Entry]:
    kept = _KEPT.get(str(path))
    if kept is not None and signature is not None and kept[0] == signature:
        return kept[1]
    entries = _load(path)
    if signature is not None:
        _KEPT[str(path)] = (signature, entries)
    return entries


def to_bytes(entries: dict[str, Entry]) -> bytes:
    return MAGIC + _records(entries)


def _records(entries: dict[str, Entry]) -> bytes:
    out = []
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

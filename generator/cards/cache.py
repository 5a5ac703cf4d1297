"""The read stage's cache: a card's parse result (Card or None, and its diagnostics), keyed by
what the parse reads, so an unchanged card costs a file read and a hash instead of a parse.

key = sha256(the parser's code and libraries, the card's display path, its text, the tag
registry it was validated against). The stored Card has no block tokens (they are most of a
pickle and only rendering needs them, which has its own cache: site/rendercache.py); a card
loaded from here has `tokens_dropped` set and the site stage parses it again when it does need
them (`cards.parse.with_tokens`). Nor its `source`: that is the text the key was made of, which
the caller has (it was 40% of an entry's bytes to read, check and unpickle). Storage and
strictness: core/objcache.py.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import platform
from pathlib import Path
from typing import Collection, Mapping, cast

from generator import __version__
from generator.core.errors import Diagnostic
from generator.core.model import Card, CardMeta, Section, Snippet, Table, Tag
from generator.core.objcache import Log, ObjectCache, code_digest

# What a parse result may contain: the frozen types of core/, and what safe YAML gives a
# front matter (`verify:` keeps its mapping as written: dates and times included).
_ALLOWED = frozenset({
    ("generator.core.model", "Card"), ("generator.core.model", "CardMeta"), ("generator.core.model", "Section"),
    ("generator.core.model", "Snippet"), ("generator.core.model", "Table"), ("generator.core.model", "Mark"),
    ("generator.core.errors", "Loc"), ("generator.core.errors", "Diagnostic"), ("generator.core.errors", "Code"),
    ("datetime", "date"), ("datetime", "datetime"), ("datetime", "time"), ("datetime", "timedelta"),
    ("datetime", "timezone"),
})


@functools.lru_cache(maxsize=1)  # of the code this process runs, which does not change under it
def _parser_digest() -> str:
    import markdown_it
    import mdit_py_plugins
    import yaml

    package = Path(__file__).resolve().parents[1]
    return code_digest(f"verified-hub {__version__}", f"python {platform.python_version()}",
                       f"markdown-it-py {markdown_it.__version__}", f"mdit-py-plugins {mdit_py_plugins.__version__}",
                       f"pyyaml {yaml.__version__}", package / "cards", package / "core")


class ParseCache:
    def __init__(self, root: Path, log: Log | None = None) -> None:
        self.store = ObjectCache(root, "parse cache", _ALLOWED, log)
        self._code = _parser_digest()
        self._tags: tuple[Mapping[str, Tag] | None, str] | None = None

    def key(self, display: str, text: str, tags: Mapping[str, Tag] | None) -> str:
        if self._tags is None or self._tags[0] is not tags:  # the same registry for every card
            registry = None if tags is None else {k: dict(v.names) for k, v in sorted(tags.items())}
            self._tags = (tags, json.dumps(registry, sort_keys=True, ensure_ascii=False))
        h = hashlib.sha256()
        for part in (self._code, display, text, self._tags[1]):
            b = part.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little") + b)
        return h.hexdigest()

    def get(self, key: str, text: str) -> tuple[Card | None, list[Diagnostic]] | None:
        """The result stored under `key`, made from `text` (the card's text the key was made of)."""
        kept = _IN_PROCESS.get(key)
        if kept is not None:
            self.store.hits += 1
            return kept[0], list(kept[1])
        found = cast("tuple[Card | None, list[Diagnostic]] | None", self.store.get(key, _well_formed))
        if found is None:
            return None
        card = found[0] if found[0] is None else dataclasses.replace(found[0], source=text)
        _keep(key, card, found[1])
        return card, list(found[1])

    def evict(self, keys: Collection[str]) -> int:
        """Drop the records of other keys than `keys` (every card read this build), once they
        are most of the cache (ObjectCache.evict): an edited card's old parse goes."""
        return self.store.evict(keys)

    def put(self, key: str, result: tuple[Card | None, list[Diagnostic]]) -> None:
        card, diags = result
        if card is not None:
            card = without_tokens(card)
        self.store.put(key, (card if card is None else dataclasses.replace(card, source=""), list(diags)))
        _keep(key, card, diags)


# The results this process loaded or stored, by key: `serve` reads every card again on each
# rebuild, and loading 1,000 entries from disk took 0.2-0.3 s of a one-card edit. A key names
# the card's text and the parser's code, so a kept result is the one the disk would give.
_IN_PROCESS: dict[str, tuple[Card | None, tuple[Diagnostic, ...]]] = {}
_IN_PROCESS_MAX = 20_000


def _keep(key: str, card: Card | None, diags: list[Diagnostic]) -> None:
    if len(_IN_PROCESS) >= _IN_PROCESS_MAX:
        _IN_PROCESS.clear()
    _IN_PROCESS[key] = (card, tuple(diags))


def without_tokens(card: Card) -> Card:
    sections = {lang: dataclasses.replace(s, tokens=()) for lang, s in card.sections.items()}
    return dataclasses.replace(card, sections=sections, tokens_dropped=True)


def _well_formed(value: object) -> bool:
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list)):
        return False
    card, diags = value
    if not all(isinstance(d, Diagnostic) for d in diags):
        return False
    if card is None:
        return True
    return (isinstance(card, Card) and isinstance(card.meta, CardMeta) and card.tokens_dropped
            and card.source == "" and isinstance(card.path, str)
            and (card.prelude is None or isinstance(card.prelude, Snippet))
            and isinstance(card.sections, dict)
            and all(isinstance(k, str) and isinstance(s, Section) and s.lang == k
                    and all(isinstance(x, Snippet) for x in s.snippets)
                    and all(isinstance(t, Table) for t in s.tables)
                    for k, s in card.sections.items()))

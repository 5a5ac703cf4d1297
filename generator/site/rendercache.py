"""The site stage's cache: what a card's pages show of its Markdown, keyed by the card's text, so
a build after a template, catalog or verification change fills the templates again without
parsing or highlighting anything.

One entry per card holds, for each section, its rendered skeleton (HTML with numbered slots for
code blocks and table-cell badges, see render._skeleton) and the highlighted HTML of every code
block of the card (prelude included). None of it depends on the templates, the catalog or the
verification: those are filled in per page, after the cache. The key covers the card's text and
the code that turns Markdown into HTML (the Markdown rules, the highlighter, markdown-it-py and
Pygments versions). Entries hold builtin values only (str, int, tuple, dict), so the strict
unpickler of core/objcache.py allows no class at all.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from generator import __version__
from generator.core.model import Card
from generator.core.objcache import Log, ObjectCache, code_digest

Fence = tuple[int, str, str]  # (card line of the fence, info, code)
Cell = tuple[int, int, str]  # (card line of the row, column, header)


@dataclass(frozen=True)
class SectionRender:
    html: str
    fences: tuple[Fence, ...]
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class CardRender:
    sections: Mapping[str, SectionRender]  # lang -> skeleton
    highlighted: Mapping[tuple[str, str], str]  # (code, info) -> HTML of every block of the card


def _renderer_digest() -> str:
    import markdown_it
    import pygments

    site = Path(__file__).resolve().parent
    return code_digest(f"verified-hub {__version__}", f"python {platform.python_version()}",
                       f"markdown-it-py {markdown_it.__version__}", f"pygments {pygments.__version__}",
                       site / "markdown.py", site / "highlight.py", site / "render.py", site.parent / "cards")


class RenderCache:
    def __init__(self, root: Path, log: Log | None = None) -> None:
        self.store = ObjectCache(root, "render cache", (), log)
        self._code = _renderer_digest()

    def evict(self, cards: Iterable[Card]) -> int:
        """Drop the records of cards no longer in the hub or edited since (ObjectCache.evict);
        the cards' keys are only digested when the packs hold more than twice their number."""
        cards = list(cards)
        if self.store.records() <= 2 * len(cards):
            return 0
        return self.store.evict({self.key(c) for c in cards})

    def key(self, card: Card) -> str:
        h = hashlib.sha256()
        for part in (self._code, card.source):
            b = part.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little") + b)
        return h.hexdigest()

    def get(self, card: Card) -> CardRender | None:
        decoded: list[CardRender | None] = []

        def check(raw: object) -> bool:
            decoded.append(_decode(raw, card))
            return decoded[-1] is not None

        return decoded[-1] if self.store.get(self.key(card), check) is not None else None

    def put(self, card: Card, value: CardRender) -> None:
        self.store.put(self.key(card), {
            "sections": {lang: (s.html, tuple(s.fences), tuple(s.cells)) for lang, s in value.sections.items()},
            "highlighted": [(code, info, html) for (code, info), html in value.highlighted.items()],
        })


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _decode(raw: object, card: Card) -> CardRender | None:
    """The entry as a CardRender, or None when any part is not of its type (or the sections are
    not the card's)."""
    if not isinstance(raw, dict) or set(raw) != {"sections", "highlighted"}:
        return None
    secs, hl = raw["sections"], raw["highlighted"]
    if not isinstance(secs, dict) or set(secs) != set(card.sections) or not isinstance(hl, list):
        return None
    sections: dict[str, SectionRender] = {}
    for lang, s in secs.items():
        if not (isinstance(s, tuple) and len(s) == 3 and _is_str(s[0])
                and isinstance(s[1], tuple) and isinstance(s[2], tuple)):
            return None
        html, fences, cells = s
        if not all(isinstance(f, tuple) and len(f) == 3 and _is_int(f[0]) and _is_str(f[1]) and _is_str(f[2])
                   for f in fences):
            return None
        if not all(isinstance(c, tuple) and len(c) == 3 and _is_int(c[0]) and _is_int(c[1]) and _is_str(c[2])
                   for c in cells):
            return None
        sections[lang] = SectionRender(html, fences, cells)
    highlighted: dict[tuple[str, str], str] = {}
    for item in hl:
        if not (isinstance(item, tuple) and len(item) == 3 and all(map(_is_str, item))):
            return None
        highlighted[(item[0], item[1])] = item[2]
    return CardRender(sections, highlighted)

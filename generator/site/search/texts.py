"""What the search index is made from, per page: the copy Pagefind reads, the file:// fallback
entry and the Han words of the query dictionary."""

from __future__ import annotations

import html
import re

from generator.site import segment

FALLBACK_CHARS = 600
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.S | re.I)
_DESCRIPTION = re.compile(r'<meta\s+name="description"\s+content="([^"]*)"', re.I)
_INDEXED = re.compile(r"<main\b[^>]*data-pagefind-body[^>]*>(.*?)</main>", re.S | re.I)
_IGNORED = re.compile(r"<(nav|section|div|span)\b[^>]*data-pagefind-ignore[^>]*>.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_OUTPUT_IGNORED = re.compile(r'(<details class="output")\s+data-pagefind-ignore')
_OUTPUT_LABELS = re.compile(r'<(summary|p class="output-title")>')


def indexable(page: str) -> str:
    """What Pagefind reads for a page: what its programs printed included (the page marks the
    output box data-pagefind-ignore; here only its labels stay out), its Han text cut into words."""
    page = _OUTPUT_IGNORED.sub(r"\1", page)
    page = _OUTPUT_LABELS.sub(r"<\1 data-pagefind-ignore>", page)
    return segment.segment_html(page)


def fallback_entry(url: str, page: str, default_title: str) -> dict[str, str]:
    """Title, summary and the start of the page's text, for the simple search site.js runs where
    Pagefind cannot load (file://: the browser refuses its fetches)."""
    h1, desc = _H1.search(page), _DESCRIPTION.search(page)
    body = _INDEXED.search(page)
    plain = " ".join(html.unescape(_TAG.sub(" ", _IGNORED.sub(" ", body.group(1) if body else ""))).split())
    return {"u": url,
            "t": " ".join(html.unescape(_TAG.sub("", h1.group(1))).split()) if h1 else default_title,
            "s": html.unescape(desc.group(1)) if desc else "", "x": plain[:FALLBACK_CHARS]}


def words(page: str) -> tuple[str, ...]:
    """The Han words of a page (its HTML), sorted: what site.js cuts queries with."""
    return tuple(segment.vocabulary([page]))

"""Every count on a model page covers exactly what that page shows: the summary line, rebuilt
from the badges found in the page's own HTML, must be the line the page prints."""

from __future__ import annotations

import re
from collections import Counter

from render_fixtures import options, sample_verification

from generator.core.model import LANGS
from generator.site.build import render_site
from generator.site.i18n import load_catalog
from generator.site.views import Summary, summary_text

_CODE = re.compile(r'<div class="code code-([a-z-]+)" id="code-')
_CLAIM = re.compile(r'<a class="claim claim-([a-z-]+)" href=')
_LINE = re.compile(r'<p class="vline vline-[a-z]+">([^<]*)</p>')


def _pages(fixture_cards) -> dict[str, str]:
    cards, tags = fixture_cards
    return {p.url: p.content.decode("utf-8") for p in render_site(cards, tags, sample_verification(), options())
            if "/models/" in p.url and p.url.endswith(".html")}


def test_summary_counts_equal_the_badges_of_each_page(fixture_cards) -> None:
    catalog = load_catalog(options().templates_dir / "i18n.yaml")
    pages = _pages(fixture_cards)
    checked = 0
    for url, html in pages.items():
        lang = next(l for l in LANGS if url.startswith(l.split("_")[0] + "/"))
        lines = _LINE.findall(html)
        if not lines or "vline-none" in html.split('id="verification"')[1][:400]:
            continue
        t = lambda key, **kw: catalog.get(lang, key, **kw)  # noqa: E731
        blocks, claims = Counter(_CODE.findall(html)), Counter(_CLAIM.findall(html))
        expected = summary_text(t, Summary(True, True, dict(blocks), dict(claims)))
        assert lines[0] == expected, url
        checked += 1
    assert checked >= 2  # both languages of the verified fixture card


def test_each_page_links_to_the_other_languages_failures(fixture_cards) -> None:
    """Both fixture pages have failures of their own, so each links to the other's verification."""
    pages = _pages(fixture_cards)
    en = next(h for u, h in pages.items() if u.startswith("en/") and "resnet" in u)
    zh = next(h for u, h in pages.items() if u.startswith("zh/") and "resnet" in u)
    assert 'class="other-failures"' in en and 'class="other-failures"' in zh
    assert 'href="../../../zh/models/megengine_vision_resnet/index.html#verification"' in en

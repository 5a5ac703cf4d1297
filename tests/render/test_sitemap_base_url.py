"""sitemap.xml without --base-url: the placeholder host is said in the file itself, and the file
stays well-formed XML; with a base URL there is no such note."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from render_fixtures import options

from generator.site.build import render_site
from generator.site.options import SITEMAP_FALLBACK_BASE


def _sitemap(fixture_cards, base_url: str) -> str:  # type: ignore[no-untyped-def]
    cards, tags = fixture_cards
    pages = render_site(cards, tags, {}, replace(options(), base_url=base_url))
    return next(p for p in pages if p.url == "sitemap.xml").content.decode("utf-8")


def test_placeholder_host_is_said_in_the_file(fixture_cards) -> None:  # type: ignore[no-untyped-def]
    text = _sitemap(fixture_cards, "")
    ET.fromstring(text.encode("utf-8"))  # an XML comment may not hold "--": still parses
    head = text.splitlines()[1]
    assert head.startswith("<!--") and SITEMAP_FALLBACK_BASE in head and "placeholder" in head
    assert "base-url" in head


def test_a_base_url_has_no_placeholder_note(fixture_cards, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = _sitemap(fixture_cards, "https://hub.example.org/")
    assert "<!--" not in text and SITEMAP_FALLBACK_BASE not in text
    assert "<loc>https://hub.example.org/en/</loc>" in text

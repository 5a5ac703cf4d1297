"""A zh page's verification text is Chinese: no Latin word outside <code>/<pre> in the summary
line, the check list or a number's tooltip, except names from an explicit allow-list."""

from __future__ import annotations

import re

from render_fixtures import options, sample_verification

from generator.site.build import render_site

# Model and data-set names and units a Chinese sentence keeps as they are.
ALLOWED = frozenset({"MegEngine", "ResNet18", "ResNet34", "ResNet50", "Top1", "Top5", "imagenet-val", "UTC", "Python", "NumPy", "OpenCV"})
_PARTS = (
    re.compile(r'<p class="vline[^"]*">(.*?)</p>', re.S),
    re.compile(r'<p class="other-failures">(.*?)</p>', re.S),
    re.compile(r'<p class="env muted">(.*?)</p>', re.S),
    re.compile(r'<ul class="checks">(.*?)</ul>', re.S),
    re.compile(r'<span class="tip" role="tooltip"[^>]*id="claim-[^"]*">(.*?)</span></span>', re.S),
)


def latin_words(html: str) -> list[str]:
    text = re.sub(r"<(code|pre)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text) if w not in ALLOWED]


def test_latin_words_finds_english_and_ignores_code() -> None:
    assert latin_words("<li>实测 <code>IMAGENET_VAL_DIR</code></li>") == []
    assert latin_words("<li>within tolerance</li>") == ["within", "tolerance"]


def test_zh_pages_have_no_catalog_less_english(fixture_cards) -> None:
    cards, tags = fixture_cards
    pages = [p for p in render_site(cards, tags, sample_verification(), options())
             if p.url.startswith("zh/models/")]
    seen = 0
    for page in pages:
        html = page.content.decode("utf-8")
        for part in _PARTS:
            for chunk in part.findall(html):
                seen += 1
                assert latin_words(chunk) == [], (page.url, chunk[:300])
    assert seen >= 5

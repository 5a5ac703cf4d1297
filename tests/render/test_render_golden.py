"""Whole-site golden build of tests/render/cards (both languages, with hand-written verification
results) against the committed tests/render/golden/. Regenerate with `pytest --regen-golden`
and review the diff."""

from __future__ import annotations

import shutil

from render_fixtures import GOLDEN, options, sample_verification

from generator.site import render_site


def test_whole_site_matches_golden(fixture_cards, regen: bool) -> None:
    cards, tags = fixture_cards
    pages = {p.url: p.content for p in render_site(cards, tags, sample_verification(), options())}
    if regen:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for url, content in pages.items():
            (GOLDEN / url).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / url).write_bytes(content)
    expected = {p.relative_to(GOLDEN).as_posix(): p.read_bytes()
                for p in sorted(GOLDEN.rglob("*")) if p.is_file()}
    assert sorted(pages) == sorted(expected), "set of files differs; run pytest --regen-golden"
    differing = [url for url in sorted(pages) if pages[url] != expected[url]]
    assert not differing, f"differs from golden: {differing}; run pytest --regen-golden and review"


def test_golden_covers_both_languages_and_all_page_kinds() -> None:
    files = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    for url in ("index.html", "404.html", "sitemap.xml", "en/index.html", "zh/index.html",
                "en/models/megengine_vision_resnet/index.html", "zh/models/megengine_vision_resnet/index.html",
                "en/models/example_vision_tinydet/index.html", "zh/tags/detection/index.html",
                "api/v1/models.json", "api/v1/models/example_vision_tinydet.json",
                "static/style.css", "static/pygments.css"):
        assert url in files, url



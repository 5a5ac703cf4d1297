"""Whole-site golden build of tests/render/cards (both languages, with hand-written verification
results) against the committed tests/render/golden/. Regenerate with `pytest --regen-golden`
and review the diff."""

from __future__ import annotations

import shutil
from pathlib import Path

from render_fixtures import GOLDEN, options, sample_verification

from generator.site.build import render_site


def _split_copies(pages: dict[str, bytes], static_dir: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Static files the build copies verbatim from templates/static are checked against that
    source, not stored again under golden/ (a second copy to regenerate on every CSS edit)."""
    copies = {u: c for u, c in pages.items() if u.startswith("static/") and (static_dir / u[len("static/"):]).is_file()}
    return {u: c for u, c in pages.items() if u not in copies}, copies


def test_whole_site_matches_golden(fixture_cards, regen: bool) -> None:
    cards, tags = fixture_cards
    opts = options()
    rendered = {p.url: p.content for p in render_site(cards, tags, sample_verification(), opts)}
    pages, copies = _split_copies(rendered, opts.templates_dir / "static")
    assert "static/style.css" in copies and "static/site.js" in copies
    for url, content in copies.items():
        assert content == (opts.templates_dir / url).read_bytes(), f"{url} is not a verbatim copy"
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
                "static/pygments.css"):
        assert url in files, url



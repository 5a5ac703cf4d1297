"""Properties of a whole built site, checked by parsing what was written: hreflang reciprocity,
every internal link resolves, file:// friendliness, html lang, sitemap, JSON API shape,
determinism."""

from __future__ import annotations

import json
import posixpath
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from render_fixtures import RESNET, TINYDET, options, sample_verification

from generator.site.search import index_site
from generator.site.build import build_site


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.alternates: dict[str, str] = {}
        self.ids: set[str] = set()
        self.html_lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.html_lang = a.get("lang", "")
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "link" and a.get("rel") == "alternate" and "hreflang" in a:
            self.alternates[a["hreflang"]] = a["href"]
        for attr in ("href", "src"):
            if attr in a:
                self.links.append((tag, a[attr]))


def parse_page(path: Path) -> PageParser:
    p = PageParser()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


@pytest.fixture(scope="module")
def site(fixture_cards, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cards, tags = fixture_cards
    out = tmp_path_factory.mktemp("render") / "site"
    build_site(cards, tags, sample_verification(), options(), out)
    index_site(out)  # as build.py does: pages link to each language's search bundle
    return out


def _resolve(site: Path, page: Path, href: str) -> tuple[Path, str]:
    target, _, fragment = href.partition("#")
    rel = page.parent.relative_to(site).as_posix()
    resolved = posixpath.normpath(posixpath.join(rel, target)) if target else page.relative_to(site).as_posix()
    assert not resolved.startswith(".."), f"{page}: {href} leaves the site"
    return site / resolved, fragment


def _internal(href: str) -> bool:
    return not href.startswith(("http://", "https://", "mailto:", "data:"))


def test_every_internal_link_resolves_to_a_file_and_fragment(site: Path) -> None:
    checked = 0
    for page in html_pages(site):
        parsed = parse_page(page)
        for _tag, href in parsed.links:
            if not _internal(href):
                continue
            target, fragment = _resolve(site, page, href)
            assert target.is_file(), f"{page.relative_to(site)}: broken link {href}"
            if fragment and target.suffix == ".html":
                assert fragment in parse_page(target).ids, f"{page.relative_to(site)}: no #{fragment} in {href}"
            checked += 1
    assert checked > 100


def test_links_work_from_file_urls(site: Path) -> None:
    for page in html_pages(site):
        for _tag, href in parse_page(page).links:
            assert not href.startswith("/"), f"{page.relative_to(site)}: root-absolute link {href}"
            if _internal(href):
                assert not href.split("#")[0].endswith("/"), f"{page.relative_to(site)}: directory link {href}"


def test_no_external_requests_for_assets(site: Path) -> None:
    for page in html_pages(site):
        parsed = parse_page(page)
        for tag, href in parsed.links:
            if tag in ("link", "script", "img") and href not in parsed.alternates.values():
                assert _internal(href), f"{page.relative_to(site)} loads {href}"
    css = (site / "static" / "style.css").read_text(encoding="utf-8")
    assert "http" not in css and "@import" not in css


def test_hreflang_is_reciprocal(site: Path) -> None:
    pages = [p for p in html_pages(site) if p.parts[len(site.parts)] in ("en", "zh")]
    assert len(pages) >= 10
    for page in pages:
        alts = parse_page(page).alternates
        assert set(alts) == {"en", "zh-CN", "x-default"}, page
        assert _resolve(site, page, alts["x-default"])[0] == _resolve(site, page, alts["en"])[0]
        own = {"en": "en", "zh": "zh-CN"}[page.relative_to(site).parts[0]]
        assert _resolve(site, page, alts[own])[0] == page, f"{page}: hreflang {own} is not itself"
        for lang in ("en", "zh-CN"):
            other, _ = _resolve(site, page, alts[lang])
            back = parse_page(other).alternates
            assert _resolve(site, other, back[own])[0] == page, f"{other} does not point back to {page}"


def test_html_lang_and_language_switcher(site: Path) -> None:
    for lang_dir, html_lang, other in (("en", "en", "zh"), ("zh", "zh-CN", "en")):
        for page in sorted((site / lang_dir).rglob("*.html")):
            parsed = parse_page(page)
            assert parsed.html_lang == html_lang, page
            rel = page.relative_to(site / lang_dir).as_posix()
            switch = [h for t, h in parsed.links if t == "a" and h.endswith(f"{other}/{rel}")]
            assert switch, f"{page}: no switcher to the same page in {other}"


def test_root_index_picks_language_with_fallback_links(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    assert "navigator.languages" in text and 'indexOf("zh") === 0' in text
    links = [h for t, h in parse_page(site / "index.html").links if t == "a"]
    assert "en/index.html" in links and "zh/index.html" in links


def test_missing_section_shows_notice_and_prelude(site: Path) -> None:
    text = (site / "en" / "models" / TINYDET / "index.html").read_text(encoding="utf-8")
    assert "not been translated into English yet" in text
    assert "../../../zh/models/example_vision_tinydet/index.html" in text
    assert "tinydet_res18_1x_800size" in text  # the prelude is still there
    assert "模型描述" not in text  # the other language's content is linked, not copied


def test_sitemap_has_absolute_locs_and_alternates(site: Path) -> None:
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    root = ET.fromstring((site / "sitemap.xml").read_bytes())
    urls = root.findall("s:url", ns)
    html_count = sum(1 for p in html_pages(site) if p.relative_to(site).parts[0] in ("en", "zh"))
    assert len(urls) == html_count
    for u in urls:
        loc = u.find("s:loc", ns).text
        assert loc.startswith("https://example.invalid/")
        alts = {a.get("hreflang"): a.get("href") for a in u.findall("x:link", ns)}
        assert set(alts) == {"en", "zh-CN", "x-default"}
        assert loc in alts.values()


def test_json_api_shape(site: Path) -> None:
    index = json.loads((site / "api/v1/models.json").read_text(encoding="utf-8"))
    assert set(index) == {"models", "tags"}
    assert [m["id"] for m in index["models"]] == sorted([RESNET, TINYDET])
    for tag in index["tags"].values():
        assert set(tag) == {"zh_CN", "en_US"}
    meta_keys = {"id", "title", "author", "summary", "githubLink", "tags", "updateTime"}
    for m in index["models"]:
        assert set(m) == meta_keys
        detail_path = site / f"api/v1/models/{m['id']}.json"
        raw = detail_path.read_text(encoding="utf-8")
        assert raw.endswith("}\n") and "\\u" not in raw  # pretty, UTF-8, final newline
        detail = json.loads(raw)
        assert set(detail) == {"meta", "content"}
        assert detail["meta"] == m
        assert set(detail["content"]) == {"sampleCode", "fullText"}
        assert "megengine" in detail["content"]["sampleCode"] or "hub.load" in detail["content"]["sampleCode"]
        assert set(detail["content"]["fullText"]) <= {"zh_CN", "en_US"}
        assert "zh_CN" in detail["content"]["fullText"]
        assert m["updateTime"] == "2024-05-01T12:00:00Z"
        assert "badge" not in json.dumps(detail["content"]["fullText"])  # plain HTML, no verification UI
    assert set(json.loads((site / f"api/v1/models/{RESNET}.json").read_text())["content"]["fullText"]) == {"zh_CN", "en_US"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_builds_are_byte_identical(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    build_site(cards, tags, sample_verification(), options(), tmp_path / "a")
    build_site(cards, tags, sample_verification(), options(), tmp_path / "b")
    for out in (tmp_path / "a", tmp_path / "b"):  # the search bundles are deterministic too
        index_site(out)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_base_url_makes_hreflang_absolute(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    opts = replace(options(), base_url="https://hub.example.org/docs/")
    build_site(cards, tags, {}, opts, tmp_path / "s")
    alts = parse_page(tmp_path / "s" / "zh" / "models" / RESNET / "index.html").alternates
    assert alts == {"en": f"https://hub.example.org/docs/en/models/{RESNET}/",
                    "zh-CN": f"https://hub.example.org/docs/zh/models/{RESNET}/",
                    "x-default": f"https://hub.example.org/docs/en/models/{RESNET}/"}
    assert "https://hub.example.org/docs/zh/" in (tmp_path / "s" / "sitemap.xml").read_text()

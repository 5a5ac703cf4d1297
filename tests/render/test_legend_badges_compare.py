"""The legend page, the SVG status badges and the index's comparison table, on the render
fixtures' hand-written results (nothing runs)."""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
import xml.etree.ElementTree as ET

from render_fixtures import RESNET, TINYDET, options, sample_verification

from generator.core.model import LANGS
from generator.site import urls
from generator.site.badges import COLOURS, badge_files, badge_state, badge_svg
from generator.site.build import render_site
from generator.site.compare import compare_row, params_cell
from generator.site.i18n import load_catalog
from generator.site.legend import anchors
from generator.site.views import BLOCK_STATUSES, CLAIM_STATUSES, summarize

_CATALOG = load_catalog(Path(__file__).resolve().parents[2] / "templates" / "i18n.yaml")
T = {lang: functools.partial(_CATALOG.get, lang) for lang in LANGS}

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_badges_are_well_formed_svg_with_the_counts_of_summarize(fixture_cards) -> None:
    cards, _ = fixture_cards
    v = sample_verification()
    files = badge_files(cards, v)
    assert sorted(files) == sorted(urls.badge(c.meta.id, lang) for c in cards for lang in ("en_US", "zh_CN"))
    resnet = next(c for c in cards if c.meta.id == RESNET)
    s = summarize(resnet, v[RESNET])
    label, message = _texts(files[urls.badge(RESNET)])
    assert label == "verified hub"
    # Both languages' tables: 2 mismatches of 6 numbers, as summarize counts them.
    assert message == f"{s.claims['mismatch']}/{sum(s.claims.values())} mismatch" == "2/6 mismatch"
    assert _texts(files[urls.badge(TINYDET)])[1] == "not verified"
    root = ET.fromstring(files[urls.badge(RESNET)])
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert COLOURS["mismatch"] in fills


def test_zh_badges_say_the_same_state_in_catalog_chinese(fixture_cards) -> None:
    from generator.site.badges import badge_keys, badge_state_zh
    from generator.site.views import Summary
    from generator.site.i18n import load_catalog

    cards, _ = fixture_cards
    files = badge_files(cards, sample_verification())
    assert _texts(files[urls.badge(RESNET, "zh_CN")]) == ["模型验证", "2/6 不符"]
    assert _texts(files[urls.badge(TINYDET, "zh_CN")])[1] == "未验证"
    assert badge_state_zh(Summary(True, True, {"passed": 3}, {"verified": 4})) == ("verified", "已验证 4/4")
    assert badge_state_zh(Summary(True, True, {"failed": 1}, {"verified": 1})) == ("failed", "代码失败 · 已验证 1/1")
    assert badge_state_zh(Summary(True, True, {"passed": 1}, {})) == ("passed", "代码通过")
    fills = [r.get("fill") for r in ET.fromstring(files[urls.badge(RESNET, "zh_CN")]).iter(f"{SVG}rect")]
    assert COLOURS["mismatch"] in fills  # the same state, so the same colour as the English badge
    catalog = load_catalog(Path(__file__).resolve().parents[2] / "templates" / "i18n.yaml")
    assert all(k in catalog.strings for k in badge_keys())


def test_badge_states_follow_the_worst_thing_first(fixture_cards) -> None:
    from generator.site.views import Summary

    assert badge_state(Summary(True, True, {"passed": 3}, {"verified": 4})) == ("verified", "4/4 verified")
    assert badge_state(Summary(True, True, {"blocked": 1, "skipped": 2}, {"unverified": 24})) == \
        ("blocked", "code blocked · 0/24 verified")
    assert badge_state(Summary(True, True, {"passed": 1}, {"verified": 1, "unverified": 1})) == \
        ("unverified", "1/2 verified")
    assert badge_state(Summary(True, True, {"failed": 1}, {})) == ("failed", "code failed")
    assert badge_state(Summary(False, False, {}, {})) == ("not-run", "not verified")


def test_badge_text_is_escaped() -> None:
    svg = badge_svg("failed", '<script>&"x"', label="a</text><x>")
    assert _texts(svg) == ["a</text><x>", '<script>&"x"']
    assert b"<script>" not in svg and b"<x>" not in svg


def _contrast(fg: str, bg: str) -> float:
    def lum(h: str) -> float:
        r, g, b = (int(h[i:i + 2], 16) / 255 for i in (1, 3, 5))
        f = lambda c: c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4  # noqa: E731
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)
    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_state_has_a_badge_colour_white_text_can_be_read_on() -> None:
    for state in BLOCK_STATUSES + CLAIM_STATUSES:
        assert _contrast("#ffffff", COLOURS[state]) >= 4.5, state


def test_every_badge_of_every_page_links_to_an_anchor_of_its_languages_legend(fixture_cards) -> None:
    cards, tags = fixture_cards
    pages = {p.url: p.content.decode("utf-8") for p in render_site(cards, tags, sample_verification(), options())}
    ids = {lang: set(re.findall(r'id="([^"]+)"', pages[urls.legend_page(lang)])) for lang in LANGS}
    for lang in LANGS:
        assert anchors() <= ids[lang]
    badge = re.compile(r'<(\w+) class="(?:badge|pill|claim) [^"]*"(?: href="([^"]*)")?')
    seen = 0
    for url, html in pages.items():
        if not url.endswith(".html") or url.startswith("404") or "/legend/" in url or url == "index.html":
            continue
        lang = next(l for l in LANGS if url.startswith(urls.URL_LANG[l] + "/"))
        for tag, href in badge.findall(html):
            assert tag == "a" and href, (url, tag)
            target, _, anchor = href.partition("#")
            assert target == urls.relative(url, urls.legend_page(lang)), (url, href)
            assert anchor in ids[lang], (url, href)
            seen += 1
        assert f'href="{urls.relative(url, urls.legend_page(lang))}"' in html, f"{url}: no legend link"
    assert seen > 30


def test_legend_is_in_the_sitemap_with_its_other_language(fixture_cards) -> None:
    cards, tags = fixture_cards
    sitemap = next(p for p in render_site(cards, tags, sample_verification(), options()) if p.url == "sitemap.xml")
    text = sitemap.content.decode()
    assert "<loc>https://example.invalid/en/legend/</loc>" in text
    assert 'hreflang="zh-CN" href="https://example.invalid/zh/legend/"' in text


def test_comparison_rows_know_only_what_the_build_knows(fixture_cards) -> None:
    cards, tags = fixture_cards
    v = sample_verification()
    by_id = {c.meta.id: c for c in cards}
    row = compare_row(by_id[RESNET], v[RESNET], "en_US", "x", lambda t: tags[t].names["en_US"])
    s = summarize(by_id[RESNET], v[RESNET], "en_US")
    assert (row.verified, row.numbers) == (s.claims["verified"], sum(s.claims.values())) == (1, 3)
    assert row.code_state == "failed" and row.number_state == "mismatch"
    # the dataset as the registry names it, the last date an evaluation ran
    assert row.dataset == "ImageNet-1k validation set" and row.last_verified == "2024-04-30"
    assert [(m.column, m.text, m.rows) for m in row.metrics] == [("Top1 acc", "70.312–73.960", 2),
                                                                ("Top5 acc", "93.056", 1)]
    # Parameters and size are those of the card's one stored weights file (the build counted
    # it, store/params.py); nothing is taken from the model's name.
    assert row.params == 11_689_512 and row.size_bytes == 46827520 and row.weights_sha256 == "ab" * 32
    assert params_cell(T["en_US"], row, "en_US").text == "11.7 M"
    assert params_cell(T["zh_CN"], row, "zh_CN").text == "1169 万"
    assert "11,689,512" in params_cell(T["zh_CN"], row, "zh_CN").tip
    uncounted = dataclasses.replace(v[RESNET], assets=tuple(
        dataclasses.replace(a, params=None, params_refused="refused", params_detail="posix.system")
        for a in v[RESNET].assets))
    row = compare_row(by_id[RESNET], uncounted, "en_US", "x", lambda t: t)
    assert (row.params, row.params_why) == (None, "refused")
    cell = params_cell(T["en_US"], row, "en_US")
    assert cell.text == "—" and "asks for <code>posix.system</code>" in cell.tip
    empty = compare_row(by_id[TINYDET], None, "en_US", "x", lambda t: t)
    assert (empty.params, empty.params_why) == (None, "no-weights")
    assert params_cell(T["zh_CN"], empty, "zh_CN").tip == "构建不知道此模型的权重文件。"
    assert empty.dataset is None and empty.metrics == () and empty.last_verified is None
    assert empty.code_state == "not-run" and empty.number_state is None


def test_index_table_shows_a_dash_for_every_unknown(fixture_cards) -> None:
    cards, tags = fixture_cards
    pages = {p.url: p.content.decode("utf-8") for p in render_site(cards, tags, sample_verification(), options())}
    html = pages["en/index.html"]
    table = html.split('<table class="compare-table"')[1].split("</table>")[0]
    assert table.count("<tr data-id=") == 2
    tinydet = table.split(f'data-id="{TINYDET}"')[1].split("</tr>")[0]
    assert tinydet.count(">—</td>") == 4  # dataset, metrics, size, last checked
    # the parameters: "—" with why in its tooltip
    assert f'aria-describedby="params-{TINYDET}-tip">—</span>' in tinydet
    assert "The build knows no weights file of this model." in tinydet
    resnet = table.split(f'data-id="{RESNET}"')[1].split("</tr>")[0]
    assert f'<td class="num" data-sort="11689512"><span class="has-tip"><span class="params" tabindex="0" ' \
           f'aria-describedby="params-{RESNET}-tip">11.7 M</span>' in resnet
    assert 'aria-sort="ascending"' in table

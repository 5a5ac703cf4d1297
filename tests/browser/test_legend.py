"""The legend page, the state badges that link to it and the index's comparison table, in
Debian's Chromium (the render fixtures' hand-written results, served on 127.0.0.1 and opened from
file://), at 1280 and 360 px in both languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urldefrag

import pytest

from harness import DESKTOP, PHONE, Server, Visit, axe_violations, screenshot, serve_fixture_site, tabs

pytestmark = pytest.mark.browser
PAGES = ("{lang}/index.html", "{lang}/models/megengine_vision_resnet/index.html",
         "{lang}/models/example_vision_tinydet/index.html", "{lang}/legend/index.html")
BADGES = ".badge, .claim, .pill"
VIEWPORTS = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "360"])
LANGS = pytest.mark.parametrize("lang", ["en", "zh"])


@pytest.fixture(scope="module")
def legend_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = serve_fixture_site(tmp_path_factory, "legend")
    yield srv
    srv.close()


@pytest.fixture
def tab(browser: Any, legend_site: Server) -> Iterator[Callable[..., Visit]]:
    yield from tabs(browser, legend_site.base)


def _links(page: Any, selector: str) -> list[dict[str, str]]:
    return page.evaluate("""(sel) => [...document.querySelectorAll(sel)].map(e => ({
        tag: e.tagName, cls: e.className, href: e.tagName === 'A' ? e.href : '', text: e.textContent}))""", selector)


def _ids(visit: Visit, url: str, cache: dict[str, set[str]]) -> set[str]:
    if url not in cache:
        visit.page.goto(url, wait_until="load")
        cache[url] = set(visit.page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)"))
    return cache[url]


@LANGS
@VIEWPORTS
def test_every_badge_links_to_an_existing_entry_of_the_legend(tab: Callable[..., Visit], lang: str,
                                                              viewport: dict[str, int]) -> None:
    visit = tab(viewport)
    found: list[tuple[str, dict[str, str]]] = []
    for page_url in PAGES[:3]:
        page = visit.goto(page_url.format(lang=lang))
        found += [(page_url, b) for b in _links(page, BADGES)]
        footer = _links(page, ".site-footer a.legend-link")
        assert len(footer) == 1, f"{page_url}: no legend link in the footer"
        found.append((page_url, {**footer[0], "cls": "footer"}))
    states = {c for _, b in found for c in b["cls"].split() if c.startswith(("badge-", "claim-", "pill-"))}
    # The fixtures show a failed, a placeholder and a not-run block, and verified, mismatched and
    # unverified numbers: each must be there, or this test would check less than it says.
    assert {"badge-failed", "badge-placeholder", "badge-not-run", "claim-verified", "claim-mismatch",
            "claim-unverified", "pill-pass"} <= states, states
    ids: dict[str, set[str]] = {}
    for page_url, b in found:
        assert b["tag"] == "A" and b["href"], f"{page_url}: a badge that is not a link: {b}"
        target, anchor = urldefrag(b["href"])
        assert target == visit.base + f"{lang}/legend/index.html", f"{page_url}: {b}"
        assert b["cls"] == "footer" or anchor, f"{page_url}: badge without an anchor: {b}"
        assert not anchor or anchor in _ids(visit, target, ids), f"{page_url}: no #{anchor} on the legend: {b}"
    assert visit.problems == []


@LANGS
def test_badge_links_work_from_file_urls(tab: Callable[..., Visit], legend_site: Server, lang: str) -> None:
    visit = tab(DESKTOP)
    root = Path(legend_site.root).resolve()
    page = visit.page
    page.goto((root / lang / "models" / "megengine_vision_resnet" / "index.html").as_uri(), wait_until="load")
    page.locator(".code-bar a.badge").first.click()
    page.wait_for_load_state("load")
    url, anchor = urldefrag(page.url)
    assert url == (root / lang / "legend" / "index.html").as_uri() and anchor.startswith("block-")
    assert page.evaluate("document.querySelector(':target') && document.querySelector(':target').id") == anchor
    assert [p for p in visit.problems if "pagefind" not in p] == []


@LANGS
def test_on_a_touch_screen_the_first_tap_explains_and_the_second_follows_the_link(
        tab: Callable[..., Visit], lang: str) -> None:
    from harness import PHONE as phone
    visit = tab(phone, has_touch=True, is_mobile=True)
    page = visit.goto(f"{lang}/models/megengine_vision_resnet/index.html")
    badge = page.locator(".code-bar a.badge").first
    badge.scroll_into_view_if_needed()
    start = page.url
    badge.tap()
    assert page.url == start, "the first tap left the page"
    assert page.evaluate("!document.getElementById('popover').hidden"), "the first tap showed no explanation"
    badge.tap()
    page.wait_for_url(f"**/{lang}/legend/index.html#block-*")
    assert page.evaluate("document.querySelector(':target') !== null")
    assert [p for p in visit.problems if "ERR_ABORTED" not in p] == []


@LANGS
def test_the_legend_explains_every_state_in_the_page_language(tab: Callable[..., Visit], lang: str) -> None:
    visit = tab(DESKTOP)
    page = visit.goto(f"{lang}/legend/index.html")
    ids = set(page.evaluate("[...document.querySelectorAll('.legend-entry')].map(e => e.id)"))
    want = {f"block-{s}" for s in ("passed", "failed", "timeout", "hub-error", "limit", "blocked", "skipped",
                                   "not-run", "placeholder", "expected-error")}
    want |= {f"number-{s}" for s in ("verified", "consistent", "mismatch", "unverified", "measured-on-subset")}
    want |= {f"check-{c}" for c in ("languages", "weight-name", "evaluation")}
    assert ids == want
    texts = page.evaluate("[...document.querySelectorAll('.legend-entry dd')].map(e => e.textContent)")
    assert all(len(t) > (20 if lang == "zh" else 40) for t in texts), texts  # sentences, not a word
    if lang == "zh":
        import re
        # Chinese sentences: outside file names (hubconf.py, weight files) no English words.
        latin = [w for t in texts for w in re.findall(r"[A-Za-z]{4,}", t) if w not in ("hubconf", "resnet", "fbaug")]
        assert latin == [], latin
    # Each state's symbol differs from every other one of its kind.
    icons = page.evaluate("""() => {
        const out = {};
        for (const e of document.querySelectorAll('.legend-entry')) {
            const i = e.querySelector('.st-icon');
            if (i) out[e.id] = i.textContent;
        }
        return out;
    }""")
    for kind in ("block", "number"):
        mine = [v for k, v in icons.items() if k.startswith(kind)]
        assert len(mine) == len(set(mine)) and mine, (kind, icons)
    screenshot(page, f"legend-{lang}-1280")
    assert visit.problems == []


_COLOURS = """() => Object.fromEntries([...document.querySelectorAll('.legend-entry .badge, .legend-entry .pill')]
    .map(e => [e.closest('.legend-entry').id, getComputedStyle(e).color + ' on ' + getComputedStyle(e).backgroundColor]))"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_each_block_state_has_its_own_colours_blocked_and_skipped_differ(tab: Callable[..., Visit],
                                                                        scheme: str) -> None:
    visit = tab(DESKTOP, color_scheme=scheme)
    page = visit.goto("en/legend/index.html")
    colours = page.evaluate(_COLOURS)
    assert colours["block-blocked"] != colours["block-skipped"], colours
    blocks = [v for k, v in colours.items() if k.startswith("block-")]
    assert len(blocks) == 10 and len(set(blocks)) == 10, colours
    numbers = [v for k, v in colours.items() if k.startswith("number-")]
    assert len(set(numbers)) == 5, colours
    assert axe_violations(page) == []
    assert visit.problems == []


def _rows(page: Any) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('.compare-table tbody tr')].map(r => r.dataset.id)")


def _sorts(page: Any) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.compare-table thead th')]
        .filter(h => h.hasAttribute('aria-sort')).map(h => [h.textContent.trim(), h.getAttribute('aria-sort')]))""")


@LANGS
@VIEWPORTS
def test_comparison_table_sorts_by_a_clicked_column(tab: Callable[..., Visit], lang: str,
                                                     viewport: dict[str, int]) -> None:
    visit = tab(viewport)
    page = visit.goto(f"{lang}/index.html")
    before = _rows(page)
    assert len(before) >= 2 and sorted(set(before)) == sorted(before)
    heads = page.locator(".compare-table thead th")
    model = heads.nth(0)
    assert model.get_attribute("aria-sort") == "ascending"  # cards are listed by name
    model.locator("button").click()
    assert model.get_attribute("aria-sort") == "descending"
    assert _rows(page) == list(reversed(before)), "sorting by name did not reverse the rows"
    # The state column: best first (descending), and only one column has aria-sort.
    state = heads.nth(4)
    state.locator("button").click()
    assert state.get_attribute("aria-sort") == "descending" and len(_sorts(page)) == 1
    ranks = page.evaluate("[...document.querySelectorAll('.compare-table tbody tr')].map(r => +r.children[4].dataset.sort)")
    assert ranks == sorted(ranks, reverse=True), ranks
    state.locator("button").click()
    assert state.get_attribute("aria-sort") == "ascending"
    ranks = page.evaluate("[...document.querySelectorAll('.compare-table tbody tr')].map(r => +r.children[4].dataset.sort)")
    assert ranks == sorted(ranks), ranks
    # Unknown values are a dash, never a made-up number (a tooltip may say why).
    cells = page.evaluate("""[...document.querySelectorAll('.compare-table tbody td')].map(c => {
        const shown = c.cloneNode(true); shown.querySelectorAll('.tip').forEach(e => e.remove());
        return [c.dataset.sort, shown.textContent.trim()]; })""")
    assert all(text == "—" for sort, text in cells if sort == ""), cells
    # The parameters sort by the exact count, not by the text ("4.7 M" / "469 万").
    heads.nth(5).locator("button").click()
    counts = page.evaluate("[...document.querySelectorAll('.compare-table tbody tr')]"
                           ".map(r => r.children[5].dataset.sort).filter(v => v !== '').map(Number)")
    assert counts, "no model's parameters were counted"
    assert counts == sorted(counts) or counts == sorted(counts, reverse=True), counts
    shown = [text for sort, text in cells if sort == str(counts[0])]
    assert shown and shown[0].endswith(" M" if lang == "en" else " 万"), shown
    if viewport is PHONE:
        screenshot(page, f"compare-{lang}-360")
    assert visit.problems == []


@LANGS
@VIEWPORTS
def test_no_page_scrolls_sideways(tab: Callable[..., Visit], lang: str, viewport: dict[str, int]) -> None:
    visit = tab(viewport)
    for url in PAGES:
        page = visit.goto(url.format(lang=lang))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], (url, width)
    assert visit.problems == []


@LANGS
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_index_with_its_table_and_the_legend_pass_axe(tab: Callable[..., Visit], lang: str, scheme: str) -> None:
    visit = tab(DESKTOP, color_scheme=scheme)
    for url in (f"{lang}/index.html", f"{lang}/legend/index.html", f"{lang}/models/megengine_vision_resnet/index.html"):
        page = visit.goto(url)
        assert axe_violations(page) == [], url
    assert visit.problems == []

"""A model page that carries run results and checked numbers, in the browser.

The session's site is built with --no-verify (seconds, not minutes), so its badges all say "not
run"/"not verified". This page comes from the renderer's own fixtures instead: the real renderer
and search indexer fed with the hand-written results of tests/render/render_fixtures.py (test
data, nothing ran), so that output panels, failed/placeholder badges and the claim badges in table
cells are exercised too."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from harness import DESKTOP, PHONE, Server, Visit, axe_violations, screenshot, serve_fixture_site, tabs

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def results_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = serve_fixture_site(tmp_path_factory, "results")
    yield srv
    srv.close()


@pytest.fixture
def results_tab(browser: Any, results_site: Server) -> Iterator[Callable[..., Visit]]:
    yield from tabs(browser, results_site.base, DESKTOP)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_results_page_is_clean_accessible_and_fits_small_screens(results_tab: Callable[..., Visit], lang: str) -> None:
    path = f"{lang}/models/megengine_vision_resnet/index.html"
    for name, viewport in (("desktop", DESKTOP), ("360", PHONE)):
        tab = results_tab(viewport)
        page = tab.goto(path)
        assert page.locator("details.output").count() > 0 and page.locator("td .claim").count() > 0
        page.locator("details.output").first.locator("summary").click()  # open panels count for axe too
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{path} scrolls sideways at {viewport['width']} px ({width} px)"
        screenshot(page, f"{lang}-model-results-{name}")
        assert axe_violations(page) == []
        assert tab.problems == []


def test_claim_badge_in_a_table_cell_shows_its_tooltip_on_keyboard_focus(results_tab: Callable[..., Visit]) -> None:
    tab = results_tab()
    page = tab.goto("en/models/megengine_vision_resnet/index.html")
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('td .claim')"):
            break
    else:
        pytest.fail("Tab never reached a claim badge in a table cell")
    # The explanation is shown in the page's popover layer (layout.js), a copy of the inline tip
    # the badge is described by.
    info = page.evaluate("""() => {
        const el = document.activeElement, tip = document.getElementById(el.getAttribute('aria-describedby'));
        const layer = document.getElementById('popover');
        return {name: el.getAttribute('aria-label'), role: tip && tip.getAttribute('role'), text: tip && tip.textContent,
                shown: !!layer && !layer.hidden && layer.offsetWidth > 0, layer: layer && layer.textContent};
    }""")
    assert info["name"] and info["role"] == "tooltip" and info["text"] and info["shown"], info
    assert info["layer"] == info["text"], info
    closed = page.evaluate("""() => {
        document.activeElement.blur();
        const layer = document.getElementById('popover');
        return layer.hidden && layer.offsetWidth === 0;
    }""")
    assert closed, "the tooltip stays open after focus leaves its badge"

"""Search in a real Chromium: Chinese queries cut with the index's words (no match inside another
word, clean excerpts), what programs printed is found, the other language offered when nothing
is, and a simple search with a notice on file:// (where Pagefind cannot load)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness import VERIFIED_BUILD, Visit

pytestmark = pytest.mark.browser

RESNET = "megengine_vision_resnet"
EFFNET = "verifiedhub_vision_efficientnet_lite"
FMNIST = "verifiedhub_vision_fmnist_resnet"


def run_search(tab: Visit, lang: str, query: str) -> tuple[list[str], list[str]]:
    """The search box of `lang`'s index page after typing `query`: (result card ids, excerpts as HTML)."""
    page = tab.goto(f"{lang}/index.html")
    box = page.locator("#search input")
    box.wait_for(state="visible", timeout=10000)
    box.fill(query)
    page.wait_for_function("() => document.querySelector('.pagefind-ui__message')?.textContent.trim()",
                           timeout=15000)
    page.wait_for_timeout(300)  # the result list is filled after the message
    links = page.eval_on_selector_all(".pagefind-ui__result-link", "els => els.map(e => e.getAttribute('href'))")
    excerpts = page.eval_on_selector_all(".pagefind-ui__result-excerpt", "els => els.map(e => e.innerHTML)")
    return [re.sub(r".*/models/([^/]+)/.*", r"\1", h) for h in links], excerpts


def test_chinese_query_is_one_word_not_its_characters(tab: Visit) -> None:
    ids, excerpts = run_search(tab, "zh", "残差")
    assert {RESNET, FMNIST} <= set(ids), ids
    # The browser's dictionary cut 残差 into 残|差, and 差 was highlighted inside 标准差.
    assert not any(re.search(r"<mark>差</mark>", e) for e in excerpts), excerpts
    assert any("<mark>残差</mark>" in e for e in excerpts), excerpts
    # The index holds the text cut into words; the excerpts show it without the spaces.
    assert not any(re.search("[\u4e00-\u9fff] +[\u4e00-\u9fff，。]", re.sub("</?mark>", "", e)) for e in excerpts), excerpts
    assert tab.problems == []


def test_a_word_the_browser_cuts_differently_is_found(tab: Visit) -> None:
    # Chromium's segmenter does not keep 归一化 as one word; the index (jieba) does.
    ids, _ = run_search(tab, "zh", "归一化")
    assert {RESNET, EFFNET} <= set(ids), ids


@pytest.mark.skipif(not VERIFIED_BUILD, reason="program outputs are on the pages only in a verifying build")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_what_a_program_printed_is_searchable(tab: Visit, lang: str) -> None:
    # "tiger cat" is only in the output of EfficientNet's snippet (ResNet's code mentions cat.jpg).
    ids, excerpts = run_search(tab, lang, "tiger cat")
    assert ids and ids[0] == EFFNET, ids
    assert "tiger" in excerpts[0], excerpts


def test_no_results_offers_the_other_language_and_it_runs_the_query(tab: Visit) -> None:
    ids, _ = run_search(tab, "en", "残差")
    assert ids == []
    page = tab.page
    link = page.locator("#search .search-other-lang")
    link.wait_for(state="visible", timeout=5000)
    assert "Chinese" in link.inner_text()
    link.click()
    page.wait_for_load_state("load")
    assert tab.path().startswith("zh/")
    page.wait_for_function("() => document.querySelectorAll('.pagefind-ui__result-link').length >= 2", timeout=15000)
    hrefs = page.eval_on_selector_all(".pagefind-ui__result-link", "els => els.map(e => e.getAttribute('href'))")
    assert any(RESNET in h for h in hrefs) and any(FMNIST in h for h in hrefs), hrefs
    assert page.locator("#search .search-other-lang").count() == 0  # results: no offer
    assert tab.problems == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_from_a_file_the_page_says_so_and_a_simple_search_works(browser: Any, site: Path, lang: str) -> None:
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((site / lang / "index.html").resolve().as_uri())
        notice = page.locator("#search .search-notice")
        notice.wait_for(state="visible", timeout=5000)
        assert "HTTP" in notice.inner_text()
        query = {"en": "phones", "zh": "轻量"}[lang]
        page.fill("#search .search-fallback-input", query)
        links = page.locator("#search .search-fallback-link")
        links.first.wait_for(timeout=5000)
        hrefs = links.evaluate_all("els => els.map(e => e.href)")
        assert [h for h in hrefs if EFFNET in h] and all(h.startswith("file://") for h in hrefs), hrefs
        links.first.click()
        page.wait_for_load_state("load")
        assert page.url.endswith(f"/{lang}/models/{EFFNET}/index.html"), page.url
        # Nothing found: the other language is offered here too.
        page.fill("#search .search-fallback-input", "zzqx-nothing")
        assert page.locator("#search .search-other-lang").is_visible()
        assert errors == []
    finally:
        ctx.close()

"""Search in a real Chromium: Chinese queries cut with the index's words (no match inside another
word, clean excerpts), what programs printed is found."""

from __future__ import annotations

import re

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

"""The evidence on the real build's model pages, in Chromium, both languages, 1280 and 360 px: the
"How this was verified" panel shows what report.json records for each measured number, fits the
screen, the Reproduce box links to files that exist, code that fetches from a host a reader cannot
reach says so next to the block, and no page shows a build-machine path."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import pytest

from harness import DESKTOP, PHONE, VERIFIED_BUILD, Visit, axe_violations, screenshot

pytestmark = pytest.mark.browser

FMNIST = "verifiedhub_vision_fmnist_resnet"  # the card whose numbers the build measures here
LANGS = ("en", "zh")
CARD_LANG = {"en": "en_US", "zh": "zh_CN"}
# What a page must never show: the build's run folders, the machine's home and virtualenv, temp.
MACHINE_PATHS = re.compile(r"vh-(?:run|eval|assets)-|mge_home|/root/|\.venv|/tmp/|/work/|site-packages")


def _page(lang: str, card: str = FMNIST) -> str:
    return f"{lang}/models/{card}/index.html"


def _measured(site: Path, card: str, lang: str) -> list[dict[str, Any]]:
    report = json.loads((site / "verify" / "report.json").read_text(encoding="utf-8"))
    (entry,) = [c for c in report["cards"] if c["id"] == card]
    return [c for c in entry["claims"] if c["lang"] == CARD_LANG[lang] and c["measured"] is not None]


_PANEL_BOX = """() => {
    const vw = document.documentElement.clientWidth;
    const out = [];
    for (const sel of ['#evidence', '#reproduce']) {
        const root = document.querySelector(sel);
        for (const el of [root, ...root.querySelectorAll('*')]) {
            const r = el.getBoundingClientRect();
            if (r.width && (r.left < -0.5 || r.right > vw + 0.5)) out.push([sel, el.tagName, el.className, r.left, r.right]);
        }
    }
    return {vw, page: document.documentElement.scrollWidth, outside: out.slice(0, 5)};
}"""


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "360"])
def test_panel_shows_the_recorded_provenance_and_fits(open_tab: Callable[..., Visit], site: Path, lang: str,
                                                       viewport: dict[str, int]) -> None:
    if not VERIFIED_BUILD:
        pytest.skip("BROWSER_TEST_VERIFY=0: nothing was measured")
    measured = _measured(site, FMNIST, lang)
    assert measured, "the build measured no number of the Fashion-MNIST card"
    tab = open_tab(viewport)
    page = tab.goto(_page(lang))
    panel = page.locator("#evidence")
    assert panel.evaluate("d => d.open") is False  # collapsed: it does not bloat the page
    panel.locator("summary").click()
    assert panel.evaluate("d => d.open") is True
    text = panel.inner_text()
    for claim in measured:
        prov = claim["provenance"]
        assert f"{prov['correct']:,} / {prov['n']:,}" in text, (claim["row"], claim["column"])
        for key in ("dataset_fingerprint", "weights_sha256", "weights_url", "cpu", "dataset"):
            assert str(prov[key]) in text, key
        assert f"{prov['dataset_size']:,}" in text
        assert prov["versions"]["megengine"] in text
        assert f"{prov['wall_s']:.1f}" in text
        assert prov["date"][:10] in text
        assert f"{claim['measured']:.3f}" in text
    box = page.evaluate(_PANEL_BOX)
    assert box["outside"] == [] and box["page"] <= viewport["width"], box
    repro = page.locator("#reproduce").inner_text()
    assert "build-site eval" in repro and "MegEngine==" in repro
    screenshot(page, f"evidence-{lang}-{viewport['width']}")
    assert axe_violations(page) == []
    assert tab.problems == []


@pytest.mark.parametrize("lang", LANGS)
def test_reproduce_links_resolve_to_the_report_and_the_model_index(open_tab: Callable[..., Visit], site: Path,
                                                                    lang: str) -> None:
    if not VERIFIED_BUILD:
        pytest.skip("BROWSER_TEST_VERIFY=0: no report.json is written")
    tab = open_tab()
    page = tab.goto(_page(lang))
    hrefs = page.eval_on_selector_all("#reproduce a.ev-link", "as => as.map(a => a.getAttribute('href'))")
    assert len(hrefs) == 2 and all(not h.startswith(("/", "http")) for h in hrefs), hrefs  # relative: any base
    found = {}
    for href in hrefs:
        path = urlsplit(urljoin(page.url, href)).path.lstrip("/")
        assert (site / path).is_file(), href
        response = page.request.get(urljoin(page.url, href))
        assert response.status == 200, href
        found[Path(path).name] = response.json()
    (card,) = [c for c in found["report.json"]["cards"] if c["id"] == FMNIST]
    # the store copies the page names are in the report too, with the lock's sha256 and size
    shown = page.locator("#evidence .ev-runs dt code").all_text_contents()  # inside the closed panel
    assert shown and set(shown) <= {a["url"] for a in card["assets"]}
    assert found[f"{FMNIST}.model-index.json"]["model-index"], "the measured numbers are in the model-index"
    assert tab.problems == []


@pytest.mark.parametrize("lang", LANGS)
def test_code_from_an_unreachable_host_is_marked_next_to_the_block(open_tab: Callable[..., Visit], lang: str) -> None:
    if not VERIFIED_BUILD:
        pytest.skip("BROWSER_TEST_VERIFY=0: nothing was served")
    tab = open_tab(PHONE)
    page = tab.goto(_page(lang))
    warning = page.locator(".code .ev-note-unreachable").first
    assert warning.is_visible() and "hub.verified.invalid" in warning.inner_text()
    assert page.locator(".code .ev-note-served").first.is_visible()
    zoo = page.locator("#reproduce .ev-warn").first
    assert "verifiedhub/zoo" in zoo.inner_text() and "build-site setup" in zoo.inner_text()
    warning.locator("a[href='#reproduce']").click()
    assert page.evaluate("location.hash") == "#reproduce"
    assert tab.problems == []


@pytest.mark.parametrize("lang", LANGS)
def test_no_page_shows_a_build_machine_path(open_tab: Callable[..., Visit], site: Path, lang: str) -> None:
    pages = sorted(p.relative_to(site).as_posix() for p in (site / lang / "models").glob("*/index.html"))
    assert len(pages) >= 3
    tab = open_tab()
    for path in pages:
        page = tab.goto(path)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        # textContent: also what is collapsed or only in a tooltip
        text = page.evaluate("document.documentElement.textContent")
        assert not MACHINE_PATHS.search(text), (path, MACHINE_PATHS.search(text).group(0),
                                                text[max(0, MACHINE_PATHS.search(text).start() - 80):][:200])
    assert tab.problems == []


# Latin words of the panel's text outside code, keyboard input and elements marked as English.
_LATIN_OUTSIDE_NAMES = """() => {
    const out = [];
    for (const root of document.querySelectorAll('#evidence, #reproduce')) {
        const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
            if (n.parentElement.closest('code, kbd, pre, [lang^="en"]')) continue;
            out.push(...(n.textContent.match(/[A-Za-z][A-Za-z0-9_-]*/g) || []));
        }
    }
    return out;
}"""


@pytest.mark.parametrize("card", [FMNIST, "megengine_vision_resnet"])
def test_zh_panel_has_no_latin_outside_code_and_marked_names(open_tab: Callable[..., Visit], site: Path,
                                                             card: str) -> None:
    tab = open_tab()
    page = tab.goto(_page("zh", card))
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.evaluate(_LATIN_OUTSIDE_NAMES) == []
    if VERIFIED_BUILD and card == FMNIST:
        # the registry's Chinese title, and the recorded CPU model as a marked name
        assert "Fashion-MNIST 测试集" in page.locator("#evidence").inner_text()
        cpu = _measured(site, FMNIST, "zh")[0]["provenance"]["cpu"]
        names = page.eval_on_selector_all("#evidence .ev-name[lang=en]", "es => es.map(e => e.textContent)")
        assert cpu in names, names
    assert tab.problems == []

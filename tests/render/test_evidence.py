"""The evidence of a model page (site/evidence.py): the "How this was verified" panel, the
Reproduce box and the notes next to a code block, from hand-written verification results."""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import pytest
from markupsafe import Markup, escape
from render_fixtures import CAT_URL, RESNET, WEIGHTS_URL, options, sample_verification

from generator.core.errors import Loc
from generator.core.model import AssetRecord, CardVerification, CheckOutcome, ClaimState, Snippet
from generator.site import urls
from generator.site.build import render_site
from generator.site.evidence import (block_notes, card_records, catalog_keys, code_urls, evidence_view, pins,
                                     reproduce_view, unreachable_host)
from generator.site.i18n import load_catalog
from generator.store.lock import LockItem, Lock
from test_zh_verification_text import latin_words

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "templates" / "i18n.yaml", "templates/i18n.yaml")
T = {lang: functools.partial(CATALOG.get, lang) for lang in ("en_US", "zh_CN")}


def _field(view, label_key: str, lang: str = "en_US"):
    (ev,) = view.evaluations
    return next(f for f in ev.fields if Markup(f.label).striptags() == CATALOG.get(lang, label_key, hash="sha256"))


@pytest.mark.parametrize("host, expected", [
    ("hub.verified.invalid", True), ("localhost", True), ("127.0.0.1", True), ("127.8.9.1", True),
    ("10.1.2.3", True), ("172.16.0.1", True), ("172.31.255.1", True), ("192.168.1.1", True), ("::1", True),
    ("[::1]", True), ("printer.local", True), ("", True),
    ("172.32.0.1", False), ("8.8.8.8", False), ("data.megengine.org.cn", False), ("github.com", False),
])
def test_hosts_a_reader_cannot_reach(host: str, expected: bool) -> None:
    assert unreachable_host(host) is expected


def test_urls_in_code_are_found_once_without_quotes() -> None:
    code = 'a = "https://x.invalid/a.jpg"\nb = (\'http://127.0.0.1:8000/b\', "https://x.invalid/a.jpg").'
    assert code_urls(code) == ("https://x.invalid/a.jpg", "http://127.0.0.1:8000/b")


@pytest.mark.parametrize("lang", ["en_US", "zh_CN"])
def test_panel_has_every_recorded_field_of_the_evaluation(lang: str) -> None:
    cv = sample_verification()[RESNET]
    view = evidence_view(T[lang], cv, lang)
    (ev,) = view.evaluations
    assert [n.label.striptags() for n in ev.numbers] == ["ResNet18 · Top1 acc", "ResNet34 · Top1 acc"]
    assert [(n.written, n.measured, n.correct, n.status) for n in ev.numbers] == [
        ("70.312", "70.300", "35,150 / 50,000", "verified"), ("73.960", "72.500", "36,250 / 50,000", "mismatch")]
    assert not any(f.missing for f in ev.fields)
    assert "cd" * 32 in _field(view, "ev.f.fingerprint", lang).value
    assert WEIGHTS_URL in _field(view, "ev.f.weights_url", lang).value
    assert "ab" * 32 in _field(view, "ev.f.weights_sha256", lang).value
    assert "46,827,520" in _field(view, "ev.f.weights_size", lang).value
    assert "Test CPU" in _field(view, "ev.f.cpu", lang).value
    assert "1234.5" in _field(view, "ev.f.wall", lang).value
    assert ("2024-04-30 08:00 UTC" if lang == "en_US" else "2024-04-30 08:00（协调世界时）") in _field(
        view, "ev.f.date", lang).value
    assert "<code>1.13.0</code>" in _field(view, "ev.f.versions", lang).value
    assert "50,000" in _field(view, "ev.f.evaluated", lang).value
    # the number nobody measured is listed with its reason, not given made-up fields
    (ne,) = view.not_evaluated
    assert [n.striptags() for n in ne.numbers] == ["ResNet50 · Top5 acc 93.056"]
    if lang == "en_US":
        assert ne.reason == "dataset absent"
    else:
        # an uncatalogued reason stays English only as code inside a Chinese sentence
        assert "<code>dataset absent</code>" in ne.reason and not ne.reason.startswith("dataset")


def test_a_field_the_evaluation_did_not_record_says_so() -> None:
    cv = sample_verification()[RESNET]
    sparse = {"n": 100, "dataset": "imagenet-val", "correct": 70}  # an older evaluation's record
    claims = tuple(dataclasses.replace(s, checks=tuple(dataclasses.replace(o, provenance=sparse) for o in s.checks))
                   for s in cv.claims)
    view = evidence_view(T["en_US"], dataclasses.replace(cv, claims=claims, assets=()), "en_US")
    assert _field(view, "ev.f.weights_sha256").missing
    assert _field(view, "ev.f.cpu").missing
    assert _field(view, "ev.f.weights_size").value == CATALOG.get("en_US", "ev.not_recorded")
    assert not _field(view, "ev.f.evaluated").missing  # n was recorded


def test_weights_size_comes_from_the_lock_only_for_the_same_file() -> None:
    cv = sample_verification()[RESNET]
    no_size = tuple(dataclasses.replace(s, checks=tuple(dataclasses.replace(
        o, provenance={k: v for k, v in o.provenance.items() if k != "weights_size"}) for o in s.checks))
        for s in cv.claims)
    same = (AssetRecord(WEIGHTS_URL, "weights", "ab" * 32, 1234),)
    other = (AssetRecord(WEIGHTS_URL, "weights", "99" * 32, 1234),)
    view = evidence_view(T["en_US"], dataclasses.replace(cv, claims=no_size, assets=same), "en_US")
    assert "1,234 bytes" in _field(view, "ev.f.weights_size").value
    view = evidence_view(T["en_US"], dataclasses.replace(cv, claims=no_size, assets=other), "en_US")
    assert _field(view, "ev.f.weights_size").missing


def test_without_verification_the_panel_says_nothing_was_measured() -> None:
    view = evidence_view(T["en_US"], None, "en_US")
    assert not view.verified and view.evaluations == () and view.runs == ()


def _snippet(code: str) -> Snippet:
    return Snippet(RESNET, "zh_CN", 0, "python", code, Loc("cards/x.md", 30), 31)


def test_block_notes_name_store_copies_stand_ins_and_unreachable_hosts() -> None:
    cv = sample_verification()[RESNET]
    t = T["en_US"]
    notes = block_notes(t, _snippet(f'urlopen("{CAT_URL}")'), (CAT_URL,), cv)
    assert [n.kind for n in notes] == ["substitute"]
    assert "cat.jpg" in notes[0].html and ("ef" * 32)[:12] in notes[0].html
    # a URL the lock does not pin is not named (card code can write to the runner's pipe)
    assert block_notes(t, _snippet("pass"), ("https://elsewhere.org/x",), cv) == ()
    local = block_notes(t, _snippet('urlopen("http://localhost:8000/x.jpg")\nurlopen("http://10.0.0.7/y")'), (), cv)
    assert [n.kind for n in local] == ["unreachable", "unreachable"]
    assert "<code>localhost</code>" in local[0].html and 'href="#reproduce"' in local[0].html
    zoo = dataclasses.replace(cv, assets=(AssetRecord("https://github.com/verifiedhub/zoo", "hub-repo", "1" * 64,
                                                      0, local=True, repo="verifiedhub/zoo"),
                                          AssetRecord("https://hub.verified.invalid/w.pkl", "weights", "2" * 64, 10,
                                                      local=True)))
    notes = block_notes(t, _snippet('hub.load("verifiedhub/zoo", "m", pretrained=True)'),
                        ("https://hub.verified.invalid/w.pkl",), zoo)
    assert [n.kind for n in notes] == ["served", "unreachable", "local-repo"]
    assert "this hub&#39;s own source" in notes[0].html  # a local copy is said as such
    assert "<code>hub.verified.invalid</code>" in notes[1].html


def test_a_block_served_a_stand_in_gets_the_specific_note_not_the_general_one() -> None:
    from render_fixtures import read_fixture_cards

    cards, tags = read_fixture_cards()
    general = CATALOG.get("en_US", "note.substitute_asset")
    for page in render_site(cards, tags, sample_verification(), options()):
        if page.url == urls.model_page("en_US", RESNET):
            html = page.content.decode("utf-8")
            block = html[html.index('id="code-L82"'):]
            block = block[:block.index("</pre>")]
            assert "ev-note-substitute" in block and general not in block
            assert html.count("ev-note-substitute") == 1


def test_pins_are_the_recorded_versions_not_the_installed_ones() -> None:
    assert pins({"megengine": "9.9.9", "numpy": "1.0", "opencv": "absent", "python": "3.10.1"}) == (
        "MegEngine==9.9.9", "numpy==1.0")
    cv = sample_verification()[RESNET]
    claims = tuple(dataclasses.replace(s, checks=tuple(dataclasses.replace(
        o, provenance={**o.provenance, "versions": {"megengine": "1.12.4", "python": "3.8.10"}, "limit": 500})
        for o in s.checks)) for s in cv.claims)
    card = _card()
    page = urls.model_page("en_US", RESNET)
    r = reproduce_view(T["en_US"], card, dataclasses.replace(cv, claims=claims), "en_US", page)
    assert "pip install MegEngine==1.12.4\n" in r.commands and "python3.8 -m venv" in r.commands
    assert f"IMAGENET_VAL_DIR=<folder of the ImageNet-1k validation set> build-site eval --card {RESNET} --eval-limit 500" in r.commands
    assert r.links == ()  # nothing published: no link that would not resolve


def test_without_records_no_version_is_made_up() -> None:
    r = reproduce_view(T["en_US"], _card(), None, "en_US", urls.model_page("en_US", RESNET))
    assert "pip install MegEngine" not in r.commands and "python3 -m venv" in r.commands
    assert r.intro == escape(CATALOG.get("en_US", "ev.repro.intro_unrecorded")) and r.links == ()


def test_reproduce_links_are_relative_and_resolve(tmp_path: Path) -> None:
    cv = sample_verification()[RESNET]
    page = urls.model_page("zh_CN", RESNET)
    published = {urls.REPORT, urls.model_index(RESNET)}
    r = reproduce_view(T["zh_CN"], _card(), cv, "zh_CN", page, published)
    assert len(r.links) == 2
    for link in r.links:
        assert not link.href.startswith(("/", "http")), link.href
        target = (tmp_path / page).parent / link.href
        assert target.resolve().relative_to(tmp_path.resolve()).as_posix() in published


def _card():
    from render_fixtures import read_fixture_cards

    cards, _ = read_fixture_cards()
    return next(c for c in cards if c.meta.id == RESNET)


def test_card_records_pick_what_the_card_used() -> None:
    card = _card()
    items = (
        LockItem(CAT_URL, "file", "ef" * 32, 240_512, "package:scikit-image/x.png", substitute=True),
        LockItem(WEIGHTS_URL, "weights", "ab" * 32, 10, "https://data.megengine.org.cn/w"),
        LockItem("https://unrelated.org/z", "file", "00" * 32, 1, "path:z"),
        LockItem("https://github.com/megengine/models", "hub-repo", "11" * 32, 0, "https://github.com/x.zip",
                 repo="megengine/models"),
    )
    cv = sample_verification()[RESNET]
    assets, dataset = card_records(card, cv.programs, cv.claims, None, Lock(items), {})
    by_url = {a.url: a for a in assets}
    assert set(by_url) == {CAT_URL, WEIGHTS_URL, "https://github.com/megengine/models"}  # served, evaluated, loaded
    assert by_url[CAT_URL].substitute and by_url[CAT_URL].local and not by_url[WEIGHTS_URL].local
    assert dataset is None


def test_every_evidence_key_is_listed_and_in_the_catalog() -> None:
    source = (ROOT / "generator" / "site" / "evidence.py").read_text(encoding="utf-8")
    used = set(re.findall(r"""["'](ev\.[a-z_]+(?:\.[a-z_]+)*)["']""", source))
    assert used <= set(catalog_keys())
    assert all(k in CATALOG.strings for k in catalog_keys())


def _panel(html: str) -> str:
    start = html.index('<details class="evidence"')
    return html[start:html.index("</section>", html.index('id="reproduce"'))]


def test_zh_panel_has_no_latin_outside_code_and_marked_names() -> None:
    """Units, times and flags are the catalog's words; tools, libraries, the CPU and card text's
    Latin runs are marked lang="en"; nothing else is exempt (no allow-list)."""
    from render_fixtures import read_fixture_cards

    cards, tags = read_fixture_cards()
    seen = 0
    for page in render_site(cards, tags, sample_verification(), options()):
        if page.url.startswith("zh/models/"):
            html = _panel(page.content.decode("utf-8"))
            assert latin_words(html, frozenset()) == [], page.url
            seen += 1
            if RESNET in page.url:
                assert '<span class="ev-name" lang="en">Test CPU</span>' in html
                assert '<span class="ev-name" lang="en">bubblewrap</span> 沙箱' in html
                assert "44.7 兆字节（46,827,520 字节）" in html and "（协调世界时）" in html
                assert '<span lang="en">ResNet18</span> · <span lang="en">Top1 acc</span>' in html
    assert seen >= 2


def test_a_dataset_title_zh_is_shown_on_zh_pages_only() -> None:
    from generator.core.model import DatasetRecord

    cv = sample_verification()[RESNET]
    title = next(o for s in cv.claims for o in s.checks if o.name == "evaluation" and o.measured is not None
                 ).provenance["sample"]
    named = dataclasses.replace(cv, dataset=DatasetRecord("imagenet-val", title, 50000, "IMAGENET_VAL_DIR",
                                                          "ImageNet-1k 验证集"))
    zh = evidence_view(T["zh_CN"], named, "zh_CN").evaluations[0].title
    assert '<span lang="en">ImageNet-1k</span> 验证集' in zh and title not in zh
    en = evidence_view(T["en_US"], named, "en_US").evaluations[0].title
    assert f'<span class="ev-name" lang="en">{title}</span>' in en
    r = reproduce_view(T["zh_CN"], _card(), named, "zh_CN", urls.model_page("zh_CN", RESNET))
    assert "IMAGENET_VAL_DIR=<ImageNet-1k 验证集所在目录>" in r.commands

"""Unit behaviour of the rendering stage: Markdown safety, the UI catalog, and what the badges say
for each kind of verification result (never 'passed' or 'verified' without a real result)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from render_fixtures import RESNET, TINYDET, options, sample_verification

from generator.site import markdown
from generator.core.errors import UserError
from generator.site.i18n import check_templates, parse_catalog
from generator.core.model import PRELUDE, BlockResult, CardVerification, ProgramResult
from generator.site.render import Renderer
from generator.site.pages import SiteRenderer


# ---------------------------------------------------------------- markdown


def test_raw_html_is_escaped_and_comments_dropped() -> None:
    html = markdown.render('a <b>x</b> <script>alert(1)</script>\n\n<div onclick="x()">blk</div>\n\n'
                           '<!-- verify: skip -->\n\ntext <!-- inline comment -->\n')
    assert "<b>" not in html and "<script>" not in html and "<div onclick" not in html
    assert "&lt;script&gt;" in html and "&lt;div onclick" in html
    assert "verify: skip" not in html and "inline comment" not in html


def test_br_is_a_line_break_only_inside_table_cells() -> None:
    html = markdown.render("| model | mAP<br>@5-95 |\n| --- | --- |\n| a<br/>b | 1 |\n\nline<br>break\n")
    assert "<th>mAP<br>@5-95</th>" in html
    assert "<td>a<br>b</td>" in html
    assert "line&lt;br&gt;break" in html


def test_code_is_highlighted_with_css_classes() -> None:
    html = markdown.render("```python\nimport megengine\n```\n")
    assert '<pre class="highlight"><code class="language-python">' in html
    assert '<span class="kn">import</span>' in html and "style=" not in html


def test_pygments_css_has_light_and_dark() -> None:
    from generator.site.highlight import pygments_css

    css = pygments_css()
    assert ".highlight .k" in css and "@media (prefers-color-scheme: dark)" in css


# ---------------------------------------------------------------- catalog


def test_catalog_key_without_a_language_is_an_error() -> None:
    with pytest.raises(UserError, match="has no zh_CN text"):
        parse_catalog("cards/i18n.yaml", "hello:\n  en_US: Hello\n")


def test_catalog_placeholders_must_match() -> None:
    with pytest.raises(UserError, match="different placeholders"):
        parse_catalog("cards/i18n.yaml", "n:\n  en_US: '{n} models'\n  zh_CN: '{count} 个模型'\n")


def test_template_using_an_unknown_key_is_an_error() -> None:
    cat = parse_catalog("cards/i18n.yaml", "a:\n  en_US: A\n  zh_CN: 甲\n")
    with pytest.raises(UserError, match=r"templates/x.html:2: error: template uses UI string 'nope'"):
        check_templates(cat, {"x.html": '{{ t("a") }}\n{{ t("nope") }}\n'})


def test_shipped_catalog_covers_templates() -> None:
    # Building the renderer runs every check; a missing key raises here.
    from generator.site.i18n import load_catalog

    opts = options()
    Renderer(opts.templates_dir, load_catalog(opts.catalog_path), {}, base_url=None, version="t")


def test_missing_catalog_key_fails_the_build(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    text = options().catalog_path.read_text(encoding="utf-8")
    broken = tmp_path / "i18n.yaml"
    broken.write_text(text.replace("prelude_title:", "prelude_title_renamed:"), encoding="utf-8")
    with pytest.raises(UserError, match="prelude_title"):
        SiteRenderer(cards, tags, {}, replace(options(), catalog_path=broken))


# ---------------------------------------------------------------- badges


def _model_html(fixture_cards, card_id: str, lang: str, verification: dict) -> str:
    cards, tags = fixture_cards
    sr = SiteRenderer(cards, tags, verification, options())
    card = next(c for c in cards if c.meta.id == card_id)
    return sr.renderer.model_page(card, lang, verification.get(card_id)).decode("utf-8")


def test_without_verification_nothing_claims_success(fixture_cards) -> None:
    html = _model_html(fixture_cards, RESNET, "en_US", {})
    assert "Not verified" in html and "not run" in html
    for word in ("badge-passed", "claim-verified", "pill-verified", ">passed<", ">verified<"):
        assert word not in html
    assert 'class="output"' not in html  # no output panel without a run


def test_placeholder_weights_and_substitute_asset_are_said(fixture_cards) -> None:
    html = _model_html(fixture_cards, RESNET, "en_US", sample_verification())
    assert "badge-placeholder" in html
    assert "Code ran with placeholder weights; outputs are not meaningful." in html
    assert "Stand-in for <code>cat.jpg</code>" in html  # the block served it: which file, its sha256 (evidence.py)


def test_failed_block_shows_traceback_in_output_panel(fixture_cards) -> None:
    html = _model_html(fixture_cards, RESNET, "en_US", sample_verification())
    panel = html.split('id="code-L82"')[1].split("</details>")[0]
    assert "badge-failed" in panel and "<details" in panel
    assert "TypeError: expected Tensor, got ndarray" in panel
    assert "partial &lt;output&gt;" in panel  # output is escaped


def test_claim_badges_sit_in_the_right_cells_and_are_focusable(fixture_cards) -> None:
    html = _model_html(fixture_cards, RESNET, "en_US", sample_verification())
    row18 = html.split("<td>ResNet18</td>")[1].split("</tr>")[0]
    top1, top5 = row18.split("</td>")[0], row18.split("</td>")[1]
    # A link (to the legend's entry of its state): focusable without a tabindex.
    assert '<a class="claim claim-verified" href="../../../en/legend/index.html#number-verified"' in top1
    assert 'aria-describedby="claim-114-top1-acc-tip"' in top1 and 'id="claim-114-top1-acc-tip"' in top1
    assert "measured 70.300 (Δ −0.012)" in top1 and "n = 50000" in top1 and "imagenet-val" in top1
    assert "claim" not in top5
    row50 = html.split("<td>ResNet50</td>")[1].split("</tr>")[0]
    assert "claim-unverified" in row50.split("</td>")[1]
    # the verification panel lists every number of this language
    panel = html.split('id="verification"')[1]
    assert panel.count("<tr id=") == 3 and "pill-mismatch" in panel and "dataset absent" in panel


def test_each_block_status_has_its_badge(fixture_cards) -> None:
    cards, _ = fixture_cards
    for status, css in (("blocked", "badge-blocked"), ("skipped", "badge-skipped"),
                        ("expected-error", "badge-expected-error"), ("timeout", "badge-timeout"),
                        ("passed", "badge-passed")):
        program = ProgramResult(RESNET, ("en_US",), (BlockResult(PRELUDE, 0, 12, status, reason="why"),),
                                "k", "2024-01-01T00:00:00Z", {"megengine": "1.13.0"})
        html = _model_html(fixture_cards, RESNET, "en_US", {RESNET: CardVerification(RESNET, (program,))})
        prelude = html.split('id="code-prelude"')[1].split("</details>")[0]
        assert css in prelude, status
        # the section block of this program has no result: it must not inherit the status
        assert "badge-not-run" in html.split('id="code-L82"')[1].split("<pre")[0]


def test_index_summary_counts(fixture_cards) -> None:
    cards, tags = fixture_cards
    sr = SiteRenderer(cards, tags, sample_verification(), options())
    html = sr.render(next(j for j in _jobs(cards) if j.url == "en/index.html"), []).decode("utf-8")
    resnet = html.split(f'data-id="{RESNET}"')[1].split("</li>\n  <li")[0]
    # the en index entry counts what the en page it links to shows (its blocks, numbers, prelude)
    assert "Code: 0 passed, 1 failed, 0 blocked, 1 with placeholder weights" in resnet
    assert "Numbers: 1 verified, 1 mismatch, 1 unverified" in resnet
    assert 'data-tags="vision classification"' in html
    tiny = html.split(f'data-id="{TINYDET}"')[1]
    assert "Not verified" in tiny.split("\n  </li>")[0]


def _jobs(cards):  # type: ignore[no-untyped-def]
    from generator.site.plan import plan_site

    return plan_site(cards, {}, [])


def test_template_runtime_error_is_a_diagnostic(fixture_cards, tmp_path: Path) -> None:
    import shutil

    cards, tags = fixture_cards
    templates = tmp_path / "templates"
    shutil.copytree(options().templates_dir, templates)
    model = templates / "model.html"
    model.write_text(model.read_text(encoding="utf-8").replace("{{ card.title }}</h1>", "{{ no_such }}</h1>"),
                     encoding="utf-8")
    sr = SiteRenderer(cards, tags, {}, replace(options(), templates_dir=templates))
    job = next(j for j in _jobs(cards) if j.kind == "model")
    with pytest.raises(UserError, match=r"templates/model.html:\d+: error: template error while rendering"):
        sr.render(job, [])


def test_catalog_from_the_cards_folder_when_present(tmp_path: Path) -> None:
    from generator.site.options import DEFAULT_CATALOG, SiteOptions

    assert SiteOptions.for_project(tmp_path).catalog_path == DEFAULT_CATALOG
    (tmp_path / "i18n.yaml").write_text("a: {en_US: A, zh_CN: 甲}\n", encoding="utf-8")
    assert SiteOptions.for_project(tmp_path).catalog_path == tmp_path / "i18n.yaml"


def test_every_extracted_claim_gets_exactly_one_cell_badge(fixture_cards) -> None:
    # Integration with the claims stage: a claim whose row line / header the renderer cannot
    # match would silently lose its badge.
    from generator.claims.extract import extract_claims
    from generator.core.model import ClaimState

    cards, tags = fixture_cards
    for card in cards:
        claims, _ = extract_claims(card)
        assert claims
        cv = CardVerification(card.meta.id, (), tuple(ClaimState(c, "unverified", ()) for c in claims))
        sr = SiteRenderer(cards, tags, {card.meta.id: cv}, options())
        for lang in card.sections:
            html = sr.renderer.model_page(card, lang, cv).decode("utf-8")
            body = html.split('<div class="card-body">')[1].split('id="verification"')[0]
            assert body.count('class="claim claim-') == sum(1 for c in claims if c.lang == lang), (card.meta.id, lang)

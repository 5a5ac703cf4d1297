"""What the pages and the build's summary say for the statuses that name whose fault a block is
(hub-error, limit), for numbers measured on a subset, for `<sub>` in headers, and that nothing
public carries a build-machine path."""

from __future__ import annotations

from pathlib import Path

from render_fixtures import RESNET, read_fixture_cards

from generator.cli.pipeline import _summary
from generator.core.errors import Loc
from generator.core.model import PRELUDE, BlockResult, CardVerification, CheckOutcome, Claim, ClaimState, ProgramResult
from generator.site import markdown
from generator.site.build import BuildReport
from generator.site.i18n import parse_catalog
from generator.site.redact import public_text
from generator.site.report import block_json, claim_json
from generator.site.views import catalog_keys, claim_view, header_text, summarize, summary_keys, summary_text

ROOT = Path(__file__).resolve().parents[2]


def _t():  # type: ignore[no-untyped-def]
    catalog = parse_catalog("templates/i18n.yaml", (ROOT / "templates" / "i18n.yaml").read_text(encoding="utf-8"))

    def t(key: str, **kw: object) -> str:
        return catalog.strings[key]["en_US"].format(**kw)
    return t, catalog.strings


def resnet_card():  # type: ignore[no-untyped-def]
    cards, _ = read_fixture_cards()
    return next(c for c in cards if c.meta.id == RESNET)


def test_every_new_status_has_its_words_in_both_languages() -> None:
    _, catalog = _t()
    for key in ("status.hub-error", "status.limit", "claim.measured-on-subset", "check.measured-on-subset",
                "count.hub-error", "count.limit", "count.measured-on-subset", "tip.lower_better"):
        assert key in catalog and set(catalog[key]) == {"en_US", "zh_CN"}, key
    assert set(catalog_keys()) | set(summary_keys()) <= set(catalog)


def test_sub_and_sup_in_headers() -> None:
    html = markdown.render("| model | β<sub>1</sub> | x<sup>2</sup> |\n| --- | --- | --- |\n| a | 0.5 | 1 |\n")
    assert "<th>β<sub>1</sub></th>" in html and "<th>x<sup>2</sup></th>" in html
    assert "&lt;sub&gt;" not in html
    assert "&lt;sub onclick" in markdown.render('x <sub onclick="y()">1</sub>\n')  # attributes: escaped
    assert header_text("β<sub>1</sub>") == "β₁" and header_text("mAP<br>@5-95") == "mAP @5-95"
    assert header_text("AP<sub>M</sub>") == "APM"  # no Unicode form: the text, without tags


def test_summary_counts_each_kind_exactly() -> None:
    card = resnet_card()
    zh = [s for s in card.sections["zh_CN"].snippets if s.is_python]
    en = [s for s in card.sections["en_US"].snippets if s.is_python]
    blocks = (BlockResult(PRELUDE, 0, 12, "passed", flags=("placeholder-weights",)),
              *(BlockResult("zh_CN", s.index, s.loc.line, "failed", flags=("placeholder-weights",)) for s in zh),
              *(BlockResult("en_US", s.index, s.loc.line, "hub-error") for s in en))
    prog = ProgramResult(card.meta.id, ("zh_CN", "en_US"), blocks, "k", "t", {})
    cv = CardVerification(card.meta.id, (prog,), ())
    line = _summary([card], {card.meta.id: cv}, BuildReport(1, 0, 0, True, 1.0), 1.0)
    # a failed block with placeholder weights is failed, not "placeholder"; the prelude counts once
    assert f"{len(zh)} failed (the card's code)" in line
    assert f"{len(en)} hub-error (the hub repository)" in line
    assert "1 placeholder" in line
    t, _ = _t()
    text = summary_text(t, summarize(card, cv))
    assert f"{len(en)} with a hub repository error" in text


def test_a_subset_number_and_a_lower_is_better_number_on_the_page() -> None:
    t, _ = _t()
    c = Claim("c", "en_US", 0, "DCGAN", "FID", "fid", "37.7", 37.7, "value", "score", Loc("cards/c.md", 30),
              0, 1, "lower")
    view = claim_view(t, ClaimState(c, "unverified", (), ""))
    assert "lower is better" in view.tip
    acc = Claim("c", "en_US", 0, "Lite0", "Top-1 acc", "top1", "75.1", 75.1, "percent", "accuracy",
                Loc("cards/c.md", 31), 0, 1)
    ev = CheckOutcome("evaluation", "measured-on-subset", measured=82.38,
                      reason="measured on an undeclared part of ImageNet (1,300 of 50,000 items): 82.4 % (n=1,300)")
    view = claim_view(t, ClaimState(acc, "measured-on-subset", (ev,), ev.reason))
    assert view.label == "measured on a subset" and view.measured == "82.4"
    assert "(n=1,300)" in view.reason


def test_build_machine_paths_are_rewritten() -> None:
    tb = ('File "/root/.pyenv/versions/3.10.13/lib/python3.10/runpy.py", line 196\n'
          'File "/work/x/.venv/lib/python3.10/site-packages/megengine/hub/hub.py", line 174, in load\n'
          'File "/tmp/vh-run-a1b2/mge_home/hub/1_13_0_e093aa62cdf8f313/hubconf.py", line 4, in <module>\n'
          'File "cards/megvii_nlp_cliptext.md", line 14\n'
          "saved /tmp/vh-run-a1b2/work/cat.jpg from https://data.megengine.org.cn/images/cat.jpg\n"
          "read /home/someone/data/imagenet/val")
    out = public_text(tb)
    assert 'File "python3.10/runpy.py"' in out and 'File "megengine/hub/hub.py"' in out
    assert 'File "<hub repository>/hubconf.py"' in out and 'File "cards/megvii_nlp_cliptext.md"' in out
    assert "saved cat.jpg from https://data.megengine.org.cn/images/cat.jpg" in out
    assert "read …/val" in out
    assert "/tmp/" not in out and "/root/" not in out and "/work/" not in out and "/home/" not in out
    b = BlockResult(PRELUDE, 0, 12, "blocked", reason="cannot read /work/x/.store/objects/ab")
    assert block_json(b)["reason"] == "cannot read …/ab"
    c = Claim("c", "en_US", 0, "r", "Top1 acc", "top1", "70.0", 70.0, "percent", "accuracy", Loc("c.md", 3))
    state = ClaimState(c, "unverified", (CheckOutcome("evaluation", "unverified", reason="no /data/imnet here"),),
                       "evaluation: no /data/imnet here")
    assert "/data/" not in str(claim_json(state))

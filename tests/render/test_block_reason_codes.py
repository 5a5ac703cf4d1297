"""Every reason code the run stage records is said from the catalog in both languages, with its
values as code; a code or values the run stage does not write are dropped, never rendered."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from markupsafe import Markup
from test_zh_verification_text import UNTRANSLATED, latin_words

from generator.core.model import BlockResult
from generator.run import reasons
from generator.site.i18n import load_catalog
from generator.site.reasons import block_catalog_keys, block_reason_html, block_reason_text

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "templates" / "i18n.yaml", "templates/i18n.yaml")
T = {lang: functools.partial(CATALOG.get, lang) for lang in ("en_US", "zh_CN")}
EN_UNTRANSLATED = "This reason has no translation yet"

# A value per name, as the run stage would write it (distinct, so each can be found again)
SAMPLE = {"line": "41", "text": "needs a GPU", "repo": "megengine/models", "url": "https://x.invalid/w.pkl",
          "target": "93.184.216.34:80", "seconds": "2", "expect": "TypeError", "detail": "ValueError: bad",
          "call": "sys.exit(3)", "deps": "scipy", "file": "hubconf.py", "module": "mymodels.backbone",
          "package": "timm", "limit": "2 GiB"}


def _result(code: str) -> BlockResult:
    return BlockResult("zh_CN", 0, 40, "failed", reason="English words of the run stage", reason_code=code,
                       reason_args={k: SAMPLE[k] for k in reasons.CODES[code]})


def test_every_code_has_its_sentence_in_the_catalog() -> None:
    assert set(block_catalog_keys()) <= set(CATALOG.strings)
    assert {f"vt.block.{c}" for c in reasons.CODES} - set(block_catalog_keys()) == {"vt.block.skip-mark"}


@pytest.mark.parametrize("code", sorted(reasons.CODES))
@pytest.mark.parametrize("lang", ["en_US", "zh_CN"])
def test_each_code_is_worded_in_each_language(code: str, lang: str) -> None:
    result = _result(code)
    html = block_reason_html(T[lang], lang, result)
    assert isinstance(html, Markup) and html.striptags().strip()
    assert "English words of the run stage" not in html  # said from the code, not the English text
    assert UNTRANSLATED not in html and EN_UNTRANSLATED not in html
    for name in reasons.CODES[code]:
        assert SAMPLE[name] in html, (name, html)
    if lang == "zh_CN":
        assert latin_words(html, frozenset()) == [], html
    # the output's reason box: plain text, from the code too (the author's words as written)
    text = block_reason_text(T[lang], result)
    assert text == result.reason if code == "skip-mark" else (text and text != result.reason and "<" not in text)


def test_a_code_renders_differently_per_language() -> None:
    result = _result("timeout")
    assert block_reason_html(T["en_US"], "en_US", result) == "Stopped after 2 s, its time limit."
    assert block_reason_html(T["zh_CN"], "zh_CN", result) == "运行 2 秒达到时间上限，已被终止。"


@pytest.mark.parametrize("code, args", [
    ("no-such-code", {}),
    ("timeout", {}),  # a value missing
    ("timeout", {"seconds": "2", "extra": "x"}),  # a value it does not have
    ("timeout", {"seconds": 2}),  # not a string
    ("exception", {"detail": "x" * (reasons.MAX_VALUE + 1)}),
    ("exception", ["detail"]),
    (None, {}),
])
def test_checked_drops_what_the_run_stage_does_not_write(code: object, args: object) -> None:
    assert reasons.checked(code, args) == ("", {})


def test_a_block_without_a_valid_code_shows_its_english_as_code() -> None:
    forged = BlockResult("zh_CN", 0, 40, "failed", reason="ValueError: x", reason_code="timeout",
                         reason_args={"seconds": "<b>"})
    assert reasons.block_reason(forged) is not None  # well-formed: a value is text, escaped
    html = block_reason_html(T["zh_CN"], "zh_CN", forged)
    assert "&lt;b&gt;" in html and "<b>" not in html
    unknown = BlockResult("zh_CN", 0, 40, "failed", reason="ValueError: x", reason_code="made-up")
    assert reasons.block_reason(unknown) is None
    assert block_reason_html(T["zh_CN"], "zh_CN", unknown) == (
        "此原因尚无中文说明，英文原文：<code>ValueError: x</code>")
    assert block_reason_html(T["en_US"], "en_US", unknown) == "ValueError: x"

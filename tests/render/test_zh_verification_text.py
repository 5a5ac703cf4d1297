"""A zh page's verification text is Chinese: no Latin word outside <code>/<pre> in the summary
line, the check list, a number's or a code block's tooltip, the shared reasons, the block notes
and output titles (proper names are marked lang="en"); and every reason the tool itself
writes has its catalog sentence (none falls back to "no translation yet")."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

from render_fixtures import RESNET, options, sample_verification

from generator.core.model import PRELUDE, BlockResult, CardVerification, CheckOutcome, ClaimState
from generator.site.build import render_site

# Latin words a Chinese sentence may show bare. None: names (MegEngine, ResNet18, imagenet-val) are
# marked lang="en" and the time zone is worded by the catalog (协调世界时), so a bare word is a bug.
ALLOWED: frozenset[str] = frozenset()
_PARTS = (
    re.compile(r'<p class="vline[^"]*">(.*?)</p>', re.S),
    re.compile(r'<p class="other-failures">(.*?)</p>', re.S),
    re.compile(r'<p class="env muted">(.*?)</p>', re.S),
    re.compile(r'<ul class="checks">(.*?)</ul>', re.S),
    re.compile(r'<span class="tip" role="tooltip"[^>]*id="claim-[^"]*">(.*?)</span></span>', re.S),
    re.compile(r'<span class="tip" role="tooltip"[^>]*id="code-[^"]*-tip">(.*?)</span></span>', re.S),
    re.compile(r'<ol class="shared-reasons"[^>]*>(.*?)</ol>', re.S),
    re.compile(r'<p class="code-note[^"]*"[^>]*>(.*?)</p>', re.S),
    re.compile(r'<p class="output-title">(.*?)</p>', re.S),
)
UNTRANSLATED = "此原因尚无中文说明"


_VOID = frozenset({"br", "img", "input", "hr", "wbr", "meta", "link", "source"})


class _OutsideForeign(HTMLParser):
    """The text of a fragment outside <code>, <kbd>, <pre> and any element marked lang="en…"
    (a foreign word, as HTML marks it), nested elements included."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        foreign = tag in ("code", "kbd", "pre") or (dict(attrs).get("lang") or "").lower().startswith("en")
        self.stack.append((tag, foreign or (bool(self.stack) and self.stack[-1][1])))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1][1]):
            self.text.append(data)


def latin_words(html: str, allowed: frozenset[str] = ALLOWED) -> list[str]:
    parser = _OutsideForeign()
    parser.feed(html)
    parser.close()
    return [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", " ".join(parser.text)) if w not in allowed]


def test_latin_words_finds_english_and_ignores_code() -> None:
    assert latin_words("<li>实测 <code>IMAGENET_VAL_DIR</code></li>") == []
    assert latin_words("<li>within tolerance</li>") == ["within", "tolerance"]
    assert latin_words('<li>在 <span class="ev-name" lang="en">Test <b>CPU</b></span> 上</li>', frozenset()) == []
    assert latin_words('<li><span lang="en">a</span> b <kbd>c</kbd></li>', frozenset()) == ["b"]
    assert latin_words('<li><span lang="zh-CN">KiB</span></li>', frozenset()) == ["KiB"]


def test_zh_pages_have_no_catalog_less_english(fixture_cards) -> None:
    cards, tags = fixture_cards
    pages = [p for p in render_site(cards, tags, sample_verification(), options())
             if p.url.startswith("zh/models/")]
    seen, bare = 0, set()
    for page in pages:
        html = page.content.decode("utf-8")
        for part in _PARTS:
            for chunk in part.findall(html):
                seen += 1
                bare.update((page.url, w) for w in latin_words(chunk))
    assert seen >= 5
    assert sorted(bare) == []


def _reasons_of_the_tool() -> dict[str, CardVerification]:
    """The sample with reasons in the run and claims stages' own words: a prelude blocked by a
    missing hub repository, the block after it skipped, a block that timed out, and numbers
    that could not be evaluated for two reasons at once."""
    cv = sample_verification()[RESNET]
    program = cv.programs[0]
    blocks = (
        BlockResult(PRELUDE, 0, 12, "blocked", duration_s=1.0,
                    reason="hub repository megengine/models is locked but not in the asset store; run: build-site fetch",
                    reason_code="repo-not-stored", reason_args={"repo": "megengine/models"},
                    traceback='File "cards/megengine_vision_resnet.md", line 14\nvh_offline.AssetBlocked: ...'),
        BlockResult("zh_CN", 0, 30, "skipped", reason="not run: the block at line 12 was blocked (not in the asset store)",
                    reason_code="stopped.blocked", reason_args={"line": "12"}),
        BlockResult("en_US", 0, 82, "timeout", reason="timed out after 2 s (default limit); the process was killed",
                    reason_code="timeout", reason_args={"seconds": "2"},
                    traceback='File "cards/megengine_vision_resnet.md", line 84\nBlockTimeout'),
    )
    why = CheckOutcome("evaluation", "unverified", reason="...", code="several", args={"parts": (
        {"code": "repo-not-stored", "repo": "megengine/models"},
        {"code": "dataset-unavailable", "dataset": "imagenet-val", "env": "IMAGENET_VAL_DIR"})})
    claims = tuple(ClaimState(s.claim, "unverified", (why,), "...") for s in cv.claims)
    return {RESNET: CardVerification(RESNET, (dataclasses.replace(program, blocks=blocks),), claims)}


def test_the_tools_own_reasons_are_chinese_on_zh_pages(fixture_cards) -> None:
    cards, tags = fixture_cards
    page = next(p for p in render_site(cards, tags, _reasons_of_the_tool(), options())
                if p.url == f"zh/models/{RESNET}/index.html")
    html = page.content.decode("utf-8")
    assert UNTRANSLATED not in html
    for part in _PARTS:
        for chunk in part.findall(html):
            assert latin_words(chunk) == [], chunk[:300]
    # said in Chinese, with the values as code
    assert "模型仓库 <code>megengine/models</code> 已登记在锁文件中" in html
    assert "未运行：第 12 行的代码块受阻" in html
    assert "生成本页的机器上没有数据集 <code>imagenet-val</code>（可用环境变量 <code>IMAGENET_VAL_DIR</code>" in html
    en = next(p for p in render_site(cards, tags, _reasons_of_the_tool(), options())
              if p.url == f"en/models/{RESNET}/index.html").content.decode("utf-8")
    assert "The hub repository <code>megengine/models</code> is not in this build's asset store" in en
    assert "Stopped after 2 s, its time limit." in en  # the en_US block's timeout


def test_a_cards_own_skip_reason_is_quoted_as_the_authors_words(fixture_cards) -> None:
    """A card's own skip reason is the author's text: quoted as written, marked as English when
    it is (a Chinese one stays unmarked), and said to be the author's."""
    cards, tags = fixture_cards
    cv = _reasons_of_the_tool()[RESNET]
    skipped = dataclasses.replace(cv.programs[0].blocks[1], reason="needs a GPU", reason_code="skip-mark",
                                  reason_args={"text": "needs a GPU"})
    program = dataclasses.replace(cv.programs[0], blocks=(cv.programs[0].blocks[0], skipped, cv.programs[0].blocks[2]))
    page = next(p for p in render_site(cards, tags, {RESNET: dataclasses.replace(cv, programs=(program,))}, options())
                if p.url == f"zh/models/{RESNET}/index.html")
    html = page.content.decode("utf-8")
    assert '作者注明：<q class="author-note" lang="en">needs a GPU</q>' in html
    assert UNTRANSLATED not in html
    for part in _PARTS:
        for chunk in part.findall(html):
            assert latin_words(chunk) == [], chunk[:300]
    zh_reason = dataclasses.replace(skipped, reason="需要 GPU", reason_args={"text": "需要 GPU"})
    program = dataclasses.replace(program, blocks=(program.blocks[0], zh_reason, program.blocks[2]))
    page = next(p for p in render_site(cards, tags, {RESNET: dataclasses.replace(cv, programs=(program,))}, options())
                if p.url == f"zh/models/{RESNET}/index.html")
    assert '作者注明：<q class="author-note">需要 GPU</q>' in page.content.decode("utf-8")


def test_an_uncatalogued_tool_reason_is_code_in_a_chinese_sentence(fixture_cards) -> None:
    """A failed block's reason the catalog has no sentence for (an exception's message) stays
    code inside a Chinese sentence that says so."""
    cards, tags = fixture_cards
    cv = _reasons_of_the_tool()[RESNET]
    blocks = cv.programs[0].blocks
    # zh_CN's; a reason without a code (an older result's, or a forged code the run stage dropped)
    odd = dataclasses.replace(blocks[1], status="failed", reason="ZeroDivisionError: division by zero",
                              reason_code="", reason_args={})
    program = dataclasses.replace(cv.programs[0], blocks=(blocks[0], odd, blocks[2]))
    page = next(p for p in render_site(cards, tags, {RESNET: dataclasses.replace(cv, programs=(program,))}, options())
                if p.url == f"zh/models/{RESNET}/index.html")
    assert f"{UNTRANSLATED}，英文原文：<code>ZeroDivisionError: division by zero</code>" in page.content.decode("utf-8")

"""Chinese source lines wrapped mid-sentence render without a stray space; nothing else changes."""

from __future__ import annotations

from generator.site.markdown import render


def test_a_soft_break_between_han_characters_or_cjk_punctuation_disappears() -> None:
    assert render("模型在 ImageNet 上\n训练，\n精度如下。") == "<p>模型在 ImageNet 上训练，精度如下。</p>\n"


def test_a_soft_break_next_to_latin_text_or_code_stays() -> None:
    assert render("trained on\nImageNet") == "<p>trained on\nImageNet</p>\n"
    assert render("中文\nEnglish") == "<p>中文\nEnglish</p>\n"
    assert render("见 `代码`\n中文") == "<p>见 <code>代码</code>\n中文</p>\n"


def test_code_blocks_keep_their_line_breaks() -> None:
    assert "中文\n中文" in render("```text\n中文\n中文\n```")


def test_headings_get_unique_ids_and_a_link_to_themselves() -> None:
    html = render("## Usage\n\n### 模型描述\n\n## Usage")
    assert '<h2 id="h-usage">Usage <a class="heading-anchor" href="#h-usage" aria-labelledby="h-usage"' in html
    assert '<h3 id="h-模型描述">' in html and 'id="h-usage-2"' in html and 'href="#h-模型描述"' in html

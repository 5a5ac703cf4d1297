"""generator.search: one Pagefind bundle per language, deterministic, and a quiet fallback.

These pages are hand-written HTML on purpose: the subject here is the Pagefind step, not the
renderer (the browser tests search the real built site)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from generator.site import search
from generator.core.errors import Code

PAGES = {
    "zh/models/resnet/index.html": ("zh-CN", "ResNet", "深度残差网络（ImageNet 预训练权重）"),
    "zh/models/effnet/index.html": ("zh-CN", "EfficientNet", "轻量级图像分类网络"),
    "en/models/resnet/index.html": ("en", "ResNet", "Deep residual networks pre-trained on ImageNet"),
    "en/index.html": ("en", "Hub", "the index page is not indexed"),
    "zh/index.html": ("zh-CN", "Hub", "索引页"),
}


def _site(root: Path) -> Path:
    for url, (lang, title, text) in PAGES.items():
        p = root / url
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
                     f'<meta name="description" content="{text}"></head><body><nav>x</nav>'
                     f'<main data-pagefind-body><h1>{title}</h1><p>{text}</p></main></body></html>', encoding="utf-8")
    return root


def _digest(site: Path) -> dict[str, str]:
    return {str(p.relative_to(site)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(site.rglob("*")) if p.is_file()}


needs_pagefind = pytest.mark.skipif(search.pagefind_binary() is None,
                                    reason="pagefind-bin-extended is not installed")


@needs_pagefind
def test_one_bundle_per_language_with_only_model_pages(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    assert search.index_site(site) == ()
    for lang, pages in (("zh", 2), ("en", 1)):
        bundle = site / lang / search.BUNDLE
        assert (bundle / "pagefind-ui.js").is_file() and (bundle / "pagefind.js").is_file()
        # One fragment per indexed page: the language's model pages, not its index page.
        assert len(list((bundle / "fragment").iterdir())) == pages
    assert "zh-cn" in (site / "zh" / search.BUNDLE / "pagefind-entry.json").read_text()


@needs_pagefind
def test_output_is_byte_identical_across_runs_and_folders(tmp_path: Path) -> None:
    a = _site(tmp_path / "a" / "site")
    b = _site(tmp_path / "b" / "deeper" / "site")
    search.index_site(a)
    search.index_site(b)
    search.index_site(a)  # again over its own previous output
    assert _digest(a) == _digest(b)


def test_indexed_copy_cuts_han_text_into_words_and_leaves_markup() -> None:
    page = ('<html lang="zh-CN"><head><meta name="description" content="深度残差网络"><script>var s = "标准差";</script>'
            '</head><body><main data-pagefind-body><p title="不切">最后做归一化处理，标准差为 1</p></main></body></html>')
    out = search.indexable(page)
    assert '<p title="不切"> 最后 做 归一化 处理 ， 标准差 为 1</p>' in re.sub(" +", " ", out)
    assert 'content="深度残差网络"' in out and 'var s = "标准差";' in out  # attributes and scripts as they were
    english = '<html><body><main data-pagefind-body><h1>ResNet</h1><p>Deep residual</p></main></body></html>'
    assert search.indexable(english) == english


def test_indexed_copy_includes_program_output_but_not_its_labels() -> None:
    page = ('<main data-pagefind-body><details class="output" data-pagefind-ignore><summary>Output</summary>'
            '<p class="output-title">Standard output</p><pre class="output-text" tabindex="0"> 282  tiger cat</pre>'
            '</details><div class="code-bar" data-pagefind-ignore>passed</div></main>')
    out = search.indexable(page)
    assert '<details class="output"><summary data-pagefind-ignore>Output</summary>' in out
    assert '<p class="output-title" data-pagefind-ignore>' in out and "tiger cat</pre>" in out
    assert '<div class="code-bar" data-pagefind-ignore>' in out  # other ignored parts stay ignored


def test_vocabulary_is_the_multi_character_words_of_the_pages_sorted() -> None:
    from generator.site import segment

    assert segment.vocabulary(["<p>深度残差网络</p><script>x = '标准差'</script>", "<p>残差块 的</p>"]) == ["残差", "深度", "网络"]


@needs_pagefind
def test_bundle_has_the_query_dictionary(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    search.index_site(site)
    words = (site / "zh" / search.BUNDLE / search.WORDS).read_text(encoding="utf-8")
    assert words.startswith("window.hubSearchWords = ") and "残差" in words and "轻量级" in words
    assert (site / "en" / search.BUNDLE / search.WORDS).read_text(encoding="utf-8") == 'window.hubSearchWords = "";\n'


@needs_pagefind
def test_the_written_pages_are_not_changed_by_indexing(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    before = _digest(site)
    search.index_site(site)
    after = _digest(site)
    assert {k: v for k, v in after.items() if k in before} == before


def test_missing_binary_writes_stubs_and_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _site(tmp_path / "site")
    monkeypatch.setattr(search, "pagefind_binary", lambda: None)
    problems = search.index_site(site)
    assert [(d.level, d.code) for d in problems] == [("warning", Code.SEARCH_INDEX)] * 2
    assert "not found" in problems[0].message
    for lang in ("en", "zh"):
        js = (site / lang / search.BUNDLE / "pagefind-ui.js").read_text()
        assert "PagefindUI" in js and "not available" in js
        assert "PagefindUI =" not in js and "PagefindUI=" not in js  # defines nothing
        assert (site / lang / search.BUNDLE / "pagefind-ui.css").is_file()


@needs_pagefind
def test_language_without_model_pages_gets_a_stub(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "en").mkdir(parents=True)
    (site / "en" / "index.html").write_text('<html lang="en"><body>hub</body></html>')
    problems = search.index_site(site)
    assert len(problems) == 1 and "no model pages" in problems[0].message
    assert "not available" in (site / "en" / search.BUNDLE / "pagefind-ui.js").read_text()


def test_failing_binary_is_a_warning_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _site(tmp_path / "site")
    fake = tmp_path / "pagefind_fake"  # a test double standing for a broken install
    fake.write_text("#!/bin/sh\necho 'boom' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(search, "pagefind_binary", lambda: fake)
    problems = search.index_site(site)
    assert len(problems) == 2 and "status 3: boom" in problems[0].message
    assert not (site / "en" / search.BUNDLE / "pagefind.js").exists()


@needs_pagefind
def test_a_changed_bundle_file_is_indexed_again_not_carried_over(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    cards = tmp_path / "cards"
    shutil.copytree(root / "cards", cards)
    cmd = [sys.executable, "-m", "generator", "build", "--no-verify", "--cards", str(cards),
           "--out", str(tmp_path / "site")]
    assert subprocess.run(cmd, cwd=root, capture_output=True, timeout=300).returncode == 0
    ui = tmp_path / "site" / "en" / search.BUNDLE / "pagefind-ui.js"
    clean = ui.read_bytes()
    ui.unlink()
    ui.write_bytes(clean + b"\nalert('injected');\n")
    tags = cards / "tags.yaml"  # a change that re-renders listings but no model page
    tags.write_text(tags.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    proc = subprocess.run([*cmd, "-v"], cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"do not carry over en/{search.BUNDLE}/pagefind-ui.js" in proc.stderr
    assert ui.read_bytes() == clean

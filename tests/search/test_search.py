"""generator.search: one Pagefind bundle per language, deterministic, and a quiet fallback.

These pages are hand-written HTML on purpose: the subject here is the Pagefind step, not the
renderer (the browser tests search the real built site)."""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path

import pytest

from generator.site import search
from generator.core.errors import Code
from generator.site.search.segmenter import Segmenter
from search_pages import many

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
        # A few pages are one part: Pagefind's engine and index in part0/, the UI above it.
        assert (bundle / "pagefind-ui.js").is_file() and (bundle / "part0" / "pagefind.js").is_file()
        assert sorted(p.name for p in bundle.iterdir() if p.is_dir()) == ["part0"]
        # One fragment per indexed page: the language's model pages, not its index page.
        assert len(list((bundle / "part0" / "fragment").iterdir())) == pages
        assert "window.hubSearchParts = [\"part0\"];" in (bundle / search.WORDS).read_text(encoding="utf-8")
    assert "zh-cn" in (site / "zh" / search.BUNDLE / "part0" / "pagefind-entry.json").read_text()


@needs_pagefind
def test_the_legend_page_is_indexed_in_its_language(tmp_path: Path) -> None:
    site = _site(tmp_path / "site")
    p = site / "zh" / search.LEGEND
    p.parent.mkdir(parents=True)
    p.write_text('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>验证说明</title></head>'
                 '<body><main data-pagefind-body><h1>验证说明</h1><p>受阻的代码块</p></main></body></html>',
                 encoding="utf-8")
    assert search.index_site(site) == ()
    assert len(list((site / "zh" / search.BUNDLE / "part0" / "fragment").iterdir())) == 3  # 2 models + legend
    assert len(list((site / "en" / search.BUNDLE / "part0" / "fragment").iterdir())) == 1  # en has no legend here
    assert "验证说明" in (site / "zh" / search.BUNDLE / search.FALLBACK).read_text(encoding="utf-8")


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
    assert (site / "en" / search.BUNDLE / search.WORDS).read_text(encoding="utf-8").startswith(
        'window.hubSearchWords = "";\n')


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
    assert not list((site / "en" / search.BUNDLE).glob("part*"))


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


# ---------------------------------------------------------------- index parts, incremental


def _stage_of(current: Path, stage: Path) -> Path:
    """What build.py hands the search stage: every file of `current` hard-linked, no bundles."""
    for src in current.rglob("*"):
        rel = src.relative_to(current)
        if src.is_file() and search.BUNDLE not in rel.parts:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            (stage / rel).hardlink_to(src)
    return stage


def _rewrite(page: Path, text: str) -> None:
    page.unlink()  # a rendered page is a new file, never an edit of the linked one
    page.write_text(text, encoding="utf-8")


def _inodes(bundle: Path) -> dict[str, set[int]]:
    return {p.name: {f.stat().st_ino for f in p.rglob("*") if f.is_file()} for p in bundle.glob("part*")}


def _indexed_again(current: Path, stage: Path) -> set[str]:
    """The parts of the new bundle with a new record (the others were carried over). A part
    indexed again still links the files Pagefind gave with the bytes the current part has (the
    fragments of its unchanged pages)."""
    from generator.site.search import parts

    return {p.name for p in stage.glob("part*")
            if (p / parts.RECORD).stat().st_ino != (current / p.name / parts.RECORD).stat().st_ino}


def test_pages_go_to_parts_by_their_url_so_one_more_page_moves_no_other() -> None:
    from generator.site.search import parts

    urls = [f"models/m{i:04d}/index.html" for i in range(1000)]
    before = parts.split(urls)
    assert len(before) == parts.part_count(1000) == 16
    assert all(40 <= len(v) <= 90 for v in before.values()), {k: len(v) for k, v in before.items()}
    after = parts.split(urls + ["models/new/index.html"])
    moved = [name for name in before if before[name] != after[name]]
    assert len(moved) == 1 and "models/new/index.html" in after[moved[0]]
    assert parts.split(urls[1:]) != before and sum(before[n] != parts.split(urls[1:])[n] for n in before) == 1
    assert [parts.part_count(n) for n in (0, 1, 64, 65, 128, 129)] == [0, 1, 1, 2, 2, 4]


@needs_pagefind
@pytest.mark.parametrize("prestarted", [False, True, "records"],
                         ids=["own-pagefind", "prestarted-pagefind", "prestarted-records-read-ahead"])
def test_a_one_page_edit_indexes_only_its_part_and_gives_the_full_index_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prestarted: bool | str) -> None:
    from generator.site.search import parts

    monkeypatch.setattr(parts, "PART_PAGES", 3)  # 24 pages: 8 parts a language
    current = many(tmp_path / "current", 24)
    assert search.index_site(current) == ()
    assert len(list((current / "en" / search.BUNDLE).glob("part*"))) == 8
    stage = _stage_of(current, tmp_path / "stage")
    edited = "models/m007/index.html"
    fresh = many(tmp_path / "fresh", 24, edited=7)
    for lang in ("en", "zh"):
        _rewrite(stage / lang / edited, (fresh / lang / edited).read_text(encoding="utf-8"))
    # Pagefind started before the pages existed, the Chinese one warmed up: the same bytes.
    # With the records read ahead: from the current site, as the build's prestart(cfg.out) does.
    # And the kept pages of the edited part cut before the stage (copies_ahead, early.py).
    ahead = current if prestarted == "records" else None
    read_here: list[Path] = []
    monkeypatch.setattr(parts, "load_record", lambda path, real=parts.load_record: read_here.append(path) or real(path))
    cuts: list[int] = []
    real_cut = Segmenter.cut
    monkeypatch.setattr(Segmenter, "cut", lambda self, pages, words: cuts.append(len(pages)) or real_cut(self, pages, words))
    changed = frozenset({f"en/{edited}", f"zh/{edited}"})
    pages = frozenset(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    with search.prestart(ahead) if prestarted else contextlib.nullcontext(None) as services:
        if prestarted == "records":
            assert services is not None
            services.copies_ahead(current, changed, pages)
        assert search.index_stage(current, stage, changed, services, pages=pages) == ()
    assert len(read_here) == (0 if prestarted == "records" else 16), read_here  # 8 parts, 2 languages
    part_size = len(parts.split([f"models/m{i:03d}/index.html" for i in range(24)], 3)[parts.part_name(parts.part_of(edited, 8))])
    if prestarted == "records":  # the kept pages of both languages at once, then the edited page of each
        assert sorted(cuts) == [1, 1, 2 * (part_size - 1)], cuts
    elif prestarted:
        assert sorted(cuts) == [part_size, part_size], cuts

    assert search.index_site(fresh) == ()
    assert _digest(stage) == _digest(fresh)  # the same bundle bytes as indexing from scratch
    for lang in ("en", "zh"):
        own = parts.part_name(parts.part_of(edited, 8))
        old, new = _inodes(current / lang / search.BUNDLE), _inodes(stage / lang / search.BUNDLE)
        assert _indexed_again(current / lang / search.BUNDLE, stage / lang / search.BUNDLE) == {own}
        assert old[own] & new[own] and new[own] - old[own], "its unchanged pages' fragments are links"
        assert all(old[n] == new[n] for n in old if n != own), "every other part is carried over (hard links)"
        assert "edited" in (stage / lang / search.BUNDLE / own / parts.RECORD).read_text(encoding="utf-8")


def test_an_early_copy_is_handed_over_only_for_the_bytes_it_was_made_from(tmp_path: Path) -> None:
    from generator.site.search import parts
    from generator.site.search.early import EarlyCopies
    from generator.site.search.texts import indexable

    site = many(tmp_path / "site", 4)
    urls = [f"models/m{i:03d}/index.html" for i in range(4)]
    assert len(parts.split(urls)) == 1  # one part: the edit of m001 indexes all four again
    segmenter = Segmenter()
    try:
        early = EarlyCopies(site, ("en", "zh"), frozenset({"zh/models/m001/index.html"}), {"zh": urls}, segmenter)
        for url in urls:
            data = (site / "zh" / url).read_bytes()
            got = early.get("zh", url, hashlib.sha256(data).hexdigest())
            if url == "models/m001/index.html":
                assert got is None  # the page the build renders again: never read ahead
            else:
                assert got == indexable(data.decode("utf-8"))
                assert early.get("zh", url, "0" * 64) is None  # other bytes than it was cut from
        assert early.get("en", urls[0], hashlib.sha256((site / "en" / urls[0]).read_bytes()).hexdigest()) is None
    finally:
        segmenter.close()


def test_a_record_read_ahead_is_handed_over_only_while_its_file_is_unchanged(tmp_path: Path) -> None:
    from generator.site.search import parts

    bundle = tmp_path / "en" / search.BUNDLE
    records = {}
    for i, pages in enumerate(({"models/a/index.html": "1" * 64}, {"models/b/index.html": "2" * 64})):
        rec = parts.PartRecord("key", pages, {"pagefind-entry.json": "3" * 64})
        (bundle / f"part{i}").mkdir(parents=True)
        (bundle / f"part{i}" / parts.RECORD).write_bytes(rec.to_bytes())
        records[i] = rec
    (bundle / "part2").mkdir()
    (bundle / "part2" / parts.RECORD).write_text("{not json")
    ahead = parts.RecordsAhead(tmp_path, ("en", "zh"), search.BUNDLE)  # zh/ has no bundle: nothing read
    assert ahead.get(bundle / "part0" / parts.RECORD) == records[0]
    assert ahead.get(bundle / "part2" / parts.RECORD) is None  # malformed, as load_record says
    # part1's record replaced after it was read: the caller must read the new one itself
    replaced = parts.PartRecord("key", {"models/c/index.html": "4" * 64}, {})
    (bundle / "part1" / parts.RECORD).unlink()
    (bundle / "part1" / parts.RECORD).write_bytes(replaced.to_bytes())
    assert ahead.get(bundle / "part1" / parts.RECORD) is parts.RecordsAhead.MISS
    assert parts.load_record(bundle / "part1" / parts.RECORD) == replaced
    assert ahead.get(tmp_path / "zh" / search.BUNDLE / "part0" / parts.RECORD) is parts.RecordsAhead.MISS


@needs_pagefind
def test_a_new_page_indexes_its_part_and_a_changed_part_file_is_not_carried(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.site.search import parts

    monkeypatch.setattr(parts, "PART_PAGES", 4)  # 24 and 25 pages: 8 parts either way
    current = many(tmp_path / "current", 24)
    search.index_site(current)
    stage = _stage_of(current, tmp_path / "stage")
    fresh = many(tmp_path / "fresh", 25)  # m024 is new
    for lang in ("en", "zh"):
        page = stage / lang / "models/m024/index.html"
        page.parent.mkdir()
        page.write_text((fresh / lang / "models/m024/index.html").read_text(encoding="utf-8"), encoding="utf-8")
    # A part file the last build did not write this way (state.changed_since_written says so).
    tampered = parts.part_name(parts.part_of("models/m001/index.html", 8))
    fragment = sorted((current / "en" / search.BUNDLE / tampered / "fragment").iterdir())[0]
    changed = {"en/models/m024/index.html", "zh/models/m024/index.html",
               fragment.relative_to(current).as_posix()}
    assert search.index_stage(current, stage, frozenset(changed)) == ()
    search.index_site(fresh)
    assert _digest(stage) == _digest(fresh)
    old, new = _inodes(current / "en" / search.BUNDLE), _inodes(stage / "en" / search.BUNDLE)
    again = _indexed_again(current / "en" / search.BUNDLE, stage / "en" / search.BUNDLE)
    assert again == {tampered, parts.part_name(parts.part_of("models/m024/index.html", 8))}
    in_stage = stage / fragment.relative_to(current)
    assert in_stage.read_bytes() == fragment.read_bytes()
    assert in_stage.stat().st_ino != fragment.stat().st_ino, "a file not trusted is never linked"


@needs_pagefind
def test_a_stage_holding_links_of_the_current_bundle_is_assembled_in_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """build.py's recycled folder keeps hard links to the current bundle's files: the search stage
    keeps those it carries over, replaces the others, never writes through a link into the
    current site, and says what it placed."""
    import os

    from generator.site.search import parts

    monkeypatch.setattr(parts, "PART_PAGES", 3)
    current = many(tmp_path / "current", 24)
    assert search.index_site(current) == ()
    before = _digest(current)
    stage = _stage_of(current, tmp_path / "stage")
    edited = "models/m007/index.html"
    own = parts.part_name(parts.part_of(edited, 8))
    other = next(n for n in (parts.part_name(i) for i in range(8)) if n != own)
    for src in current.rglob("*"):
        rel = src.relative_to(current)
        if src.is_file() and search.BUNDLE in rel.parts:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            (stage / rel).hardlink_to(src)
    missing = sorted((stage / "en" / search.BUNDLE / other / "fragment").iterdir())[0]
    missing.unlink()  # a carried part that lacks a file gets it linked again
    fresh = many(tmp_path / "fresh", 24, edited=7)
    for lang in ("en", "zh"):
        _rewrite(stage / lang / edited, (fresh / lang / edited).read_text(encoding="utf-8"))
    placed: search.Placed = {}
    assert search.index_stage(current, stage, frozenset({f"en/{edited}", f"zh/{edited}"}), placed=placed) == ()

    assert search.index_site(fresh) == ()
    assert _digest(stage) == _digest(fresh)
    assert _digest(current) == before, "nothing of the current site was written through a link"
    in_bundles = {p.relative_to(stage).as_posix() for p in stage.rglob("*")
                  if p.is_file() and search.BUNDLE in p.relative_to(stage).parts}
    assert set(placed) == in_bundles
    for url, sha in placed.items():
        if sha is None:
            assert os.path.samestat((stage / url).stat(), (current / url).stat()), url
        else:
            assert sha == hashlib.sha256((stage / url).read_bytes()).hexdigest(), url
    assert placed[f"en/{search.BUNDLE}/{search.WORDS}"] is not None
    assert any(u.startswith(f"en/{search.BUNDLE}/{own}/") and s is not None for u, s in placed.items())
    for lang in ("en", "zh"):
        old, new = _inodes(current / lang / search.BUNDLE), _inodes(stage / lang / search.BUNDLE)
        assert _indexed_again(current / lang / search.BUNDLE, stage / lang / search.BUNDLE) == {own}
        assert all(old[n] == new[n] for n in old if n != own)


def test_the_segmenter_process_cuts_as_this_process_does() -> None:
    from generator.site.search.segmenter import Segmenter
    from generator.site.search.texts import indexable, words

    pages = [_page("zh-CN", "残差网络", "深度残差网络（ImageNet 预训练权重）"), _page("en", "ResNet", "Deep residual")]
    seg = Segmenter()
    try:
        got = seg.cut(pages, [True, False])
        assert got is not None, "the child answered"
        assert got == ([indexable(p) for p in pages], [words(pages[0]), None])
        assert got[1][0] and "残差" in got[1][0]
    finally:
        seg.close()
    assert seg.cut(pages, [True, True]) is None  # closed: the caller cuts on its own


def _page(lang: str, title: str, text: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><title>{title}</title></head><body>'
            f'<main data-pagefind-body><h1>{title}</h1><p>{text}</p></main></body></html>')


def test_the_pages_a_build_names_are_the_pages_a_listing_finds(tmp_path: Path) -> None:
    """The build tells the search stage which files it wrote rather than have it list the
    folders (1,000 stats a language): both must give the same model and legend pages."""
    site = _site(tmp_path / "site")
    for url in ("zh/legend/index.html", "zh/models/resnet/evidence.json", "zh/tags/cv/index.html",
                "en/models/index.html"):
        (site / url).parent.mkdir(parents=True, exist_ok=True)
        (site / url).write_text("x", encoding="utf-8")
    (site / "en" / "models" / "empty").mkdir()  # a folder with no page is not a page
    written = frozenset(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    for lang in ("zh", "en"):
        assert search._searchable(written, lang) == search._model_pages(site / lang)
    assert search._searchable(written, "zh") == ["legend/index.html", "models/effnet/index.html",
                                                 "models/resnet/index.html"]
    assert search._searchable(written, "en") == ["models/resnet/index.html"]

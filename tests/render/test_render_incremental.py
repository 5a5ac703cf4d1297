"""Incremental builds and atomic writes: what is rebuilt and why, the stat fast path, hard-linked
reuse, and that a failing build leaves the previous site as it was."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from render_fixtures import RESNET, TINYDET, options, sample_verification

from generator.site import state as incremental

from generator.site import build as site_mod
from generator.site.build import build_site, site_input_files


def _build(cards, tags, out: Path, opts=None, verification=None, **kw):  # type: ignore[no-untyped-def]
    log: list[str] = []
    report = build_site(cards, tags, sample_verification() if verification is None else verification,
                        opts or options(), out, log=log.append, **kw)
    return report, log


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_noop_rebuild_renders_nothing(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    first, log1 = _build(cards, tags, tmp_path / "site")
    assert first.rendered > 10 and first.wrote and all("no previous build" in line for line in log1)
    before = _tree(tmp_path / "site")
    second, log2 = _build(cards, tags, tmp_path / "site")
    assert (second.rendered, second.wrote, log2) == (0, False, [])
    assert _tree(tmp_path / "site") == before


def test_changed_card_rebuilds_only_its_pages_and_listings(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    _build(cards, tags, tmp_path / "site")
    changed = [dataclasses.replace(c, source=c.source + "\n") if c.meta.id == TINYDET else c for c in cards]
    report, log = _build(changed, tags, tmp_path / "site")
    rebuilt = {line.split()[1].rstrip(":") for line in log}
    assert f"rebuild en/models/{TINYDET}/index.html: card changed: cards/{TINYDET}.md" in log
    assert {f"en/models/{TINYDET}/index.html", f"zh/models/{TINYDET}/index.html",
            f"api/v1/models/{TINYDET}.json", "en/index.html", "sitemap.xml"} <= rebuilt
    assert not any(RESNET in url for url in rebuilt)
    assert report.rendered == len(rebuilt)


def test_changed_verification_is_a_reason(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    _build(cards, tags, tmp_path / "site")
    _, log = _build(cards, tags, tmp_path / "site", verification={})
    assert f"rebuild zh/models/{RESNET}/index.html: verification changed: {RESNET}" in log
    assert not any(f"models/{TINYDET}/" in line for line in log)


def test_template_change_rebuilds_everything_and_says_so(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    templates = tmp_path / "templates"
    shutil.copytree(options().templates_dir, templates)
    opts = dataclasses.replace(options(), templates_dir=templates)
    first, _ = _build(cards, tags, tmp_path / "site", opts)
    base = templates / "base.html"
    base.write_text(base.read_text(encoding="utf-8").replace("<body>", "<body class=\"x\">"), encoding="utf-8")
    report, log = _build(cards, tags, tmp_path / "site", opts)
    assert report.rendered == first.rendered
    assert all(line.endswith("templates changed") for line in log)
    assert 'class="x"' in (tmp_path / "site" / "en" / "index.html").read_text(encoding="utf-8")


def test_new_removed_and_missing_pages(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    out = tmp_path / "site"
    _build([c for c in cards if c.meta.id == RESNET], tags, out)
    _, log = _build(cards, tags, out)
    assert f"rebuild en/models/{TINYDET}/index.html: new page" in log
    (out / "en" / "models" / RESNET / "index.html").unlink()
    _, log = _build(cards, tags, out)
    assert log == [f"rebuild en/models/{RESNET}/index.html: output missing"]
    _, log = _build([c for c in cards if c.meta.id == RESNET], tags, out)
    assert f"remove en/models/{TINYDET}/index.html: no longer produced" in log
    assert not (out / "en" / "models" / TINYDET).exists()
    assert not (out / "en" / "tags" / "detection").exists()


def test_stat_fast_path(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    card_dir = tmp_path / "cards"
    shutil.copytree(Path(__file__).parent / "cards", card_dir)
    files = sorted(card_dir.iterdir())
    inputs = files + site_input_files(options())
    out = tmp_path / "site"
    assert not incremental.inputs_unchanged(out, inputs, "fp")
    _build(cards, tags, out, input_stats=incremental.stat_inputs(files), fingerprint="fp")
    assert incremental.inputs_unchanged(out, inputs, "fp")
    assert not incremental.inputs_unchanged(out, inputs, "other-fingerprint")
    assert not incremental.inputs_unchanged(out, inputs[1:], "fp")
    files[0].write_text(files[0].read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert not incremental.inputs_unchanged(out, inputs, "fp")


def test_staged_rebuild_hard_links_unchanged_files(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    out = tmp_path / "site"
    _build(cards, tags, out)
    kept = out / "en" / "models" / RESNET / "index.html"
    inode = kept.stat().st_ino
    changed = [dataclasses.replace(c, source=c.source + "\n") if c.meta.id == TINYDET else c for c in cards]
    report, _ = _build(changed, tags, out)
    assert report.wrote and report.reused > 0
    assert kept.stat().st_ino == inode
    # no temp folders left; the replaced site is kept to be recycled by the next build
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.spare", "site"]


def test_failed_build_leaves_previous_site(fixture_cards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cards, tags = fixture_cards
    out = tmp_path / "site"
    _build(cards, tags, out)
    before = _tree(out)
    real = site_mod.SiteRenderer.render
    calls = {"n": 0}

    def failing(self, job, jobs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return real(self, job, jobs)

    monkeypatch.setattr(site_mod.SiteRenderer, "render", failing)
    changed = [dataclasses.replace(c, source=c.source + "\n") for c in cards]
    with pytest.raises(RuntimeError, match="boom"):
        _build(changed, tags, out, workers=1)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_one_page_change_is_swapped_in_whole_with_the_hook_seeing_the_new_folder(
        fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    out = tmp_path / "site"
    _build(cards, tags, out)
    old_inode = out.stat().st_ino
    seen: list[tuple[Path, frozenset[str]]] = []
    changed = [dataclasses.replace(c, source=c.source + "\n") if c.meta.id == TINYDET else c for c in cards]
    report, _ = _build(changed, tags, out, before_swap=lambda stage, urls, pages: seen.append((stage, urls)))
    assert report.wrote
    assert out.stat().st_ino != old_inode, "the site folder was updated in place instead of swapped"
    (stage, urls), = seen
    assert stage != out and f"en/models/{TINYDET}/index.html" in urls
    assert f"en/models/{RESNET}/index.html" not in urls


@pytest.mark.parametrize("workers", [1, 2])
def test_the_search_stage_starts_once_every_page_it_reads_is_written(
        fixture_cards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """It runs beside the rest of the rendering: the model and legend pages it indexes must be
    in the new folder, with their new bytes, when it begins."""
    cards, tags = fixture_cards
    out = tmp_path / "site"
    monkeypatch.setattr(site_mod, "PAGES_PER_WORKER", 1)
    _build(cards, tags, out, workers=workers)
    page = f"en/models/{RESNET}/index.html"
    before = (out / page).read_bytes()
    seen: dict[str, bytes] = {}

    def look(stage: Path, urls: frozenset[str], pages: frozenset[str]) -> None:
        for url in pages:
            if "/models/" in url and url.endswith("index.html") or url.endswith("legend/index.html"):
                seen[url] = (stage / url).read_bytes()

    _build(cards, tags, out, workers=workers, before_swap=look, verification={})  # every model page again
    assert page in seen and any("legend" in u for u in seen)
    assert seen == {u: (out / u).read_bytes() for u in seen}, "a page the search read was not yet its final bytes"
    assert seen[page] != before


def test_parallel_and_serial_builds_agree(fixture_cards, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cards, tags = fixture_cards
    monkeypatch.setattr(site_mod, "PAGES_PER_WORKER", 1)
    _build(cards, tags, tmp_path / "serial", workers=1)
    _build(cards, tags, tmp_path / "parallel", workers=2)
    assert _tree(tmp_path / "serial") == _tree(tmp_path / "parallel")


def test_refuses_to_replace_a_folder_it_did_not_build(fixture_cards, tmp_path: Path) -> None:
    from generator.core.errors import UserError

    cards, tags = fixture_cards
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me", encoding="utf-8")
    with pytest.raises(UserError, match="refusing to replace"):
        _build(cards, tags, out)
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _build(cards, tags, empty)[0].wrote


def test_stat_fast_path_tolerates_overlapping_file_lists(fixture_cards, tmp_path: Path) -> None:
    # the cards folder also holds i18n.yaml, which site_input_files lists too
    cards, tags = fixture_cards
    card_dir = tmp_path / "cards"
    shutil.copytree(Path(__file__).parent / "cards", card_dir)
    shutil.copy(options().catalog_path, card_dir / "i18n.yaml")
    opts = site_mod.SiteOptions.for_project(card_dir)
    files = sorted(p for p in card_dir.iterdir() if p.is_file())
    out = tmp_path / "site"
    build_site(cards, tags, {}, opts, out, input_stats=incremental.stat_inputs(files), fingerprint="fp")
    assert site_mod.site_is_current(out, files, opts, "fp")
    (card_dir / "tags.yaml").write_text((card_dir / "tags.yaml").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert not site_mod.site_is_current(out, files, opts, "fp")


def test_a_file_changed_in_the_site_is_written_again_not_carried_over(fixture_cards, tmp_path: Path) -> None:
    """An injected <script> in the current site must not reach the next one through hard-link
    reuse: a file is carried over only while it has the bytes the last build wrote."""
    cards, tags = fixture_cards
    site = tmp_path / "site"
    _build(cards, tags, site)
    page = site / "en" / "models" / RESNET / "index.html"
    clean = page.read_bytes()
    page.unlink()  # replaced, not edited through the hard link shared with nothing
    page.write_bytes(clean.replace(b"</body>", b"<script>alert(1)</script></body>"))
    planted = site / "en" / "pagefind-extra.js"
    planted.write_text("alert(2)")
    changed = [dataclasses.replace(c, source=c.source + "\n") if c.meta.id == TINYDET else c for c in cards]
    report, log = _build(changed, tags, site)
    assert f"rebuild en/models/{RESNET}/index.html: the file in the site is not what the last build wrote" in log
    assert page.read_bytes() == clean
    assert not planted.exists()  # only what the build plans is in a new site
    state = incremental.load_state(site)
    assert state is not None and state.files[f"en/models/{RESNET}/index.html"] == incremental.file_digest(page)


def test_recorded_signatures_are_the_files_as_they_stay_and_an_edit_in_place_is_seen(
        fixture_cards, tmp_path: Path) -> None:
    """The signatures file (kept outside the site) says each file's stat signature after the
    build, also for files the recycled folder kept without a stat after the swap; an edit in
    place that keeps the size and puts the mtime back still changes the ctime, so it is seen."""
    import os
    import time

    cards, tags = fixture_cards
    site, sigs = tmp_path / "site", tmp_path / "sigs.json"
    # The third build recycles the first one's folder: it keeps what neither edit changed and
    # links again the pages of the second one's edit.
    for edits in ({}, {TINYDET: 1}, {TINYDET: 1, RESNET: 1}):
        edited = [dataclasses.replace(c, source=c.source + "\n" * edits.get(c.meta.id, 0)) for c in cards]
        _build(edited, tags, site, signatures=sigs)
        time.sleep(0.05)  # the next build's links then change ctimes by more than a clock tick
    state = incremental.load_state(site)
    assert state is not None
    known = incremental.load_signatures(sigs)
    assert set(known) == set(state.files)
    for url, sha in state.files.items():
        assert known[url] == f"{incremental.signature(os.lstat(site / url))} {sha}", url
    page = site / "en" / "models" / RESNET / "index.html"
    st = os.stat(page)
    data = page.read_bytes()
    with open(page, "r+b") as f:
        f.write(data[:-8] + b"<!--x-->"[: 8])
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = [dataclasses.replace(c, source=c.source + "\n" * (2 if c.meta.id == TINYDET else 1)) for c in cards]
    _report, log = _build(again, tags, site, signatures=sigs)
    assert f"rebuild en/models/{RESNET}/index.html: the file in the site is not what the last build wrote" in log
    assert page.read_bytes() == data


def test_what_prune_takes_out_is_deleted_by_the_end_of_the_build_and_a_killed_one_s_on_the_next(
        fixture_cards, tmp_path: Path) -> None:
    from generator.site import write

    cards, tags = fixture_cards
    site = tmp_path / "site"
    for k in range(3):  # the third build recycles the first one's folder and prunes it
        edited = [dataclasses.replace(c, source=c.source + "\n" * k) if c.meta.id == TINYDET else c for c in cards]
        _build(edited, tags, site)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.spare", "site"]
    left = tmp_path / ".site.trash-99999"  # as a build killed while deleting would leave it
    (left / "0").mkdir(parents=True)
    (left / "0" / "x.html").write_text("x")
    assert write.clean_leftovers(site) == [".site.trash-99999"]
    assert not left.exists()


def test_the_state_is_parsed_once_while_its_file_stays_and_again_once_it_is_replaced(tmp_path: Path) -> None:
    from generator.core.jsonio import atomic_write

    site = tmp_path / "site"
    site.mkdir()
    one = incremental.BuildState({"tool": "a"}, {"x.html": {"card changed: x": "1"}}, {}, "fp", {"x.html": "0" * 64})
    atomic_write(site / incremental.STATE_FILE, one.to_bytes())
    first = incremental.load_state(site)
    assert first == one and incremental.load_state(site) is first
    two = dataclasses.replace(one, fingerprint="other")
    atomic_write(site / incremental.STATE_FILE, two.to_bytes())
    assert incremental.load_state(site) == two
    (site / incremental.STATE_FILE).unlink()
    assert incremental.load_state(site) is None


def test_the_fast_path_hands_on_the_stats_it_took_when_the_site_is_not_current(tmp_path: Path) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("a")
    b.write_text("bb")
    seen: dict[str, tuple[int, int]] = {}
    assert not incremental.inputs_unchanged(tmp_path / "no-site", [a, b], "fp", seen)
    assert seen == incremental.stat_inputs([a, b]) and len(seen) == 2

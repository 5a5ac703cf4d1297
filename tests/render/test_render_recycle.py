"""The site a build replaces is recycled as the next build's staging folder (write.Stage): its
folders are reused, and nothing in it reaches the new site unless it is a hard link to a file of
the current site that the build checked and carries over."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from render_fixtures import RESNET, TINYDET, options, sample_verification

from generator.site.build import build_site


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _edit(cards, n: int):  # type: ignore[no-untyped-def]
    return [dataclasses.replace(c, source=c.source + "\n" * n) if c.meta.id == TINYDET else c for c in cards]


def test_recycled_folders_are_reused_and_nothing_planted_survives(fixture_cards, tmp_path: Path) -> None:
    cards, tags = fixture_cards
    out, spare = tmp_path / "site", tmp_path / ".site.spare"
    build_site(cards, tags, sample_verification(), options(), out)
    build_site(_edit(cards, 1), tags, sample_verification(), options(), out)
    assert spare.is_dir()
    folder = os.stat(spare / "en" / "models" / RESNET).st_ino
    # Things the next build must not carry: a planted file, a changed copy of a page it carries
    # over (a new file, not the current site's), a symlink in place of a folder, a stray folder.
    (spare / "en" / "planted.html").write_text("<script>planted</script>")
    page = spare / "zh" / "models" / RESNET / "index.html"
    page.unlink()
    page.write_text("<p>stale</p>")
    (spare / "static" / "extra").mkdir()
    (spare / "static" / "extra" / "x.js").write_text("planted()")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "index.html").write_text("<p>elsewhere</p>")
    os.rename(spare / "en" / "tags", tmp_path / "moved-tags")
    os.symlink(target, spare / "en" / "tags")

    build_site(_edit(cards, 2), tags, sample_verification(), options(), out)
    fresh = tmp_path / "fresh"
    build_site(_edit(cards, 2), tags, sample_verification(), options(), fresh)
    assert _tree(out).keys() - {".build-state.json"} == _tree(fresh).keys() - {".build-state.json"}
    got, want = _tree(out), _tree(fresh)
    assert [u for u in want if u != ".build-state.json" and got[u] != want[u]] == []
    assert not (out / "en" / "tags").is_symlink() and (target / "index.html").read_text() == "<p>elsewhere</p>"
    assert os.stat(out / "en" / "models" / RESNET).st_ino == folder  # the folder was recycled


def test_a_write_never_changes_a_file_of_the_current_site(fixture_cards, tmp_path: Path) -> None:
    """Pages rendered again are new files, even where the recycled folder held a hard link to the
    current site's file of that URL."""
    cards, tags = fixture_cards
    out = tmp_path / "site"
    build_site(cards, tags, sample_verification(), options(), out)
    build_site(_edit(cards, 1), tags, sample_verification(), options(), out)
    current = out / "en" / "models" / RESNET / "index.html"
    before = current.read_bytes()
    inode = current.stat().st_ino
    # RESNET's page is rendered again (its card changes) in a folder whose copy of it may be
    # the same inode as the live page.
    changed = [dataclasses.replace(c, source=c.source + "\n") if c.meta.id == RESNET else c for c in cards]
    build_site(changed, tags, sample_verification(), options(), out)
    spare_copy = tmp_path / ".site.spare" / "en" / "models" / RESNET / "index.html"
    assert spare_copy.stat().st_ino == inode and spare_copy.read_bytes() == before

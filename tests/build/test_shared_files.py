"""Small files with equal bytes (badges of one state) are written once and hard-linked: the site
has the same bytes at every URL, an in-place edit through one name is caught at every name, and
a carried link is replaced, never written through."""

from __future__ import annotations

import os
from pathlib import Path

from test_build_caches import build, make_project

from generator.site.write import SHARE_MAX_BYTES, FolderWriter


def test_equal_small_files_share_one_inode_and_others_do_not(tmp_path: Path) -> None:
    w = FolderWriter(tmp_path)
    w.write("a/x.svg", b"<svg>same</svg>")
    w.write("b/y.svg", b"<svg>same</svg>")
    w.write("b/z.svg", b"<svg>other</svg>")
    big = b"x" * (SHARE_MAX_BYTES + 1)
    w.write("p.html", big)
    w.write("q.html", big)
    ino = {u: os.stat(tmp_path / u).st_ino for u in ("a/x.svg", "b/y.svg", "b/z.svg", "p.html", "q.html")}
    assert ino["a/x.svg"] == ino["b/y.svg"] != ino["b/z.svg"]
    assert ino["p.html"] != ino["q.html"]
    assert (tmp_path / "b" / "y.svg").read_bytes() == b"<svg>same</svg>"


def test_a_name_already_there_is_replaced_not_written_through(tmp_path: Path) -> None:
    current = tmp_path / "current.svg"
    current.write_bytes(b"<svg>old</svg>")
    os.link(current, tmp_path / "carried.svg")  # as a carried file of the current site
    w = FolderWriter(tmp_path)
    w.write("first.svg", b"<svg>new</svg>")
    w.write("carried.svg", b"<svg>new</svg>")
    assert current.read_bytes() == b"<svg>old</svg>"
    assert os.stat(tmp_path / "carried.svg").st_ino == os.stat(tmp_path / "first.svg").st_ino


def test_an_edit_through_a_shared_badge_is_undone_at_every_name(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    build(project)  # no verification: every card's badge says "not verified", in each language
    site = project / "site"
    by_bytes: dict[bytes, list[Path]] = {}
    for b in sorted((site / "badges").glob("*.svg")):
        by_bytes.setdefault(b.read_bytes(), []).append(b)
    shared = max(by_bytes.values(), key=len)
    assert len(shared) > 1 and len({os.stat(p).st_ino for p in shared}) == 1
    clean = shared[0].read_bytes()
    with open(shared[0], "r+b") as f:  # in place: every name of the inode shows it
        f.write(b"<!--x-->")
    card = project / "cards" / "megengine_vision_resnet.md"  # a rebuild (an unchanged site is not one)
    card.write_text(card.read_text(encoding="utf-8").replace("Top1 acc", "Top-1 acc", 1), encoding="utf-8")
    log = build(project, "-v").stderr
    for p in shared:
        assert p.read_bytes() == clean
        assert f"rebuild badges/{p.name}: the file in the site is not what the last build wrote" in log

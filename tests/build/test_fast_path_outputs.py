"""`build-site build` on an unchanged site stops early only while the output folder holds
exactly what the last build left: a file edited in place (even to the same size and mtime) or
put into the site by hand makes it build, which writes the file again or leaves it out."""

from __future__ import annotations

import os
from pathlib import Path

from test_build_caches import build, make_project

UP_TO_DATE = "site is up to date"


def test_fast_path_holds_only_for_the_builds_own_files(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    build(project)
    site = project / "site"
    assert UP_TO_DATE in build(project).stderr

    page = site / "en" / "index.html"
    clean = page.read_bytes()
    st = page.stat()
    with open(page, "r+b") as f:  # same size, and the mtime put back: only ctime tells
        f.write(b"<!--x-->")
    os.utime(page, ns=(st.st_atime_ns, st.st_mtime_ns))
    log = build(project, "-v").stderr
    assert UP_TO_DATE not in log and "rebuild en/index.html" in log
    assert page.read_bytes() == clean
    assert UP_TO_DATE in build(project).stderr

    planted = site / "en" / "planted.js"
    planted.write_text("alert(1)")
    assert UP_TO_DATE not in build(project).stderr
    assert not planted.exists()
    assert UP_TO_DATE in build(project).stderr


def test_without_usable_signatures_it_builds(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    out = str(project / ".cache" / "site")  # an output folder inside the cache: no cache is used
    build(project, "--out", out)
    assert UP_TO_DATE not in build(project, "--out", out).stderr

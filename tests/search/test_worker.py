"""The search stage in its own process (site/search/worker.py): the same bundle bytes as the
stage run in the build's process, its warnings brought back, and a build whose worker is gone
indexing in its own process instead, with the same bytes."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from generator.site import search
from generator.site.search.worker import SearchWorker, WorkerGone, start_worker
from search_pages import digest, many

ROOT = Path(__file__).resolve().parents[2]
needs_pagefind = pytest.mark.skipif(search.pagefind_binary() is None,
                                    reason="pagefind-bin-extended is not installed")


def _edit(tmp_path: Path, edited: int = 5) -> tuple[Path, Path, Path, frozenset[str], frozenset[str]]:
    """A current site with its index, a new folder of it with one page per language rewritten
    (the others hard links, as build.py makes it), and the same new site written from scratch."""
    current = many(tmp_path / "current", 12)
    assert search.index_site(current) == ()
    stage = tmp_path / "stage"
    fresh = many(tmp_path / "fresh", 12, edited=edited)
    for src in current.rglob("*"):
        rel = src.relative_to(current)
        if src.is_file() and search.BUNDLE not in rel.parts:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            (stage / rel).hardlink_to(src)
    page = f"models/m{edited:03d}/index.html"
    for lang in ("en", "zh"):
        (stage / lang / page).unlink()
        shutil.copyfile(fresh / lang / page, stage / lang / page)
    changed = frozenset({f"en/{page}", f"zh/{page}"})
    pages = frozenset(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    return current, stage, fresh, changed, pages


@needs_pagefind
def test_the_worker_gives_the_bytes_of_a_stage_run_here(tmp_path: Path) -> None:
    current, stage, fresh, changed, pages = _edit(tmp_path)
    with start_worker(current) as worker:
        assert worker.running
        worker.copies_ahead(current, changed, pages)
        placed: dict[str, str | None] = {}
        assert worker.index_stage(current, stage, changed, placed, pages) == ()
    assert search.index_site(fresh) == ()
    assert digest(stage) == digest(fresh)
    assert placed and all(u.split("/")[1] == search.BUNDLE for u in placed)
    for url, sha in placed.items():
        if sha is not None:
            assert hashlib.sha256((stage / url).read_bytes()).hexdigest() == sha, url
        else:
            assert os.path.samefile(stage / url, current / url), url


@needs_pagefind
def test_its_warnings_come_back(tmp_path: Path) -> None:
    site = many(tmp_path / "site", 2)
    shutil.rmtree(site / "en" / "models")  # a language without model pages gets a stub and a warning
    with start_worker(None) as worker:
        found = worker.index_stage(site, site, frozenset(), {}, None)
    assert [(d.level, d.code.value) for d in found] == [("warning", "search-index")]
    assert found[0].message == "no search for en/: there are no model pages to index"


def test_a_worker_that_is_gone_says_so(tmp_path: Path) -> None:
    worker = SearchWorker(tmp_path)
    try:
        assert worker._proc is not None
        worker._proc.send_signal(signal.SIGKILL)
        worker._proc.wait()
        with pytest.raises(WorkerGone):
            worker.index_stage(tmp_path, tmp_path, frozenset(), {}, None)
        assert not worker.running
        worker.copies_ahead(tmp_path, frozenset(), frozenset())  # quietly nothing
    finally:
        worker.close()


@needs_pagefind
def test_a_build_whose_worker_is_gone_indexes_in_its_own_process(tmp_path: Path) -> None:
    """The whole command, twice: in the second build its search worker is killed when the stage
    is sent to it (a wrapper in a sitecustomize), and the index is still the index of a build
    from scratch."""
    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    cmd = [sys.executable, "-m", "generator", "build", "--no-verify", "--cards", str(cards), "--out"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([*cmd, str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True, timeout=300).returncode == 0
    card = sorted(cards.glob("*.md"))[0]
    card.write_text(card.read_text(encoding="utf-8").replace("en_US:", "en_US: edited", 1), encoding="utf-8")
    killer = tmp_path / "killer"
    killer.mkdir()
    (killer / "sitecustomize.py").write_text(
        "import signal\n"
        "from generator.site.search import worker\n"
        "_real = worker.SearchWorker.index_stage\n"
        "def _killed_first(self, *args):\n"
        "    self._proc.send_signal(signal.SIGKILL)\n"
        "    self._proc.wait()\n"
        "    print('worker killed', flush=True)\n"
        "    return _real(self, *args)\n"
        "worker.SearchWorker.index_stage = _killed_first\n", encoding="utf-8")
    proc = subprocess.run([*cmd, str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**env, "PYTHONPATH": f"{killer}{os.pathsep}{ROOT}"})
    assert proc.returncode == 0, proc.stderr
    assert "worker killed" in proc.stdout
    fresh = subprocess.run([*cmd, str(tmp_path / "fresh")], cwd=ROOT, env=env, capture_output=True, timeout=300)
    assert fresh.returncode == 0
    bundles = lambda site: {u: h for u, h in digest(site).items() if f"/{search.BUNDLE}/" in f"/{u}"}  # noqa: E731
    assert bundles(tmp_path / "site") == bundles(tmp_path / "fresh") and bundles(tmp_path / "site")

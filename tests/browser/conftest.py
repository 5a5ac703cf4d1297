"""Fixtures for the browser tests: the site is built once per session by the real build, served
on 127.0.0.1 and opened in Debian's Chromium through Playwright. Helpers are in harness.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from harness import (CHROMIUM_FLAGS, DESKTOP, FIXTURE_CARDS, ROOT, Server, Visit, build_site, chromium_path,
                     distinct_tag_sets, serve_dir, unavailable, watch)


@pytest.fixture(scope="session")
def cards_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real cards/ folder; when it has fewer than two cards with different tags (the filter
    tests need both), a copy of it plus the fixture cards in tests/browser/fixtures/cards."""
    real = ROOT / "cards"
    if distinct_tag_sets(real) >= 2:
        return real
    copy = tmp_path_factory.mktemp("cards") / "cards"
    shutil.copytree(real, copy)
    for p in FIXTURE_CARDS.glob("*.md"):
        shutil.copy(p, copy / p.name)
    return copy


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, cards_dir: Path) -> Path:
    """BROWSER_TEST_SITE=folder tests an already built site (e.g. the output of ./dev build)."""
    given = os.environ.get("BROWSER_TEST_SITE")
    if given:
        return Path(given).resolve()
    return build_site(cards_dir, tmp_path_factory.mktemp("build") / "site")


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[Server]:
    srv = serve_dir(site)
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    exe = chromium_path()
    if exe is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -r requirements.lock.txt)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)
    except Exception as exc:  # playwright's own Error type; any launch failure means the same here
        pw.stop()
        unavailable(f"Chromium at {exe} did not start: {str(exc).splitlines()[0]}")
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def open_tab(browser: Any, server: Server) -> Iterator[Callable[..., Visit]]:
    """open_tab(viewport=None, **context options) -> a new watched tab on the built site."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> Visit:
        ctx = browser.new_context(viewport=viewport or DESKTOP, **options)
        ctx.set_default_timeout(10_000)  # a missing element fails in seconds, not Playwright's 30
        contexts.append(ctx)
        return watch(ctx, server.base)

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def tab(open_tab: Callable[..., Visit]) -> Visit:
    return open_tab()

"""Helpers for the browser tests (fixtures are in conftest.py): the real build, a real HTTP
server on 127.0.0.1, watched Chromium tabs, axe-core, screenshots.

Without Chromium, Playwright or axe-core the tests skip, or fail when the `CI` variable is set
(CI must never pass by skipping). Every tab is watched: console errors, uncaught exceptions,
failed or 4xx/5xx requests, and any request not to 127.0.0.1 (the site must work offline) are
recorded in `Visit.problems`.

Setup on a fresh machine (./dev test does this):
    apt-get install chromium fonts-wqy-microhei   # the font only makes Chinese screenshots legible
    npm ci --prefix tests/browser                  # axe-core, pinned in package-lock.json
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIXTURE_CARDS = HERE / "fixtures" / "cards"
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# Chromium as root in a container; no background traffic (the tests fail on any non-local request).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where a missing browser must not look like a green run."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason} (CI is set, so this is a failure)", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


# ------------------------------------------------------------------ the built site

def card_files(cards: Path) -> list[Path]:
    return sorted(cards.glob("*.md"))


def distinct_tag_sets(cards: Path) -> int:
    import yaml

    seen: set[tuple[str, ...]] = set()
    for p in card_files(cards):
        head = p.read_text(encoding="utf-8").split("---", 2)
        if len(head) == 3:
            meta = yaml.safe_load(head[1]) or {}
            seen.add(tuple(meta.get("tags") or ()))
    return len(seen)


# The session site is built with verification (real MegEngine runs, from the project's run and
# evaluation caches when warm), so pages and screenshots show real outcomes.
# BROWSER_TEST_VERIFY=0 renders without running anything, for quick UI iterations.
VERIFIED_BUILD = os.environ.get("BROWSER_TEST_VERIFY", "1") != "0"


def build_site(cards: Path, out: Path) -> Path:
    """Build `cards` into `out` with the project's own build (what `build-site build` runs)."""
    try:
        from generator.cli import build as build_mod
    except ImportError as exc:
        pytest.skip(f"generator.build does not exist yet ({exc}); the browser tests need the real build")
    from generator.cli import config_from, parser
    from generator.core.errors import UserError

    argv = ["build", "--project", str(ROOT), "--cards", str(cards), "--out", str(out)]
    if not VERIFIED_BUILD:
        argv.append("--no-verify")
    cfg = config_from(parser().parse_args(argv))
    try:
        rc = build_mod.build(cfg)
    except UserError as exc:
        pytest.fail(f"the site did not build:\n{exc.text}", pytrace=False)
    if rc not in (0, 1):  # 1 = findings under --strict; the site is still written
        pytest.fail(f"the site build exited with {rc}", pytrace=False)
    assert (out / "index.html").is_file(), f"the build wrote no {out}/index.html"
    return out


# ------------------------------------------------------------------ serving

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass


@dataclass
class Server:
    root: Path
    httpd: http.server.ThreadingHTTPServer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def url(self, path: str = "") -> str:
        return self.base + path.lstrip("/")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve_dir(root: Path) -> Server:
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, name=f"http {root}", daemon=True).start()
    return Server(root, httpd)


# ------------------------------------------------------------------ watched tabs

@dataclass
class Visit:
    """One browser tab and everything that went wrong in it."""

    page: Any
    base: str
    problems: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        self.page.goto(self.base + path.lstrip("/"), wait_until="load")
        return self.page

    def path(self) -> str:
        return str(urlsplit(self.page.url).path).lstrip("/")


def watch(context: Any, base: str) -> Visit:
    """A new tab in `context` whose problems are recorded (external requests are also blocked)."""
    visit = Visit(context.new_page(), base)
    record = visit.problems.append

    def route(r: Any) -> None:
        url = urlsplit(r.request.url)
        if url.scheme not in ("file", "data", "blob") and url.hostname != "127.0.0.1":
            record(f"external request blocked: {r.request.url}")
            r.abort()
        else:
            r.continue_()

    page = visit.page
    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and record(f"console error: {m.text} {m.location.get('url', '')}"))
    page.on("pageerror", lambda e: record(f"uncaught exception: {e}"))

    def failed(r: Any) -> None:
        # External requests are already recorded by route(); ERR_ABORTED is a request cancelled by
        # a navigation (the favicon while a link is followed); HTTP errors come as responses.
        if urlsplit(r.url).hostname in ("127.0.0.1", None) and r.failure != "net::ERR_ABORTED":
            record(f"request failed: {r.url} ({r.failure})")

    page.on("requestfailed", failed)
    page.on("response", lambda r: r.status >= 400 and record(f"HTTP {r.status}: {r.url}"))
    return visit


# ------------------------------------------------------------------ accessibility, screenshots

def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of the given impacts, one readable line each ([] when clean)."""
    if not AXE_JS.is_file():
        unavailable(f"axe-core is not installed: run `npm ci --prefix {HERE.relative_to(ROOT)}`")
    page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['impact']}: {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
            for v in found if v.get("impact") in impacts]


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serve_fixture_site(tmp_path_factory: pytest.TempPathFactory, name: str) -> Server:
    """The render fixtures' cards with their hand-written results (a failed block, verified,
    mismatched and unverified numbers), built with its search index and served on 127.0.0.1:
    the states a page must show, without running MegEngine."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "render"))
    try:
        from render_fixtures import options, read_fixture_cards, sample_verification
    finally:
        sys.path.remove(str(ROOT / "tests" / "render"))
    from generator.site.build import build_site as build_pages
    from generator.site.search import index_site

    cards, tags = read_fixture_cards()
    out = tmp_path_factory.mktemp(name) / "site"
    build_pages(cards, tags, sample_verification(), options(), out)
    assert index_site(out) == ()
    return serve_dir(out)


def tabs(browser: Any, base: str, default_viewport: dict[str, int] | None = None) -> Any:
    """A fixture body: yields `make(viewport=None, **context_options) -> Visit`, each call a fresh
    browser context on `base`; every context is closed after the test."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> Visit:
        ctx = browser.new_context(viewport=viewport or default_viewport, **options)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return watch(ctx, base)

    yield make
    for ctx in contexts:
        ctx.close()

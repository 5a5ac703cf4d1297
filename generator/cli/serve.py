"""`build-site serve`: build, serve the site on 127.0.0.1, rebuild on change, reload the browser.

Changes are found by polling modification times (cards/, templates/, the UI string catalog)
rather than with a file-system-events dependency: a few hundred files stat in well under
a millisecond. Every rebuild goes through the same `build()` as `build-site build`, which decides
what to re-render and which snippets to run again.

Live reload exists only here: the HTTP handler adds a small script to each HTML page it sends
(the files on disk are untouched), and the script polls `/__reload` for the build number.

A rebuild swaps the new pages in before their search index catches up (site/search/later.py):
while it does, each page served carries a notice that says so (in the page's language), and
the reload number moves again when the index is in place. No rebuild starts before it is.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from html import escape as html_escape
from typing import Any, Callable

from generator.cli.config import Config
from generator.cli.wake import Waker
from generator.core.errors import EnvironmentFailure, UserError

POLL_S = 0.15
SETTLE_S = 0.05  # editors write a file in several steps: wait until it stops changing
RELOAD_PATH = "/__reload"
RELOAD_SCRIPT = (
    "<script>/* build-site serve: live reload (not part of the built site) */\n"
    "(function(){var seen=null;function poll(){fetch('" + RELOAD_PATH + "',{cache:'no-store'})"
    ".then(function(r){return r.text()}).then(function(v){if(seen!==null&&v!==seen){location.reload()}"
    "seen=v}).catch(function(){}).finally(function(){setTimeout(poll,700)})}poll()})();</script>\n"
)

Snapshot = dict[str, tuple[int, int]]


def watched_roots(cfg: Config) -> tuple[Path, ...]:
    """cards/ (cards, registries, usually the catalog too), templates/, and the UI string catalog
    wherever the site stage takes it from."""
    from generator.site.options import SiteOptions

    catalog = SiteOptions.for_project(cfg.cards, cfg.templates).catalog_path
    roots = (cfg.cards, cfg.templates)
    return roots if any(r in catalog.parents for r in roots) else (*roots, catalog)


def snapshot(roots: tuple[Path, ...]) -> Snapshot:
    """(mtime, size) of every file under the roots; hidden files and editor droppings skipped.
    (os.scandir: about 3 ms for 1,000 cards, where pathlib's rglob and stat took 15 ms, so the
    folders can be polled often.)"""
    seen: Snapshot = {}
    for root in roots:
        if root.is_dir():
            _scan(str(root), seen)
        else:
            try:
                st = root.stat()
            except OSError:
                continue
            if root.is_file() and not _skipped(root.name):
                seen[str(root)] = (st.st_mtime_ns, st.st_size)
    return seen


def folders(roots: tuple[Path, ...]) -> list[str]:
    """Every folder a snapshot looks into (for a file root: the folder holding it)."""
    out: list[str] = []

    def walk(folder: str) -> None:
        out.append(folder)
        try:
            with os.scandir(folder) as it:
                subs = [e.path for e in it if not _skipped(e.name) and e.is_dir(follow_symlinks=False)]
        except OSError:
            return
        for sub in subs:
            walk(sub)

    for root in roots:
        if root.is_dir():
            walk(str(root))
        elif root.parent.is_dir():
            out.append(str(root.parent))
    return out


def _skipped(name: str) -> bool:
    return name.startswith(".") or name.endswith(("~", ".swp", ".tmp")) or name == "__pycache__"


def _scan(folder: str, seen: Snapshot) -> None:
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return  # deleted while listed
    for entry in entries:
        if _skipped(entry.name):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):  # a symlinked folder could loop
                _scan(entry.path, seen)
            elif entry.is_file():
                st = entry.stat()
                seen[entry.path] = (st.st_mtime_ns, st.st_size)
        except OSError:
            continue  # deleted between listing and stat


@dataclass
class BuildState:
    """What the reload script polls: a number that changes after each successful build (and
    again when its search index has caught up); `notices`: lang -> the text served pages show
    while it has not."""

    number: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    search_pending: bool = False
    notices: dict[str, str] = field(default_factory=dict)

    def bump(self) -> None:
        with self.lock:
            self.number += 1

    def text(self) -> str:
        with self.lock:
            return str(self.number)


class _Handler(http.server.SimpleHTTPRequestHandler):
    state: BuildState  # set per server by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # one line per request drowns the build's own messages

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        if self.path.split("?", 1)[0] == RELOAD_PATH:
            self._send(200, "text/plain; charset=utf-8", self.state.text().encode())
            return
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?", 1)[0].endswith("/"):
            path = path / "index.html"
        if path.suffix == ".html" and path.is_file():
            self._send(200, "text/html; charset=utf-8", _inject(path.read_bytes(), self.state))
            return
        if not path.exists():
            missing = Path(self.directory) / "404.html"
            if missing.is_file():
                self._send(404, "text/html; charset=utf-8", _inject(missing.read_bytes(), self.state))
                return
        super().do_GET()

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _inject(html: bytes, state: BuildState | None = None) -> bytes:
    i = html.rfind(b"</body>")
    script = RELOAD_SCRIPT.encode()
    if state is not None and state.search_pending:
        script = _notice(html, state.notices).encode("utf-8") + script
    return html[:i] + script + html[i:] if i >= 0 else html + script


def _notice(html: bytes, notices: dict[str, str]) -> str:
    zh = re.search(rb'<html[^>]*\blang="zh', html[:400]) is not None
    text = notices.get("zh_CN" if zh else "en_US", "")
    return ('<p role="status" class="serve-search-pending" style="position:fixed;bottom:0;left:0;right:0;'
            'margin:0;padding:.5em 1em;background:#fff3c4;color:#3d2e00;font:14px/1.4 system-ui,sans-serif;'
            f'z-index:1000">{html_escape(text)}</p>\n')


def make_server(site: Path, port: int, state: BuildState) -> http.server.ThreadingHTTPServer:
    handler = type("ServeHandler", (_Handler,), {"state": state})
    return http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                           functools.partial(handler, directory=str(site)))


def _build(cfg: Config, build: Callable[[Config], int]) -> bool:
    try:
        build(cfg)
    except (UserError, EnvironmentFailure) as exc:
        print(exc.text if isinstance(exc, UserError) else f"build-site: error: {exc.message}", file=sys.stderr)
        print("build-site serve: the build failed; still serving the previous site", file=sys.stderr)
        return False
    return True


def serve(cfg: Config, port: int, *, stop: threading.Event | None = None,
          ready: Callable[[str], None] | None = None,
          build: Callable[[Config], int] | None = None) -> int:
    """Build, then serve `cfg.out` on 127.0.0.1:`port` (0: any free port) until Ctrl-C or `stop`.

    `ready` receives the site's URL once it is served; `build` defaults to the real build."""
    later = None
    rebuild: Callable[[Config], int]
    if build is not None:
        rebuild = build
    else:
        from generator.cli.build import build as real_build
        from generator.site.search.later import SearchLater

        later = SearchLater()
        build = real_build
        rebuild = functools.partial(real_build, later=later)  # search catches up after the swap
    stop = stop or threading.Event()
    roots = watched_roots(cfg)
    before = snapshot(roots)
    state = BuildState(notices=_notices(cfg))
    catching_up: threading.Thread | None = None
    try:  # the port first: a busy one must not cost a whole build before it is reported
        httpd = make_server(cfg.out, port, state)
    except OSError as exc:
        print(f"build-site serve: cannot listen on 127.0.0.1:{port}: {exc.strerror}; nothing was built "
              "(choose another with --port)", file=sys.stderr)
        return 3  # the environment's fault (ExitCode.ENVIRONMENT)
    if not _build(cfg, build) and not (cfg.out / "index.html").is_file():
        httpd.server_close()
        return 2  # nothing to serve yet
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    threading.Thread(target=httpd.serve_forever, name="build-site serve", daemon=True).start()
    print(f"build-site serve: {url} (watching {', '.join(str(r) for r in roots)}; Ctrl-C stops)", file=sys.stderr)
    if ready is not None:
        ready(url)
    waker = Waker(stop)
    waker.watch(folders(roots))
    try:
        while True:
            waker.wait(POLL_S)  # an event only makes the next look come sooner
            if stop.is_set():
                break
            now = snapshot(roots)
            if now == before:
                continue
            waker.watch(folders(roots))  # folders made since
            while not stop.wait(SETTLE_S):  # let a multi-step save finish
                settled = snapshot(roots)
                if settled == now:
                    break
                now = settled
            changed = sorted(set(now.items()) ^ set(before.items()))
            names = sorted({Path(p).name for p, _ in changed})
            print(f"build-site serve: changed {', '.join(names[:5])}{' …' if len(names) > 5 else ''}; rebuilding",
                  file=sys.stderr)
            before = now
            if catching_up is not None:
                catching_up.join()  # one writer of the site at a time
            started = time.monotonic()
            if later is not None:
                later.pending = None
            if _build(cfg, rebuild):
                if later is not None and later.pending is not None:
                    state.search_pending = True
                state.bump()
                print(f"build-site serve: rebuilt in {time.monotonic() - started:.2f} s", file=sys.stderr)
                if later is not None and later.pending is not None:
                    catching_up = threading.Thread(target=_catch_up, args=(cfg, later, state, started),
                                                   name="build-site search", daemon=True)
                    catching_up.start()
    except KeyboardInterrupt:
        pass
    finally:
        waker.close()
        if catching_up is not None:
            catching_up.join()
        httpd.shutdown()
        httpd.server_close()
    return 0


def _catch_up(cfg: Config, later: Any, state: BuildState, started: float) -> None:
    """Index the changed pages of the live site, then let the pages reload without the notice."""
    from generator.cli.config import site_signatures_file
    from generator.site.search.later import catch_up
    from generator.site.write import OutputLock

    try:
        with OutputLock(cfg.out):
            problems = catch_up(cfg.out, later, signatures=site_signatures_file(cfg))
        for d in problems:
            print(str(d), file=sys.stderr)
        print(f"build-site serve: search caught up {time.monotonic() - started:.2f} s after the change was seen",
              file=sys.stderr)
    except (UserError, EnvironmentFailure, OSError) as exc:
        print(f"build-site serve: the search index was not updated ({exc}); the next rebuild indexes again",
              file=sys.stderr)
    finally:
        state.search_pending = False
        state.bump()


def _notices(cfg: Config) -> dict[str, str]:
    """The search-pending notice in each language, from the site's own catalog."""
    from generator.site.i18n import load_catalog
    from generator.site.options import SiteOptions

    try:
        catalog = load_catalog(SiteOptions.for_project(cfg.cards, cfg.templates).catalog_path)
        return {lang: catalog.get(lang, "serve_search_pending") for lang in ("en_US", "zh_CN")}
    except UserError:
        return {}  # the first build reports the broken catalog


def run(cfg: Config, args: argparse.Namespace) -> int:
    return serve(cfg, args.port)

"""`build-site serve`: build, serve the site on 127.0.0.1, rebuild on change, reload the browser.

Changes are found by polling modification times (cards/, templates/, the UI string catalog)
rather than with a file-system-events dependency: a few hundred files stat in well under
a millisecond. Every rebuild goes through the same `build()` as `build-site build`, which decides
what to re-render and which snippets to run again.

Live reload exists only here: the HTTP handler adds a small script to each HTML page it sends
(the files on disk are untouched), and the script polls `/__reload` for the build number.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from generator.cli.config import Config
from generator.core.errors import EnvironmentFailure, UserError

POLL_S = 0.5
SETTLE_S = 0.2  # editors write a file in several steps: wait until it stops changing
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
    """(mtime, size) of every file under the roots; hidden files and editor droppings skipped."""
    seen: Snapshot = {}
    for root in roots:
        for p in (root.rglob("*") if root.is_dir() else [root]):
            if p.name.startswith(".") or p.name.endswith(("~", ".swp", ".tmp")) or "__pycache__" in p.parts:
                continue
            try:
                st = p.stat()
            except OSError:
                continue  # deleted between listing and stat
            if p.is_file():
                seen[str(p)] = (st.st_mtime_ns, st.st_size)
    return seen


@dataclass
class BuildState:
    """What the reload script polls: a number that changes after each successful build."""

    number: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

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
            self._send(200, "text/html; charset=utf-8", _inject(path.read_bytes()))
            return
        if not path.exists():
            missing = Path(self.directory) / "404.html"
            if missing.is_file():
                self._send(404, "text/html; charset=utf-8", _inject(missing.read_bytes()))
                return
        super().do_GET()

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _inject(html: bytes) -> bytes:
    i = html.rfind(b"</body>")
    script = RELOAD_SCRIPT.encode()
    return html[:i] + script + html[i:] if i >= 0 else html + script


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
    if build is None:
        from generator.cli.build import build as real_build

        build = real_build
    stop = stop or threading.Event()
    roots = watched_roots(cfg)
    before = snapshot(roots)
    state = BuildState()
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
    try:
        while not stop.wait(POLL_S):
            now = snapshot(roots)
            if now == before:
                continue
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
            started = time.monotonic()
            if _build(cfg, build):
                state.bump()
                print(f"build-site serve: rebuilt in {time.monotonic() - started:.1f} s", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.shutdown()
        httpd.server_close()
    return 0


def run(cfg: Config, args: argparse.Namespace) -> int:
    return serve(cfg, args.port)

"""Test doubles for the store tests: a local HTTP server standing in for GitHub and the weight
CDN, and helpers that build GitHub-style archives. Nothing here is used outside tests/."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generator.store.content import Store

FIXTURES = Path(__file__).parent / "fixtures"
TINYHUB = FIXTURES / "tinyhub"
TINY_WEIGHTS = FIXTURES / "tiny_linear_99000_0badc0de.pkl"
TINY_WEIGHTS_URL = "https://data.example.invalid/tinyhub/weights/tiny_linear_99000_0badc0de.pkl"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def github_zip(folder: Path, top: str, extra: dict[str, bytes] | None = None) -> bytes:
    """Zip `folder` the way GitHub's /archive/<branch>.zip does: everything under one top folder
    (directory entries included). `extra` adds raw entries (names taken as given)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{top}/", b"")
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if p.is_dir():
                zf.writestr(f"{top}/{rel}/", b"")
            else:
                zf.writestr(f"{top}/{rel}", p.read_bytes())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_length: int | None = None  # None: the real length; set it to lie
    send_length: bool = True
    delay_s: float = 0.0  # wait after the headers, before the body


@dataclass
class FakeServer:
    """A real HTTP server on 127.0.0.1 with canned responses (test double for GitHub/CDN)."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, path: str, body: bytes, **kw: object) -> str:
        self.routes[path] = Route(body, **kw)  # type: ignore[arg-type]
        return self.base + path


def start_server() -> tuple[FakeServer, ThreadingHTTPServer]:
    fake = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the connection closes after each response

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            fake.hits.append(self.path)
            route = fake.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(route.status)
            if route.send_length:
                n = route.content_length if route.content_length is not None else len(route.body)
                self.send_header("Content-Length", str(n))
            self.end_headers()
            if route.delay_s:
                self.wfile.flush()
                time.sleep(route.delay_s)
            try:
                self.wfile.write(route.body)
            except OSError:
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    fake.port = httpd.server_address[1]
    # A short poll interval keeps shutdown() (once per test) from costing half a second.
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    return fake, httpd


def store_contents(store: Store) -> list[str]:
    """Every path under objects/, trees/ and tmp/ (what a failed fetch must not add to)."""
    out: list[str] = []
    for sub in (store.objects, store.trees, store.tmp):
        if sub.exists():
            out += sorted(p.relative_to(store.root).as_posix() for p in sub.rglob("*"))
    return out

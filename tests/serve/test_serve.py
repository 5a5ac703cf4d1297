"""build-site serve: serves the built site on 127.0.0.1, rebuilds when a card changes, and tells
the page (through /__reload) that it should reload."""

from __future__ import annotations

import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest

from generator.cli import serve as serve_mod
from generator.cli import config_from, parser
from generator.cli.config import Config
from generator.core.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
CARD = "megengine_vision_resnet.md"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:  # 127.0.0.1 only
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _wait(pred: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def _config(tmp_path: Path) -> Config:
    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    return config_from(parser().parse_args(
        ["serve", "--project", str(ROOT), "--cards", str(cards), "--out", str(tmp_path / "site"), "--no-verify"]))


def _start(cfg: Config, build: Callable[[Config], int] | None = None) -> tuple[str, threading.Event, threading.Thread]:
    stop, urls = threading.Event(), list[str]()
    th = threading.Thread(target=serve_mod.serve, args=(cfg, 0),
                          kwargs={"stop": stop, "ready": urls.append, "build": build}, daemon=True)
    th.start()
    assert _wait(lambda: bool(urls) or not th.is_alive(), 120), "serve did not start"
    assert urls, "serve stopped before serving"
    return urls[0], stop, th


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Config, str]]:
    try:
        import generator.cli.build  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"generator.build does not exist yet ({exc})")
    cfg = _config(tmp_path)
    url, stop, th = _start(cfg)
    yield cfg, url
    stop.set()
    th.join(10)


def test_changing_a_card_rebuilds_the_page_and_bumps_the_reload_number(running: tuple[Config, str]) -> None:
    cfg, url = running
    page = url + "en/models/megengine_vision_resnet/index.html"
    status, html = _get(page)
    assert status == 200 and "ResNet" in html
    assert serve_mod.RELOAD_PATH in html  # live-reload script added by the server...
    assert serve_mod.RELOAD_PATH not in (cfg.out / "en/models/megengine_vision_resnet/index.html").read_text()  # ...only
    before = _get(url + "__reload")[1]

    card = cfg.cards / CARD
    card.chmod(0o644)
    card.write_text(card.read_text(encoding="utf-8").replace("title: ResNet", "title: ResNet Renamed", 1),
                    encoding="utf-8")
    assert _wait(lambda: "ResNet Renamed" in _get(page)[1]), "the page did not change after the card did"
    # The number moves once the whole build (search index included) is done, just after the swap.
    assert _wait(lambda: _get(url + "__reload")[1] != before, 30), "the reload number did not change"


def test_missing_page_gets_the_404_page(running: tuple[Config, str]) -> None:
    _, url = running
    status, html = _get(url + "en/models/no-such-model/index.html")
    assert status == 404 and "<html" in html


def test_a_failing_rebuild_keeps_serving_the_previous_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Uses a test double for the build: the subject is serve's loop, not the build."""
    cfg = _config(tmp_path)
    calls: list[int] = []

    def build_double(c: Config) -> int:
        calls.append(1)
        if len(calls) > 1:
            raise UserError("cards/x.md:1: error: broken [yaml-syntax]")
        c.out.mkdir(parents=True, exist_ok=True)
        (c.out / "index.html").write_text("<html><body>first</body></html>")
        return 0

    url, stop, th = _start(cfg, build_double)
    try:
        assert _get(url + "__reload")[1] == "0"
        (cfg.cards / "tags.yaml").write_text((cfg.cards / "tags.yaml").read_text() + "\n# touched\n")
        assert _wait(lambda: len(calls) == 2, 20), "no rebuild after a change"
        time.sleep(0.3)
        status, html = _get(url)
        assert status == 200 and "first" in html
        assert _get(url + "__reload")[1] == "0"  # no reload into a failed build
    finally:
        stop.set()
        th.join(10)
    assert "still serving the previous site" in capsys.readouterr().err


def test_snapshot_sees_edits_and_ignores_editor_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x")
    s1 = serve_mod.snapshot((tmp_path,))
    (tmp_path / ".a.md.swp").write_text("junk")
    (tmp_path / "a.md~").write_text("junk")
    assert serve_mod.snapshot((tmp_path,)) == s1
    (tmp_path / "a.md").write_text("xy")
    assert serve_mod.snapshot((tmp_path,)) != s1


def test_a_busy_port_is_reported_before_anything_is_built(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real socket holds the port; the build is a test double that records whether it ran."""
    import socket

    cfg = _config(tmp_path)
    built: list[int] = []

    def build_double(c: Config) -> int:
        built.append(1)
        return 0

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        started = time.monotonic()
        rc = serve_mod.serve(cfg, port, build=build_double)
    err = capsys.readouterr().err
    assert rc == 3 and built == [] and time.monotonic() - started < 5
    assert f"cannot listen on 127.0.0.1:{port}" in err and "nothing was built" in err
    assert not (cfg.out / "index.html").exists()


def _bundle_digests(site: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for lang in ("en", "zh") for p in sorted((site / lang / "pagefind").rglob("*")) if p.is_file()}


def test_a_rebuild_swaps_the_page_in_first_and_its_search_catches_up(running: tuple[Config, str],
                                                                      tmp_path: Path) -> None:
    from generator.cli.build import build
    from generator.site import state as incremental
    from generator.site.search import pagefind_binary

    if pagefind_binary() is None:
        pytest.skip("pagefind-bin-extended is not installed")
    cfg, url = running
    page = url + "en/models/megengine_vision_resnet/index.html"
    assert _get(url + "__reload")[1] == "0"
    card = cfg.cards / CARD
    card.chmod(0o644)
    card.write_text(card.read_text(encoding="utf-8").replace("title: ResNet", "title: ResNet Caught Up", 1),
                    encoding="utf-8")
    # Two moves of the reload number: the swap of the pages, then their search index.
    assert _wait(lambda: _get(url + "__reload")[1] == "2", 120), "the search did not catch up"
    status, html = _get(page)
    assert status == 200 and "ResNet Caught Up" in html and "serve-search-pending" not in html

    # The live index is what a build from scratch of the same cards gives, byte for byte, and
    # the build state records each of its files as it is.
    fresh = Config(**{**cfg.__dict__, "out": tmp_path / "fresh", "cache": tmp_path / "fresh-cache"})
    assert build(fresh) == 0
    assert _bundle_digests(cfg.out) == _bundle_digests(fresh.out)
    recorded = incremental.load_state(cfg.out)
    assert recorded is not None
    assert {u: h for u, h in recorded.files.items() if "/pagefind/" in u} == _bundle_digests(cfg.out)


def test_pages_served_while_search_catches_up_say_so_in_their_language() -> None:
    state = serve_mod.BuildState(search_pending=True, notices={"en_US": "catching up", "zh_CN": "正在跟上"})
    en = serve_mod._inject(b'<!doctype html><html lang="en"><body><p>x</p></body></html>', state).decode()
    zh = serve_mod._inject('<!doctype html><html lang="zh-CN"><body><p>x</p></body></html>'.encode(), state).decode()
    assert "catching up" in en and "正在跟上" not in en
    assert "正在跟上" in zh and 'role="status"' in zh
    state.search_pending = False
    assert "serve-search-pending" not in serve_mod._inject(b"<html><body></body></html>", state).decode()

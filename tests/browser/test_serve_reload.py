"""`build-site serve` in a real browser: edit a card, and the open page reloads by itself."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness import ROOT, watch

pytestmark = pytest.mark.browser


def test_open_page_reloads_after_a_card_changes(browser: Any, tmp_path: Path) -> None:
    try:
        import generator.cli.build  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"generator.build does not exist yet ({exc})")
    from generator.cli import config_from, parser
    from generator.cli.serve import serve

    cards = tmp_path / "cards"
    shutil.copytree(ROOT / "cards", cards)
    cfg = config_from(parser().parse_args(
        ["serve", "--project", str(ROOT), "--cards", str(cards), "--out", str(tmp_path / "site"), "--no-verify"]))
    stop, urls = threading.Event(), list[str]()
    th = threading.Thread(target=serve, args=(cfg, 0), kwargs={"stop": stop, "ready": urls.append}, daemon=True)
    th.start()
    ctx = browser.new_context()
    try:
        deadline = time.monotonic() + 120
        while not urls and th.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert urls, "serve did not start"
        tab = watch(ctx, urls[0])
        page = tab.goto("en/models/megengine_vision_resnet/index.html")
        assert page.locator("h1").inner_text() == "ResNet"
        card = cards / "megengine_vision_resnet.md"
        card.chmod(0o644)
        card.write_text(card.read_text(encoding="utf-8").replace("title: ResNet", "title: ResNet Live", 1),
                        encoding="utf-8")
        page.wait_for_function("document.querySelector('h1').innerText === 'ResNet Live'", timeout=60000)
        assert tab.problems == []
    finally:
        ctx.close()
        stop.set()
        th.join(10)

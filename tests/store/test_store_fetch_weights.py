"""One `build-site fetch` brings a card's hub repository and then the weights its cards use,
found by reading the fetched hubconf.py (against a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from store_helpers import TINY_WEIGHTS, TINY_WEIGHTS_URL, TINYHUB, FakeServer, github_zip, sha256

from generator.cli.fetch import run_fetch
from generator.store.lock import LOCK_RELPATH, Lock, LockItem, dump_lock, read_lock
from generator.store.content import Store

ROOT = Path(__file__).resolve().parents[2]

CARD = """---
template: hub1
title: Tiny
summary: {en_US: A tiny model, zh_CN: 小模型}
author: Test
tags: [vision]
github-link: https://github.com/testowner/tinyhub
---

```python
import megengine.hub
model = megengine.hub.load("testowner/tinyhub", "tiny", pretrained=True)
other = megengine.hub.load("testowner/tinyhub", "untrained", pretrained=True)
notes = megengine.hub.load("testowner/tinyhub", "tiny")  # no pretrained=True: not counted twice
```
<!-- section: zh_CN -->
中文
<!-- section: en_US -->
English
"""


def _project(root: Path) -> Path:
    (root / "cards").mkdir(parents=True)
    shutil.copy(ROOT / "cards" / "tags.yaml", root / "cards" / "tags.yaml")
    (root / "cards" / "test_vision_tiny.md").write_text(CARD, encoding="utf-8")
    hub = LockItem("https://github.com/testowner/tinyhub", "hub-repo", "", 0,
                   "https://github.com/testowner/tinyhub/archive/master.zip", repo="testowner/tinyhub")
    (root / LOCK_RELPATH).write_text(dump_lock(Lock((hub,))), encoding="utf-8")
    return root


def test_fetch_adds_and_downloads_the_weights_the_cards_use(server: FakeServer, tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    store = Store(tmp_path / "store")
    server.add("/testowner/tinyhub/archive/master.zip", github_zip(TINYHUB, "tinyhub-master"))
    weights_path = "/" + TINY_WEIGHTS_URL.split("://", 1)[1]
    server.add(weights_path, TINY_WEIGHTS.read_bytes())
    out = io.StringIO()
    assert run_fetch(project, store=store.root, git_host=server.base, mirror=server.base, timeout_s=5, out=out) == 0
    lock = read_lock(project / LOCK_RELPATH)
    weights = lock.get(TINY_WEIGHTS_URL)
    assert weights is not None and weights.kind == "weights"
    assert (weights.sha256, weights.size) == (sha256(TINY_WEIGHTS.read_bytes()), TINY_WEIGHTS.stat().st_size)
    assert "testowner/tinyhub entry tiny" in weights.note
    assert all(store.has(it) for it in lock.items) and len(lock.items) == 2  # `untrained` has no weights
    assert "found 1 pretrained weight file(s)" in out.getvalue()
    # Nothing left to do: a second fetch sends no request.
    hits = len(server.hits)
    assert run_fetch(project, store=store.root, git_host=server.base, mirror=server.base, timeout_s=5,
                     out=io.StringIO()) == 0
    assert len(server.hits) == hits

"""The executor with the real asset store (store.Store, store.materialize) instead of a double."""

from __future__ import annotations

from pathlib import Path

import pytest

from exec_support import FIXTURES, TEST_LIMITS, load_card, run_card
from generator.run.execute import store_assets
from generator.store.lock import Lock, LockItem
from generator.store.content import Store

pytestmark = pytest.mark.megengine

TINY_URL = "https://github.com/testowner/tinyhub"


def test_tinyhub_from_a_real_store(tmp_path: Path) -> None:
    st = Store(tmp_path / "store")
    sha, size = st.put_tree(FIXTURES / "tinyhub")
    item = LockItem(url=TINY_URL, kind="hub-repo", sha256=sha, size=size,
                    source="path:tests/execute/fixtures/tinyhub", repo="testowner/tinyhub")
    assets = store_assets(Lock((item,)), st)
    (p,) = run_card(load_card("exec_tinyhub.md"), assets, TEST_LIMITS)
    assert [b.status for b in p.blocks] == ["passed", "passed"], p.blocks[0].traceback
    assert p.blocks[0].flags == ("placeholder-weights",)

    # the same lock with the tree not fetched: blocked, and the lock knows the repository
    empty = store_assets(Lock((item,)), Store(tmp_path / "empty"))
    assert empty.digest != assets.digest
    (p,) = run_card(load_card("exec_tinyhub.md"), empty, TEST_LIMITS)
    assert p.blocks[0].status == "blocked"
    assert p.blocks[0].reason == ("hub repository testowner/tinyhub is locked but not in the asset "
                                  "store; run: build-site fetch")

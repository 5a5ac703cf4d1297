from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest
from store_helpers import TINYHUB, FakeServer, start_server

from generator.store.content import Store


@pytest.fixture(autouse=True)
def _no_proxies_no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours proxy variables; the tests talk to 127.0.0.1 only.
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY", "HUB_STORE", "HUB_GIT_HOST", "HUB_MIRROR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake, httpd = start_server()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with cards/ and its own hub repository under zoo/."""
    root = tmp_path / "proj"
    (root / "cards").mkdir(parents=True)
    shutil.copytree(TINYHUB, root / "zoo", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


"""Fixtures for tests/render; the data and helpers live in render_fixtures.py (a unique module
name, so `import` cannot pick up another folder's conftest)."""

from __future__ import annotations

import pytest
from render_fixtures import read_fixture_cards

from generator.core.model import Card, Tag


@pytest.fixture(scope="session")
def fixture_cards() -> tuple[list[Card], dict[str, Tag]]:
    return read_fixture_cards()

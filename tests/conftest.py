"""Shared pytest options. `--regen-golden` rewrites every expected-output file (diagnostics,
parsed structures, whole-site golden builds) from the current code; review the diff after."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", default=False,
                     help="rewrite expected-output files instead of comparing against them")


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))

"""Fixtures for the executor tests (the doubles themselves live in exec_support.py)."""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from generator.run.cache import RunCache


@pytest.fixture
def tiny_weights(tmp_path: Path) -> Path:
    """A state dict for tinyhub's TinyNet (fc 4->2, all weights 0.5, bias 0): a plain pickle of
    numpy arrays, which is what megengine.save writes for a state dict."""
    path = tmp_path / "tiny_net.pkl"
    state = OrderedDict(weight=np.full((2, 4), 0.5, dtype=np.float32),
                        bias=np.zeros((2,), dtype=np.float32))
    state = OrderedDict((f"fc.{k}", v) for k, v in state.items())
    with open(path, "wb") as f:
        pickle.dump(state, f)
    return path


@pytest.fixture
def cache(tmp_path: Path) -> RunCache:
    return RunCache(tmp_path / "runs", "test")


@pytest.fixture
def spawns() -> tuple[list[Any], Callable[[Any], None]]:
    seen: list[Any] = []
    return seen, seen.append



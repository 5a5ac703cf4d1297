"""Render cost is linear in the number of code blocks: the 10,000-block card renders in < 5 s
(it took 96 s when every block's result was found by scanning the program's blocks)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("many_blocks", ROOT / "benchmarks" / "many_blocks.py")
assert _spec is not None and _spec.loader is not None
many_blocks = importlib.util.module_from_spec(_spec)
sys.modules["many_blocks"] = many_blocks
_spec.loader.exec_module(many_blocks)


def test_a_10000_block_card_renders_in_under_5_seconds() -> None:
    parse_s, render_s = many_blocks.measure(5000)  # per language: 10,000 blocks in all
    assert render_s < 5.0, f"render took {render_s:.1f} s"
    assert parse_s < 5.0, f"parse took {parse_s:.1f} s"

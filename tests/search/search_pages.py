"""Hand-written model pages for the search tests (their subject is the search stage, not the
renderer), shared by test_search.py and test_worker.py."""

from __future__ import annotations

import hashlib
from pathlib import Path


def many(root: Path, n: int, edited: int | None = None) -> Path:
    """A site of n model pages per language (page `edited` with one more word)."""
    for i in range(n):
        for lang, html_lang, text in (("en", "en", f"model number {i} residual"), ("zh", "zh-CN", f"第 {i} 个残差网络")):
            extra = " edited" if i == edited else ""
            p = root / lang / "models" / f"m{i:03d}" / "index.html"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f'<!doctype html><html lang="{html_lang}"><head><title>M{i}</title></head><body>'
                         f'<main data-pagefind-body><h1>M{i}</h1><p>{text}{extra}</p></main></body></html>',
                         encoding="utf-8")
    return root


def digest(site: Path) -> dict[str, str]:
    """sha256 of every file under `site`, by its path relative to it."""
    return {p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(site.rglob("*")) if p.is_file()}

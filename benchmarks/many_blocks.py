"""How does rendering scale with the number of code blocks in one card? A card with N blocks per
language (2N in all, plus the prelude), every block with a result as a verified build has them,
rendered in memory (all pages, the JSON API and the sitemap of that one card).

    .venv/bin/python benchmarks/many_blocks.py [-n 1000 5000 10000]

Rendering used to look every block's result up with a scan of the program's blocks, so the
cost grew with N^2 (5,000 blocks 24 s, 10,000 blocks 96 s); it must grow with N.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.cards.parse import parse_card  # noqa: E402
from generator.cards.tags import load_tags  # noqa: E402
from generator.core.model import PRELUDE, BlockResult, Card, CardVerification, ProgramResult  # noqa: E402
from generator.site.build import render_site  # noqa: E402
from generator.site.options import SiteOptions  # noqa: E402

HEAD = """---
template: hub1
title: Many blocks
summary: {en_US: many blocks, zh_CN: 很多代码块}
author: Example Team
tags: [vision]
github-link: https://github.com/example/zoo
---

```python
x = 1
```
"""


def many_blocks_card(per_lang: int) -> str:
    def section(lang: str) -> str:
        return f"<!-- section: {lang} -->\n" + "".join(f"```python\nprint(x + {i})\n```\n\n" for i in range(per_lang))
    return HEAD + section("zh_CN") + section("en_US")


def verified(card: Card) -> dict[str, CardVerification]:
    """A result for every block, as the run stage would give (one program per language)."""
    programs = []
    for lang, sec in card.sections.items():
        blocks = [BlockResult(PRELUDE, 0, 10, "passed", stdout="1\n")]
        blocks += [BlockResult(lang, s.index, s.loc.line, "passed", stdout=f"{s.index}\n") for s in sec.snippets]
        programs.append(ProgramResult(card.meta.id, (lang,), tuple(blocks), "k" * 64, "2026-01-01T00:00:00Z"))
    return {card.meta.id: CardVerification(card.meta.id, tuple(programs), ())}


def measure(per_lang: int) -> tuple[float, float]:
    tags, _ = load_tags(ROOT / "cards")
    t0 = time.perf_counter()
    card, diags = parse_card("cards/many.md", many_blocks_card(per_lang), tags)
    parse_s = time.perf_counter() - t0
    assert card is not None, diags
    v = verified(card)
    t0 = time.perf_counter()
    render_site([card], tags, v, SiteOptions.for_project(ROOT / "cards"))
    return parse_s, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, nargs="*", default=[500, 2500, 5000], help="blocks per language")
    for n in ap.parse_args().n:
        parse_s, render_s = measure(n)
        print(f"{2 * n:6d} blocks: parse {parse_s:5.2f} s, render {render_s:5.2f} s "
              f"({render_s / (2 * n) * 1e6:.0f} us per block)")


if __name__ == "__main__":
    main()

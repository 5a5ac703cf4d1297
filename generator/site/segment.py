"""Chinese word segmentation for the search index (rjieba: jieba's dictionary, in Rust).

Pagefind matches query words against index words by prefix. Chinese has no spaces, so both sides
must cut text into the same words: the index gets each page's text with its Han runs cut by
jieba (words separated by spaces, in a staged copy only), and the browser cuts a query with the
list of those same words (`vocabulary`, shipped as `<lang>/pagefind/words.js`; site.js), not
with its own dictionary (Chromium's splits 残差 into 残|差, which then matched 差 of 标准差).

rjieba rather than the pure-Python jieba: the same dictionary and cuts, but it loads in ~0.1 s
instead of ~0.9 s, which matters for the one-card rebuild.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# The text runs between tags that hold a Han character: only those need cutting, and the others
# (every token of every highlighted code block) stay as they are without a Python call each. A
# match starts at the `>` where `>([^<]+)<` would have matched that run (a run without Han
# cannot reach a Han character before its `<`), so the result is that of cutting every run.
_HAN_TEXT = re.compile(r">([^<]*[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff][^<]*)<")
_SKIP = re.compile(r"<(script|style)\b.*?</\1>", re.S | re.I)
MAX_WORD = 8  # longer dictionary words are rare; the browser's greedy match looks this far


@functools.lru_cache(maxsize=1)
def _cut() -> Callable[[str], list[str]]:  # imported on first use: builds without Chinese pages never load the dictionary
    import rjieba

    return rjieba.cut


def words(text: str) -> list[str]:
    """The jieba words of each Han run of `text` (other text is not returned)."""
    cut = _cut()
    return [w for run in HAN.findall(text) for w in cut(run) if w.strip()]


def segment_text(text: str) -> str:
    """`text` with a space on both sides of every jieba word of its Han runs."""
    cut = _cut()
    return HAN.sub(lambda m: " " + " ".join(cut(m.group(0))) + " ", text)


def segment_html(page: str) -> str:
    """The text between tags cut into words; tags, attributes, scripts and styles left as they are."""
    out: list[str] = []
    at = 0
    cut: Callable[[re.Match[str]], str] = lambda m: ">" + segment_text(m.group(1)) + "<"  # noqa: E731
    for skip in _SKIP.finditer(page):
        out.append(_HAN_TEXT.sub(cut, page[at:skip.start()]))
        out.append(skip.group(0))
        at = skip.end()
    out.append(_HAN_TEXT.sub(cut, page[at:]))
    return "".join(out)


def vocabulary(pages: Iterable[str]) -> list[str]:
    """Every multi-character Han word of the pages, sorted (the browser's query dictionary)."""
    found: set[str] = set()
    for page in pages:
        found.update(w for w in words(_text_of(page)) if 1 < len(w) <= MAX_WORD)
    return sorted(found)


def _text_of(page: str) -> str:
    """The page's Han-bearing text runs (the others give no words)."""
    return " ".join(m.group(1) for m in _HAN_TEXT.finditer(_SKIP.sub(" ", page)))

"""The one Markdown dialect of the project, and the one parse of each card.

CommonMark + pipe tables (+ the front matter cut out), with raw HTML *recognised* (so section and
verify comments are html blocks; the site escapes any other HTML). A card is parsed in two halves:

- `parse_blocks` (read stage): the block structure of the whole card, once. Its tokens are what
  the validator calls "a code block" or "a table", and they are kept on each Section, so the page
  shows exactly what was validated;
- `complete` (site stage): the inline parse of one section's tokens (emphasis, links, `<br>` in
  table cells) plus `annotate`, which marks each table cell with its row line, column and header
  so render rules need no context. It works on copies: a card's tokens are never changed.

Inline parsing is half the cost of a card, and only rendering needs it, so `check` never pays it.
"""

from __future__ import annotations

import re
from typing import Any, MutableMapping, Sequence

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

_BR = re.compile(r"^<br\s*/?>$", re.I)


def annotate(state: StateCore) -> None:
    """Mark table cells with (row line, column, header) and `<br>` inside cells. `line` is the
    0-based line of the row in the parsed text (the whole card)."""
    headers: list[str] = []
    row_line = -1
    col = 0
    in_cell = False
    in_head = False
    for tok in state.tokens:
        t = tok.type
        if t == "table_open":
            headers = []
        elif t == "thead_open":
            in_head = True
        elif t == "thead_close":
            in_head = False
        elif t == "tr_open":
            row_line = tok.map[0] if tok.map else -1
            col = 0
        elif t in ("th_open", "td_open"):
            in_cell = True
        elif t == "th_close":
            in_cell = False
            col += 1
        elif t == "td_close":
            tok.meta = {"line": row_line, "col": col, "header": headers[col] if col < len(headers) else ""}
            in_cell = False
            col += 1
        elif t == "inline":
            if in_cell and in_head:
                headers.append(tok.content.strip())
            if in_cell and tok.children:
                for child in tok.children:
                    if child.type == "html_inline" and _BR.match(child.content.strip()):
                        child.meta = {"br": True}


def markdown_parser() -> MarkdownIt:
    """A parser of the project's dialect (renderers add their rules to their own instance)."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table").use(front_matter_plugin)
    md.core.ruler.push("vh_annotate", annotate)
    return md


_BLOCKS = markdown_parser().disable("inline")
_INLINE = markdown_parser()
_INLINE.core.ruler.enableOnly(["inline", "text_join", "vh_annotate"])


def parse_blocks(text: str) -> tuple[list[Token], dict[str, Any]]:
    """Block tokens of a whole card, and the parse's env (link reference definitions)."""
    env: dict[str, Any] = {}
    return _BLOCKS.parse(text, env), env


def complete(tokens: Sequence[Token], env: MutableMapping[str, Any]) -> list[Token]:
    """Copies of `tokens` with their inline content parsed and table cells annotated."""
    copies = [t.copy(children=None) if t.type == "inline" else t.copy() for t in tokens]
    state = StateCore("", _INLINE, dict(env), copies)
    _INLINE.core.process(state)
    return state.tokens

"""Card Markdown -> HTML: one markdown-it setup, built once (highlighting: highlight.py).

Cards are trusted to be *Markdown*, not HTML: raw HTML in a card is shown escaped, so a card
cannot inject markup or scripts into the hub. Two exceptions that published cards rely on:
`<!-- ... -->` comments (section and verify marks) are dropped, and `<br>` inside a table cell
(e.g. `mAP<br>@5-95`) is a line break.

The renderer knows nothing about verification. Callers pass two hooks in `env`:
`fence_hook(rel_line, info, code) -> html` renders a code block (badge, output panel) and
`cell_hook(rel_line, col, header) -> html` adds markup at the end of a body table cell.
`rel_line` is the 0-based line within the parsed text; the caller adds the card offset.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from generator.site.highlight import highlight

FenceHook = Callable[[int, str, str], str]
CellHook = Callable[[int, int, str], str]

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BR = re.compile(r"^<br\s*/?>$", re.I)

# ---------------------------------------------------------------- markdown-it


def _annotate(state: StateCore) -> None:
    """Mark table cells with (row line, column, header) and `<br>` inside cells, so the
    render rules need no context of their own."""
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


def _render_html_block(self: RendererHTML, tokens: Sequence[Token], idx: int,
                       options: OptionsDict, env: EnvType) -> str:
    rest = _COMMENT.sub("", tokens[idx].content).strip()
    if not rest:
        return ""
    return f'<p class="raw-html">{escapeHtml(rest)}</p>\n'


def _render_html_inline(self: RendererHTML, tokens: Sequence[Token], idx: int,
                        options: OptionsDict, env: EnvType) -> str:
    tok = tokens[idx]
    if tok.meta.get("br"):
        return "<br>"
    if tok.content.startswith("<!--"):
        return escapeHtml(_COMMENT.sub("", tok.content))
    return escapeHtml(tok.content)


def _render_fence(self: RendererHTML, tokens: Sequence[Token], idx: int,
                  options: OptionsDict, env: EnvType) -> str:
    tok = tokens[idx]
    info = tok.info.strip()
    hook: FenceHook | None = env.get("fence_hook")
    if hook is not None:
        return hook(tok.map[0] if tok.map else -1, info, tok.content)
    return highlight(tok.content, info) + "\n"


def _render_td_close(self: RendererHTML, tokens: Sequence[Token], idx: int,
                     options: OptionsDict, env: EnvType) -> str:
    tok = tokens[idx]
    hook: CellHook | None = env.get("cell_hook")
    extra = ""
    if hook is not None and tok.meta:
        extra = hook(tok.meta["line"], tok.meta["col"], tok.meta["header"])
    return extra + "</td>\n"


def _render_table_open(self: RendererHTML, tokens: Sequence[Token], idx: int,
                       options: OptionsDict, env: EnvType) -> str:
    # A wrapper lets wide tables scroll on narrow screens instead of breaking the layout.
    return '<div class="table-wrap"><table>\n'


def _render_table_close(self: RendererHTML, tokens: Sequence[Token], idx: int,
                        options: OptionsDict, env: EnvType) -> str:
    return "</table></div>\n"


def make_markdown() -> MarkdownIt:
    # html=True only so that markdown-it *recognises* raw HTML; the rules above escape it.
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.core.ruler.push("vh_annotate", _annotate)
    md.add_render_rule("html_block", _render_html_block)
    md.add_render_rule("html_inline", _render_html_inline)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_fence)
    md.add_render_rule("td_close", _render_td_close)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("table_close", _render_table_close)
    return md


_MD = make_markdown()


def parse(text: str) -> list[Token]:
    return _MD.parse(text, {})


def render_tokens(tokens: list[Token], *, fence_hook: FenceHook | None = None,
                  cell_hook: CellHook | None = None) -> str:
    env: dict[str, Any] = {}
    if fence_hook is not None:
        env["fence_hook"] = fence_hook
    if cell_hook is not None:
        env["cell_hook"] = cell_hook
    return _MD.renderer.render(tokens, _MD.options, env)


def render(text: str) -> str:
    """Plain HTML of card Markdown (no verification decorations), e.g. for the JSON API."""
    return render_tokens(parse(text))

"""Card Markdown -> HTML: one markdown-it setup, built once (highlighting: highlight.py).

Cards are trusted to be *Markdown*, not HTML: raw HTML in a card is shown escaped, so a card
cannot inject markup or scripts into the hub. Two exceptions that published cards rely on:
`<!-- ... -->` comments (section and verify marks) are dropped, and `<br>` inside a table cell
(e.g. `mAP<br>@5-95`) is a line break.

The renderer knows nothing about verification. Callers pass two hooks in `env`:
`fence_hook(line, info, code) -> html` renders a code block (badge, output panel) and
`cell_hook(line, col, header) -> html` adds markup at the end of a body table cell. `line` is the
0-based line within the parsed text (for a card's section tokens: within the card).

Tokens come from the card's one parse (cards/markdown.py); `render` parses a text for callers
that have no card (tests, the JSON API of a text).
"""

from __future__ import annotations

import re
from typing import Any, Callable, MutableMapping, Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from generator.cards.markdown import complete, markdown_parser
from generator.site.highlight import highlight

FenceHook = Callable[[int, str, str], str]
CellHook = Callable[[int, int, str], str]

_COMMENT = re.compile(r"<!--.*?-->", re.S)
# The only raw HTML passed through: sub- and superscript tags without attributes.
_SCRIPT_TAG = re.compile(r"^</?(sub|sup)>$", re.I)

# ---------------------------------------------------------------- markdown-it


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
    if _SCRIPT_TAG.match(tok.content):  # β<sub>1</sub> in a header: harmless, and meant
        return tok.content.lower()
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


# Han characters and CJK punctuation: a line break between two of them is not a space in Chinese.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _render_softbreak(self: RendererHTML, tokens: Sequence[Token], idx: int,
                      options: OptionsDict, env: EnvType) -> str:
    """Chinese source lines wrapped in the middle of a sentence join without the stray space a
    soft break renders as; between Latin words (or next to code, links...) it stays a break."""
    before = tokens[idx - 1] if idx > 0 else None
    after = tokens[idx + 1] if idx + 1 < len(tokens) else None
    if (before is not None and after is not None and before.type == "text" and after.type == "text"
            and before.content and after.content
            and _CJK.match(before.content[-1]) and _CJK.match(after.content[0])):
        return ""
    return "\n"


_SLUG_DROP = re.compile(r"[^\w\u3400-\u9fff-]+")


def _render_heading_open(self: RendererHTML, tokens: Sequence[Token], idx: int,
                         options: OptionsDict, env: EnvType) -> str:
    """A heading gets an id from its text (unique in the page) and a link to itself, which the
    style shows on hover and focus, so a section can be linked to."""
    tok = tokens[idx]
    inline = tokens[idx + 1] if idx + 1 < len(tokens) else None
    text = "".join(c.content for c in (inline.children or ()) if c.type in ("text", "code_inline")) if inline else ""
    base = "h-" + (_SLUG_DROP.sub("-", text.strip().lower()).strip("-")[:60] or "section")
    seen = env.setdefault("heading_ids", {})
    n = seen.get(base, 0)
    seen[base] = n + 1
    hid = base if n == 0 else f"{base}-{n + 1}"
    env.setdefault("heading_open", []).append(hid)
    return f'<{tok.tag} id="{escapeHtml(hid)}">'


def _render_heading_close(self: RendererHTML, tokens: Sequence[Token], idx: int,
                          options: OptionsDict, env: EnvType) -> str:
    hid = env.get("heading_open", []).pop() if env.get("heading_open") else ""
    # Named by its heading (aria-labelledby), so a screen reader says what it links to.
    link = (f'<a class="heading-anchor" href="#{escapeHtml(hid)}" aria-labelledby="{escapeHtml(hid)}"'
            f' data-pagefind-ignore>#</a>') if hid else ""
    return f" {link}</{tokens[idx].tag}>\n"


def make_markdown() -> MarkdownIt:
    # The project's dialect recognises raw HTML (html=True); the rules above escape it.
    md = markdown_parser()
    md.add_render_rule("html_block", _render_html_block)
    md.add_render_rule("html_inline", _render_html_inline)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_fence)
    md.add_render_rule("td_close", _render_td_close)
    md.add_render_rule("table_open", _render_table_open)
    md.add_render_rule("table_close", _render_table_close)
    md.add_render_rule("softbreak", _render_softbreak)
    md.add_render_rule("heading_open", _render_heading_open)
    md.add_render_rule("heading_close", _render_heading_close)
    return md


_MD = make_markdown()


def parse(text: str) -> list[Token]:
    return _MD.parse(text, {})


def section_tokens(tokens: Sequence[Token], env: MutableMapping[str, Any]) -> list[Token]:
    """A card section's block tokens, completed for rendering (inline parse, cell annotations)."""
    return complete(tokens, env)


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

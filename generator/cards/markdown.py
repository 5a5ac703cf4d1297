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

A section keeps its block tokens as `BlockTokens`. Parse workers send cards back pickled, and
pickled Token objects were a third of a card's parse cost (and all of it paid again, serially, by
the process that unpickles them); `BlockTokens` pickles as one `marshal` blob of plain tuples,
which the receiving process keeps as bytes until a render needs the tokens. Decoding gives new
Token objects, so `complete` needs no copies of them.
"""

from __future__ import annotations

import marshal
import pickle
import re
from typing import Any, Iterator, MutableMapping, Sequence, overload

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


def inline_with_plain_runs(state: StateCore) -> None:
    """markdown-it's core "inline" rule, except that an inline run with none of the characters
    that can start inline syntax (most table cells: numbers, plain headers) becomes its one text
    token directly: what the inline parser would make of it, at a fifth of the cost of starting
    that parser (86% of a ResNet-like card's runs). tests/parse/test_block_tokens.py checks the
    tokens equal the full parse's on every fixture card."""
    md = state.md
    plain = md.inline.terminator_re.search
    for token in state.tokens:
        if token.type != "inline":
            continue
        if token.children is None:
            token.children = []
        text = token.content
        if text and not token.children and plain(text) is None:
            token.children.append(Token("text", "", 0, content=text))
        else:
            md.inline.parse(text, md, state.env, token.children)


_BLOCKS = markdown_parser().disable("inline")
_INLINE = markdown_parser()
_INLINE.core.ruler.enableOnly(["inline", "text_join", "vh_annotate"])
_INLINE.core.ruler.at("inline", inline_with_plain_runs)


def parse_blocks(text: str) -> tuple[list[Token], dict[str, Any]]:
    """Block tokens of a whole card, and the parse's env (link reference definitions)."""
    env: dict[str, Any] = {}
    return _BLOCKS.parse(text, env), env


# Token's fields in the order of its constructor (markdown-it-py's dataclass).
_FIELDS = ("type", "tag", "nesting", "attrs", "map", "level", "children", "content", "markup", "info",
           "meta", "block", "hidden")
_MARSHAL, _PICKLE = b"M", b"P"


def _encode(tokens: Sequence[Token]) -> bytes:
    rows = tuple(tuple(getattr(t, f) for f in _FIELDS) for t in tokens)
    if not any(t.children for t in tokens):  # block tokens: an inline token's children are []
        try:  # marshal only knows builtin values: a plugin's meta may hold something else
            return _MARSHAL + marshal.dumps(rows)
        except ValueError:
            pass
    return _PICKLE + pickle.dumps(list(tokens), protocol=pickle.HIGHEST_PROTOCOL)


def _decode(blob: bytes) -> list[Token]:
    if blob[:1] == _PICKLE:
        return pickle.loads(blob[1:])
    out = []
    new = object.__new__
    for row in marshal.loads(blob[1:]):
        # Slots set directly: Token(*row) also runs __post_init__, which only normalises an
        # attrs value that is already a dict here (twice the cost, for 200+ tokens a card).
        t = new(Token)
        (t.type, t.tag, t.nesting, t.attrs, t.map, t.level, t.children, t.content, t.markup, t.info, t.meta,
         t.block, t.hidden) = row
        out.append(t)
    return out


class BlockTokens(Sequence[Token]):
    """A section's block tokens, read-only: as Token objects, or as the encoded blob they
    arrived in from another process (decoded on first use)."""

    __slots__ = ("_tokens", "_blob")

    def __init__(self, tokens: Sequence[Token] = (), blob: bytes | None = None) -> None:
        self._tokens: tuple[Token, ...] | None = None if blob is not None else tuple(tokens)
        self._blob = blob

    @classmethod
    def from_blob(cls, blob: bytes) -> BlockTokens:
        return cls(blob=blob)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        if self._blob is None:
            self._blob = _encode(self._all())
        return BlockTokens.from_blob, (self._blob,)

    def _all(self) -> tuple[Token, ...]:
        if self._tokens is None:
            assert self._blob is not None
            self._tokens = tuple(_decode(self._blob))
        return self._tokens

    def fresh(self) -> list[Token]:
        """New Token objects equal to these, for a caller that changes them."""
        if self._tokens is None:
            assert self._blob is not None
            return _decode(self._blob)  # not kept: the next caller gets new ones too
        return [_copy(t) for t in self._tokens]

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, i: int) -> Token: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Token]: ...

    def __getitem__(self, i: int | slice) -> Token | Sequence[Token]:
        return self._all()[i]

    def __iter__(self) -> Iterator[Token]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BlockTokens):
            return self._all() == other._all()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def _copy(t: Token) -> Token:
    # A shallow copy like Token.copy(), without dataclasses.replace's per-field introspection
    # (it was most of the cost of `complete`); an inline token's children are parsed anew.
    return Token(t.type, t.tag, t.nesting, t.attrs, t.map, t.level, [] if t.type == "inline" else t.children,
                 t.content, t.markup, t.info, t.meta, t.block, t.hidden)


def complete(tokens: Sequence[Token], env: MutableMapping[str, Any]) -> list[Token]:
    """Copies of `tokens` with their inline content parsed and table cells annotated."""
    copies = tokens.fresh() if isinstance(tokens, BlockTokens) else [_copy(t) for t in tokens]
    state = StateCore("", _INLINE, dict(env), copies)
    _INLINE.core.process(state)
    return state.tokens

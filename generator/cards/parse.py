"""Card text -> Card, keeping the card's own line numbers on everything. No I/O.

The front matter (frontmatter.py) and the body (body.py) are validated together, so one run
reports every problem of a card.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

from generator.cards.body import body
from generator.cards.frontmatter import card_meta, front_matter
from generator.cards.markdown import BlockTokens, parse_blocks
from generator.cards.problems import Problems
from generator.core.errors import Code, Diagnostic
from generator.core.ids import id_problem
from generator.core.model import Card, Snippet, Tag

def card_id_for(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".md") else name


def parse_card(
    path: str, text: str, tags: Mapping[str, Tag] | None = None
) -> tuple[Card | None, list[Diagnostic]]:
    """Parse and validate one card. Returns (None, diagnostics) when it has errors that make it
    unusable; warnings come with a Card. `tags` is the tag registry (None skips the tag check)."""
    out = Problems(path)
    card_id = card_id_for(path)
    bad_id = id_problem("card file name", card_id)
    if bad_id is not None:  # the id names the card's pages and API files
        out.err(Code.BAD_FILENAME, 1, bad_id)
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    lines = text.split("\n")

    fm = front_matter(lines, out)
    if fm is None and lines and lines[0].rstrip() == "---":
        return None, out.diagnostics  # unclosed front matter: the body cannot be told apart
    meta = card_meta(card_id, fm, out, tags) if fm is not None else None
    tokens, env = parse_blocks(text)
    prelude, sections = body(card_id, tokens, lines, out, body_start=(fm.end_line if fm else 0))
    # read-only, and cheap to send from a parse worker (see cards/markdown.py)
    sections = {lang: replace(s, tokens=BlockTokens(s.tokens)) for lang, s in sections.items()}

    if any(d.level == "error" for d in out.diagnostics) or meta is None:
        return None, out.diagnostics
    return Card(path=path, source=text, meta=meta, prelude=prelude, sections=sections,
                markdown_env=env), out.diagnostics


def with_tokens(card: Card) -> Card:
    """`card` with its sections' block tokens and the parse's env, parsing its text again if it
    came from the parse cache without them (the same text gives the same tokens)."""
    if not card.tokens_dropped:
        return card
    parsed, _ = parse_card(card.path, card.source)
    if parsed is None:  # cannot happen for a text that parsed before; keep what there is
        return card
    sections = {lang: replace(s, tokens=parsed.sections[lang].tokens) if lang in parsed.sections else s
                for lang, s in card.sections.items()}
    return replace(card, sections=sections, markdown_env=parsed.markdown_env, tokens_dropped=False)


def iter_snippets(card: Card) -> Iterable[Snippet]:
    if card.prelude is not None:
        yield card.prelude
    for sec in card.sections.values():
        yield from sec.snippets

"""A section's block tokens survive the trip from a parse worker unchanged, and rendering from
them never changes the card's own tokens."""

from __future__ import annotations

import dataclasses
import datetime
import pickle
from pathlib import Path

import pytest
from markdown_it.token import Token

from generator.cards import markdown as cm
from generator.cards.markdown import BlockTokens, complete
from generator.cards.parse import parse_card
from generator.site.render import _skeleton

ROOT = Path(__file__).resolve().parents[2]
CARDS = sorted((ROOT / "cards").glob("*.md")) + sorted((Path(__file__).parent / "good").glob("*.md"))


def test_fields_are_tokens_fields() -> None:
    # The encoding names every field of markdown-it-py's Token: a new one must be added there.
    assert set(cm._FIELDS) == {f.name for f in dataclasses.fields(Token)}


@pytest.mark.parametrize("card", CARDS, ids=[p.stem for p in CARDS])
def test_pickled_tokens_render_the_same(card: Path) -> None:
    parsed, diags = parse_card(card.name, card.read_text(encoding="utf-8"))
    assert parsed is not None, [str(d) for d in diags]
    back = pickle.loads(pickle.dumps(parsed))
    for lang, sec in parsed.sections.items():
        assert isinstance(sec.tokens, BlockTokens)
        got = back.sections[lang].tokens
        assert list(got) == list(sec.tokens)
        before = [t.as_dict() for t in sec.tokens]
        here = _skeleton(complete(sec.tokens, dict(parsed.markdown_env)))
        there = _skeleton(complete(got, dict(back.markdown_env)))
        assert here == there and here.html
        assert [t.as_dict() for t in sec.tokens] == before  # the card's tokens are untouched
        assert [t.as_dict() for t in got] == before


def test_fresh_tokens_are_new_objects() -> None:
    tokens, _ = cm.parse_blocks("| a | b |\n| - | - |\n| 1 | 2 |\n\ntext *em*\n")
    for held in (BlockTokens(tokens), pickle.loads(pickle.dumps(BlockTokens(tokens)))):
        first, second = held.fresh(), held.fresh()
        assert first == second == list(tokens)
        assert all(a is not b for a, b in zip(first, second))
        first[0].meta = {"x": 1}
        first[1].content = "changed"
        assert held.fresh() == list(tokens) and list(held) == list(tokens)
    decoded = pickle.loads(pickle.dumps(BlockTokens(tokens))).fresh()
    decoded[0].attrs["y"] = "z"  # decoded tokens share no dict with anything
    assert tokens[0].attrs == {}


def test_tokens_marshal_cannot_hold_still_travel() -> None:
    tokens, _ = cm.parse_blocks("para\n")
    tokens[0].meta = {"when": datetime.date(2020, 1, 2)}  # not a marshal type: pickled instead
    blob = pickle.dumps(BlockTokens(tokens))
    assert list(pickle.loads(blob)) == tokens
    assert cm._encode(tokens)[:1] == cm._PICKLE
    assert cm._encode(cm.parse_blocks("para\n")[0])[:1] == cm._MARSHAL


def _full_inline(tokens: list[Token], env: dict) -> list[Token]:  # type: ignore[type-arg]
    """`complete` as markdown-it-py's own inline rule does it (no shortcut for plain runs)."""
    from markdown_it.rules_core import StateCore

    md = cm.markdown_parser()
    md.core.ruler.enableOnly(["inline", "text_join", "vh_annotate"])
    state = StateCore("", md, dict(env), [cm._copy(t) for t in tokens])
    md.core.process(state)
    return state.tokens


_EDGES = """| a | 70.312 | 9 0 | tab\there | 中文 表 | x. y, z; (w) | 'q' "r" / ? ! |
|---|---|---|---|---|---|---|
| 1 | 2 | a&amp;b | *e* | `c` | <br> | trailing\\ |

Plain words only, with unicode — and ‘quotes’. 参数量 ,。

Line one
line two, joined by a soft break.
"""


@pytest.mark.parametrize("card", CARDS, ids=[p.stem for p in CARDS])
def test_plain_run_shortcut_gives_the_full_parse(card: Path) -> None:
    parsed, _diags = parse_card(card.name, card.read_text(encoding="utf-8"))
    assert parsed is not None
    for sec in parsed.sections.values():
        assert complete(sec.tokens, dict(parsed.markdown_env)) == _full_inline(list(sec.tokens), dict(parsed.markdown_env))


def test_plain_run_shortcut_on_edge_cases() -> None:
    tokens, env = cm.parse_blocks(_EDGES)
    got = complete(tokens, env)
    assert got == _full_inline(tokens, env)
    plain = [c for t in got if t.type == "inline" for c in t.children or [] if c.content in ("70.312", "9 0", "中文 表")]
    assert len(plain) == 3  # the shortcut's own cases are among them

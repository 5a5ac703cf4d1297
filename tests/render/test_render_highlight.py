"""The fast Python lexer must reproduce the text exactly and agree with Pygments' PythonLexer on
token classes (whitespace spans aside), and fall back to Pygments on code it cannot split."""

from __future__ import annotations

import re

import pytest
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from render_fixtures import read_fixture_cards

from generator.site.highlight import FastPythonLexer, _python_tokens, _Unsure, highlight

SAMPLES = [
    'def f(x, *a, **k):\n    """doc"""\n    return x @ y if x is not None else b"\\x00"\n',
    "class A(B):\n  pass\n",
    "x = f'{a!r}' + rb'x' + 0x1F + 1e-3 + 3j\n",
    "from . import a as b, c\nimport a.b as c\nraise E from e\n",
    "s = '''a\nb'''\nprint(s)  # c\n",
    "if x:\n\tif y:\n\t\tz\n",
    "x = (1 +\n     2) \\\n  + 3\n",
]


def _all_fixture_code() -> list[str]:
    cards, _ = read_fixture_cards()
    return [c.prelude.code for c in cards if c.prelude] + [
        s.code for c in cards for sec in c.sections.values() for s in sec.snippets if s.is_python]


@pytest.mark.parametrize("code", SAMPLES + _all_fixture_code())
def test_fast_lexer_reproduces_text(code: str) -> None:
    assert "".join(v for _, _, v in _python_tokens(code)) == code


def _classes(html: str) -> list[tuple[str, str]]:
    # (css class, text) of every span except whitespace ones, with adjacent text merged away
    return [(c, t) for c, t in re.findall(r'<span class="(\w+)">([^<]*)</span>', html) if c != "w"]


@pytest.mark.parametrize("code", _all_fixture_code())
def test_fast_lexer_matches_pygments_on_card_code(code: str) -> None:
    ours = highlight(code, "python")
    theirs = pygments_highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))
    assert _classes(ours) == _classes(theirs)


def test_unsplittable_code_falls_back_to_pygments() -> None:
    code = 'x = "unterminated\nprint(x)\n'
    with pytest.raises(_Unsure):
        list(_python_tokens(code))
    tokens = list(FastPythonLexer().get_tokens(code))
    assert "".join(v for _, v in tokens) == code
    assert "unterminated" in highlight(code, "python3")

"""Code highlighting: Pygments' HTML formatter (CSS classes) fed by a fast Python lexer.

Pygments' own PythonLexer is a regex state machine and was the largest single cost of a build
(~0.9 ms per 25-line block). Python's `tokenize` already splits valid Python exactly; mapping its
tokens onto Pygments token types gives the same CSS classes for everything a card contains
(keywords, names, builtins, strings, numbers, comments, import paths) at a third of the cost.
Anything `tokenize` cannot split cleanly (syntax errors, doctest prompts) goes to PythonLexer,
so output is always complete: the joined token values must equal the input text.
"""

from __future__ import annotations

import builtins
import io
import keyword
import tokenize
from functools import lru_cache
from typing import ClassVar, Iterator, Sequence

from markdown_it.common.utils import escapeHtml
from pygments import highlight as _pyg_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import PythonLexer, TextLexer, get_lexer_by_name
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String, Text,
                            _TokenType)
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=1)
def _python_lexer() -> PythonLexer:
    """Made on first use: Pygments compiles the lexer's regular expressions when the first one is
    made (~30 ms of every process's start), and only code tokenize cannot split needs it."""
    return PythonLexer()


_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))
_EXCEPTIONS = frozenset(n for n in _BUILTINS if isinstance(getattr(builtins, n), type)
                        and issubclass(getattr(builtins, n), BaseException))
_WORD_OPS = frozenset(("in", "is", "and", "or", "not"))
_CONSTANTS = frozenset(("True", "False", "None"))
_PUNCT = frozenset("()[]{},:;")
_SKIP = (tokenize.DEDENT, tokenize.ENDMARKER)

Tok = tuple[int, _TokenType, str]


class _Unsure(Exception):
    """tokenize's split is not trustworthy for this text: use Pygments' lexer."""


def _python_tokens(text: str) -> Iterator[Tok]:
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise _Unsure from exc
    pos = 0
    prev = ""  # previous significant token
    first = True  # the next significant token starts a logical line
    # import statements: "import" (every name is a module path), "from" (the module part of
    # `from x import y`), "names" (the imported names), None elsewhere
    mode: str | None = None
    for tok in toks:
        t, s = tok.type, tok.string
        if t in _SKIP:
            continue
        if t == tokenize.ERRORTOKEN:
            raise _Unsure
        start = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        if start < pos:
            continue  # INDENT repeats whitespace already emitted
        if start > pos:
            gap = text[pos:start]
            if gap.strip(" \t\r\n\\\f"):
                raise _Unsure
            yield pos, Text, gap
        ttype: _TokenType
        if t == tokenize.NAME:
            if s == "import" and (first or mode == "from"):
                mode = "import" if first else "names"
                ttype = Keyword.Namespace
            elif s == "from" and first:
                mode = "from"
                ttype = Keyword.Namespace
            elif keyword.iskeyword(s):
                ttype = (Keyword.Constant if s in _CONSTANTS else
                         Operator.Word if s in _WORD_OPS else Keyword)
            elif mode in ("import", "from"):
                ttype = Name.Namespace
            elif prev == "def":
                ttype = Name.Function
            elif prev == "class":
                ttype = Name.Class
            elif prev != "." and s in _EXCEPTIONS:
                ttype = Name.Exception
            elif prev != "." and s in _BUILTINS:
                ttype = Name.Builtin
            elif prev != "." and s in ("self", "cls"):
                ttype = Name.Builtin.Pseudo
            else:
                ttype = Name
        elif t == tokenize.OP:
            if s in _PUNCT:
                ttype = Punctuation
            elif s == "." and mode in ("import", "from"):
                ttype = Name.Namespace
            else:
                ttype = Operator
        elif t == tokenize.NUMBER:
            low = s.lower()
            if low.startswith(("0x", "0o", "0b")):
                ttype = Number.Hex if low.startswith("0x") else Number.Integer
            elif "j" in low or "." in low or "e" in low:
                ttype = Number.Float
            else:
                ttype = Number.Integer
        elif t == tokenize.STRING:
            body = s.lstrip("rRbBuUfF")
            if len(body) != len(s):
                yield start, String.Affix, s[: len(s) - len(body)]
                start += len(s) - len(body)
                s = body
            ttype = String.Double if s.startswith('"') else String.Single
        elif t == tokenize.COMMENT:
            ttype = Comment.Single
        elif t in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT):
            ttype = Text
        else:
            raise _Unsure
        if s:
            yield start, ttype, s
        pos = end
        if t == tokenize.NEWLINE:
            first, mode, prev = True, None, ""
        elif t in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING):
            first, prev = False, s
    if pos < len(text):
        rest = text[pos:]
        if rest.strip():
            raise _Unsure
        yield pos, Text, rest


class FastPythonLexer(Lexer):
    name = "Python (tokenize)"
    aliases: ClassVar[Sequence[str]] = []

    def get_tokens_unprocessed(self, text: str) -> Iterator[Tok]:
        try:
            tokens = list(_python_tokens(text))
        except _Unsure:
            tokens = list(_python_lexer().get_tokens_unprocessed(text))
        return iter(tokens)


_FAST = FastPythonLexer()


@lru_cache(maxsize=64)
def _lexer(info: str) -> Lexer:
    name = info.split()[0].lower() if info.strip() else ""
    if name in ("python", "python3", "py"):
        return _FAST
    if not name:
        return TextLexer()
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return TextLexer()


@lru_cache(maxsize=4096)
def highlight(code: str, info: str) -> str:
    """Highlighted HTML of one code block: `<pre class="highlight"><code>...</code></pre>`.

    Cached on the text because zh_CN and en_US sections usually repeat the same code."""
    body = _pyg_highlight(code, _lexer(info), _FORMATTER)
    lang = escapeHtml(info.split()[0]) if info.strip() else "text"
    return f'<pre class="highlight"><code class="language-{lang}">{body}</code></pre>'


def pygments_css() -> str:
    """Stylesheet for the highlight classes: light by default, dark under prefers-color-scheme
    unless the reader chose light, and dark when the reader chose dark (the theme switch sets
    data-theme on <html>). Deterministic (depends only on the installed Pygments)."""
    light = _token_rules("default")
    dark = _token_rules("github-dark")
    auto_dark = "\n".join("  " + line.replace(".highlight .", ':root:not([data-theme="light"]) .highlight .', 1)
                           for line in dark.splitlines())
    chosen_dark = "\n".join(line.replace(".highlight .", ':root[data-theme="dark"] .highlight .', 1)
                             for line in dark.splitlines())
    return (
        "/* generated from Pygments; do not edit */\n"
        f"{light}\n@media (prefers-color-scheme: dark) {{\n{auto_dark}\n}}\n{chosen_dark}\n"
    )


def _token_rules(style: str) -> str:
    # Only the per-token rules: the block background and line-number rules come from
    # style.css so that code blends into both colour schemes.
    css = HtmlFormatter(style=style).get_style_defs(".highlight")
    return "\n".join(line for line in css.splitlines()
                     if line.startswith(".highlight .") and not line.startswith(".highlight .hll"))

"""A card's body -> the prelude and one Section per language, from the block tokens of the one
parse (markdown.py): what the validator calls a code block or a table is exactly what the page
shows. Each section keeps its tokens for the site stage.
"""

from __future__ import annotations

import functools

import re
from markdown_it.token import Token

from generator.cards.marks import SNIPPET_MARKS, TABLE_MARKS, VERIFY_RE, marks_before, marks_for, parse_marks
from generator.cards.problems import Problems
from generator.core.errors import Code, Loc
from generator.core.model import LANGS, PRELUDE, SECTION_ORDER, SECTIONS_TEXT, Mark, Section, Snippet, Table

SECTION_RE = re.compile(r"^\s*<!--\s*section:\s*(?P<name>[^\s>]*)\s*-->\s*$")


# ---------------------------------------------------------------- body

def body(card_id: str, tokens: list[Token], lines: list[str], out: Problems,
          body_start: int) -> tuple[Snippet | None, dict[str, Section]]:
    preludes: list[Token] = []
    stray: list[Token] = []
    # (lang or None for an unknown name, line, [tokens])
    sections: list[tuple[str | None, int, list[Token]]] = []
    seen_langs: dict[str, int] = {}

    for tok in tokens:
        if tok.type == "front_matter" or tok.map is None:
            if sections and tok.map is None:
                sections[-1][2].append(tok)
            continue
        if tok.type == "html_block":
            m = SECTION_RE.match(tok.content.strip().split("\n", 1)[0])
            if m:
                line = tok.map[0] + 1
                name = m.group("name")
                if name not in LANGS:
                    out.err(Code.UNKNOWN_SECTION, line,
                            f"unknown section {name!r} (sections are {SECTIONS_TEXT})")
                    sections.append((None, line, []))
                elif name in seen_langs:
                    out.err(Code.DUPLICATE_SECTION, line,
                            f"section {name} appears again (first at line {seen_langs[name]})")
                    sections.append((None, line, []))
                else:
                    seen_langs[name] = line
                    sections.append((name, line, []))
                continue
        if sections:
            sections[-1][2].append(tok)
        elif tok.type == "fence" or tok.type == "code_block":
            preludes.append(tok)
        elif tok.level == 0 and not tok.type.endswith("_close"):
            stray.append(tok)

    for tok in tokens:
        if tok.type == "fence":
            fence_closed(tok, lines, out)

    prelude: Snippet | None = None
    first_section_line = sections[0][1] if sections else len(lines)
    if not preludes:
        out.err(Code.PRELUDE_MISSING, body_start + 1 if body_start < len(lines) else 1,
                "a card needs one code block before the first section (the prelude that loads the model)")
    else:
        if len(preludes) > 1:
            for extra in preludes[1:]:
                out.err(Code.PRELUDE_MULTIPLE, extra.map[0] + 1 if extra.map else 1,
                        "only one code block may stand before the first section "
                        f"(the prelude is at line {preludes[0].map[0] + 1 if preludes[0].map else 1})")
        prelude = snippet(card_id, PRELUDE, 0, preludes[0], [], out)
    for tok in stray:
        if tok.type == "html_block" and VERIFY_RE.search(tok.content):
            continue  # a mark on the prelude is handled below
        if tok.type in ("html_block",) and tok.content.strip().startswith("<!--"):
            continue  # plain comments are harmless
        if tok.map and tok.map[0] + 1 < first_section_line:
            out.err(Code.TEXT_BEFORE_SECTION, tok.map[0] + 1,
                    "only the prelude code block may stand before the first <!-- section: ... --> "
                    "(this text would appear on no page)")
    if prelude is not None:
        marks = marks_before(tokens, preludes[0], out)
        if marks:
            prelude = Snippet(**{**prelude.__dict__, "marks": tuple(marks)})

    if not sections:
        out.err(Code.NO_SECTIONS, len(lines) if lines else 1,
                "a card needs a " + " and a ".join(f"<!-- section: {n} -->" for n in SECTION_ORDER) + " part")
    else:
        last = max(1, len(lines))
        for lang in LANGS:
            if lang not in seen_langs:
                out.warn(Code.MISSING_SECTION, last,
                         f"no {lang} section: that language's page will say 'not translated yet'")

    result: dict[str, Section] = {}
    bounds = [s[1] for s in sections] + [len(lines) + 1]
    for n, (sec_lang, line, toks) in enumerate(sections):
        if sec_lang is None:
            continue
        result[sec_lang] = section(card_id, sec_lang, line, bounds[n + 1], toks, lines, out)
    return prelude, result


def fence_closed(tok: Token, lines: list[str], out: Problems) -> bool:
    assert tok.map is not None
    start, end = tok.map
    closing = lines[end - 1].strip() if end - 1 > start and end - 1 < len(lines) else ""
    char = tok.markup[0]
    if not (closing.startswith(tok.markup) and set(closing) == {char}):
        out.err(Code.UNCLOSED_FENCE, start + 1,
                f"code block opened with {tok.markup} is never closed (it swallows the rest of the card)")
        # Its "code" is the rest of the card, so a syntax check would only add noise.
        tok.meta["unclosed"] = True
        return False
    return True


def snippet(card_id: str, lang: str, index: int, tok: Token, marks: list[Mark], out: Problems) -> Snippet:
    assert tok.map is not None
    line = tok.map[0] + 1
    code_line = line + 1 if tok.type == "fence" else line
    snip = Snippet(card_id=card_id, lang=lang, index=index, info=tok.info.strip(), code=tok.content,
                   loc=Loc(out.path, line), code_line=code_line, marks=tuple(marks))
    if not tok.content.strip():
        out.err(Code.EMPTY_CODE, line, "empty code block")
    elif snip.is_python and not tok.meta.get("unclosed"):
        problem = syntax_error(tok.content)
        if problem is not None:
            out.err(Code.CODE_SYNTAX, code_line + problem[0] - 1, f"Python syntax error in code block: {problem[1]}")
    return snip


@functools.lru_cache(maxsize=1024)
def syntax_error(code: str) -> tuple[int, str] | None:
    """(line within the code, message) of the first syntax error, or None. Cached on the text:
    a card's two sections usually hold the same code."""
    try:
        compile(code, "<card>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc.lineno or 1, exc.msg
    except ValueError as exc:  # a NUL character in the code
        return 1, str(exc)
    except (MemoryError, RecursionError):  # e.g. 100,000 unary minus signs in a row
        return 1, "the code is nested too deeply to compile"
    return None


def section(card_id: str, lang: str, line: int, next_line: int, toks: list[Token],
             lines: list[str], out: Problems) -> Section:
    snippets: list[Snippet] = []
    tables: list[Table] = []
    pending: list[Mark] = []
    pending_tok: Token | None = None
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.type == "html_block" and VERIFY_RE.search(tok.content):
            pending.extend(parse_marks(tok, out))
            pending_tok = tok
            i += 1
            continue
        if tok.type in ("fence", "code_block"):
            snippets.append(snippet(card_id, lang, len(snippets), tok, marks_for(pending, SNIPPET_MARKS, out), out))
            pending, pending_tok = [], None
        elif tok.type == "table_open":
            j = i
            while toks[j].type != "table_close":
                j += 1
            tables.append(table(card_id, lang, len(tables), toks[i:j + 1], marks_for(pending, TABLE_MARKS, out), out))
            pending, pending_tok = [], None
            i = j
        elif pending and tok.level == 0 and tok.map is not None:
            assert pending_tok is not None and pending_tok.map is not None
            out.err(Code.BAD_MARK, pending_tok.map[0] + 1,
                    "a verify mark must stand directly before a code block or a table")
            pending, pending_tok = [], None
        i += 1
    if pending and pending_tok is not None and pending_tok.map is not None:
        out.err(Code.BAD_MARK, pending_tok.map[0] + 1, "a verify mark must stand directly before a code block or a table")
    body = "\n".join(lines[line:next_line - 1])
    return Section(lang=lang, loc=Loc(out.path, line), body=body, body_line=line + 1,
                   snippets=tuple(snippets), tables=tuple(tables), tokens=tuple(toks))


def table(card_id: str, lang: str, index: int, toks: list[Token], marks: list[Mark], out: Problems) -> Table:
    header: list[str] = []
    rows: list[tuple[str, ...]] = []
    row_lines: list[int] = []
    current: list[str] | None = None
    in_head = False
    for tok in toks:
        if tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            current = []
            if not in_head and tok.map is not None:
                row_lines.append(tok.map[0] + 1)
        elif tok.type == "tr_close" and current is not None:
            if in_head:
                header = current
            else:
                rows.append(tuple(current))
            current = None
        elif tok.type == "inline" and current is not None:
            current.append(tok.content.strip())
    assert toks[0].map is not None
    return Table(card_id=card_id, lang=lang, index=index, header=tuple(header), rows=tuple(rows),
                 loc=Loc(out.path, toks[0].map[0] + 1), row_lines=tuple(row_lines), marks=tuple(marks))

"""Card text -> Card, keeping the card's own line numbers on everything. No I/O.

The body is tokenised once by markdown-it (the same parser that renders it later), so what the
validator calls "a code block" or "a table" is exactly what the page will show. Front matter is
cut out by hand and parsed by PyYAML's composer so that each field keeps its line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import urlparse

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from generator.core.errors import Code, Diagnostic, Loc, error, warning
from generator.core.model import LANGS, PRELUDE, Card, CardMeta, Mark, Section, Snippet, Table, Tag

TEMPLATE = "hub1"
REQUIRED_FIELDS = ("template", "title", "summary", "author", "tags", "github-link")
# `verify` is this project's extension (an evaluation spec); every other field would be
# silently ignored by the old hub tooling, so an unknown one is most likely a typo.
OPTIONAL_FIELDS = ("verify",)

SECTION_RE = re.compile(r"^\s*<!--\s*section:\s*(?P<name>[^\s>]*)\s*-->\s*$")
VERIFY_RE = re.compile(r"<!--\s*verify:(?P<body>.*?)-->", re.S)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# Mark kinds and whether they take an argument; the executor and claims stages give them meaning.
SNIPPET_MARKS = ("skip", "expect-error", "timeout", "output-contains")
TABLE_MARKS = ("table",)


def markdown_parser() -> MarkdownIt:
    """The one Markdown dialect of the project: CommonMark + pipe tables (+ front matter skip)."""
    return MarkdownIt("commonmark").enable("table").use(front_matter_plugin)


# The structure pass only needs block tokens: an inline token's `content` is set by the block
# parser, and inline parsing (half the time of a card) is the renderer's job.
_MD = markdown_parser().disable("inline")
# libyaml when PyYAML was built with it: front matter is parsed for every card on every build.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _Collector:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def err(self, code: Code, line: int, message: str) -> None:
        self.diagnostics.append(error(code, message, self.path, line))

    def warn(self, code: Code, line: int, message: str) -> None:
        self.diagnostics.append(warning(code, message, self.path, line))


def card_id_for(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".md") else name


def parse_card(
    path: str, text: str, tags: Mapping[str, Tag] | None = None
) -> tuple[Card | None, list[Diagnostic]]:
    """Parse and validate one card. Returns (None, diagnostics) when it has errors that make it
    unusable; warnings come with a Card. `tags` is the tag registry (None skips the tag check)."""
    out = _Collector(path)
    card_id = card_id_for(path)
    if not ID_RE.match(card_id):
        out.err(Code.BAD_FILENAME, 1, f"card file name {card_id!r} cannot be used as a page id "
                "(letters, digits, '_', '-', '.')")
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    lines = text.split("\n")

    fm = _front_matter(lines, out)
    if fm is None and lines and lines[0].rstrip() == "---":
        return None, out.diagnostics  # unclosed front matter: the body cannot be told apart
    meta = _meta(card_id, fm, out, tags) if fm is not None else None
    prelude, sections = _body(card_id, text, lines, out, body_start=(fm.end_line if fm else 0))

    if any(d.level == "error" for d in out.diagnostics) or meta is None:
        return None, out.diagnostics
    return Card(path=path, source=text, meta=meta, prelude=prelude, sections=sections), out.diagnostics


# ---------------------------------------------------------------- front matter

@dataclass
class _FrontMatter:
    data: Any
    node: yaml.Node | None
    first_line: int  # card line of the opening ---
    end_line: int  # card line of the closing --- (0-based index of the line after it)


def _front_matter(lines: list[str], out: _Collector) -> _FrontMatter | None:
    if not lines or lines[0].rstrip() != "---":
        out.err(Code.NO_FRONT_MATTER, 1, "a card starts with YAML front matter between '---' lines")
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            break
    else:
        out.err(Code.NO_FRONT_MATTER, 1, "front matter opened by '---' is never closed")
        return None
    yaml_text = "\n".join(lines[1:i])
    try:
        node, data = _compose(yaml_text, _YAML_LOADER)
    except yaml.YAMLError:
        try:  # the pure-Python loader words its errors better (and the same in every install)
            node, data = _compose(yaml_text, yaml.SafeLoader)
        except yaml.YAMLError as exc:
            return _yaml_error(exc, out, i)
    if not isinstance(data, dict):
        out.err(Code.FRONT_MATTER_NOT_MAPPING, 2, "front matter must be a mapping of fields")
        return _FrontMatter(None, None, 1, i + 1)
    # Duplicate keys are legal YAML for PyYAML (last one wins), but in a card they are a mistake.
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            k = str(key_node.value)
            if k in seen:
                out.err(Code.FIELD_TYPE, 2 + key_node.start_mark.line,
                        f"field {k!r} is given twice (first at line {seen[k]})")
            seen.setdefault(k, 2 + key_node.start_mark.line)
    return _FrontMatter(data, node, 1, i + 1)


def _compose(text: str, loader_class: Any) -> tuple[yaml.Node | None, Any]:
    """Compose once (nodes carry line numbers), then construct the data from the same nodes."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.YAMLError, out: _Collector, end: int) -> _FrontMatter:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = 2 + (mark.line if mark is not None else 0)
    problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
    context = getattr(exc, "context_mark", None)
    if context is not None and context.line != (mark.line if mark is not None else -1):
        problem += f" (in what starts at line {2 + context.line})"
    out.err(Code.YAML_SYNTAX, line, f"front matter is not valid YAML: {problem}")
    return _FrontMatter(None, None, 1, end + 1)


def _field_lines(node: yaml.Node | None) -> dict[str, int]:
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            lines.setdefault(str(key_node.value), 2 + key_node.start_mark.line)
            if isinstance(value_node, yaml.MappingNode):
                for k2, _ in value_node.value:
                    lines.setdefault(f"{key_node.value}.{k2.value}", 2 + k2.start_mark.line)
            if isinstance(value_node, yaml.SequenceNode):
                for n, item in enumerate(value_node.value):
                    lines.setdefault(f"{key_node.value}[{n}]", 2 + item.start_mark.line)
    return lines


def _meta(card_id: str, fm: _FrontMatter, out: _Collector, tags: Mapping[str, Tag] | None) -> CardMeta | None:
    if fm.data is None:
        return None
    data: dict[str, Any] = fm.data
    at = _field_lines(fm.node)
    where = lambda key: at.get(key, 2)  # noqa: E731 — fields without a node point at the first line
    ok = True

    for key in REQUIRED_FIELDS:
        if key not in data or data[key] is None:
            out.err(Code.MISSING_FIELD, fm.first_line, f"front matter lacks required field {key!r}")
            ok = False
    for key in data:
        if key not in REQUIRED_FIELDS and key not in OPTIONAL_FIELDS:
            out.err(Code.UNKNOWN_FIELD, where(str(key)), f"unknown front matter field {key!r} "
                    f"(known: {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)})")

    template = data.get("template")
    if template is not None and template != TEMPLATE:
        out.err(Code.TEMPLATE, where("template"), f"template must be {TEMPLATE!r}, not {template!r}")
        ok = False

    def text_field(key: str) -> str:
        nonlocal ok
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
            out.err(Code.FIELD_TYPE, where(key), f"field {key!r} must be a non-empty text")
            ok = False
            return ""
        return str(value).strip()

    title, author = text_field("title"), text_field("author")

    summary: dict[str, str] = {}
    raw_summary = data.get("summary")
    if raw_summary is not None:
        if not isinstance(raw_summary, dict):
            out.err(Code.SUMMARY_KEYS, where("summary"), "summary must map en_US and zh_CN to text")
            ok = False
        else:
            for k, v in raw_summary.items():
                if k not in LANGS:
                    out.err(Code.SUMMARY_KEYS, where(f"summary.{k}"),
                            f"summary has unknown language {k!r} (expected en_US, zh_CN)")
                    ok = False
                elif not isinstance(v, str) or not v.strip():
                    out.err(Code.SUMMARY_KEYS, where(f"summary.{k}"), f"summary.{k} must be a non-empty text")
                    ok = False
                else:
                    summary[k] = v.strip()
            for lang in LANGS:
                if lang not in raw_summary:
                    out.err(Code.SUMMARY_KEYS, where("summary"), f"summary lacks {lang}")
                    ok = False

    card_tags: list[str] = []
    raw_tags = data.get("tags")
    if raw_tags is not None:
        if not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags):
            out.err(Code.FIELD_TYPE, where("tags"), "tags must be a list of tag ids, e.g. [vision, classification]")
            ok = False
        else:
            for n, t in enumerate(raw_tags):
                if tags is not None and t not in tags:
                    out.err(Code.UNKNOWN_TAG, where(f"tags[{n}]"),
                            f"unknown tag {t!r}; add it to cards/tags.yaml with its zh_CN and en_US names "
                            f"(known: {', '.join(sorted(tags))})")
                    ok = False
                elif t not in card_tags:
                    card_tags.append(t)

    link = data.get("github-link")
    link_text = ""
    if link is not None:
        parsed = urlparse(str(link)) if isinstance(link, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            out.err(Code.GITHUB_LINK, where("github-link"), f"github-link must be an http(s) URL, not {link!r}")
            ok = False
        else:
            link_text = str(link)

    verify = data.get("verify")
    if verify is not None and not isinstance(verify, dict):
        out.err(Code.VERIFY_SPEC, where("verify"), "verify must be a mapping (the evaluation spec)")
        ok = False

    if not ok:
        return None
    return CardMeta(id=card_id, template=str(template), title=title, summary=summary, author=author,
                    tags=tuple(card_tags), github_link=link_text, verify=verify)


# ---------------------------------------------------------------- body

def _body(card_id: str, text: str, lines: list[str], out: _Collector,
          body_start: int) -> tuple[Snippet | None, dict[str, Section]]:
    tokens = _MD.parse(text)
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
                            f"unknown section {name!r} (sections are zh_CN and en_US)")
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
            _fence_closed(tok, lines, out)

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
        prelude = _snippet(card_id, PRELUDE, 0, preludes[0], [], out)
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
        marks = _marks_before(tokens, preludes[0], out)
        if marks:
            prelude = Snippet(**{**prelude.__dict__, "marks": tuple(marks)})

    if not sections:
        out.err(Code.NO_SECTIONS, len(lines) if lines else 1,
                "a card needs a <!-- section: zh_CN --> and a <!-- section: en_US --> part")
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
        result[sec_lang] = _section(card_id, sec_lang, line, bounds[n + 1], toks, lines, out)
    return prelude, result


def _fence_closed(tok: Token, lines: list[str], out: _Collector) -> bool:
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


def _snippet(card_id: str, lang: str, index: int, tok: Token, marks: list[Mark], out: _Collector) -> Snippet:
    assert tok.map is not None
    line = tok.map[0] + 1
    code_line = line + 1 if tok.type == "fence" else line
    snip = Snippet(card_id=card_id, lang=lang, index=index, info=tok.info.strip(), code=tok.content,
                   loc=Loc(out.path, line), code_line=code_line, marks=tuple(marks))
    if not tok.content.strip():
        out.err(Code.EMPTY_CODE, line, "empty code block")
    elif snip.is_python and not tok.meta.get("unclosed"):
        try:
            compile(tok.content, out.path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            at = code_line + (exc.lineno or 1) - 1
            out.err(Code.CODE_SYNTAX, at, f"Python syntax error in code block: {exc.msg}")
    return snip


def _marks_before(tokens: list[Token], target: Token, out: _Collector) -> list[Mark]:
    """Marks in html comments immediately before `target` (no other block in between)."""
    i = tokens.index(target)
    found: list[Mark] = []
    j = i - 1
    while j >= 0 and tokens[j].type == "html_block" and VERIFY_RE.search(tokens[j].content):
        found[:0] = _parse_marks(tokens[j], out)
        j -= 1
    return found


def _section(card_id: str, lang: str, line: int, next_line: int, toks: list[Token],
             lines: list[str], out: _Collector) -> Section:
    snippets: list[Snippet] = []
    tables: list[Table] = []
    pending: list[Mark] = []
    pending_tok: Token | None = None
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.type == "html_block" and VERIFY_RE.search(tok.content):
            pending.extend(_parse_marks(tok, out))
            pending_tok = tok
            i += 1
            continue
        if tok.type in ("fence", "code_block"):
            snippets.append(_snippet(card_id, lang, len(snippets), tok, _marks_for(pending, SNIPPET_MARKS, out), out))
            pending, pending_tok = [], None
        elif tok.type == "table_open":
            j = i
            while toks[j].type != "table_close":
                j += 1
            tables.append(_table(card_id, lang, len(tables), toks[i:j + 1], _marks_for(pending, TABLE_MARKS, out), out))
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
                   snippets=tuple(snippets), tables=tuple(tables))


def _marks_for(marks: list[Mark], allowed: tuple[str, ...], out: _Collector) -> list[Mark]:
    kept = []
    for m in marks:
        if m.kind not in allowed:
            target = "a code block" if allowed is SNIPPET_MARKS else "a table"
            out.err(Code.BAD_MARK, m.loc.line, f"mark {m.kind!r} does not apply to {target}")
        else:
            kept.append(m)
    return kept


def _parse_marks(tok: Token, out: _Collector) -> list[Mark]:
    """`<!-- verify: skip reason="needs a GPU" -->`, `expect-error TypeError`, `timeout=300`,
    `output-contains "tiger cat"`, `table=results|ignore`; several may share one comment."""
    assert tok.map is not None
    line = tok.map[0] + 1
    marks: list[Mark] = []
    for m in VERIFY_RE.finditer(tok.content):
        try:
            words = shlex.split(m.group("body"))
        except ValueError as exc:
            out.err(Code.BAD_MARK, line, f"cannot read verify mark: {exc}")
            continue
        k = 0
        while k < len(words):
            word = words[k]
            key, eq, value = word.partition("=")
            loc = Loc(out.path, line)
            if key == "skip":
                reason = ""
                if k + 1 < len(words) and words[k + 1].startswith("reason="):
                    reason = words[k + 1].partition("=")[2]
                    k += 1
                if not reason.strip():
                    out.err(Code.BAD_MARK, line, 'skip needs a reason: <!-- verify: skip reason="..." -->')
                marks.append(Mark("skip", reason, loc))
            elif key == "expect-error":
                if k + 1 >= len(words) or not words[k + 1].isidentifier():
                    out.err(Code.BAD_MARK, line, "expect-error needs an exception name, e.g. expect-error TypeError")
                else:
                    marks.append(Mark("expect-error", words[k + 1], loc))
                    k += 1
            elif key == "timeout" and eq:
                try:
                    seconds = float(value)
                    if seconds <= 0:
                        raise ValueError
                except ValueError:
                    out.err(Code.BAD_MARK, line, f"timeout must be a positive number of seconds, not {value!r}")
                else:
                    marks.append(Mark("timeout", value, loc))
            elif key == "output-contains":
                if k + 1 >= len(words) or not words[k + 1]:
                    out.err(Code.BAD_MARK, line, 'output-contains needs a quoted text, e.g. output-contains "tiger cat"')
                else:
                    marks.append(Mark("output-contains", words[k + 1], loc))
                    k += 1
            elif key == "table" and eq:
                if value not in ("results", "ignore"):
                    out.err(Code.BAD_MARK, line, f"table= takes results or ignore, not {value!r}")
                else:
                    marks.append(Mark("table", value, loc))
            else:
                out.err(Code.UNKNOWN_MARK, line, f"unknown verify mark {word!r} (known: skip, expect-error, "
                        "timeout=, output-contains, table=)")
            k += 1
    return marks


def _table(card_id: str, lang: str, index: int, toks: list[Token], marks: list[Mark], out: _Collector) -> Table:
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


def iter_snippets(card: Card) -> Iterable[Snippet]:
    if card.prelude is not None:
        yield card.prelude
    for sec in card.sections.values():
        yield from sec.snippets

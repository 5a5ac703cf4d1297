"""Cards + verification -> HTML bytes, one page at a time.

One `Renderer` holds everything that is expensive to build (the Jinja environment with its
compiled templates, the catalog, the tag registry); make it once per build and call it per page.
Every link it writes is relative to the page (see urls.py), so output does not depend on where
the site is served from.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Mapping, Protocol, Sequence, cast

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError
from markdown_it.token import Token
from markupsafe import Markup

from generator.cards.parse import with_tokens
from generator.site import markdown
from generator.core.objcache import code_digest
from generator.site.entrycache import EntryCache, key_after, key_prefix
from generator.site.rendercache import CardRender, RenderCache, SectionRender

from generator.site import urls
from generator.site.evidence import Link, block_notes, evidence_view, reproduce_view
from generator.site.evidence import catalog_keys as evidence_keys
from generator.site.highlight import highlight
from generator.site.notes import share_reasons
from generator.core.errors import Code, Diagnostic, UserError, error
from generator.site.reasons import catalog_keys as reason_keys, environment_html, environment_keys
from generator.site.i18n import Catalog, check_against, check_templates, load_catalog
from generator.site.options import CATALOG_FILE
from generator.core.model import DEFAULT_LANG, HTML_LANG, LANGS, Card, CardVerification, Snippet, Tag, other_langs
from generator.site.views import utc_time
from generator.site.compare import CompareRow, ParamsCell, compare_row, params_cell, readable_size
from generator.site.compare import catalog_keys as compare_keys
from generator.site.legend import BLOCK_ICONS, CHECK_ICONS, NUMBER_ICONS, check_state_anchor, legend_keys, \
    legend_sections
from generator.site.views import FLAG_NOTES
from generator.site.views import (BlockView, ClaimView, Summary, block_view, catalog_keys, claim_view,
                       column_key, find_block, summarize, summary_keys, summary_text,
                       summary_tone)



class _EntryMacros(Protocol):
    """The macros of templates/_entries.html (one index entry and its comparison row)."""

    def card_item(self, c: "CardEntry", root: str, t: Callable[..., str]) -> Markup: ...
    def compare_row(self, c: "CardEntry", root: str, t: Callable[..., str], legend: str) -> Markup: ...


class _PartsMacros(Protocol):
    """The macros of templates/_parts.html called from Python. Jinja2 sets them as attributes of
    the template module at run time, which its type hints cannot know."""

    def plain_code(self, code_html: Markup) -> Markup: ...
    def code_block(self, v: BlockView, code_html: Markup, t: Callable[..., str], legend: str) -> Markup: ...
    def claim_badge(self, v: ClaimView, t: Callable[..., str], legend: str) -> Markup: ...


@dataclass(frozen=True)
class Alternate:
    hreflang: str
    href: str


@dataclass(frozen=True)
class CardEntry:
    """One model on an index page."""

    id: str
    href: str
    title: str
    summary: str
    author: str
    tags: tuple[Link, ...]
    tag_ids: str  # space-separated, for a later in-page filter
    verification: str
    tone: str  # none | bad | ok | mixed (see verdicts.summary_tone)
    compare: CompareRow | None = None  # its row of the index's comparison table
    params: ParamsCell | None = None  # that row's parameter count (or why none)


def catalog_problems(catalog: Catalog, templates_dir: Path) -> list[Diagnostic]:
    """Everything the pages will ask of the catalog: every `t("key")` of the templates, every
    computed key (statuses, counts), and, for a cards folder's own catalog, only placeholders the
    tool's catalog has. `build-site check` runs this too, so a broken catalog fails before any
    snippet runs."""
    sources = {p.name: p.read_text(encoding="utf-8") for p in sorted(templates_dir.glob("*.html"))}
    try:
        check_templates(catalog, sources)
        problems: list[Diagnostic] = []
    except UserError as exc:
        problems = list(exc.diagnostics)
    problems += [error(Code.REGISTRY, f"UI string {k!r} missing", catalog.path, 1)
                 for k in catalog_keys() + summary_keys() + reason_keys() + environment_keys() + evidence_keys() + legend_keys()
                 + compare_keys()
                 if k not in catalog.strings]
    reference = templates_dir / CATALOG_FILE
    if reference.is_file() and os.path.realpath(reference) != os.path.realpath(catalog.path):
        problems += check_against(catalog, load_catalog(reference, f"templates/{CATALOG_FILE}"))
    return problems


class Renderer:
    def __init__(self, templates_dir: Path, catalog: Catalog, tags: Mapping[str, Tag],
                 *, base_url: str | None, version: str, render_cache: RenderCache | None = None,
                 entry_cache: EntryCache | None = None) -> None:
        self.catalog = catalog
        self.tags = tags
        self.base_url = base_url
        self.version = version
        problems = catalog_problems(catalog, templates_dir)
        if problems:
            raise UserError(problems)
        self.env, self._tpl = _templates(templates_dir)
        self._parts = cast(_PartsMacros, self._tpl["_parts.html"].module)
        self._entry_macros = cast(_EntryMacros, self._tpl["_entries.html"].module)
        self.entry_cache = entry_cache
        self._entry_code = _entry_code(templates_dir, catalog, version)
        self._entry_memo: dict[str, tuple[str, str]] = {}  # key -> (list item, table row)
        self._card_entries: dict[tuple[str, str], CardEntry] = {}  # (lang, card id) -> its entry
        # The tag names an entry shows (its links and labels)
        self._tags_code = json.dumps({k: dict(v.names) for k, v in sorted(tags.items())}, sort_keys=True,
                                     ensure_ascii=False)
        self.render_cache = render_cache
        self._skeletons: dict[tuple[str, str], Mapping[str, SectionRender]] = {}  # (path, text) -> lang -> skeleton
        self._t = {lang: functools.partial(catalog.get, lang) for lang in LANGS}
        self._highlighted: dict[tuple[str, str], str] = {}

    def _highlight(self, code: str, info: str) -> str:
        """Each block once per build: the model page and the JSON API show the same HTML (and the
        two languages' blocks are often the same code)."""
        key = (code, info)
        html = self._highlighted.get(key)
        if html is None:
            html = self._highlighted[key] = highlight(code, info)
        return html

    # ------------------------------------------------------------ shared page context

    def _context(self, lang: str, url: str, alternates: Mapping[str, str]) -> dict[str, object]:
        t = self._t[lang]
        other = other_langs(lang)[0]  # the switch offers the first other language
        alts: list[Alternate] = []
        if alternates:
            for l in sorted(alternates, key=lambda x: HTML_LANG[x]):
                alts.append(Alternate(HTML_LANG[l], self._href(url, alternates[l])))
            alts.append(Alternate("x-default", self._href(url, alternates.get(DEFAULT_LANG, url))))
        return {
            "lang": lang,
            "html_lang": HTML_LANG[lang],
            "root": urls.root_prefix(url),
            "t": t,
            "alternates": alts,
            "canonical": urls.absolute(self.base_url, url) if self.base_url else "",
            "switch": Link(urls.relative(url, alternates[other]), self.catalog.get(other, "lang_name"))
            if other in alternates else None,
            "switch_lang": HTML_LANG[other],
            "home": urls.relative(url, urls.lang_index(lang)),
            "search_bundle": urls.relative(url, urls.search_bundle(lang)),
            "legend": urls.relative(url, urls.legend_page(lang)),
            "version": self.version,
        }

    def _href(self, from_url: str, to_url: str) -> str:
        # hreflang links are absolute only when the site knows where it lives.
        return urls.absolute(self.base_url, to_url) if self.base_url else urls.relative(from_url, to_url)

    def _tag_links(self, lang: str, from_url: str, tag_ids: Sequence[str]) -> tuple[Link, ...]:
        return tuple(Link(urls.relative(from_url, urls.tag_page(lang, tag)), self.tag_name(lang, tag))
                     for tag in tag_ids)

    def tag_name(self, lang: str, tag: str) -> str:
        reg = self.tags.get(tag)
        return reg.names.get(lang, tag) if reg is not None else tag

    # ------------------------------------------------------------ pages

    def root_page(self) -> bytes:
        """The language chooser at the site root (script picks, links are the fallback)."""
        ctx = self._context(DEFAULT_LANG, urls.ROOT_INDEX, {})
        ctx["choices"] = [Link(urls.lang_index(l), self.catalog.get(l, "lang_name")) for l in LANGS]
        ctx["choice_langs"] = [HTML_LANG[l] for l in LANGS]
        ctx["t_all"] = {l: self._t[l] for l in LANGS}
        return self._tpl["root.html"].render(ctx).encode("utf-8")

    def not_found_page(self) -> bytes:
        """Served for any missing path, so relative links cannot work in general: with a base_url
        the links are absolute; without one they are relative to the site root (right for
        misses at the top level only)."""
        ctx = self._context(DEFAULT_LANG, urls.NOT_FOUND, {})
        ctx["links"] = [Link(urls.lang_index(l), self._t[l]("not_found_back")) for l in LANGS]
        ctx["t_all"] = [(HTML_LANG[l], self._t[l]) for l in LANGS]
        if self.base_url:
            ctx["root"] = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        # Without a base_url the page finds the site root in its own address (the part before a
        # language folder) and sets <base> to it, so a miss at any depth and base path still gets
        # its style and working links.
        ctx["relative_root"] = not self.base_url
        ctx["lang_dirs"] = "|".join(urls.URL_LANG[l] for l in LANGS)
        return self._tpl["404.html"].render(ctx).encode("utf-8")

    def legend_page(self, lang: str) -> bytes:
        """"How verification works": every state a badge can show, with its anchor."""
        url = urls.legend_page(lang)
        ctx = self._context(lang, url, {l: urls.legend_page(l) for l in LANGS})
        ctx["sections"] = legend_sections(self._t[lang])
        return self._tpl["legend.html"].render(ctx).encode("utf-8")

    def card_entry(self, lang: str, card: Card, verification: CardVerification | None) -> CardEntry:
        """A card's entry on the index and tag pages (links relative to the site root: templates
        prefix `root`)."""
        t = self._t[lang]
        s = summarize(card, verification, lang)
        row = compare_row(card, verification, lang, urls.model_page(lang, card.meta.id),
                          lambda tag: self.tag_name(lang, tag), t("list_sep"))
        return CardEntry(
            id=card.meta.id,
            href=urls.model_page(lang, card.meta.id),
            title=card.meta.title,
            summary=card.meta.summary.get(lang, "") or next(iter(card.meta.summary.values()), ""),
            author=card.meta.author,
            tags=tuple(Link(urls.tag_page(lang, tag), self.tag_name(lang, tag)) for tag in card.meta.tags),
            tag_ids=" ".join(card.meta.tags),
            verification=summary_text(t, s),
            tone=summary_tone(s),
            compare=row,
            params=params_cell(t, row, lang),
        )

    def index_page(self, lang: str, cards: Sequence[Card], verification: Mapping[str, CardVerification],
                   card_keys: Mapping[str, str], tag_counts: Sequence[tuple[str, int]], all_count: int,
                   tag: str | None = None) -> bytes:
        """The hub index (tag=None) or one tag's page, of `cards` (already filtered to the tag).
        `card_keys`: card id -> a digest of everything of that card its entry is made from (the
        card's bytes and verification: plan.card_keys)."""
        url = urls.tag_page(lang, tag) if tag else urls.lang_index(lang)
        alternates = {l: (urls.tag_page(l, tag) if tag else urls.lang_index(l)) for l in LANGS}
        ctx = self._context(lang, url, alternates)
        items, rows = self.entry_html(lang, str(ctx["root"]), str(ctx["legend"]), cards, verification, card_keys)
        # Joined here, each entry on its line: a template loop over 2,000 entries a page cost
        # more than rendering the page's own markup.
        ctx["items"], ctx["rows"] = Markup("".join(f"{h}\n" for h in items)), Markup("".join(f"{h}\n" for h in rows))
        ctx["tag"] = Link(url, self.tag_name(lang, tag)) if tag else None
        ctx["all_href"] = urls.relative(url, urls.lang_index(lang))
        ctx["tag_filter"] = [(Link(urls.relative(url, urls.tag_page(lang, tid)), self.tag_name(lang, tid)), n, tid == tag, tid)
                             for tid, n in tag_counts]
        ctx["total"] = len(cards)
        ctx["all_count"] = all_count
        return self._tpl["index.html"].render(ctx).encode("utf-8")

    def entry_html(self, lang: str, root: str, legend: str, cards: Sequence[Card],
                   verification: Mapping[str, CardVerification],
                   card_keys: Mapping[str, str]) -> tuple[list[str], list[str]]:
        """Each card's list item and comparison row, rendered once per build and kept across
        builds (entrycache.py): a one-card edit renders one entry, not the whole page again.
        An entry is looked up by what it is made from (the card's key, the page's language, root
        and legend, the tag names, and `_entry_code`: templates, catalog and the tool's code), so
        a kept one needs neither the card's CardEntry nor its verification summary (building
        those for 1,000 cards was most of a one-card edit's listing pages)."""
        t = self._t[lang]
        items, rows = [], []
        prefix = key_prefix(self._entry_code, self._tags_code, lang, root, legend)
        for card in cards:
            cid = card.meta.id
            made_of = card_keys.get(cid)
            if made_of is None:  # a caller without the build's plan: digested here
                from generator.site.plan import card_key
                made_of = card_key(card, verification.get(cid))
            k = key_after(prefix, made_of)
            got = self._entry_memo.get(k)
            if got is None:
                got = self.entry_cache.get(k) if self.entry_cache is not None else None
                if got is None:
                    e = self._card_entries.get((lang, cid))
                    if e is None:
                        e = self._card_entries[(lang, cid)] = self.card_entry(lang, card, verification.get(cid))
                    got = (str(self._entry_macros.card_item(e, root, t)),
                           str(self._entry_macros.compare_row(e, root, t, legend)))
                    if self.entry_cache is not None:
                        self.entry_cache.put(k, got)
                self._entry_memo[k] = got
            items.append(got[0])
            rows.append(got[1])
        return items, rows

    def model_page(self, card: Card, lang: str, verification: CardVerification | None,
                   published: Collection[str] = ()) -> bytes:
        """`published`: the site's files made by other stages (report.json, model-index JSON);
        the page links only to those that exist."""
        cid = card.meta.id
        url = urls.model_page(lang, cid)
        alternates = {l: urls.model_page(l, cid) for l in LANGS}
        ctx = self._context(lang, url, alternates)
        t = self._t[lang]
        section = card.section(lang)
        other = other_langs(lang)[0]
        claims = [claim_view(t, s, lang) for s in (verification.claims if verification else ())
                  if s.claim.lang == lang]
        summary: Summary = summarize(card, verification, lang)
        other_summary: Summary = summarize(card, verification, other)
        table_claims, shared = share_reasons(claims)
        ctx.update({
            "card": card.meta,
            "summary": card.meta.summary.get(lang) or card.meta.summary.get(other, ""),
            "tags": self._tag_links(lang, url, card.meta.tags),
            "update_time": card.update_time,
            "update_date": card.update_time[:10],
            "verification_line": summary_text(t, summary),
            "verified": summary.verified,
            "tone": summary_tone(summary),
            "prelude": self._prelude_html(card, lang, verification),
            "body": Markup(self._section_html(card, lang, verification, claims)) if section else None,
            "other_page": urls.relative(url, urls.model_page(other, cid)),
            "other_has_section": card.section(other) is not None,
            "other_failures": summary_tone(other_summary) == "bad" and card.section(other) is not None,
            "claims": table_claims,
            "shared_reasons": shared,
            "programs": self._programs(lang, verification),
            "api_href": urls.relative(url, urls.api_model(cid)),
            "report_href": urls.report_problem(card.meta.github_link, f"[{cid}] "),
            "evidence": evidence_view(t, verification, lang),
            "reproduce": reproduce_view(t, card, verification, lang, url, published),
        })
        return self._tpl["model.html"].render(ctx).encode("utf-8")

    # ------------------------------------------------------------ model page parts

    def _programs(self, lang: str, verification: CardVerification | None) -> list[tuple[str, Markup, str]]:
        if verification is None:
            return []
        p = verification.program_for(lang)
        if p is None:
            return []
        return [(utc_time(self._t[lang], p.ran_at), environment_html(self._t[lang], p.environment), p.cache_key[:12])]

    def _code_block(self, t: Callable[..., str], snip: Snippet | None, code: str, info: str, block_id: str,
                    verification: CardVerification | None, lang: str, legend: str) -> str:
        # On the page the block scrolls sideways, so keyboard users must be able to focus it.
        code_html = Markup(self._highlight(code, info).replace("<pre ", '<pre tabindex="0" ', 1))
        if snip is None or not snip.is_python:
            return str(self._parts.plain_code(code_html))
        result, program = find_block(verification, lang, snip.lang, snip.index)
        view: BlockView = block_view(t, block_id, result, program, snip.code_line,
                                     code.count("\n") + 1, lang=lang)
        notes = block_notes(t, snip, result.served if result else (), verification)
        # A block that was served the stand-in itself gets the specific note (which file, its
        # sha256) instead of the flag's general one; later blocks keep the general one.
        general = t(FLAG_NOTES["substitute-asset"])
        kept = tuple(n for n in view.notes if n != general) if any(n.kind == "substitute" for n in notes) else view.notes
        view = dataclasses.replace(view, notes=kept, asset_notes=notes)
        return str(self._parts.code_block(view, code_html, t, legend))

    def _prelude_html(self, card: Card, lang: str, verification: CardVerification | None) -> Markup | None:
        p = card.prelude
        if p is None:
            return None
        return Markup(self._code_block(self._t[lang], p, p.code, p.info, "code-prelude", verification, lang,
                                       _legend_from_model(lang)))

    def _section_html(self, card: Card, lang: str, verification: CardVerification | None,
                      claims: Sequence[ClaimView]) -> str:
        section = card.sections[lang]
        t = self._t[lang]
        by_line = {s.loc.line: s for s in section.snippets}
        by_cell = {(c.line, column_key(c.column)): c for c in claims}
        sk = self._skeleton(card, lang)
        legend = _legend_from_model(lang)

        def fill(m: re.Match[str]) -> str:
            kind, i = m.group(1), int(m.group(2))
            if kind == "F":
                line, info, code = sk.fences[i]
                return self._code_block(t, by_line.get(line), code, info, f"code-L{line}", verification, lang,
                                        legend) + "\n"
            line, _col, header = sk.cells[i]
            view = by_cell.get((line, column_key(header)))
            return str(self._parts.claim_badge(view, t, legend)) if view is not None else ""

        # Wide tables scroll inside their box on small screens: keyboard users must reach it.
        return _SLOT.sub(fill, sk.html).replace('<div class="table-wrap">', '<div class="table-wrap" tabindex="0">')

    def section_html_plain(self, card: Card, lang: str) -> str:
        """The section as plain HTML (no badges), as the hub's JSON API serves it."""
        sk = self._skeleton(card, lang)

        def fill(m: re.Match[str]) -> str:
            if m.group(1) == "F":
                _line, info, code = sk.fences[int(m.group(2))]
                return self._highlight(code, info) + "\n"
            return ""

        return _SLOT.sub(fill, sk.html)

    def _skeleton(self, card: Card, lang: str) -> SectionRender:
        """The section rendered once per build (the model page and the API fill its slots)."""
        key = (card.path, card.source)
        sections = self._skeletons.get(key)
        if sections is None:
            sections = self._skeletons[key] = self._card_render(card)
        return sections[lang]

    def _card_render(self, card: Card) -> Mapping[str, SectionRender]:
        """Every section's skeleton, from the render cache when the card's text is known there
        (its code blocks' highlighted HTML with it), else parsed, rendered and stored."""
        cached = self.render_cache.get(card) if self.render_cache is not None else None
        if cached is not None:
            for block, html in cached.highlighted.items():
                self._highlighted.setdefault(block, html)
            return cached.sections
        full = with_tokens(card)
        sections = {lang: _skeleton(markdown.section_tokens(sec.tokens, dict(full.markdown_env)))
                    for lang, sec in full.sections.items()}
        if self.render_cache is not None:
            blocks = [(code, info) for sk in sections.values() for _line, info, code in sk.fences]
            if card.prelude is not None:
                blocks.append((card.prelude.code, card.prelude.info))
            self.render_cache.put(card, CardRender(sections, {b: self._highlight(*b) for b in blocks}))
        return sections


# Compiled templates by folder and the text of every template in it: `serve` builds many times in
# one process and compiling them costs 0.1 s a build; any edit of a template is another key.
_COMPILED: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[Environment, dict[str, Template]]] = {}
_PAGES = ("root.html", "index.html", "model.html", "404.html", "_parts.html", "legend.html", "_entries.html")


def _templates(templates_dir: Path) -> tuple[Environment, dict[str, Template]]:
    sources = tuple((p.name, p.read_text(encoding="utf-8")) for p in sorted(templates_dir.glob("*.html")))
    key = (str(templates_dir.resolve()), sources)
    found = _COMPILED.get(key)
    if found is not None:
        return found
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    try:
        compiled = {name: env.get_template(name) for name in _PAGES}
    except TemplateError as exc:
        raise UserError([error(Code.REGISTRY, f"template error: {exc}",
                               f"templates/{getattr(exc, 'name', '') or '?'}",
                               getattr(exc, "lineno", 1) or 1)])
    # Every state's symbol (legend.py), and where a badge of a state links on the legend page.
    env.globals["icons"] = {"block": BLOCK_ICONS, "number": NUMBER_ICONS, "check": CHECK_ICONS}
    env.globals["check_anchor"] = check_state_anchor
    env.globals["size_text"] = readable_size
    if len(_COMPILED) >= 4:
        _COMPILED.clear()
    _COMPILED[key] = (env, compiled)
    return env, compiled


def _entry_code(templates_dir: Path, catalog: Catalog, version: str) -> str:
    """What an index entry's HTML depends on besides the card, its verification and the tag
    names: the templates that make it, the catalog, the Jinja environment, and the whole tool's
    code with the libraries that parse a card (an entry is found by the card's bytes, not by
    the Card the parser makes of them, so a change to the parser must miss too)."""
    import jinja2
    import markdown_it
    import mdit_py_plugins
    import yaml

    strings = json.dumps({k: dict(v) for k, v in catalog.strings.items()}, sort_keys=True, ensure_ascii=False)
    return code_digest(f"verified-hub {version}", f"jinja2 {jinja2.__version__}",
                       f"markdown-it-py {markdown_it.__version__}", f"mdit-py-plugins {mdit_py_plugins.__version__}",
                       f"pyyaml {yaml.__version__}", strings,
                       templates_dir / "_entries.html", templates_dir / "_parts.html", Path(jinja2.__file__).parent,
                       *package_folders())


def package_folders() -> list[Path]:
    """Every folder of this package that holds its code."""
    package = Path(__file__).resolve().parents[1]
    return [package, *sorted(p for p in package.rglob("*") if p.is_dir() and p.name != "__pycache__"
                             and any(p.glob("*.py")))]


def _legend_from_model(lang: str) -> str:
    """The legend page as linked from a model page (every model page sits at the same depth)."""
    return urls.relative(urls.model_page(lang, "x"), urls.legend_page(lang))


# markdown-it turns NUL into U+FFFD, so NUL-delimited slots cannot clash with card text.
_SLOT = re.compile("\x00([FC])(\\d+)\x00")


def _skeleton(tokens: list[Token]) -> SectionRender:
    """A section rendered once, with numbered slots where code blocks and cell badges go; the
    model page and the API fill the slots differently, so the Markdown is parsed and rendered
    once per section and build (and kept in the render cache across builds)."""
    fences: list[tuple[int, str, str]] = []
    cells: list[tuple[int, int, str]] = []

    # Token lines are 0-based lines of the card; cards are numbered from 1.
    def fence(line: int, info: str, code: str) -> str:
        fences.append((line + 1, info, code))
        return f"\x00F{len(fences) - 1}\x00"

    def cell(line: int, col: int, header: str) -> str:
        cells.append((line + 1, col, header))
        return f"\x00C{len(cells) - 1}\x00"

    html = markdown.render_tokens(tokens, fence_hook=fence, cell_hook=cell)
    return SectionRender(html, tuple(fences), tuple(cells))

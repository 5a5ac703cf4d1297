"""Which files the site has, what each depends on, and the two entry points build.py calls.

Pages (all URLs are site-relative file paths, see urls.py):
  index.html                         language chooser (inline script + plain links)
  404.html                           bilingual "not found"
  sitemap.xml                        every en/zh page with its xhtml:link alternates
  {en,zh}/index.html                 hub index
  {en,zh}/tags/<tag>/index.html      one per tag used by at least one card
  {en,zh}/models/<id>/index.html     model page (always both languages; a missing section
                                     shows a "not translated yet" notice)
  api/v1/models.json, api/v1/models/<id>.json
  static/style.css, static/favicon.svg (copied), static/pygments.css (generated)

`render_site` renders everything (tests, one-off builds); `build_site` renders only pages whose
inputs changed since the site in `out_dir` was built (see incremental.py).

URLs and base_url: every link between pages is relative and names index.html, so the site works
under any base path and from file://. hreflang/canonical links are absolute only when
`SiteOptions.base_url` is set (else relative, which browsers resolve against the page).
sitemap.xml must be absolute: it uses base_url, or https://example.invalid/ until one is
configured (`build-site --base-url https://...`). 404.html is served for missing paths at any
depth, so its links are absolute with base_url and relative to the site root without one.

Writing: every build that changes anything is assembled next to `out_dir`, reusing unchanged
files as hard links, and swapped in (write.py); a build that changes nothing writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import platform
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Mapping, Sequence
from xml.sax.saxutils import escape as xml_escape

from jinja2 import TemplateError

from generator import __version__

from generator.site import api

from generator.site import state as incremental

from generator.site import urls
from generator.core.errors import Code, UserError, error
from generator.site.i18n import load_catalog
from generator.site.state import BuildState, Decision, digest
from generator.site.highlight import pygments_css
from generator.core.model import HTML_LANG, LANGS, Card, CardVerification, Page, Tag
from generator.site.render import DEFAULT_LANG, CardEntry, Renderer
from generator.core.jsonio import atomic_write
from generator.site.write import FolderWriter, Stage

PROJECT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATES = PROJECT / "templates"
DEFAULT_CATALOG = PROJECT / "cards" / "i18n.yaml"
# sitemap.xml must hold absolute URLs; without --base-url this placeholder makes the need to
# configure one obvious (the .invalid TLD can never resolve) while keeping builds deterministic.
SITEMAP_FALLBACK_BASE = "https://example.invalid/"

Log = Callable[[str], None]


@dataclass(frozen=True)
class SiteOptions:
    """base_url: where the site is served ("https://hub.example.org/"). When set, hreflang and
    canonical links are absolute; when empty they are relative (valid HTML, and the site still
    works from any folder or file://), and sitemap.xml falls back to SITEMAP_FALLBACK_BASE."""

    base_url: str = ""
    templates_dir: Path = DEFAULT_TEMPLATES
    catalog_path: Path = DEFAULT_CATALOG
    catalog_display: str = "cards/i18n.yaml"  # how diagnostics name the catalog
    tool_version: str = __version__

    @classmethod
    def for_project(cls, cards_dir: Path, templates_dir: Path | None = None, base_url: str = "") -> "SiteOptions":
        """The catalog is `<cards>/i18n.yaml` when the cards folder has one, else the project's."""
        own = cards_dir / "i18n.yaml"
        catalog = own if own.is_file() else DEFAULT_CATALOG
        shown = os.path.relpath(catalog) if catalog.is_absolute() else str(catalog)
        return cls(base_url=base_url, templates_dir=templates_dir or DEFAULT_TEMPLATES,
                   catalog_path=catalog, catalog_display=shown)

    @property
    def sitemap_base(self) -> str:
        base = self.base_url or SITEMAP_FALLBACK_BASE
        return base if base.endswith("/") else base + "/"


def tool_version(options: SiteOptions) -> str:
    """Everything in the tool that changes output bytes."""
    import jinja2
    import markdown_it
    import pygments

    return (f"verified-hub {options.tool_version}; jinja2 {jinja2.__version__}; "
            f"markdown-it-py {markdown_it.__version__}; pygments {pygments.__version__}; "
            f"python {platform.python_version()}")


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class PageJob:
    url: str
    kind: str  # root | 404 | sitemap | static | css | index | tag | model | api-index | api-model
    deps: Mapping[str, str]  # reason label -> hash (see incremental.py)
    lang: str = ""
    card_id: str = ""
    tag: str = ""


def card_hash(card: Card) -> str:
    return digest(card.path, card.source, card.update_time)


def verification_hash(v: CardVerification | None) -> str:
    if v is None:
        return "none"
    return digest(json.dumps(dataclasses.asdict(v), sort_keys=True, default=str, ensure_ascii=False))


def _sorted_cards(cards: Sequence[Card]) -> list[Card]:
    return sorted(cards, key=lambda c: (c.meta.title.casefold(), c.meta.id))


def _tag_counts(cards: Sequence[Card]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for c in cards:
        for t in c.meta.tags:
            counts[t] = counts.get(t, 0) + 1
    return sorted(counts.items())


def plan_site(cards: Sequence[Card], verification: Mapping[str, CardVerification],
              static_files: Sequence[str], extra: Mapping[str, bytes] | None = None) -> list[PageJob]:
    """Every file of the site with its own dependencies (global ones are added by the caller).
    `extra`: files made by other stages (report.json, model-index JSON), written with the pages."""
    per_card: dict[str, dict[str, str]] = {}
    for c in sorted(cards, key=lambda c: c.meta.id):
        per_card[c.meta.id] = {
            f"card changed: {c.path}": card_hash(c),
            f"verification changed: {c.meta.id}": verification_hash(verification.get(c.meta.id)),
        }
    # Index-like pages show every card's metadata and verification summary.
    listing = {"card list changed": digest(*(f"{cid}:{d}" for cid, deps in per_card.items()
                                            for d in sorted(deps.values())))}
    jobs = [
        PageJob(urls.ROOT_INDEX, "root", {}),
        PageJob(urls.NOT_FOUND, "404", {}),
        PageJob(urls.SITEMAP, "sitemap", listing),
        PageJob(urls.static("pygments.css"), "css", {}),
        PageJob(urls.API_INDEX, "api-index", listing),
    ]
    jobs += [PageJob(urls.static(name), "static", {}) for name in sorted(static_files)]
    tags_used = [t for t, _ in _tag_counts(cards)]
    for lang in LANGS:
        jobs.append(PageJob(urls.lang_index(lang), "index", listing, lang=lang))
        jobs += [PageJob(urls.tag_page(lang, t), "tag", listing, lang=lang, tag=t) for t in tags_used]
        jobs += [PageJob(urls.model_page(lang, cid), "model", deps, lang=lang, card_id=cid)
                 for cid, deps in per_card.items()]
    jobs += [PageJob(urls.api_model(cid), "api-model", deps, card_id=cid) for cid, deps in per_card.items()]
    jobs += [PageJob(url, "extra", {"content changed": digest(data.decode("utf-8", "replace"))})
             for url, data in sorted((extra or {}).items())]
    return jobs


def global_hashes(options: SiteOptions, tags: Mapping[str, Tag]) -> dict[str, str]:
    return {
        "templates": incremental.hash_tree(options.templates_dir),
        "catalog": digest(options.catalog_path.read_bytes()),
        "tags": digest(json.dumps({k: dict(v.names) for k, v in sorted(tags.items())},
                                  sort_keys=True, ensure_ascii=False)),
        "tool": digest(tool_version(options)),
        "options": digest(options.base_url, options.catalog_display),
    }


# ---------------------------------------------------------------- rendering


class SiteRenderer:
    """Renders PageJobs; holds the compiled templates and per-build lookups."""

    def __init__(self, cards: Sequence[Card], tags: Mapping[str, Tag],
                 verification: Mapping[str, CardVerification], options: SiteOptions,
                 extra: Mapping[str, bytes] | None = None) -> None:
        catalog = load_catalog(options.catalog_path, options.catalog_display)
        self.extra = dict(extra or {})
        self.options = options
        self.renderer = Renderer(options.templates_dir, catalog, tags,
                                 base_url=options.base_url or None, version=options.tool_version)
        self.cards = {c.meta.id: c for c in cards}
        self.sorted = _sorted_cards(cards)
        self.tags = tags
        self.verification = verification
        self.tag_counts = _tag_counts(cards)
        self._entry_cache: dict[str, list[CardEntry]] = {}

    def _entries(self, lang: str) -> list[CardEntry]:
        if lang not in self._entry_cache:
            self._entry_cache[lang] = self.renderer.index_entries(lang, self.sorted, self.verification)
        return self._entry_cache[lang]

    def render(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        try:
            return self._render(job, all_jobs)
        except TemplateError as exc:
            shown, line = _template_location(exc)
            raise UserError([error(Code.REGISTRY, f"template error while rendering {job.url}: {exc}",
                                   shown, line)]) from exc

    def _render(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        r = self.renderer
        k = job.kind
        if k == "model":
            cid = job.card_id
            return r.model_page(self.cards[cid], job.lang, self.verification.get(cid))
        if k == "api-model":
            return api.model_detail(self.cards[job.card_id], r.section_html_plain)
        if k == "index":
            return r.index_page(job.lang, self._entries(job.lang), self.tag_counts, len(self.sorted))
        if k == "tag":
            subset = [e for e, c in zip(self._entries(job.lang), self.sorted) if job.tag in c.meta.tags]
            return r.index_page(job.lang, subset, self.tag_counts, len(self.sorted), tag=job.tag)
        if k == "root":
            return r.root_page()
        if k == "404":
            return r.not_found_page()
        if k == "css":
            return pygments_css().encode("utf-8")
        if k == "static":
            return (self.options.templates_dir / job.url).read_bytes()
        if k == "api-index":
            return api.models_index(list(self.cards.values()), self.tags)
        if k == "sitemap":
            return sitemap(all_jobs, self.cards, self.options.sitemap_base)
        if k == "extra":
            return self.extra[job.url]
        raise ValueError(f"unknown page kind {k!r}")


def _template_location(exc: TemplateError) -> tuple[str, int]:
    """Where in the templates an error happened: Jinja puts template frames into the traceback."""
    name, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if not name:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".html")]
        if frames:
            name, line = frames[-1].filename, frames[-1].lineno
    return (f"templates/{Path(name).name}" if name else "templates"), (line or 1)


def _alternates(job: PageJob) -> dict[str, str]:
    if job.kind == "model":
        return {l: urls.model_page(l, job.card_id) for l in LANGS}
    if job.kind == "tag":
        return {l: urls.tag_page(l, job.tag) for l in LANGS}
    if job.kind == "index":
        return {l: urls.lang_index(l) for l in LANGS}
    return {}


def sitemap(jobs: Sequence[PageJob], cards: Mapping[str, Card], base: str) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:xhtml="http://www.w3.org/1999/xhtml">']
    for job in sorted((j for j in jobs if j.kind in ("index", "tag", "model")), key=lambda j: j.url):
        alts = _alternates(job)
        lines.append("  <url>")
        lines.append(f"    <loc>{xml_escape(urls.absolute(base, job.url))}</loc>")
        if job.kind == "model" and cards[job.card_id].update_time:
            lines.append(f"    <lastmod>{xml_escape(cards[job.card_id].update_time)}</lastmod>")
        for lang in sorted(alts, key=lambda l: HTML_LANG[l]):
            lines.append(f'    <xhtml:link rel="alternate" hreflang="{HTML_LANG[lang]}" '
                         f'href="{xml_escape(urls.absolute(base, alts[lang]))}"/>')
        lines.append(f'    <xhtml:link rel="alternate" hreflang="x-default" '
                     f'href="{xml_escape(urls.absolute(base, alts[DEFAULT_LANG]))}"/>')
        lines.append("  </url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _static_files(options: SiteOptions) -> list[str]:
    root = options.templates_dir / "static"
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def site_input_files(options: SiteOptions) -> list[Path]:
    """The files this stage reads besides the cards (catalog, templates, static files): add
    them to the card files when calling `incremental.inputs_unchanged`."""
    return [options.catalog_path] + sorted(p for p in options.templates_dir.rglob("*")
                                           if p.is_file() and "__pycache__" not in p.parts)


def site_is_current(out_dir: Path, card_files: Sequence[Path], options: SiteOptions, fingerprint: str) -> bool:
    """The stat fast path: True when `out_dir` was built from exactly these card/registry files
    (same mtimes and sizes), the same templates and catalog, and the same fingerprint, so the
    whole build can stop before reading a card. `card_files`: every file the cards stage reads
    (cards, tags.yaml, any other registry); pass the same list's stats to `build_site`."""
    return incremental.inputs_unchanged(out_dir, list(card_files) + site_input_files(options), fingerprint)


def render_site(cards: Sequence[Card], tags: Mapping[str, Tag],
                verification: Mapping[str, CardVerification], options: SiteOptions) -> list[Page]:
    """Every file of the site, rendered in memory (sorted by URL)."""
    jobs = plan_site(cards, verification, _static_files(options))
    sr = SiteRenderer(cards, tags, verification, options)
    pages = [Page(j.url, sr.render(j, jobs), j.lang or None, _alternates(j)) for j in _render_order(jobs)]
    return sorted(pages, key=lambda p: p.url)


def _render_order(jobs: Sequence[PageJob]) -> list[PageJob]:
    # A card's pages one after the other, so its parsed sections are still cached.
    return sorted(jobs, key=lambda j: (j.card_id, j.url))


# ---------------------------------------------------------------- incremental build


@dataclass(frozen=True)
class BuildReport:
    rendered: int  # files rendered this time
    reused: int  # files carried over from the previous site
    removed: int  # files of the previous site that no longer exist
    wrote: bool  # False: the site on disk was already right, nothing was swapped
    seconds: float


def build_site(cards: Sequence[Card], tags: Mapping[str, Tag],
               verification: Mapping[str, CardVerification], options: SiteOptions, out_dir: Path,
               *, log: Log | None = None, input_stats: Mapping[str, tuple[int, int]] | None = None,
               fingerprint: str = "", workers: int = 0,
               extra: Mapping[str, bytes] | None = None,
               before_swap: BeforeSwap | None = None) -> BuildReport:
    """Bring `out_dir` up to date: render only pages whose inputs changed (with `log`, say why
    for each), hard-link the rest from the current site, swap the result in atomically.

    `input_stats` (from `incremental.stat_inputs`, taken before the cards were read) and
    `fingerprint` are stored so that the next build can call `incremental.inputs_unchanged`
    and skip reading the cards entirely. The templates and catalog are added here.
    `workers`: processes for rendering (0: one per core; used for big builds only).
    `before_swap(stage, changed_urls)` runs on the finished new folder just before it replaces
    the old one (the search index is built there, so pages and index change together)."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    stats = dict(input_stats or {})
    stats.update(incremental.stat_inputs(site_input_files(options)))

    globals_ = global_hashes(options, tags)
    jobs = plan_site(cards, verification, _static_files(options), extra)
    page_deps = {j.url: j.deps for j in jobs}
    state = incremental.load_state(out_dir)
    _refuse_foreign_folder(out_dir)
    decisions: list[Decision] = incremental.decide(page_deps, globals_, state, out_dir)
    todo = {d.url for d in decisions if d.reasons}
    removed = sorted(set(state.pages) - set(page_deps)) if state else []
    new_state = BuildState(globals_, page_deps, stats, fingerprint)

    if log is not None:
        for d in decisions:
            if d.reasons:
                log(f"rebuild {d.url}: {'; '.join(d.reasons)}")
        for url in removed:
            log(f"remove {url}: no longer produced")

    if not todo and not removed and state is not None:
        # Nothing to render; only refresh the recorded mtimes if they moved (e.g. `touch`).
        if state.inputs != stats or state.fingerprint != fingerprint:
            atomic_write(out_dir / incremental.STATE_FILE, new_state.to_bytes())
        return BuildReport(0, len(jobs), 0, False, time.perf_counter() - start)

    sr = SiteRenderer(cards, tags, verification, options, extra)
    order = [j for j in _render_order(jobs) if j.url in todo]
    _build_staged(sr, jobs, order, todo, new_state, out_dir, workers, before_swap)
    return BuildReport(len(todo), len(jobs) - len(todo), len(removed), True, time.perf_counter() - start)


# Every build that changes anything assembles a complete new folder and swaps it in: unchanged
# files are hard links to the current site (about 0.25 s for a 1,000-card site here), so even a
# one-page change never leaves a reader with a half-updated site.
BeforeSwap = Callable[[Path, frozenset[str]], None]


def _build_staged(sr: SiteRenderer, jobs: Sequence[PageJob], order: Sequence[PageJob], todo: set[str],
                  new_state: BuildState, out_dir: Path, max_workers: int,
                  before_swap: BeforeSwap | None = None) -> None:
    workers = min(max_workers or os.cpu_count() or 1, max(1, len(order) // PAGES_PER_WORKER))
    with Stage(out_dir) as stage:
        for j in jobs:
            if j.url not in todo:
                stage.reuse(j.url)
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            _render_parallel(sr, jobs, order, stage.path, workers)
        else:
            for j in order:
                stage.write(j.url, sr.render(j, jobs))
        stage.write(incremental.STATE_FILE, new_state.to_bytes())
        if before_swap is not None:
            before_swap(stage.path, frozenset(todo))


def _refuse_foreign_folder(out_dir: Path) -> None:
    """A build replaces the whole output folder; never do that to a folder this tool did not make."""
    if out_dir.is_dir() and not (out_dir / incremental.STATE_FILE).exists() and any(out_dir.iterdir()):
        raise UserError([error(Code.REGISTRY, f"refusing to replace {out_dir}: it is not empty and was not "
                               f"built by build-site (no {incremental.STATE_FILE}); remove it or choose "
                               "another output folder", str(out_dir), 1)])


# Below this many pages per extra process, forking costs more than it saves.
PAGES_PER_WORKER = 150

# What forked workers inherit: set just before the pool starts, never pickled.
_FORK_STATE: tuple[SiteRenderer, Sequence[PageJob], Sequence[PageJob], Path] | None = None


def _render_chunk(chunk: range) -> int:
    assert _FORK_STATE is not None
    sr, all_jobs, order, folder = _FORK_STATE
    writer = FolderWriter(folder)
    for i in chunk:
        writer.write(order[i].url, sr.render(order[i], all_jobs))
    return len(chunk)


def _render_parallel(sr: SiteRenderer, all_jobs: Sequence[PageJob], order: Sequence[PageJob],
                     folder: Path, workers: int) -> None:
    """Render `order` in forked processes that write straight into `folder` (no page bytes
    cross process boundaries). Chunks keep a card's pages together for the section cache."""
    global _FORK_STATE
    _FORK_STATE = (sr, all_jobs, order, folder)
    size = max(1, len(order) // (workers * 8))
    chunks = [range(i, min(i + size, len(order))) for i in range(0, len(order), size)]
    try:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for _ in pool.map(_render_chunk, chunks):
                pass
    finally:
        _FORK_STATE = None

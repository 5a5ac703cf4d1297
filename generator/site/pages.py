"""Rendering one PageJob to bytes: a table from PageKind to the method that makes that kind."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Callable, Mapping, Sequence

from jinja2 import TemplateError

from generator.core.errors import Code, UserError, error
from generator.core.model import Card, CardVerification, Tag
from generator.site import api
from generator.site.highlight import pygments_css
from generator.site.i18n import load_catalog
from generator.site.options import SiteOptions
from generator.site.plan import PageJob, PageKind, card_keys, sorted_cards, tag_counts
from generator.site.render import Renderer
from generator.site.entrycache import EntryCache
from generator.site.rendercache import RenderCache
from generator.site.sitemap import sitemap


class SiteRenderer:
    """Renders PageJobs; holds the compiled templates and per-build lookups."""

    def __init__(self, cards: Sequence[Card], tags: Mapping[str, Tag],
                 verification: Mapping[str, CardVerification], options: SiteOptions,
                 extra: Mapping[str, bytes] | None = None, render_cache: RenderCache | None = None,
                 entry_cache: EntryCache | None = None) -> None:
        catalog = load_catalog(options.catalog_path, options.catalog_display)
        self.extra = dict(extra or {})
        self.options = options
        self.renderer = Renderer(options.templates_dir, catalog, tags,
                                 base_url=options.base_url or None, version=options.tool_version,
                                 render_cache=render_cache, entry_cache=entry_cache)
        self.cards = {c.meta.id: c for c in cards}
        self.sorted = sorted_cards(cards)
        self.tags = tags
        self.verification = verification
        self.tag_counts = tag_counts(cards)
        self._card_keys: dict[str, str] | None = None  # plan.card_keys, of the first listing page's plan
        self._by_kind: Mapping[PageKind, Callable[[PageJob, Sequence[PageJob]], bytes]] = {
            PageKind.MODEL: self._model, PageKind.API_MODEL: self._api_model, PageKind.INDEX: self._index,
            PageKind.TAG: self._tag, PageKind.ROOT: self._root, PageKind.NOT_FOUND: self._not_found,
            PageKind.CSS: self._css, PageKind.STATIC: self._static, PageKind.API_INDEX: self._api_index,
            PageKind.SITEMAP: self._sitemap, PageKind.EXTRA: self._extra, PageKind.LEGEND: self._legend,
        }

    def _keys(self, all_jobs: Sequence[PageJob]) -> dict[str, str]:
        if self._card_keys is None:
            self._card_keys = card_keys(all_jobs)
        return self._card_keys

    def save_caches(self) -> None:
        """Keep the index entries this build rendered for the next one (in the build's own
        process: index and tag pages are never rendered in forked workers), and drop the
        render cache's records of cards that are gone or were edited, once they are most of it."""
        if self.renderer.entry_cache is not None:
            self.renderer.entry_cache.save()
        if self.renderer.render_cache is not None:
            self.renderer.render_cache.evict(self.cards.values())

    def render(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        try:
            return self._render(job, all_jobs)
        except TemplateError as exc:
            shown, line = _template_location(exc)
            raise UserError([error(Code.REGISTRY, f"template error while rendering {job.url}: {exc}",
                                   shown, line)]) from exc

    def _render(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return self._by_kind[job.kind](job, all_jobs)

    # ------------------------------------------------------------ one method per PageKind

    def _model(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return self.renderer.model_page(self.cards[job.card_id], job.lang, self.verification.get(job.card_id),
                                        published=self.extra.keys())

    def _api_model(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return api.model_detail(self.cards[job.card_id], self.renderer.section_html_plain)

    def _index(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return self.renderer.index_page(job.lang, self.sorted, self.verification, self._keys(all_jobs),
                                        self.tag_counts, len(self.sorted))

    def _tag(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        subset = [c for c in self.sorted if job.tag in c.meta.tags]
        return self.renderer.index_page(job.lang, subset, self.verification, self._keys(all_jobs),
                                        self.tag_counts, len(self.sorted), tag=job.tag)

    def _legend(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return self.renderer.legend_page(job.lang)

    def _root(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return self.renderer.root_page()

    def _not_found(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return self.renderer.not_found_page()

    def _css(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return pygments_css().encode("utf-8")

    def _static(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return (self.options.templates_dir / job.url).read_bytes()

    def _api_index(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return api.models_index(list(self.cards.values()), self.tags)

    def _sitemap(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return sitemap(all_jobs, self.cards, self.options.sitemap_base)

    def _extra(self, job: PageJob, all_jobs: Sequence[PageJob]) -> bytes:
        return self.extra[job.url]


def _template_location(exc: TemplateError) -> tuple[str, int]:
    """Where in the templates an error happened: Jinja puts template frames into the traceback."""
    name, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if not name:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".html")]
        if frames:
            name, line = frames[-1].filename, frames[-1].lineno
    return (f"templates/{Path(name).name}" if name else "templates"), (line or 1)

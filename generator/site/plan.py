"""Which files the site has and what each depends on (see state.py for how that decides what is
rendered again). Every page kind is a PageKind; pages.py maps each kind to its renderer.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from generator.core.model import LANGS, Card, CardVerification, Tag
from generator.site import state as incremental
from generator.site import urls
from generator.site.options import SiteOptions, tool_version
from generator.site.state import digest


class PageKind(str, enum.Enum):
    ROOT = "root"  # the language chooser
    NOT_FOUND = "404"
    SITEMAP = "sitemap"
    STATIC = "static"  # copied from templates/static
    CSS = "css"  # generated (Pygments)
    INDEX = "index"  # a language's hub index
    TAG = "tag"
    MODEL = "model"
    LEGEND = "legend"  # "How verification works", one per language
    API_INDEX = "api-index"
    API_MODEL = "api-model"
    EXTRA = "extra"  # made by other stages (report.json, model-index files)


@dataclass(frozen=True)
class PageJob:
    url: str
    kind: PageKind
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


def card_key(card: Card, verification: CardVerification | None) -> str:
    """A digest of what a card's pages are made from (its own dependencies' values)."""
    return _card_key(_card_deps(card, verification))


def _card_deps(card: Card, verification: CardVerification | None) -> dict[str, str]:
    return {f"card changed: {card.path}": card_hash(card),
            f"verification changed: {card.meta.id}": verification_hash(verification)}


def _card_key(deps: Mapping[str, str]) -> str:
    return digest(*sorted(deps.values()))


def card_keys(jobs: Sequence[PageJob]) -> dict[str, str]:
    """card_key of every card, from the plan (its API page has the card's dependencies)."""
    return {j.card_id: _card_key(j.deps) for j in jobs if j.kind == PageKind.API_MODEL}


def sorted_cards(cards: Sequence[Card]) -> list[Card]:
    return sorted(cards, key=lambda c: (c.meta.title.casefold(), c.meta.id))


def tag_counts(cards: Sequence[Card]) -> list[tuple[str, int]]:
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
        per_card[c.meta.id] = _card_deps(c, verification.get(c.meta.id))
    # Index-like pages show every card's metadata and verification summary.
    listing = {"card list changed": digest(*(f"{cid}:{d}" for cid, deps in per_card.items()
                                            for d in sorted(deps.values())))}
    jobs = [
        PageJob(urls.ROOT_INDEX, PageKind.ROOT, {}),
        PageJob(urls.NOT_FOUND, PageKind.NOT_FOUND, {}),
        PageJob(urls.SITEMAP, PageKind.SITEMAP, listing),
        PageJob(urls.static("pygments.css"), PageKind.CSS, {}),
        PageJob(urls.API_INDEX, PageKind.API_INDEX, listing),
    ]
    jobs += [PageJob(urls.static(name), PageKind.STATIC, {}) for name in sorted(static_files)]
    tags_used = [t for t, _ in tag_counts(cards)]
    for lang in LANGS:
        jobs.append(PageJob(urls.lang_index(lang), PageKind.INDEX, listing, lang=lang))
        jobs.append(PageJob(urls.legend_page(lang), PageKind.LEGEND, {}, lang=lang))
        jobs += [PageJob(urls.tag_page(lang, t), PageKind.TAG, listing, lang=lang, tag=t) for t in tags_used]
        jobs += [PageJob(urls.model_page(lang, cid), PageKind.MODEL, deps, lang=lang, card_id=cid)
                 for cid, deps in per_card.items()]
    jobs += [PageJob(urls.api_model(cid), PageKind.API_MODEL, deps, card_id=cid) for cid, deps in per_card.items()]
    jobs += [PageJob(url, PageKind.EXTRA, {"content changed": digest(data.decode("utf-8", "replace"))})
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


def alternates(job: PageJob) -> dict[str, str]:
    if job.kind == PageKind.MODEL:
        return {l: urls.model_page(l, job.card_id) for l in LANGS}
    if job.kind == PageKind.TAG:
        return {l: urls.tag_page(l, job.tag) for l in LANGS}
    if job.kind == PageKind.INDEX:
        return {l: urls.lang_index(l) for l in LANGS}
    if job.kind == PageKind.LEGEND:
        return {l: urls.legend_page(l) for l in LANGS}
    return {}


def static_files(options: SiteOptions) -> list[str]:
    root = options.templates_dir / "static"
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

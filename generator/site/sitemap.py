"""sitemap.xml: every language page with its hreflang alternates (absolute URLs).

The sitemap protocol allows absolute URLs only. Without --base-url the build cannot know the
host, so the file uses the placeholder SITEMAP_FALLBACK_BASE (the .invalid TLD never resolves),
says so in a comment at its top, and the build prints a warning (cli/pipeline.py)."""

from __future__ import annotations

from typing import Mapping, Sequence
from generator.core.xmltext import escape as xml_escape

from generator.core.model import DEFAULT_LANG, HTML_LANG, Card
from generator.site import urls
from generator.site.options import SITEMAP_FALLBACK_BASE
from generator.site.plan import PageJob, PageKind, alternates

_LISTED = (PageKind.INDEX, PageKind.TAG, PageKind.MODEL, PageKind.LEGEND)


def sitemap(jobs: Sequence[PageJob], cards: Mapping[str, Card], base: str) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:xhtml="http://www.w3.org/1999/xhtml">']
    if base == SITEMAP_FALLBACK_BASE:
        # (an XML comment may not contain "--", so the option is named without its dashes)
        lines.insert(1, f"<!-- built without a base URL: {SITEMAP_FALLBACK_BASE} is a placeholder host, not where "
                        "this site is served; rebuild with the option base-url set to the site's address -->")
    for job in sorted((j for j in jobs if j.kind in _LISTED), key=lambda j: j.url):
        alts = alternates(job)
        lines.append("  <url>")
        lines.append(f"    <loc>{xml_escape(urls.absolute(base, job.url))}</loc>")
        if job.kind == PageKind.MODEL and cards[job.card_id].update_time:
            lines.append(f"    <lastmod>{xml_escape(cards[job.card_id].update_time)}</lastmod>")
        for lang in sorted(alts, key=lambda l: HTML_LANG[l]):
            lines.append(f'    <xhtml:link rel="alternate" hreflang="{HTML_LANG[lang]}" '
                         f'href="{xml_escape(urls.absolute(base, alts[lang]))}"/>')
        lines.append(f'    <xhtml:link rel="alternate" hreflang="x-default" '
                     f'href="{xml_escape(urls.absolute(base, alts[DEFAULT_LANG]))}"/>')
        lines.append("  </url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")

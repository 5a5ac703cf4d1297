"""sitemap.xml: every language page with its hreflang alternates (absolute URLs)."""

from __future__ import annotations

from typing import Mapping, Sequence
from xml.sax.saxutils import escape as xml_escape

from generator.core.model import DEFAULT_LANG, HTML_LANG, Card
from generator.site import urls
from generator.site.plan import PageJob, PageKind, alternates

_LISTED = (PageKind.INDEX, PageKind.TAG, PageKind.MODEL, PageKind.LEGEND)


def sitemap(jobs: Sequence[PageJob], cards: Mapping[str, Card], base: str) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             'xmlns:xhtml="http://www.w3.org/1999/xhtml">']
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

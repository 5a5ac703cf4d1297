"""XML escaping for the SVG badges and the sitemap: the same text as `xml.sax.saxutils.escape`
and `quoteattr`, which cannot be imported cheaply (that module imports `urllib.request`, and
with it http.client, email and ssl: 25-45 ms of every build's start)."""

from __future__ import annotations


def escape(data: str) -> str:
    """`&`, `<` and `>` as entities."""
    return data.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(data: str) -> str:
    """`data` escaped for an attribute value, with its quotes: double, or single when it holds
    double quotes but no single one (else its double quotes become `&quot;`)."""
    data = escape(data).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in data:
        return "'%s'" % data if "'" not in data else '"%s"' % data.replace('"', "&quot;")
    return '"%s"' % data

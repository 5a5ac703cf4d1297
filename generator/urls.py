"""Where every page lives, and how one page links to another.

Every URL here is a site-relative *file* path ("en/models/x/index.html"). Pages link to each
other with relative paths that name `index.html` explicitly, so the site works from any base
path and straight from disk (file://), where a directory URL would show a file listing.
Absolute URLs (hreflang, canonical, sitemap) use the directory form ("https://host/en/models/x/").
"""

from __future__ import annotations

from .model import URL_LANG

ROOT_INDEX = "index.html"
NOT_FOUND = "404.html"
SITEMAP = "sitemap.xml"
STATIC = "static"
API_INDEX = "api/v1/models.json"


def lang_index(lang: str) -> str:
    return f"{URL_LANG[lang]}/index.html"


def model_page(lang: str, card_id: str) -> str:
    return f"{URL_LANG[lang]}/models/{card_id}/index.html"


def tag_page(lang: str, tag: str) -> str:
    return f"{URL_LANG[lang]}/tags/{tag}/index.html"


def api_model(card_id: str) -> str:
    return f"api/v1/models/{card_id}.json"


def static(name: str) -> str:
    return f"{STATIC}/{name}"


def root_prefix(url: str) -> str:
    """'../' once per folder the page sits in: prefix + any site URL = a working relative link."""
    return "../" * url.count("/")


def relative(from_url: str, to_url: str) -> str:
    return root_prefix(from_url) + to_url


def absolute(base_url: str, url: str) -> str:
    """Absolute, directory-style URL for a page (index.html dropped)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    if url == "index.html":
        return base
    if url.endswith("/index.html"):
        url = url[: -len("index.html")]
    return base + url

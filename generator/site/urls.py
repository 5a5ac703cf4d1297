"""Where every page lives, and how one page links to another.

Every URL here is a site-relative *file* path ("en/models/x/index.html"). Pages link to each
other with relative paths that name `index.html` explicitly, so the site works from any base
path and straight from disk (file://), where a directory URL would show a file listing.
Absolute URLs (hreflang, canonical, sitemap) use the directory form ("https://host/en/models/x/").
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from generator.core.model import URL_LANG

ROOT_INDEX = "index.html"
NOT_FOUND = "404.html"
SITEMAP = "sitemap.xml"
STATIC = "static"
API_INDEX = "api/v1/models.json"
REPORT = "verify/report.json"  # every block and number with its checks and provenance
SEARCH_BUNDLE = "pagefind"  # inside each language folder, written by search.py


def lang_index(lang: str) -> str:
    return f"{URL_LANG[lang]}/index.html"


def model_page(lang: str, card_id: str) -> str:
    return f"{URL_LANG[lang]}/models/{card_id}/index.html"


def tag_page(lang: str, tag: str) -> str:
    return f"{URL_LANG[lang]}/tags/{tag}/index.html"


def legend_page(lang: str) -> str:
    """"How verification works": every state of a block, a number and a check, one anchor each."""
    return f"{URL_LANG[lang]}/legend/index.html"


def badge(card_id: str, lang: str = "en_US") -> str:
    """A card's status badge (SVG) for READMEs: English, or `<id>.zh.svg` in Chinese."""
    return f"badges/{card_id}.svg" if lang == "en_US" else f"badges/{card_id}.zh.svg"


def search_bundle(lang: str) -> str:
    return f"{URL_LANG[lang]}/{SEARCH_BUNDLE}/"


def report_problem(github_link: str, title: str) -> str:
    """A new-issue form on the card's GitHub repository (title prefilled), else the link itself."""
    parts = urlsplit(github_link)
    segs = [s for s in parts.path.split("/") if s]
    if parts.scheme == "https" and parts.netloc == "github.com" and len(segs) >= 2:
        return f"https://github.com/{segs[0]}/{segs[1]}/issues/new?title={quote(title)}"
    return github_link


def api_model(card_id: str) -> str:
    return f"api/v1/models/{card_id}.json"


def model_index(card_id: str) -> str:
    """Hugging Face `model-index` metadata of a card, next to its API file."""
    return f"api/v1/models/{card_id}.model-index.json"


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

"""Every link and resource in the built site resolves to a file in the site.

No browser needed, only the built site; it lives here because it shares the session's build.
Rules: relative links only (the site must work from file:// and under any base path), no
`/`-rooted links, resources (scripts, styles, images, icons) never from another host, fragment
links point at an existing id, directory links have an index.html."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.browser

URL_ATTRS = {"href", "src", "action", "poster", "data"}
# <link rel=...> values that point at documents rather than load resources: absolute is fine.
DOCUMENT_RELS = {"canonical", "alternate", "author", "license", "help", "external"}
EXTERNAL_SCHEMES = {"http", "https", "mailto", "tel"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str, int]] = []  # (tag, attr, url, line)
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        line = self.getpos()[0]
        for k in URL_ATTRS & a.keys():
            self.links.append((tag if tag != "link" else f"link[rel={a.get('rel', '')}]", k, a[k].strip(), line))
        if "srcset" in a:
            for part in a["srcset"].split(","):
                if part.strip():
                    self.links.append((tag, "srcset", part.split()[0], line))


def _parse(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def _is_resource(tag: str, attr: str) -> bool:
    if tag.startswith("link[rel="):
        rels = set(tag[len("link[rel="):-1].lower().split())
        return not rels <= DOCUMENT_RELS
    return tag != "a" and attr != "action"


def _target(site: Path, page: Path, url: str) -> Path:
    path = unquote(urlsplit(url).path)
    target = (page.parent / path).resolve() if path else page
    if target.is_dir() or path.endswith("/"):
        target = target / "index.html"
    return target


def crawl(site: Path) -> list[str]:
    site = site.resolve()
    pages = sorted(site.rglob("*.html"))
    parsed = {p: _parse(p) for p in pages}
    problems: list[str] = []
    for page, info in parsed.items():
        where = page.relative_to(site)
        for tag, attr, url, line in info.links:
            at = f"{where}:{line}: <{tag} {attr}={url!r}>"
            parts = urlsplit(url)
            if not url:
                problems.append(f"{at}: empty URL")
                continue
            if parts.scheme in EXTERNAL_SCHEMES or url.startswith("//"):
                if _is_resource(tag, attr):
                    problems.append(f"{at}: resource from another host (the site must work offline)")
                continue
            if parts.scheme in ("data", "javascript", "blob"):
                if parts.scheme == "javascript":
                    problems.append(f"{at}: javascript: URL")
                continue
            if parts.scheme:
                problems.append(f"{at}: unexpected scheme")
                continue
            if url.startswith("/"):
                problems.append(f"{at}: absolute path (breaks file:// and sub-folder hosting)")
                continue
            if not parts.path and not parts.fragment:
                continue  # "?q" alone: same page
            target = _target(site, page, url)
            if site not in target.parents and target != site:
                problems.append(f"{at}: leaves the site folder")
            elif not target.is_file():
                problems.append(f"{at}: no such file {target.relative_to(site) if site in target.parents else target}")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{at}: no element with id {parts.fragment!r} in {target.relative_to(site)}")
    for css in sorted(site.rglob("*.css")):
        for m in re.finditer(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css.read_text(encoding="utf-8")):
            url = m.group(1).strip()
            loc = f"{css.relative_to(site)}: url({url})"
            if url.startswith(("data:", "#")):
                continue
            if urlsplit(url).scheme or url.startswith(("/", "//")):
                problems.append(f"{loc}: not a relative URL")
            elif not _target(site, css, url).is_file():
                problems.append(f"{loc}: no such file")
    return problems


def test_every_internal_link_resolves(site: Path) -> None:
    assert len(list(site.rglob("*.html"))) >= 5, "the built site has too few pages to be real"
    problems = crawl(site)
    assert problems == [], "\n".join(problems)


def test_the_crawler_catches_broken_links(tmp_path: Path) -> None:
    """The crawler itself must be able to fail: a hand-made broken site."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<html><head><link rel="stylesheet" href="https://cdn.example/x.css">'
        '<link rel="alternate" hreflang="zh" href="https://example.org/zh/"></head><body>'
        '<a href="../b/index.html">missing</a><a href="/a/index.html">rooted</a>'
        '<a href="index.html#nope">bad id</a><a href="../a/">dir ok</a><a href="#top" id="top">ok</a>'
        '<img src="pic.png"><a href="https://github.com/x">external page ok</a></body></html>')
    problems = crawl(tmp_path)
    assert len(problems) == 5, "\n".join(problems)
    text = "\n".join(problems)
    for needle in ("another host", "no such file b/index.html", "absolute path", "'nope'", "no such file a/pic.png"):
        assert needle in text

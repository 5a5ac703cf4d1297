"""Full-text search: one Pagefind bundle per language, built over the written site.

The build calls `index_stage` on the new site folder before it is swapped in (so pages and their
index change together), and `repair_index` when nothing was rendered.

Why one run per language folder (`site/en/pagefind/`, `site/zh/pagefind/`) rather than one run
over the whole site (which would also split by `<html lang>`):
- each language's pages load only their own bundle, at a path relative to the page;
- Pagefind resolves result URLs against the bundle's own location, so results link to
  `<lang>/models/<id>/index.html` under any base path, with nothing to configure;
- the language chooser, 404 and tag pages stay out of the index (only `models/*/index.html`).

Chinese: each page is indexed from a staged copy whose Han text is cut into jieba words
(site/segment.py; the written page is left as it is), and the bundle gets `words.js`, the list of
those words, with which site.js cuts a query the same way (the browser's own dictionary does not
know 残差 and split it into 残|差, so 差 of 标准差 was found and highlighted). The staged copy
also indexes what the build shows a program printed (standard output; the page keeps it out of
Pagefind's excerpts of prose otherwise): "tiger cat" finds the EfficientNet page that prints it.

Each bundle also gets `fallback.js` (title, summary and the start of each page), which site.js
searches on file://, where the browser refuses the fetches Pagefind needs (a <script> still loads).

When the binary is missing or fails, each language still gets `pagefind/pagefind-ui.js` and
`pagefind-ui.css`, as stubs that define nothing (and empty `words.js` / `fallback.js`): pages
keep their search box hidden (site.js shows it only when `PagefindUI` exists, or on file:// when
there are fallback entries), no request 404s, and the build goes on with a warning.

Output is byte-identical across runs, folders and file times (tests/search and the site's
determinism test check it), so no part of the site needs excluding from determinism checks.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from generator.core.errors import Code, Diagnostic, warning
from generator.core.model import LANGS, URL_LANG
from generator.site import segment
from generator.site.urls import SEARCH_BUNDLE

BUNDLE = SEARCH_BUNDLE  # folder inside each language folder
PAGES = "models/*/index.html"  # what is searchable, relative to the language folder
TIMEOUT_S = 300

STUB_JS = (
    "/* Search is not available on this build of the site: {reason}.\n"
    "   Pages keep their search box hidden because PagefindUI is not defined. */\n"
)
STUB_CSS = "/* Search is not available on this build of the site. */\n"

WORDS = "words.js"  # in each bundle: the query dictionary of site.js
FALLBACK = "fallback.js"  # in each bundle: the file:// search of site.js
FALLBACK_CHARS = 600
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.S | re.I)
_DESCRIPTION = re.compile(r'<meta\s+name="description"\s+content="([^"]*)"', re.I)
_INDEXED = re.compile(r"<main\b[^>]*data-pagefind-body[^>]*>(.*?)</main>", re.S | re.I)
_IGNORED = re.compile(r"<(nav|section|div|span)\b[^>]*data-pagefind-ignore[^>]*>.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_OUTPUT_IGNORED = re.compile(r'(<details class="output")\s+data-pagefind-ignore')
_OUTPUT_LABELS = re.compile(r'<(summary|p class="output-title")>')


def pagefind_binary() -> Path | None:
    """The extended Pagefind binary shipped by the `pagefind-bin-extended` wheel, else one on PATH."""
    try:
        from pagefind_bin_extended import get_executable

        return Path(get_executable())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("pagefind_extended")
    return Path(found) if found else None


def index_site(site_dir: Path) -> tuple[Diagnostic, ...]:
    """Write `<lang>/pagefind/` into every language folder of `site_dir`.

    The languages are indexed at the same time (Pagefind is a separate process each), each into a
    fresh folder that then replaces the old bundle by rename, so a reader never meets a
    half-written index. Never raises for a missing or failing Pagefind: the problem comes back as
    a warning (the site is still complete, only without search) and stubs are written instead.
    """
    binary = pagefind_binary()
    langs = [lang for lang in LANGS if (site_dir / URL_LANG[lang]).is_dir()]
    with ThreadPoolExecutor(max_workers=max(1, len(langs))) as pool:
        found = list(pool.map(lambda lang: _index_language(binary, site_dir / URL_LANG[lang]), langs))
    return tuple(d for d in found if d is not None)


def _index_language(binary: Path | None, lang_dir: Path) -> Diagnostic | None:
    out = lang_dir / BUNDLE
    fresh = Path(tempfile.mkdtemp(prefix=f".{BUNDLE}-new-", dir=lang_dir))
    try:
        pages = sorted(lang_dir.glob(PAGES))
        if binary is None:
            reason = "the Pagefind binary was not found (pip install pagefind[extended])"
        elif not pages:
            reason = "there are no model pages to index"
        else:
            texts = {page: page.read_text(encoding="utf-8") for page in pages}  # read once for all three
            reason = _index(binary, lang_dir, texts, fresh)
            if not reason:
                write_words(fresh, list(texts.values()))
                write_fallback(fresh, lang_dir, texts)
        if reason:
            shutil.rmtree(fresh)  # a half-written bundle would make the UI fail at search time
            _write_stub(fresh, reason)
        _swap_in(fresh, out)
    finally:
        if fresh.exists():
            shutil.rmtree(fresh, ignore_errors=True)
    if reason:
        return warning(Code.SEARCH_INDEX, f"no search for {lang_dir.name}/: {reason}", str(lang_dir), 1)
    return None


def _swap_in(fresh: Path, out: Path) -> None:
    old = out.with_name(f".{BUNDLE}-old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(fresh, out)
    shutil.rmtree(old, ignore_errors=True)


def indexable(page: str) -> str:
    """What Pagefind reads for a page: what its programs printed included (the page marks the
    output box data-pagefind-ignore; here only its labels stay out), its Han text cut into words."""
    page = _OUTPUT_IGNORED.sub(r"\1", page)
    page = _OUTPUT_LABELS.sub(r"<\1 data-pagefind-ignore>", page)
    return segment.segment_html(page)


def write_fallback(out: Path, lang_dir: Path, pages: dict[Path, str]) -> None:
    """`fallback.js`: title, summary and the start of each page's text, for the simple search
    site.js runs where Pagefind cannot load (file://: the browser refuses its fetches)."""
    entries = []
    for page, text in pages.items():
        h1, desc = _H1.search(text), _DESCRIPTION.search(text)
        body = _INDEXED.search(text)
        plain = " ".join(html.unescape(_TAG.sub(" ", _IGNORED.sub(" ", body.group(1) if body else ""))).split())
        entries.append({"u": page.relative_to(lang_dir).as_posix(),
                        "t": " ".join(html.unescape(_TAG.sub("", h1.group(1))).split()) if h1 else page.parent.name,
                        "s": html.unescape(desc.group(1)) if desc else "", "x": plain[:FALLBACK_CHARS]})
    (out / FALLBACK).write_text("window.hubSearchFallback = " + json.dumps(entries, ensure_ascii=False, sort_keys=True)
                                + ";\n", encoding="utf-8")


def write_words(out: Path, pages: list[str]) -> None:
    """`words.js`: the Han words of the indexed pages (their HTML), for site.js to cut queries with."""
    vocab = segment.vocabulary(pages) if pages else []
    (out / WORDS).write_text("window.hubSearchWords = " + json.dumps(" ".join(vocab), ensure_ascii=False) + ";\n",
                             encoding="utf-8")


def _index(binary: Path, lang_dir: Path, pages: dict[Path, str], out: Path) -> str:
    """Index one language's pages from a staged copy; '' on success, else why it failed."""
    # Staged next to the site, not in /tmp: often another (slower, smaller) file system.
    with tempfile.TemporaryDirectory(prefix=".pagefind-stage-", dir=lang_dir.parent) as tmp:
        stage = Path(tmp)
        for page, text in pages.items():
            dst = stage / page.relative_to(lang_dir)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(indexable(text), encoding="utf-8")
        # Pagefind also reads PAGEFIND_* variables and a pagefind.yml in its working directory:
        # run it in the staging folder (which holds only our copies) with those variables removed.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
        cmd = [str(binary), "--site", ".", "--output-path", str(out.resolve()),
               "--keep-index-url", "--silent"]
        try:
            proc = subprocess.run(cmd, cwd=stage, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Pagefind could not run ({exc})"
    if proc.returncode != 0 or not (out / "pagefind-ui.js").is_file():
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return f"Pagefind exited with status {proc.returncode}" + (f": {last[0]}" if last else "")
    return ""


def _write_stub(out: Path, reason: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pagefind-ui.js").write_text(STUB_JS.format(reason=reason.replace("*/", "* /")), encoding="utf-8")
    (out / "pagefind-ui.css").write_text(STUB_CSS, encoding="utf-8")
    write_words(out, [])
    (out / FALLBACK).write_text("window.hubSearchFallback = [];\n", encoding="utf-8")


def index_stage(current: Path, stage: Path, changed: frozenset[str]) -> tuple[Diagnostic, ...]:
    """Index the new site folder `stage`. Pagefind reads only the model pages: when none of them
    changed (and no file of the current bundles changed since it was written: see
    state.changed_since_written), the bundles of the `current` site are carried over (hard
    links) instead."""
    pages_changed = any(("/models/" in url and url.endswith(".html")) or f"/{BUNDLE}/" in url for url in changed)
    old = [(current / lang / BUNDLE, stage / lang / BUNDLE) for lang in _lang_dirs(stage)]
    if not pages_changed and old and all(src.is_dir() for src, _ in old):
        for src, dst in old:
            shutil.copytree(src, dst, copy_function=os.link)
        return ()
    return index_site(stage)


def repair_index(site_dir: Path) -> tuple[Diagnostic, ...]:
    """Nothing was rendered, but a bundle is missing (the last build ran with --no-search)."""
    if any(not (site_dir / lang / BUNDLE).is_dir() for lang in _lang_dirs(site_dir)):
        return index_site(site_dir)
    return ()


def _lang_dirs(site_dir: Path) -> list[str]:
    return [URL_LANG[lang] for lang in LANGS if (site_dir / URL_LANG[lang]).is_dir()]

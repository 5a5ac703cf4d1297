"""Full-text search: one Pagefind bundle per language, in index parts, built over the written site.

The build calls `index_stage` on the new site folder before it is swapped in (so pages and their
index change together), and `repair_index` when nothing was rendered.

Why one bundle per language folder (`site/en/pagefind/`, `site/zh/pagefind/`) rather than one
over the whole site (which would also split by `<html lang>`):
- each language's pages load only their own bundle, at a path relative to the page;
- Pagefind resolves result URLs against the bundle's own location, so results link to
  `<lang>/models/<id>/index.html` under any base path, with nothing to configure;
- the language chooser, 404 and tag pages stay out of the index (only `models/*/index.html` and
  the legend page `legend/index.html`).

Parts (parts.py): a bundle is `part0/`, `part1/`, ... each a Pagefind index of about 64 pages
(which pages: a hash of the URL), so a one-card edit re-indexes the two parts holding that card's
pages and carries the others over from the current site (hard links, only while every file of a
part still has the sha256 its record and the build state say it was written with). The browser
loads the first part and merges the others (Pagefind's `mergeIndex`, site.js); it searches every
part and sorts all hits by score. The first part also holds Pagefind's engine (`pagefind.js`, its
wasm), the bundle's top level the UI (`pagefind-ui.js`/`.css`) and the files made from every
part: `words.js` (with the list of parts) and `fallback.js`.

Chinese: each page is indexed from a copy whose Han text is cut into jieba words (site/segment.py;
the written page is left as it is), and the bundle gets `words.js`, the list of those words, with
which site.js cuts a query the same way (the browser's own dictionary does not know 残差 and split
it into 残|差, so 差 of 标准差 was found and highlighted). The copy also indexes what the build
shows a program printed (standard output; the page keeps it out of Pagefind's excerpts of prose
otherwise): "tiger cat" finds the EfficientNet page that prints it.

`fallback.js` (title, summary and the start of each page) is what site.js searches on file://,
where the browser refuses the fetches Pagefind needs (a <script> still loads).

When the binary is missing or fails, each language still gets `pagefind/pagefind-ui.js` and
`pagefind-ui.css`, as stubs that define nothing (and empty `words.js` / `fallback.js`): pages
keep their search box hidden (site.js shows it only when `PagefindUI` exists, or on file:// when
there are fallback entries), no request 404s, and the build goes on with a warning.

Output is byte-identical across runs, folders and file times, and an incremental index is the
same bytes as one built from scratch (tests/search check both).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from generator.core.errors import Code, Diagnostic, warning
from generator.core.files import tree_entries
from generator.core.model import LANGS, URL_LANG
from generator.site.search import parts
from generator.site.search.early import EarlyCopies
from generator.site.search.parts import RECORD, PartRecord
from generator.site.search.segmenter import Segmenter
from generator.site.search.service import Service, ServiceError
from generator.site.search.texts import fallback_entry, indexable, words
from generator.site.urls import SEARCH_BUNDLE

__all__ = ["BUNDLE", "FALLBACK", "WORDS", "Placed", "Services", "index_site", "index_stage", "indexable", "pagefind_binary",
           "prestart", "repair_index"]

BUNDLE = SEARCH_BUNDLE  # folder inside each language folder
MODELS = "models"  # what is searchable: <lang>/models/<id>/index.html
LEGEND = "legend/index.html"  # and "How verification works", beside a language's model pages
TIMEOUT_S = 300

STUB_JS = (
    "/* Search is not available on this build of the site: {reason}.\n"
    "   Pages keep their search box hidden because PagefindUI is not defined. */\n"
)
STUB_CSS = "/* Search is not available on this build of the site. */\n"

WORDS = "words.js"  # in each bundle: the query dictionary of site.js and the list of parts
FALLBACK = "fallback.js"  # in each bundle: the file:// search of site.js
UI_FILES = ("pagefind-ui.js", "pagefind-ui.css")  # the bundle's top level, from any part's output
ENGINE = ("pagefind.js",)  # and wasm.*.pagefind: in the first part only (the others use its engine)
INDEX = ("pagefind-entry.json",)  # and *.pf_meta, index/, fragment/, filter/: in every part
INDEX_DIRS = ("index", "fragment", "filter")


def pagefind_binary() -> Path | None:
    """The extended Pagefind binary shipped by the `pagefind-bin-extended` wheel, else one on PATH."""
    try:
        from pagefind_bin_extended import get_executable

        return Path(get_executable())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("pagefind_extended")
    return Path(found) if found else None


class Services:
    """One Pagefind process per language, started when the build starts (`prestart`), so that
    starting them, and the Chinese one loading its dictionary (a tiny page is indexed at once for
    that), happen while the pages are still being read and rendered, not after. Each process
    writes nothing (pages go in and files come back over its pipes) and runs in an empty folder
    of its own; `close` ends them."""

    def __init__(self, binary: Path, langs: tuple[str, ...], site: Path | None = None) -> None:
        self.segmenter = Segmenter()  # first: its dictionary loads while everything else goes on
        # The current site's part records, read while the cards are (see RecordsAhead).
        self.ahead = parts.RecordsAhead(site, langs, BUNDLE) if site is not None else None
        self.early: EarlyCopies | None = None  # copies_ahead
        self._folder = Path(tempfile.mkdtemp(prefix="build-site-pagefind-"))
        self._by_lang: dict[str, Service] = {}
        self._warming: dict[str, threading.Thread] = {}
        # The parts' key reads this package's files and looks up two installed packages (0.07 s
        # and more while the pages are being rendered beside it): done now, while cards are read.
        self._keyed = threading.Thread(target=_key_or_later, daemon=True)
        self._keyed.start()
        try:
            for lang in langs:
                self._by_lang[lang] = Service(binary, self._folder, TIMEOUT_S).__enter__()
        except ServiceError:
            return  # the build's own request meets the same problem and says it
        if URL_LANG["zh_CN"] in self._by_lang:
            zh = self._by_lang[URL_LANG["zh_CN"]]
            self._warming[URL_LANG["zh_CN"]] = thread = threading.Thread(target=_warm_up, args=(zh,), daemon=True)
            thread.start()

    def copies_ahead(self, site: Path, changed: frozenset[str], pages: frozenset[str]) -> None:
        """Start cutting the kept pages of the parts the search stage will index again (early.py),
        once the build knows what it renders: `changed` and `pages` as index_stage gets them."""
        langs = tuple(self._by_lang)
        self.early = EarlyCopies(site, langs, changed, {lang: _searchable(pages, lang) for lang in langs},
                                 self.segmenter)

    def get(self, lang: str) -> Service | None:
        """The language's process, once its warm-up is done (requests are then the build's own)."""
        self._keyed.join()
        thread = self._warming.pop(lang, None)
        if thread is not None:
            thread.join()
        return self._by_lang.get(lang)

    def close(self) -> None:
        self._keyed.join()
        for thread in self._warming.values():
            thread.join()
        for pf in self._by_lang.values():
            pf.finish()  # every process told first, then each waited for: they end side by side
        self.segmenter.finish()
        for pf in self._by_lang.values():
            pf.__exit__(None, None, None)
        self._by_lang.clear()
        self.segmenter.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def _warm_up(pf: Service) -> None:
    """Index a tiny Chinese page in an index of its own (never written): Pagefind loads its
    Chinese dictionary on the first such page."""
    try:
        for message in pf.add_files(pf.new_index({"keep_index_url": True}), [("/warm-up.html", WARM_UP_PAGE)]):
            pf.wait(message, "IndexedFile")
    except ServiceError:
        pass  # the build's own request meets the same problem and says it


WARM_UP_PAGE = '<html lang="zh-CN"><body><main data-pagefind-body><p>残差网络</p></main></body></html>'


@contextlib.contextmanager
def prestart(site: Path | None = None) -> Iterator[Services | None]:
    """`with prestart(site) as services:` Pagefind started for every language (None without
    it), and the part records of the current `site` read ahead."""
    binary = pagefind_binary()
    if binary is None:
        yield None
        return
    services = Services(binary, tuple(URL_LANG[lang] for lang in LANGS), site)
    try:
        yield services
    finally:
        services.close()


@dataclass(frozen=True)
class _Previous:
    """The current site's bundle of a language and which of its files may be carried over."""

    bundle: Path
    changed: frozenset[str]  # paths relative to the language folder that must not be carried

    def trusted(self, rel: str) -> bool:
        return rel not in self.changed and (self.bundle.parent / rel).is_file()


def index_site(site_dir: Path) -> tuple[Diagnostic, ...]:
    """Index every language folder of `site_dir` from scratch (its current bundles are replaced)."""
    return _index_languages(site_dir, None, frozenset())


# What the search stage placed in a site folder: site URL -> the sha256 of the bytes it wrote,
# or None for a hard link to the current site's file at that URL (its digest is the state's).
Placed = dict[str, "str | None"]


def index_stage(current: Path, stage: Path, changed: frozenset[str],
                services: Services | None = None, placed: Placed | None = None,
                pages: frozenset[str] | None = None) -> tuple[Diagnostic, ...]:
    """Index the new site folder `stage`, carrying over each part of the `current` site's bundles
    whose pages are unchanged. `changed`: site URLs of the files of `current` that must not be
    trusted (rendered again, or no longer what the last build wrote: state.changed_since_written);
    every other file of `stage` is a hard link to the same file of `current`. `services`: the
    Pagefind processes `prestart` began, used instead of starting new ones.

    When `stage` is not `current` (a build's new folder, not yet live), its bundle folders may
    already hold files: only hard links to the current bundle's file at the same path, of files
    not in `changed` (what build.py's prune keeps of a recycled folder). The bundle is then
    assembled in place: those are kept where they belong, anything else of the folder goes.
    `placed` is filled with every file of the bundles. `pages`: the site URL of every file the
    build put in `stage` (else the language folders are listed to find the model pages)."""
    return _index_languages(stage, current, changed, services, placed, pages)


def repair_index(site_dir: Path) -> tuple[Diagnostic, ...]:
    """Nothing was rendered, but a bundle is missing (the last build ran with --no-search)."""
    if any(not (site_dir / lang / BUNDLE).is_dir() for lang in _lang_dirs(site_dir)):
        return index_site(site_dir)
    return ()


def _index_languages(site_dir: Path, current: Path | None, changed: frozenset[str],
                     services: Services | None = None, placed: Placed | None = None,
                     pages: frozenset[str] | None = None) -> tuple[Diagnostic, ...]:
    """The languages are indexed at the same time (one Pagefind process each), each into a fresh
    folder that then replaces the old bundle by rename, so a reader never meets a half-written
    index. Never raises for a missing or failing Pagefind: the problem comes back as a warning
    (the site is still complete, only without search) and stubs are written instead."""
    binary = pagefind_binary()
    langs = _lang_dirs(site_dir)
    in_place = current is not None and os.path.abspath(current) != os.path.abspath(site_dir)

    def one(lang: str) -> tuple[Diagnostic | None, dict[str, str | None]]:
        previous = None
        if current is not None and (current / lang / BUNDLE).is_dir():
            cut = len(lang) + 1
            previous = _Previous(current / lang / BUNDLE,
                                 frozenset(u[cut:] for u in changed if u.startswith(lang + "/")))
        urls = _model_pages(site_dir / lang) if pages is None else _searchable(pages, lang)
        return _index_language(binary, site_dir / lang, urls, previous, services.get(lang) if services else None,
                               in_place, services.segmenter if services else None,
                               services.ahead if services else None, services.early if services else None)

    with ThreadPoolExecutor(max_workers=max(1, len(langs))) as pool:
        found = list(pool.map(one, langs))
    if placed is not None:
        for lang, (_d, files) in zip(langs, found):
            placed.update((f"{lang}/{BUNDLE}/{rel}", sha) for rel, sha in files.items())
    return tuple(d for d, _f in found if d is not None)


def _index_language(binary: Path | None, lang_dir: Path, urls: list[str], previous: _Previous | None,
                    service: Service | None = None, in_place: bool = False,
                    segmenter: Segmenter | None = None, ahead: parts.RecordsAhead | None = None,
                    early: EarlyCopies | None = None) -> tuple[Diagnostic | None, dict[str, str | None]]:
    """The language's bundle and its files (relative to the bundle: sha256 written, or None for
    a hard link to the current bundle's file). `in_place`: `lang_dir` is a folder no reader sees
    yet, whose bundle folder holds only hard links to current bundle files (see index_stage):
    the bundle is assembled there, keeping them, rather than in a new folder swapped in."""
    out = lang_dir / BUNDLE
    if in_place:
        if previous is None or out.is_symlink() or not out.is_dir():
            _remove(out)
            out.mkdir()
        fresh = out
    else:
        fresh = Path(tempfile.mkdtemp(prefix=f".{BUNDLE}-new-", dir=lang_dir))
    files: dict[str, str | None] = {}
    try:
        if binary is None:
            reason = "the Pagefind binary was not found (pip install pagefind[extended])"
        elif not urls:
            reason = "there are no model pages to index"
        else:
            reason = _Bundle(binary, lang_dir, fresh, previous, service, files, segmenter, ahead, early).build(urls)
        if reason:
            shutil.rmtree(fresh)  # a half-written bundle would make the UI fail at search time
            files = _write_stub(fresh, reason)
        if not in_place:
            _swap_in(fresh, out)
    finally:
        if not in_place and fresh.exists():
            shutil.rmtree(fresh, ignore_errors=True)
    if reason:
        return warning(Code.SEARCH_INDEX, f"no search for {lang_dir.name}/: {reason}", str(lang_dir), 1), files
    return None, files


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _searchable(pages: frozenset[str], lang: str) -> list[str]:
    """What `_model_pages` finds, from the site URLs of the pages a build wrote."""
    cut = len(lang) + 1
    found = [u[cut:] for u in pages if u.startswith(lang + "/")]
    urls = [u for u in found if u.startswith(MODELS + "/") and u.endswith("/index.html") and u.count("/") == 2]
    if urls and LEGEND in found:
        urls.append(LEGEND)
    return sorted(urls)


def _model_pages(lang_dir: Path) -> list[str]:
    """`models/<id>/index.html` of every model folder (a listing, not a glob: one stat each)."""
    try:
        with os.scandir(lang_dir / MODELS) as it:
            names = [e.name for e in it if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    pages = [f"{MODELS}/{n}/index.html" for n in names]
    pages = [p for p in pages if os.path.isfile(lang_dir / p)]
    if pages and os.path.isfile(lang_dir / LEGEND):
        pages.append(LEGEND)
    return sorted(pages)


class _Bundle:
    """One language's bundle, assembled in `fresh`: parts carried over or indexed, then the
    bundle-wide files."""

    def __init__(self, binary: Path, lang_dir: Path, fresh: Path, previous: _Previous | None,
                 service: Service | None = None, placed: dict[str, str | None] | None = None,
                 segmenter: Segmenter | None = None, ahead: parts.RecordsAhead | None = None,
                 early: EarlyCopies | None = None) -> None:
        self.binary, self.lang_dir, self.fresh, self.previous = binary, lang_dir, fresh, previous
        self.ahead = ahead  # the current bundle's records, read while the build began
        self.early = early  # copies of kept pages, cut while the build rendered
        self.segmenter = segmenter  # the Chinese cutting in a process of its own, else here
        self.service = service  # started before the pages were written (prestart), else one of our own
        # Every file of the bundle, relative to it: the sha256 of what was written, None for a
        # hard link to the current bundle's file.
        self.placed: dict[str, str | None] = {} if placed is None else placed
        self.texts: dict[str, str] = {}  # pages read this time (url relative to lang_dir -> text)
        # What the current bundle's records say of each page it indexed: (sha256, words, fallback
        # entry), reused for a page of a part indexed again whose sha256 is the same.
        self.known: dict[str, tuple[str, tuple[str, ...], Mapping[str, str] | None]] = {}
        self.cut_words: dict[str, tuple[str, ...]] = {}  # words the segmenter made this time
        self.old: dict[str, PartRecord] = {}  # the current bundle's trusted records

    def build(self, urls: list[str]) -> str:
        """'' when the bundle is complete in `fresh`, else why there is none."""
        groups = parts.split(urls, parts.PART_PAGES)
        key = _key()
        self.kept = self._clear_top(set(groups))
        old = self.old = self._old_records()
        for r in old.values():
            entries = {e.get("u"): e for e in r.fallback}
            self.known.update((u, (h, r.words.get(u, ()), entries.get(u))) for u, h in r.pages.items())
        shas = {u: self._page_sha(u) for u in urls}
        records: dict[str, PartRecord] = {}
        todo = []
        for i, (name, members) in enumerate(groups.items()):
            rec = old.get(name)
            want = {u: shas[u] for u in members}
            if (rec is not None and rec.key == key and dict(rec.pages) == want
                    and _has_engine(rec) == (i == 0) and self._carry(name, rec)):
                records[name] = rec
            else:
                todo.append(name)
                self._drop_part(name)
        ui_carried = not todo and self._carry_ui()
        if not todo and not ui_carried:
            todo.append(next(iter(groups)))  # the UI files come with any part's output
            records.pop(todo[0])
            self._drop_part(todo[0])
        if not ui_carried:
            for f in UI_FILES:  # a kept copy is the current bundle's: the new ones come from Pagefind
                if f in self.kept:
                    (self.fresh / f).unlink()
                    self.placed.pop(f, None)
        if todo:
            try:
                records.update(self._index(todo, groups, key, shas, primary=next(iter(groups))))
            except (ServiceError, OSError) as exc:
                return str(exc) if isinstance(exc, ServiceError) else f"Pagefind's output could not be read ({exc})"
        self._write_bundle_files([records[n] for n in groups], list(groups))
        return ""

    # ------------------------------------------------------------------ carrying over

    def _old_records(self) -> dict[str, PartRecord]:
        if self.previous is None:
            return {}
        out = {}
        try:
            with os.scandir(self.previous.bundle) as it:
                names = [e.name for e in it if e.name.startswith("part") and e.is_dir(follow_symlinks=False)]
        except OSError:
            return {}
        for name in names:
            rel = f"{BUNDLE}/{name}/{RECORD}"
            if self.previous.trusted(rel):
                path = self.previous.bundle / name / RECORD
                got = self.ahead.get(path) if self.ahead is not None else parts.RecordsAhead.MISS
                rec = parts.load_record(path) if got is parts.RecordsAhead.MISS else got
                if isinstance(rec, PartRecord):
                    out[name] = rec
        return out

    def _page_sha(self, url: str) -> str:
        """The page's sha256: the one recorded when it was last indexed while its file is the one
        the last build wrote (every page not in `changed`), else read from the new folder."""
        if self.previous is not None and url not in self.previous.changed and url in self.known:
            return self.known[url][0]
        data = (self.lang_dir / url).read_bytes()
        self.texts[url] = data.decode("utf-8")
        return hashlib.sha256(data).hexdigest()

    def _carry(self, name: str, rec: PartRecord) -> bool:
        """Hard-link the part's recorded files from the current bundle; False (nothing linked)
        when one of them is missing, changed since written, or not a plain relative path."""
        assert self.previous is not None
        src, dst = self.previous.bundle / name, self.fresh / name
        files = [*rec.files, RECORD]
        if any(not _plain(f) or f"{BUNDLE}/{name}/{f}" in self.previous.changed for f in files):
            return False
        # What the folder holds already (in place: each a link to the current file there)
        there = _files_under(os.fspath(dst)) if name in self.kept else set()
        try:
            for extra in there.difference(files):
                os.unlink(os.path.join(dst, extra))
            made: set[Path] = set()
            for f in files:
                if f in there:
                    continue
                target = dst / f
                if target.parent not in made:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made.add(target.parent)
                os.link(src / f, target, follow_symlinks=False)
        except OSError:
            self._drop_part(name)
            return False
        self.placed.update((f"{name}/{f}", None) for f in files)
        return True

    def _link_same(self, name: str, rel: str, sha: str, target: Path) -> bool:
        """Hard-link a file Pagefind gave that the current part holds with the same bytes (the
        fragments of its unchanged pages: 63 of a part's ~70 files), rather than write a new
        inode (0.15-0.75 ms each on the disks measured). Only a trusted regular file whose
        record gives that sha256."""
        rec = self.old.get(name)
        if (self.previous is None or rec is None or rec.files.get(rel) != sha
                or f"{BUNDLE}/{name}/{rel}" in self.previous.changed):
            return False
        src = self.previous.bundle / name / rel
        try:
            if not stat.S_ISREG(os.lstat(src).st_mode):
                return False
            os.link(src, target, follow_symlinks=False)
        except OSError:
            return False
        return True

    def _drop_part(self, name: str) -> None:
        shutil.rmtree(self.fresh / name, ignore_errors=True)
        self.kept.discard(name)
        prefix = name + "/"
        for f in [f for f in self.placed if f.startswith(prefix)]:
            del self.placed[f]

    def _clear_top(self, part_names: set[str]) -> set[str]:
        """Empty the bundle folder but for the part folders and UI files it may keep (what is in
        it is a link to the current bundle's file at that path, see index_stage); the names
        kept. The bundle-wide files are written again, as new files."""
        kept = set()
        with os.scandir(self.fresh) as it:
            entries = list(it)
        for e in entries:
            if e.is_dir(follow_symlinks=False) and e.name in part_names:
                kept.add(e.name)
            elif e.is_file(follow_symlinks=False) and e.name in UI_FILES:
                kept.add(e.name)
            elif e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path)
            else:
                os.unlink(e.path)
        return kept

    def _carry_ui(self) -> bool:
        if self.previous is None or not all(self.previous.trusted(f"{BUNDLE}/{f}") for f in UI_FILES):
            return False
        try:
            for f in UI_FILES:
                if f not in self.kept:
                    os.link(self.previous.bundle / f, self.fresh / f, follow_symlinks=False)
                    self.kept.add(f)
        except OSError:
            return False
        self.placed.update((f, None) for f in UI_FILES)
        return True

    # ------------------------------------------------------------------ indexing

    def _index(self, todo: list[str], groups: dict[str, list[str]], key: str, shas: Mapping[str, str],
               primary: str) -> dict[str, PartRecord]:
        """Index the parts `todo` with one Pagefind process; their records."""
        urls = [u for name in todo for u in groups[name]]
        copies = self._early(urls, shas)
        for url in urls:
            if url not in self.texts and url not in copies:
                self.texts[url] = (self.lang_dir / url).read_text(encoding="utf-8")
        copies.update(self._cut([u for u in urls if u not in copies], shas))
        records = {}
        with (contextlib.nullcontext(self.service) if self.service is not None
              else Service(self.binary, self.fresh, TIMEOUT_S)) as pf:
            ids = {name: pf.new_index({"keep_index_url": True}) for name in todo}
            pending = []
            for name in todo:
                pending += pf.add_files(ids[name], (("/" + u, copies[u]) for u in groups[name]))
            for message in pending:
                pf.wait(message, "IndexedFile")
            for name in todo:
                # The files come back in the answer and are written here: WriteFiles answers before
                # Pagefind has finished writing (a part's entry file was sometimes still empty).
                files = {}
                for rel, data in pf.files(ids[name]):
                    if rel in UI_FILES and rel not in self.placed:
                        self.placed[rel] = _write_new(self.fresh / rel, data)  # the same bytes from every part
                    if _plain(rel) and _kept(rel, primary=name == primary):
                        target = self.fresh / name / rel
                        target.parent.mkdir(parents=True, exist_ok=True)
                        sha = hashlib.sha256(data).hexdigest()
                        files[rel] = sha if self._link_same(name, rel, sha, target) else _write_new(target, data)
                pages = {u: shas[u] for u in groups[name]}
                made = {u: self._derived(u, shas[u]) for u in groups[name]}
                rec = PartRecord(key, pages, dict(sorted(files.items())),
                                 {u: w for u, (w, _e) in made.items()}, tuple(e for _w, e in made.values()))
                self.placed.update((f"{name}/{f}", sha) for f, sha in rec.files.items())
                self.placed[f"{name}/{RECORD}"] = _write_new(self.fresh / name / RECORD, rec.to_bytes())
                records[name] = rec
        return records

    def _cut(self, urls: list[str], shas: Mapping[str, str]) -> dict[str, str]:
        """The indexable copy of each page (and, kept for `_derived`, the words of those whose
        record cannot give them), from the segmenter process when there is one."""
        need = [not self._recorded(u, shas[u]) for u in urls]
        got = self.segmenter.cut([self.texts[u] for u in urls], need) if self.segmenter is not None else None
        if got is None:
            return {u: indexable(self.texts[u]) for u in urls}
        self.cut_words.update((u, w) for u, w in zip(urls, got[1]) if w is not None)
        return dict(zip(urls, got[0]))

    def _early(self, urls: list[str], shas: Mapping[str, str]) -> dict[str, str]:
        """The copies cut before the stage began (early.py), of pages kept from the current site
        whose words and fallback entry their record gives (their text is then not needed)."""
        if self.early is None or self.previous is None:
            return {}
        lang = self.lang_dir.name
        found = {}
        for u in urls:
            if u not in self.previous.changed and self._recorded(u, shas[u]):
                copy = self.early.get(lang, u, shas[u])
                if copy is not None:
                    found[u] = copy
        return found

    def _recorded(self, url: str, sha: str) -> bool:
        was = self.known.get(url)
        return was is not None and was[0] == sha and was[2] is not None

    def _derived(self, url: str, sha: str) -> tuple[tuple[str, ...], Mapping[str, str]]:
        """A page's Han words and fallback entry: as recorded for the same bytes, else made."""
        was = self.known.get(url)
        if was is not None and was[0] == sha and was[2] is not None:
            return was[1], was[2]
        text = self.texts[url]
        cut = self.cut_words.get(url)
        return cut if cut is not None else words(text), fallback_entry(url, text, url.split("/")[-2])

    def _write_bundle_files(self, records: list[PartRecord], names: list[str]) -> None:
        vocab = sorted({w for r in records for ws in r.words.values() for w in ws})
        entries = sorted((e for r in records for e in r.fallback), key=lambda e: e["u"])
        self.placed[WORDS] = _write_words(self.fresh, vocab, names)
        self.placed[FALLBACK] = _write_fallback(self.fresh, entries)


def _write_new(path: Path, data: bytes) -> str:
    """Write `data` as a new file at `path` (never through a link into the current site); its sha256."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def _files_under(root: str) -> set[str]:
    """Every file below `root`, as posix paths relative to it (no symlinked folder entered; a
    symlink or other thing too: it is removed as an extra)."""
    return {name for name, _entry in tree_entries(root)}


def _kept(rel: str, primary: bool) -> bool:
    """Whether a file of Pagefind's output stays in a part: its index, and in the first part the
    engine; not the UI (once, above the parts) nor Pagefind's other front ends."""
    engine = rel in ENGINE or (rel.startswith("wasm.") and rel.endswith(".pagefind"))
    return rel in INDEX or rel.endswith(".pf_meta") or rel.split("/")[0] in INDEX_DIRS or (engine and primary)


def _has_engine(rec: PartRecord) -> bool:
    return all(f in rec.files for f in ENGINE)


def _plain(rel: str) -> bool:
    names = rel.split("/")
    return bool(rel) and "\\" not in rel and not rel.startswith("/") and all(n not in ("", ".", "..") for n in names)


def _key_or_later() -> None:
    with contextlib.suppress(OSError, ValueError):  # the build's own call meets it and says it
        _key()


@functools.lru_cache(maxsize=1)
def _key() -> str:
    """What else a part's bytes depend on: this package's code, the segmenter's and Pagefind's
    versions (found from their installed metadata folders, without importing them)."""
    import importlib.util

    h = hashlib.sha256(str(parts.FORMAT).encode())
    here = Path(__file__).resolve().parent
    for src in sorted(here.glob("*.py")) + [here.parent / "segment.py"]:
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    for module in ("pagefind_bin_extended", "rjieba"):
        spec = importlib.util.find_spec(module)
        origin = Path(spec.origin).resolve().parent.parent if spec and spec.origin else None
        found = sorted(p.name for p in origin.glob(f"{module}-*.dist-info")) if origin else []
        h.update(f"{module}: {found}".encode())
    return h.hexdigest()[:32]


def _swap_in(fresh: Path, out: Path) -> None:
    """`fresh` becomes the bundle `out`. In one exchange of names where the system has it: the
    bundle of a live site (serve's search catching up) is never missing while a reader searches."""
    if out.is_dir() and not out.is_symlink():
        from generator.site.write import exchange

        try:
            exchange(fresh, out)
            shutil.rmtree(fresh, ignore_errors=True)  # now the previous bundle
            return
        except OSError:
            pass  # no renameat2 here: two renames
    old = out.with_name(f".{BUNDLE}-old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(fresh, out)
    shutil.rmtree(old, ignore_errors=True)


def _write_words(out: Path, vocab: list[str], part_names: list[str]) -> str:
    """`words.js`: the Han words of the indexed pages, for site.js to cut queries with, and the
    index parts it merges."""
    return _write_new(out / WORDS, ("window.hubSearchWords = " + json.dumps(" ".join(vocab), ensure_ascii=False)
                                    + ";\n" + "window.hubSearchParts = " + json.dumps(part_names) + ";\n").encode())


def _write_fallback(out: Path, entries: list[Mapping[str, str]]) -> str:
    return _write_new(out / FALLBACK, ("window.hubSearchFallback = "
                                       + json.dumps([dict(e) for e in entries], ensure_ascii=False, sort_keys=True)
                                       + ";\n").encode())


def _write_stub(out: Path, reason: str) -> dict[str, str | None]:
    out.mkdir(parents=True, exist_ok=True)
    return {"pagefind-ui.js": _write_new(out / "pagefind-ui.js", STUB_JS.format(reason=reason.replace("*/", "* /")).encode()),
            "pagefind-ui.css": _write_new(out / "pagefind-ui.css", STUB_CSS.encode()),
            WORDS: _write_words(out, [], []), FALLBACK: _write_fallback(out, [])}


def _lang_dirs(site_dir: Path) -> list[str]:
    return [URL_LANG[lang] for lang in LANGS if (site_dir / URL_LANG[lang]).is_dir()]

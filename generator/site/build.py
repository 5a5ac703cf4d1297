"""Which files the site has, what each depends on, and the two entry points build.py calls.

Pages (all URLs are site-relative file paths, see urls.py):
  index.html                         language chooser (inline script + plain links)
  404.html                           bilingual "not found"
  sitemap.xml                        every en/zh page with its xhtml:link alternates
  {en,zh}/index.html                 hub index
  {en,zh}/tags/<tag>/index.html      one per tag used by at least one card
  {en,zh}/models/<id>/index.html     model page (always both languages; a missing section
                                     shows a "not translated yet" notice)
  {en,zh}/legend/index.html          "How verification works": every state, one anchor each
  api/v1/models.json, api/v1/models/<id>.json
  static/style.css, static/favicon.svg (copied), static/pygments.css (generated)

`render_site` renders everything (tests, one-off builds); `build_site` renders only pages whose
inputs changed since the site in `out_dir` was built (see incremental.py).

URLs and base_url: every link between pages is relative and names index.html, so the site works
under any base path and from file://. hreflang/canonical links are absolute only when
`SiteOptions.base_url` is set (else relative, which browsers resolve against the page).
sitemap.xml must be absolute: it uses base_url, or https://example.invalid/ until one is
configured (`build-site --base-url https://...`). 404.html is served for missing paths at any
depth, so its links are absolute with base_url and relative to the site root without one.

Writing: every build that changes anything is assembled next to `out_dir`, reusing unchanged
files as hard links, and swapped in (write.py); a build that changes nothing writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

from generator.core.errors import Code, UserError, error
from generator.core.beside import Beside
from generator.core.files import tree_entries
from generator.core.jsonio import atomic_write
from generator.core.model import Card, CardVerification, Page, Tag
from generator.core.workers import start_blocked, worker_init
from generator.site import state as incremental
from generator.site.current import site_input_files, site_is_current  # noqa: F401 (callers import them from here)
from generator.site.options import SiteOptions
from generator.site.pages import SiteRenderer
from generator.site.entrycache import EntryCache
from generator.site.rendercache import RenderCache
from generator.site.plan import PageJob, PageKind, alternates, global_hashes, plan_site, static_files
from generator.site.state import BuildState, Decision
from generator.site.write import FolderWriter, Stage

Log = Callable[[str], None]


def render_site(cards: Sequence[Card], tags: Mapping[str, Tag],
                verification: Mapping[str, CardVerification], options: SiteOptions) -> list[Page]:
    """Every file of the site, rendered in memory (sorted by URL)."""
    jobs = plan_site(cards, verification, static_files(options))
    sr = SiteRenderer(cards, tags, verification, options)
    pages = [Page(j.url, sr.render(j, jobs), j.lang or None, alternates(j)) for j in _render_order(jobs)]
    return sorted(pages, key=lambda p: p.url)


def _render_order(jobs: Sequence[PageJob]) -> list[PageJob]:
    # A card's pages one after the other, so its parsed sections are still cached.
    return sorted(jobs, key=lambda j: (j.card_id, j.url))


# ---------------------------------------------------------------- incremental build


@dataclass(frozen=True)
class BuildReport:
    rendered: int  # files rendered this time
    reused: int  # files carried over from the previous site
    removed: int  # files of the previous site that no longer exist
    wrote: bool  # False: the site on disk was already right, nothing was swapped
    seconds: float


def build_site(cards: Sequence[Card], tags: Mapping[str, Tag],
               verification: Mapping[str, CardVerification], options: SiteOptions, out_dir: Path,
               *, log: Log | None = None, input_stats: Mapping[str, tuple[int, int]] | None = None,
               fingerprint: str = "", workers: int = 0,
               extra: Mapping[str, bytes] | None = None,
               before_swap: BeforeSwap | None = None, render_cache: RenderCache | None = None,
               signatures: Path | None = None, entry_cache: EntryCache | None = None,
               search_ahead: Callable[[frozenset[str], frozenset[str]], None] | None = None) -> BuildReport:
    """Bring `out_dir` up to date: render only pages whose inputs changed (with `log`, say why
    for each), hard-link the rest from the current site, swap the result in atomically.

    `input_stats` (from `incremental.stat_inputs`, taken before the cards were read) and
    `fingerprint` are stored so that the next build can call `incremental.inputs_unchanged`
    and skip reading the cards entirely. The templates and catalog are added here.
    `workers`: processes for rendering (0: one per core; used for big builds only).
    `before_swap(stage, changed_urls)` runs on the finished new folder just before it replaces
    the old one (the search index is built there, so pages and index change together).
    `render_cache`: each card's rendered Markdown across builds (rendercache.py); `entry_cache`:
    the index and tag pages' entries across builds (entrycache.py).
    `signatures`: a file outside the site for the stat signature of each file the build left,
    so the next build hashes only files that changed since (state.changed_since_written).
    `search_ahead(changed_urls, page_urls)`: told, before anything is rendered, what
    `before_swap` will be (search/early.py starts on the pages it will index but not change)."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    stats = dict(input_stats or {})
    stats.update(incremental.stat_inputs(site_input_files(options)))

    globals_ = global_hashes(options, tags)
    jobs = plan_site(cards, verification, static_files(options), extra)
    page_deps = {j.url: j.deps for j in jobs}
    state = incremental.load_state(out_dir)
    _refuse_foreign_folder(out_dir)
    on_disk = set(_files_of(out_dir)) if state else set()
    decisions: list[Decision] = incremental.decide(page_deps, globals_, state, out_dir, on_disk if state else None)
    todo = {d.url for d in decisions if d.reasons}
    removed = sorted(set(state.pages) - set(page_deps)) if state else []
    # Every file of the current site is carried over only while it still has the bytes the last
    # build wrote: a page edited in place is rendered again, and a changed (or planted) file in a
    # search bundle makes the search stage index again instead of carrying the bundle over.
    # (Also every page to carry over that the walk did not list, e.g. below a symlinked folder.)
    known = incremental.load_signatures(signatures) if state else {}
    inodes: dict[str, int] = {}  # of the files checked unchanged: what the staging folder may keep
    seen: dict[str, incremental.Signature] = {}  # and the stat signatures now of some (see there)
    changed = incremental.changed_since_written(
        out_dir, state, sorted((on_disk | set(page_deps)) - todo), known, inodes, seen) if state else set()
    todo |= changed & set(page_deps)
    new_state = BuildState(globals_, page_deps, stats, fingerprint)

    if log is not None:
        for d in decisions:
            if d.reasons:
                log(f"rebuild {d.url}: {'; '.join(d.reasons)}")
        for url in sorted(changed):
            what = "rebuild" if url in page_deps else "do not carry over"
            log(f"{what} {url}: the file in the site is not what the last build wrote")
        for url in removed:
            log(f"remove {url}: no longer produced")

    if not todo and not removed and not changed and state is not None:
        # Nothing to render; only refresh the recorded mtimes if they moved (e.g. `touch`).
        if state.inputs != stats or state.fingerprint != fingerprint:
            atomic_write(out_dir / incremental.STATE_FILE, replace(new_state, files=state.files).to_bytes())
        if not known:
            incremental.save_signatures(signatures, out_dir, state.files)
        return BuildReport(0, len(jobs), 0, False, time.perf_counter() - start)

    if search_ahead is not None and before_swap is not None:
        search_ahead(frozenset(todo | changed), frozenset(page_deps))
    sr = SiteRenderer(cards, tags, verification, options, extra, render_cache, entry_cache)
    order = [j for j in _render_order(jobs) if j.url in todo]
    files, untouched = _build_staged(sr, jobs, order, todo, new_state, out_dir, workers, before_swap,
                                     state.files if state else {}, changed, inodes)
    # After the swap: the site as it stays. A file the recycled folder kept has had no link
    # made or removed since it was checked: its signature then is its signature now.
    incremental.save_signatures(signatures, out_dir, files, {u: seen[u] for u in untouched if u in seen})
    return BuildReport(len(todo), len(jobs) - len(todo), len(removed), True, time.perf_counter() - start)


# Every build that changes anything assembles a complete new folder and swaps it in: unchanged
# files are hard links to the current site (about 0.25 s for a 1,000-card site here), so even a
# one-page change never leaves a reader with a half-updated site.
# The new folder it gets may already hold, at their own URLs, hard links to files of the
# current site that are not pages and were checked unchanged (the search bundles a recycled
# folder kept: the search stage assembles its bundles around them). It may return what it
# placed: a list of URLs, all hard links to current files it was told are unchanged, or
# url -> the sha256 of the bytes it wrote (None: such a hard link); else the new folder is
# walked for it. Its third argument: the URL of every file the build put in the new folder (the
# pages it rendered or carried over), so that the stage need not list the folder to find them.
BeforeSwap = Callable[[Path, frozenset[str], frozenset[str]], "list[str] | Mapping[str, str | None] | None"]


def _build_staged(sr: SiteRenderer, jobs: Sequence[PageJob], order: Sequence[PageJob], todo: set[str],
                  new_state: BuildState, out_dir: Path, max_workers: int,
                  before_swap: BeforeSwap | None, old_files: Mapping[str, str], changed: set[str],
                  inodes: Mapping[str, int]) -> tuple[dict[str, str], set[str]]:
    """The sha256 of every file of the new site, and the files it kept from the recycled folder
    that nothing has linked, unlinked or written since (see save_signatures)."""
    workers = min(max_workers or os.cpu_count() or 1, max(1, len(order) // PAGES_PER_WORKER))
    files: dict[str, str] = {}
    with Stage(out_dir) as stage:
        carried = {j.url: inodes[j.url] for j in jobs if j.url not in todo and j.url in inodes}
        if before_swap is not None:  # and the other files (the search bundles), for it to keep
            carried.update((u, ino) for u, ino in inodes.items() if u not in new_state.pages)
        stage.prune([*(j.url for j in jobs), *carried], carried)
        for j in jobs:
            if j.url not in todo:
                stage.reuse(j.url)
                files[j.url] = old_files[j.url]
        # Index and tag pages are rendered here, never in a forked worker, so that the entries
        # they share stay in one process and are saved once (entrycache.py).
        listing = [j for j in order if j.kind in _LISTING]
        rest = [j for j in order if j.kind not in _LISTING]

        def render_here(some: Sequence[PageJob]) -> None:
            for j in some:
                data = sr.render(j, jobs)
                stage.write(j.url, data)
                files[j.url] = hashlib.sha256(data).hexdigest()

        tell = frozenset(todo | changed), frozenset(j.url for j in jobs)
        if workers > 1 and "fork" in _start_methods():
            files.update(_render_parallel(sr, jobs, rest, stage.path, workers, lambda: render_here(listing)))
            sr.save_caches()
            placed = before_swap(stage.path, *tell) if before_swap is not None else None
        else:
            # The search stage reads only model and legend pages: it starts once they are
            # written and indexes them while the rest is rendered (the JSON API, the sitemap,
            # the index and tag pages), its Pagefind processes on the other core.
            render_here([j for j in rest if j.kind in _SEARCHED])
            with Beside(before_swap, stage.path, *tell) as searching:
                render_here([j for j in rest if j.kind not in _SEARCHED])
                render_here(listing)
                sr.save_caches()
            placed = searching.result()
        # Files the search stage made or carried over are recorded like the pages (one carried
        # over is the current site's checked file, whose digest is known).
        staged, current = os.fspath(stage.path), os.fspath(out_dir)
        written = placed if isinstance(placed, Mapping) else dict.fromkeys(placed or ())
        untouched = {u for u in stage.kept if u in files or written.get(u, "") is None}
        for url, sha in written.items():
            if url not in files:
                files[url] = (sha if sha is not None else old_files[url] if url in old_files and url not in changed
                              else incremental.file_digest(os.path.join(staged, url)))
        for url in sorted(_walk(stage.path)) if before_swap is not None and placed is None else ():
            if url not in files and url != incremental.STATE_FILE:
                here = os.path.join(staged, url)
                files[url] = (old_files[url] if url in old_files and url not in changed
                              and _same_file(here, os.path.join(current, url))
                              else incremental.file_digest(here))
        stage.write(incremental.STATE_FILE, replace(new_state, files=files).to_bytes())
    return files, untouched


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samestat(os.lstat(a), os.lstat(b))
    except OSError:
        return False


def _files_of(site: Path) -> list[str]:
    if not site.is_dir():
        return []
    return [u for u in _walk(site, symlinks=True) if u.rpartition("/")[2] != incremental.STATE_FILE]


def _walk(root: Path, symlinks: bool = False) -> list[str]:
    """URL of every regular file under `root` (and with `symlinks`, every symlink that is not a
    folder), never entering a symlinked folder."""
    return [url for url, entry in tree_entries(os.fspath(root))
            if entry.is_file(follow_symlinks=False) or (symlinks and entry.is_symlink())]


def _refuse_foreign_folder(out_dir: Path) -> None:
    """A build replaces the whole output folder; never do that to a folder this tool did not make."""
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise UserError([error(Code.REGISTRY, f"refusing to replace {out_dir}: it is not a folder; choose "
                               "another output folder", str(out_dir), 1)])
    if out_dir.is_dir() and not (out_dir / incremental.STATE_FILE).exists() and any(out_dir.iterdir()):
        raise UserError([error(Code.REGISTRY, f"refusing to replace {out_dir}: it is not empty and was not "
                               f"built by build-site (no {incremental.STATE_FILE}); remove it or choose "
                               "another output folder", str(out_dir), 1)])


_LISTING = (PageKind.INDEX, PageKind.TAG)
_SEARCHED = (PageKind.MODEL, PageKind.LEGEND)  # what the search stage reads (site/search)

# Below this many pages per extra process, forking costs more than it saves.
PAGES_PER_WORKER = 150

# What forked workers inherit: set just before the pool starts, never pickled.
_FORK_STATE: tuple[SiteRenderer, Sequence[PageJob], Sequence[PageJob], Path] | None = None


def _render_chunk(chunk: range) -> list[tuple[str, str]]:
    """Render and write a chunk; (url, sha256) of each file, for the build state."""
    assert _FORK_STATE is not None
    sr, all_jobs, order, folder = _FORK_STATE
    writer = FolderWriter(folder)
    out = []
    for i in chunk:
        data = sr.render(order[i], all_jobs)
        writer.write(order[i].url, data)
        out.append((order[i].url, hashlib.sha256(data).hexdigest()))
    return out


def _chunks(order: Sequence[PageJob], size: int) -> list[range]:
    """Ranges of about `size` jobs that never split a card's pages (its sections are rendered
    once per process). Pages of no card (legend, API index, sitemap, static files; the index
    and tag pages render in the parent meanwhile) are a chunk each."""
    chunks: list[range] = []
    start = 0
    for i in range(1, len(order) + 1):
        end_of_card = i == len(order) or not order[i].card_id or order[i].card_id != order[i - 1].card_id
        if end_of_card and (i - start >= size or not order[i - 1].card_id):
            chunks.append(range(start, i))
            start = i
    if start < len(order):
        chunks.append(range(start, len(order)))
    return chunks


def _render_parallel(sr: SiteRenderer, all_jobs: Sequence[PageJob], order: Sequence[PageJob],
                     folder: Path, workers: int, meanwhile: Callable[[], None]) -> dict[str, str]:
    """Render `order` in forked processes that write straight into `folder` (no page bytes
    cross process boundaries), and run `meanwhile` here while they do. Chunks keep a card's
    pages together for the section cache.
    The workers die with this process (kill -9 included) and leaving the `with` terminates them
    (Ctrl-C, SIGTERM, an error in a page): none outlives the build."""
    global _FORK_STATE
    _FORK_STATE = (sr, all_jobs, order, folder)
    chunks = _chunks(order, max(1, len(order) // (workers * 24)))
    try:
        import multiprocessing  # here: a small rebuild renders in this process (~8 ms to import)

        ctx = multiprocessing.get_context("fork")
        pool = start_blocked(lambda: ctx.Pool(workers, initializer=worker_init, initargs=(os.getpid(),)))
        digests: dict[str, str] = {}
        with pool:
            results = pool.imap_unordered(_render_chunk, chunks)
            meanwhile()
            for part in results:
                digests.update(part)
        return digests
    finally:
        _FORK_STATE = None

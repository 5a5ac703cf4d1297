"""The parse and render caches only save time: a site built with a cold cache, a warm one, or a
cache made under other templates and another catalog is the same, byte for byte; a damaged or
hostile entry is a miss; an edited card invalidates its own entries only. Builds run through the
command line (no verification, no search: neither touches these caches)."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.core import objcache
from generator.site import entrycache
from generator.core.objcache import Entry, ObjectCache, cache_usable, record

ROOT = Path(__file__).resolve().parents[2]


def make_project(dest: Path) -> Path:
    (dest / "cards").mkdir(parents=True)
    for p in (ROOT / "cards").glob("*.md"):
        shutil.copy2(p, dest / "cards" / p.name)
    shutil.copy2(ROOT / "cards" / "tags.yaml", dest / "cards" / "tags.yaml")
    shutil.copytree(ROOT / "templates", dest / "templates", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def build(project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "generator", "build", "--no-verify", "--no-search",
                           "--project", str(project), *extra],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def entries(project: Path, kind: str) -> dict[str, Entry]:
    """key -> where its record is, of the parse or render cache (a hit writes nothing)."""
    return ObjectCache(project / ".cache" / kind, kind).entries()


def _poke(entry: Entry, at: int, data: bytes) -> None:
    with open(entry.pack, "r+b") as f:
        f.seek(at)
        f.write(data)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def test_cold_warm_and_changed_templates_give_the_same_bytes(project: Path, tmp_path: Path) -> None:
    site = project / "site"
    build(project)
    cold = tree(site)
    parse, render = entries(project, "parse"), entries(project, "render")
    assert len(parse) == len(list((project / "cards").glob("*.md"))) and len(render) == len(parse)

    shutil.rmtree(site)
    build(project)
    assert tree(site) == cold  # every card from the caches
    assert (entries(project, "parse"), entries(project, "render")) == (parse, render)  # all hits

    # Another template and another catalog string: every page renders again, from the caches.
    base = project / "templates" / "base.html"
    base.write_text(base.read_text(encoding="utf-8").replace("<body", "<body data-cache-test", 1), encoding="utf-8")
    catalog = project / "templates" / "i18n.yaml"
    text = catalog.read_text(encoding="utf-8")
    assert "en_US: All models\n" in text
    catalog.write_text(text.replace("en_US: All models\n", "en_US: Every model\n", 1), encoding="utf-8")
    build(project)
    warm_changed = tree(site)
    assert (entries(project, "parse"), entries(project, "render")) == (parse, render)
    assert any(b"data-cache-test" in v for v in warm_changed.values())
    assert any(b"Every model" in v for v in warm_changed.values())

    shutil.rmtree(site)
    shutil.rmtree(project / ".cache")
    build(project)
    assert tree(site) == warm_changed  # cold, under the new templates


def test_damaged_and_hostile_entries_are_misses(project: Path, tmp_path: Path) -> None:
    site = project / "site"
    build(project)
    good = tree(site)
    parse, render = entries(project, "parse"), entries(project, "render")
    pkeys = sorted(parse)
    ordered = sorted(render, key=lambda k: (render[k].pack, render[k].offset))  # as a reader meets them
    # a flipped byte in a payload; a record filed under another key (its header's key changed),
    # met after that key's own record
    _poke(parse[pkeys[0]], parse[pkeys[0]].offset + parse[pkeys[0]].length - 5, b"\xff")
    _poke(render[ordered[-2]], render[ordered[-2]].offset - 136, ordered[0].encode())
    # a record cut short: the last of a pack, its length beyond the end of the file
    last = render[ordered[-1]]
    os.truncate(last.pack, last.offset + last.length - 10)
    # a well-formed record whose pickle would call a function: refused, never called
    marker = tmp_path / "called"
    payload = pickle.dumps(_Calls(str(marker)))
    with open(parse[pkeys[1]].pack, "ab") as f:
        f.write(record(pkeys[1], payload))

    shutil.rmtree(site)
    log = build(project, "-v").stderr
    assert tree(site) == good
    assert not marker.exists()
    assert "parse cache: ignoring entry" in log and "payload is damaged" in log
    assert "names posix.mkdir" in log
    assert f"render cache: ignoring entry {ordered[0][:12]} (its payload is damaged" in log
    # the misses were computed again and stored: the next build hits everything
    before = (entries(project, "parse"), entries(project, "render"))
    assert sum(1 for e in before[1].values() if e.pack == last.pack) < sum(
        1 for e in render.values() if e.pack == last.pack), "the cut record was not read"
    shutil.rmtree(site)
    log = build(project, "-v").stderr
    assert "ignoring entry" not in log and tree(site) == good
    assert (entries(project, "parse"), entries(project, "render")) == before


class _Calls:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.path,))


def test_an_edited_card_invalidates_only_its_entries(project: Path) -> None:
    build(project)
    parse, render = entries(project, "parse"), entries(project, "render")
    card = project / "cards" / "megengine_vision_resnet.md"
    card.write_text(card.read_text(encoding="utf-8").replace("Top1 acc", "Top-1 acc", 1), encoding="utf-8")
    build(project)
    parse2, render2 = entries(project, "parse"), entries(project, "render")
    # old entries untouched (hits), exactly one new entry per cache (the edited card)
    assert {k: v for k, v in parse2.items() if k in parse} == parse and len(set(parse2) - set(parse)) == 1
    assert {k: v for k, v in render2.items() if k in render} == render and len(set(render2) - set(render)) == 1
    pages = [(project / "site" / lang / "models" / "megengine_vision_resnet" / "index.html").read_text(encoding="utf-8")
             for lang in ("en", "zh")]
    assert any("Top-1 acc" in page for page in pages)


def test_entries_are_strict(tmp_path: Path) -> None:
    cache = ObjectCache(tmp_path / "a", "test cache", allowed=())
    key, other = "ab" * 32, "cd" * 32
    cache.put(key, {"x": (1, "y")})
    assert cache.get(key, lambda v: True) == {"x": (1, "y")}
    assert cache.get(key, lambda v: False) is None  # the shape check decides
    assert cache.get(other, lambda v: True) is None  # absent
    cache.put(key, Path("x"))  # a class outside the allow-list
    assert cache.get(key, lambda v: True) is None
    assert (cache.hits, cache.misses) == (1, 3)
    (tmp_path / "b").mkdir()
    os.symlink(cache.entries()[key].pack, tmp_path / "b" / "0-1-x.pack")
    assert ObjectCache(tmp_path / "b", "test cache").entries() == {}  # a symlink is not followed


def test_packs_are_merged_except_the_ones_being_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "c"
    keys = [f"{i:064x}" for i in range(6)]
    for i, k in enumerate(keys[:5]):
        one = ObjectCache(root, "test cache")
        one.put(k, ("value", i) if i else ("the largest pack", "x" * 1000))  # never merged
        one.close()
    writing = ObjectCache(root, "test cache")
    writing.put(keys[5], ("value", 5))  # its pack stays open (and locked) until close()
    before = ObjectCache(root, "test cache").entries()
    _poke(before[keys[1]], before[keys[1]].offset + 3, b"\x00")
    assert len(list(root.glob("*.pack"))) == 6

    monkeypatch.setattr(objcache, "MAX_PACKS", 3)
    reader = ObjectCache(root, "test cache")
    found = {k: reader.get(k, lambda v: True) for k in keys}
    packs = set(map(str, root.glob("*.pack")))
    assert len(packs) == 3 and {before[keys[0]].pack, before[keys[5]].pack} < packs  # + the merged one
    assert found == {keys[0]: ("the largest pack", "x" * 1000), keys[1]: None,
                     **{k: ("value", i) for i, k in enumerate(keys) if i > 1}}
    writing.close()


def test_no_cache_inside_the_output_folder(tmp_path: Path) -> None:
    assert cache_usable(tmp_path / ".cache", tmp_path / "site")
    assert not cache_usable(tmp_path / "site" / ".cache", tmp_path / "site")
    assert not cache_usable(tmp_path / ".cache", tmp_path / ".cache" / "site")


def _listing_pages(site: Path) -> dict[str, bytes]:
    """The index and tag pages of both languages (the pages made of index entries)."""
    return {k: v for k, v in tree(site).items() if k.endswith("index.html") and "/models/" not in k
            and "/legend/" not in k and k.count("/") >= 1}


def test_index_entries_are_kept_and_follow_everything_they_are_made_from(project: Path) -> None:
    site = project / "site"
    build(project)
    files = list((project / ".cache" / "index-entries").glob("*.bin"))
    assert len(files) == 1
    kept = files[0]
    assert len(_listing_pages(site)) >= 4

    def cold() -> dict[str, bytes]:
        """The same inputs built with no cache at all, in a copy of the project."""
        other = project.parent / "cold"
        shutil.rmtree(other, ignore_errors=True)
        shutil.copytree(project, other, ignore=shutil.ignore_patterns(".cache", "site"))
        build(other)
        return _listing_pages(other / "site")

    # an edited card: its entry is rendered again, every other one comes from the file
    card = project / "cards" / "megengine_vision_resnet.md"
    card.write_text(card.read_text(encoding="utf-8").replace("title: ResNet", "title: ResNet-edited", 1),
                    encoding="utf-8")
    build(project)
    assert b"ResNet-edited" in _listing_pages(site)["en/index.html"]
    assert _listing_pages(site) == cold()

    # the entries' template and a catalog string they use
    entries_tpl = project / "templates" / "_entries.html"
    entries_tpl.write_text(entries_tpl.read_text(encoding="utf-8").replace(
        '<li class="card"', '<li class="card" data-entry-test', 1), encoding="utf-8")
    catalog = project / "templates" / "i18n.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace("en_US: by {author}\n",
                                                                   "en_US: made by {author}\n", 1), encoding="utf-8")
    build(project)
    index = _listing_pages(site)["en/index.html"].decode("utf-8")
    n_cards = len(list((project / "cards").glob("*.md")))
    assert index.count("data-entry-test") == n_cards and index.count("made by ") == n_cards
    assert _listing_pages(site) == cold()

    # a damaged file (the last format, a cut, a length past the end, bytes that are not UTF-8,
    # bytes after the last entry): ignored as a whole
    good = _listing_pages(site)
    whole = kept.read_bytes()
    first = len(entrycache.MAGIC) + entrycache.KEY_CHARS
    too_long = whole[:first] + (len(whole)).to_bytes(8, "little") + whole[first + 8:]
    not_utf8 = whole[:first + 16] + b"\xff" + whole[first + 17:]
    assert entrycache.from_bytes(whole) and all(
        entrycache.from_bytes(bad) == {} for bad in (whole[:-3], too_long, not_utf8, whole + b"x"))
    for damage in (b'{"format": 1, "entries": {"k": ["a", "b"]}}', whole[:-3], too_long, not_utf8):
        kept.write_bytes(damage)
        shutil.rmtree(site)
        build(project)
        assert _listing_pages(site) == good


def _listing_render(project: Path, cards: list, kept: Path) -> tuple[dict[str, bytes], int]:
    """The listing pages rendered in this process with the entry file `kept`, and how many
    card entries had to be made for them."""
    from generator.site import render as render_module
    from generator.site.entrycache import EntryCache
    from generator.site.options import SiteOptions
    from generator.site.pages import SiteRenderer
    from generator.site.plan import PageKind, plan_site, static_files

    options = SiteOptions.for_project(project / "cards", project / "templates")
    jobs = plan_site(cards, {}, static_files(options))
    made = []
    real = render_module.Renderer.card_entry

    def counted(self: object, lang: str, card: object, verification: object) -> object:
        made.append((lang, card))
        return real(self, lang, card, verification)  # type: ignore[arg-type]

    render_module.Renderer.card_entry = counted  # type: ignore[method-assign]
    try:
        from generator.cards.tags import load_tags

        sr = SiteRenderer(cards, load_tags(project / "cards")[0], {}, options, entry_cache=EntryCache(kept))
        pages = {j.url: sr.render(j, jobs) for j in jobs if j.kind in (PageKind.INDEX, PageKind.TAG)}
        sr.save_caches()
    finally:
        render_module.Renderer.card_entry = real  # type: ignore[method-assign]
    return pages, len(made)


def test_a_kept_entry_is_found_without_making_the_cards_entry(project: Path) -> None:
    """An entry is found by what it is made from: a build with the file of the last one makes
    only the entries of the card that changed (one per language), and the pages are the bytes
    of a render without the file."""
    import dataclasses

    from generator.cards.discover import read_cards

    cards, _tags, problems = read_cards(project / "cards")
    assert not problems and len(cards) >= 3
    kept = project / "entries.bin"
    first, made = _listing_render(project, cards, kept)
    assert made == 2 * len(cards) and kept.is_file()
    again, made = _listing_render(project, cards, kept)
    assert (again, made) == (first, 0)
    edited = [dataclasses.replace(c, meta=dataclasses.replace(c.meta, title=c.meta.title + " (edited)"),
                                  source=c.source + "\n") if i == 1 else c for i, c in enumerate(cards)]
    pages, made = _listing_render(project, edited, kept)
    assert made == 2 and pages == _listing_render(project, edited, project / "none.bin")[0]
    assert any(b"(edited)" in page for page in pages.values())


def test_the_entries_key_covers_the_parser_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry is found by the card's bytes, so the code that makes a Card of them (cards/,
    core/) and the rest of the tool are in its key: a change there misses."""
    from generator.site import render as render_module
    from generator.site.i18n import load_catalog

    folders = render_module.package_folders()
    package = Path(render_module.__file__).resolve().parents[1]
    assert {package / "cards", package / "core", package / "site", package / "claims"} <= set(folders)
    copy = tmp_path / "pkg"
    shutil.copytree(package / "cards", copy / "cards", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(render_module, "package_folders", lambda: [copy / "cards"])
    catalog = load_catalog(ROOT / "templates" / "i18n.yaml", "templates/i18n.yaml")
    before = render_module._entry_code(ROOT / "templates", catalog, "1")
    parser = copy / "cards" / "parse.py"
    parser.write_text(parser.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert render_module._entry_code(ROOT / "templates", catalog, "1") != before


def test_new_index_entries_are_appended_and_the_file_stays_within_twice_what_a_build_uses(tmp_path: Path) -> None:
    from generator.site.entrycache import EntryCache

    path = tmp_path / "entries.bin"
    keys = [entrycache.key(f"card {i}") for i in range(10)]

    def a_build(used: list[str]) -> dict[str, tuple[str, str]]:
        cache = EntryCache(path)
        for k in used:
            if cache.get(k) is None:
                cache.put(k, (f"item {k}", f"row {k}"))
        cache.save()
        return entrycache.from_bytes(path.read_bytes())

    assert set(a_build(keys)) == set(keys)
    first = path.read_bytes()
    # a one-card edit: one entry made new, the old one unused; appended after the others
    edited = [*keys[1:], entrycache.key("card 0, edited 0")]
    assert set(a_build(edited)) == set(keys) | set(edited)
    after = path.read_bytes()
    assert after.startswith(first) and len(after) > len(first)
    assert a_build(edited) and path.read_bytes() == after  # nothing new: not written
    # more edits: the file is rewritten with the used entries once half of it would be unused
    sizes = []
    for n in range(1, 25):
        used = [*keys[1:], entrycache.key(f"card 0, edited {n}")]
        held = a_build(used)
        assert set(used) <= set(held) and len(held) <= 2 * len(used)
        assert all(v == (f"item {k}", f"row {k}") for k, v in held.items())
        sizes.append(len(held))
    assert min(sizes) == len(keys) and max(sizes) == 2 * len(keys)  # rewritten, then appended to again
    # a file that changed after it was read is rewritten whole, not appended to
    cache = EntryCache(path)
    cache.get(keys[1])
    other = {entrycache.key("written by someone else"): ("x", "y")}
    path.write_bytes(entrycache.to_bytes(other))
    cache.put(entrycache.key("new"), ("item", "row"))
    cache.save()
    assert set(entrycache.from_bytes(path.read_bytes())) == {keys[1], entrycache.key("new")}


def test_records_of_keys_no_longer_needed_are_dropped_once_they_are_most_of_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "c"
    keys = [f"{i:064x}" for i in range(4)]
    first = ObjectCache(root, "test cache")
    for i, k in enumerate(keys):
        first.put(k, ("value", i))
    first.close()
    old = ObjectCache(root, "test cache")
    old.put(f"{99:064x}", ("gone", 0))  # one stale record of five: kept
    old.close()
    assert ObjectCache(root, "test cache").evict(set(keys)) == 0
    for n in range(4):  # edits: every one leaves a record no build needs
        edit = ObjectCache(root, "test cache")
        edit.put(f"{100 + n:064x}", ("gone", n))
        edit.close()
    writing = ObjectCache(root, "test cache")
    writing.put(f"{200:064x}", ("being written", 0))  # its pack is left alone
    cache = ObjectCache(root, "test cache")
    assert cache.records() == 10
    assert cache.evict(set(keys)) == 6  # 6 not needed of 10: every pack but the open one, as one
    assert len(list(root.glob("*.pack"))) == 2
    again = ObjectCache(root, "test cache")
    assert {k: again.get(k, lambda v: True) for k in keys} == {k: ("value", i) for i, k in enumerate(keys)}
    assert again.get(f"{99:064x}", lambda v: True) is None and again.records() == 5  # + the open pack's
    writing.close()
    assert ObjectCache(root, "test cache").get(f"{200:064x}", lambda v: True) == ("being written", 0)


def test_editing_one_card_again_and_again_keeps_the_caches_bounded(project: Path) -> None:
    card = project / "cards" / "megengine_vision_resnet.md"
    text = card.read_text(encoding="utf-8")
    build(project)
    n_cards = len(list((project / "cards").glob("*.md")))
    for n in range(2 * n_cards + 2):
        card.write_text(text.replace("title: ResNet", f"title: ResNet {n}", 1), encoding="utf-8")
        build(project)
        for kind in ("parse", "render"):
            held = ObjectCache(project / ".cache" / kind, kind).records()
            assert held <= 2 * n_cards + 1, (kind, n, held)  # + this build's own new record
    site = _listing_pages(project / "site")
    shutil.rmtree(project / "site")
    build(project)  # from the caches as they are now: the same pages
    assert _listing_pages(project / "site") == site

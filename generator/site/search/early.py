"""The indexable copies of the pages a build's search stage will index again without their having
changed, made before the stage starts.

A part is indexed again whole: a one-card edit sends Pagefind the card's page and the ~63 other
pages of its part, each first read and cut into words (the segmenter process). Which parts
those are is known as soon as the build knows which pages it renders, well before they are
rendered; the other pages of such a part are files of the current site that the new one keeps
(hard links, checked unchanged by the build state). So they are read from the current site and
cut then, in a thread and the segmenter process, while templates are compiled and the pages
rendered: ~0.1 s of the stage's own time that no longer follows the rendering.

A copy is handed over only for a page whose bytes read here have the sha256 the search stage
gives it (its record's, for a page the build kept): a page that changed in between is read and
cut again there, as without this.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from generator.site.search import parts
from generator.site.search.segmenter import Segmenter


class EarlyCopies:
    def __init__(self, site: Path, langs: tuple[str, ...], changed: frozenset[str],
                 searchable: dict[str, list[str]], segmenter: Segmenter) -> None:
        """`searchable`: language -> the pages (relative to its folder) the stage will index;
        `changed`: site URLs of the files the build renders again or must not trust."""
        self._site, self._langs, self._changed = site, langs, changed
        self._searchable, self._segmenter = searchable, segmenter
        self._got: dict[tuple[str, str], tuple[str, str]] = {}  # (lang, url) -> (sha256, copy)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        todo: list[tuple[str, str, str, str]] = []  # lang, url, sha256, text
        for lang in self._langs:
            urls = self._searchable.get(lang, [])
            mine = {u[len(lang) + 1:] for u in self._changed if u.startswith(lang + "/")}
            for members in parts.split(urls, parts.PART_PAGES).values():
                if mine.isdisjoint(members):
                    continue  # carried over whole, nothing to index
                for url in members:
                    if url in mine:
                        continue
                    try:
                        with open(os.path.join(self._site, lang, url), "rb") as f:
                            data = f.read()
                        text = data.decode("utf-8")
                    except (OSError, UnicodeDecodeError):
                        continue
                    todo.append((lang, url, hashlib.sha256(data).hexdigest(), text))
        if not todo:
            return
        got = self._segmenter.cut([t[3] for t in todo], [False] * len(todo))
        if got is None:
            return  # no segmenter: the stage cuts them itself
        for (lang, url, sha, _text), copy in zip(todo, got[0]):
            self._got[(lang, url)] = (sha, copy)

    def get(self, lang: str, url: str, sha: str) -> str | None:
        """The page's indexable copy, made from bytes with this sha256; else None."""
        self._thread.join()
        found = self._got.get((lang, url))
        return found[1] if found is not None and found[0] == sha else None

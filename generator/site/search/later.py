"""Search off the critical path of `serve`: the edited page is swapped in first, its search
catches up right after.

A build of `serve` after the first one does not index before the swap: the new site folder gets
the current site's bundles as they are (hard links; none of a file the build does not trust), so
search keeps working and only the changed pages' results are those of the last index. Once the
new site is in place, `catch_up` indexes the parts holding the changed pages in the live folder
(each language's bundle is assembled beside it and takes its place in one exchange of names),
then records the bundles' files in the build state, so the next build carries them over like
any file it wrote. Until then the served pages say that search is catching up (`cli/serve.py`).
`serve` runs no other build while one catches up.

`build-site build` never defers: a built site's index always matches its pages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from generator.core.errors import Diagnostic
from generator.core.jsonio import atomic_write
from generator.core.model import LANGS, URL_LANG
from generator.site import state as incremental
from generator.site.search import BUNDLE, Services, index_stage


@dataclass
class SearchLater:
    """What a deferred build leaves for `catch_up`: the site URLs its search must look at again
    (pages rendered again, files not trusted), None while nothing is pending."""

    pending: frozenset[str] | None = None


def carry_bundles(current: Path, stage: Path, untrusted: frozenset[str]) -> list[str]:
    """Hard-link every file of the current site's bundles into the new site folder, except
    those in `untrusted` (a part missing a file is indexed again by `catch_up`); the site URLs
    of the files linked."""
    linked: list[str] = []
    for lang in (URL_LANG[code] for code in LANGS):
        if (current / lang / BUNDLE).is_dir():
            _link_tree(os.fspath(current), os.fspath(stage), f"{lang}/{BUNDLE}", untrusted, linked)
    return linked


def _link_tree(src_root: str, dst_root: str, rel: str, untrusted: frozenset[str], linked: list[str]) -> None:
    os.makedirs(os.path.join(dst_root, rel), exist_ok=True)
    with os.scandir(os.path.join(src_root, rel)) as it:
        entries = list(it)
    for entry in entries:
        url = f"{rel}/{entry.name}"
        if entry.is_dir(follow_symlinks=False):
            _link_tree(src_root, dst_root, url, untrusted, linked)
        elif entry.is_file(follow_symlinks=False) and url not in untrusted:  # never a symlink
            dst = os.path.join(dst_root, url)
            try:
                os.link(entry.path, dst)
            except FileExistsError:  # kept by the recycled folder's prune: the same file, else replaced
                if not os.path.samestat(entry.stat(follow_symlinks=False), os.lstat(dst)):
                    os.unlink(dst)
                    os.link(entry.path, dst)
            linked.append(url)


def catch_up(site: Path, later: SearchLater, services: Services | None = None,
             signatures: Path | None = None) -> tuple[Diagnostic, ...]:
    """Index the live `site` for the changed pages `later` names, then record its bundles."""
    changed = later.pending or frozenset()
    problems = index_stage(site, site, changed, services)
    later.pending = None
    state = incremental.load_state(site)
    if state is None:
        return problems
    files = {u: h for u, h in state.files.items() if not _in_bundle(u)}
    base = os.fspath(site)
    for lang in (URL_LANG[code] for code in LANGS):
        root = os.path.join(base, lang, BUNDLE)
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    files[os.path.relpath(path, base).replace(os.sep, "/")] = incremental.file_digest(path)
    atomic_write(site / incremental.STATE_FILE, replace(state, files=dict(sorted(files.items()))).to_bytes())
    incremental.save_signatures(signatures, site, files)
    return problems


def _in_bundle(url: str) -> bool:
    lang, _, rest = url.partition("/")
    return lang in URL_LANG.values() and rest.startswith(BUNDLE + "/")

"""Which pretrained weight files the cards need from the hub repositories in the store.

A hub repository names its weights only inside hubconf.py (`@hub.pretrained(URL)`), so the lock
cannot list them before the repository itself is fetched. After a fetch, this reads (never runs)
each stored repository's hubconf for the entries the cards use (found by the fetch command: the
entries card code loads with `pretrained=True` and those a verify spec maps its rows to), so one
`build-site fetch` on a networked machine brings a card's repository *and* its weights.
"""

from __future__ import annotations

from typing import Collection, Mapping

from generator.hub.hubconf import weights_url_for
from generator.store.content import Store
from generator.store.lock import Lock, LockItem


def wanted_weights(lock: Lock, store: Store, used: Mapping[str, Collection[str]]) -> list[LockItem]:
    """New lock items (sha256 "" until downloaded) for weights of the entries in `used`
    (repo_info -> entry names) that the lock lacks, for the repositories the store holds."""
    repos = {it.repo_info: it for it in lock.items if it.kind == "hub-repo" and store.has(it)}
    new: dict[str, LockItem] = {}
    for repo, entries in sorted(used.items()):
        if repo not in repos:
            continue
        tree = store.tree_path(repos[repo].sha256)
        for entry in sorted(entries):
            url = weights_url_for(tree, entry)
            if url and lock.get(url) is None and url not in new:
                new[url] = LockItem(url=url, kind="weights", sha256="", size=0, source=url,
                                    note=f"pretrained weights of {repo} entry {entry} (found by build-site fetch)")
    return list(new.values())

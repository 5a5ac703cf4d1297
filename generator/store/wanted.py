"""Which pretrained weight files the cards need from the hub repositories in the store.

A hub repository names its weights only inside hubconf.py (`@hub.pretrained(URL)`), so the lock
cannot list them before the repository itself is fetched. After a fetch, this reads (never runs)
each stored repository's hubconf for the entries the cards use, so one `build-site fetch` on a
networked machine brings a card's repository *and* its weights:
- entries the card code loads with `pretrained=True` (`hub.load("owner/name", "entry", ...)`),
- entries the card's verify spec maps its table rows to.
"""

from __future__ import annotations

import ast
from pathlib import Path

from generator.cards.discover import read_cards
from generator.store.lock import Lock, LockItem
from generator.core.model import Card
from generator.cards.parse import iter_snippets
from generator.store.content import Store, weights_url_for
from generator.claims.spec import load_spec


def wanted_weights(lock: Lock, store: Store, cards_dir: Path) -> list[LockItem]:
    """New lock items (sha256 "" until downloaded) for weights the cards use but the lock lacks."""
    repos = {it.repo_info: it for it in lock.items if it.kind == "hub-repo" and store.has(it)}
    if not repos or not cards_dir.is_dir():
        return []
    cards, _tags, _problems = read_cards(cards_dir)  # the build reports card problems, not fetch
    wanted: dict[str, set[str]] = {}
    for card in cards:
        for repo, entry in _loaded_entries(card):
            if repo in repos:
                wanted.setdefault(repo, set()).add(entry)
        spec, _ = load_spec(card, cards_dir)
        if spec is not None and spec.repo in repos:
            wanted.setdefault(spec.repo, set()).update(e for e in spec.rows.values() if e)
    new: dict[str, LockItem] = {}
    for repo, entries in sorted(wanted.items()):
        tree = store.tree_path(repos[repo].sha256)
        for entry in sorted(entries):
            url = weights_url_for(tree, entry)
            if url and lock.get(url) is None and url not in new:
                new[url] = LockItem(url=url, kind="weights", sha256="", size=0, source=url,
                                    note=f"pretrained weights of {repo} entry {entry} (found by build-site fetch)")
    return list(new.values())


def _loaded_entries(card: Card) -> list[tuple[str, str]]:
    """(repo, entry) of every `….load("owner/name", "entry", …, pretrained=True)` in the card."""
    found: list[tuple[str, str]] = []
    for snip in iter_snippets(card):
        if not snip.is_python:
            continue
        try:
            tree = ast.parse(snip.code)
        except SyntaxError:
            continue  # reported by the parser
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and len(node.args) >= 2):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            repo, entry = node.args[0], node.args[1]
            pretrained = any(k.arg == "pretrained" and isinstance(k.value, ast.Constant) and k.value.value is True
                             for k in node.keywords)
            if (name == "load" and pretrained and isinstance(repo, ast.Constant) and isinstance(repo.value, str)
                    and isinstance(entry, ast.Constant) and isinstance(entry.value, str)):
                found.append((repo.value, entry.value))
    return found

"""`build-site fetch`: fill the asset store from the network or from local files, and keep the
cards folder's `store.lock.json` up to date.

    build-site fetch                              download every lock item missing from the store
    build-site fetch --url URL | --repo O/N       ... only that item
    build-site fetch --from FILE --url URL        add a local file standing for URL
    build-site fetch --from DIR --repo O/N        add a local checkout of a hub repository
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Mapping, TextIO

from generator.cards.discover import read_cards
from generator.cards.parse import iter_snippets
from generator.cli.config import Config
from generator.claims.spec import load_spec
from generator.core.errors import Code, UserError, error, has_errors
from generator.hub.hubconf import hub_loads
from generator.store.content import Store, StoreError, store_root
from generator.store.fetch import ENV_GIT_HOST, ENV_MIRROR, FetchError, FetchOptions, add_from, fetch_missing
from generator.store.lock import KINDS, LOCK_FILE, Kind, hub_repo_url, read_lock, write_lock
from generator.store.sync import FETCH_HINT
from generator.store.wanted import wanted_weights

CMDLINE = "<command line>"


def add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `build-site fetch`, for the CLI to attach to its sub-command parser."""
    parser.add_argument("--from", dest="from_path", metavar="PATH",
                        help="add a local file (with --url) or hub repository folder (with --repo)")
    parser.add_argument("--url", help="the URL a --from file stands for; without --from: fetch "
                                      "only this lock item")
    parser.add_argument("--repo", metavar="OWNER/NAME",
                        help="the hub repository a --from folder is; without --from: fetch only it")
    parser.add_argument("--branch", default="master", help="hub repository branch (default master)")
    parser.add_argument("--commit", default=None, help="hub repository commit (default none)")
    parser.add_argument("--kind", choices=KINDS, default=None,
                        help="kind of a --from file (default: weights for .pkl/.mge, else file)")
    parser.add_argument("--substitute", action="store_true",
                        help="mark the --from file as a stand-in for the real URL's content")
    parser.add_argument("--note", default=None, help="free-text note stored on the lock item")
    parser.add_argument("--source", default=None,
                        help="override the recorded source (e.g. build:efficientnet-convert)")
    parser.add_argument("--git-host", default=None,
                        help=f"host for hub archives (env {ENV_GIT_HOST}; default github.com; "
                             f"may be a base URL like http://127.0.0.1:8000)")
    parser.add_argument("--mirror", default=None,
                        help=f"base URL that file/weight downloads are fetched through "
                             f"(env {ENV_MIRROR}): <mirror>/<host>/<path>")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per network read")


def run_fetch_args(ns: argparse.Namespace, project: Path,
                   store: str | os.PathLike[str] | None = None, out: TextIO | None = None,
                   cards: Path | None = None) -> int:
    """run_fetch from parsed arguments; flags the parser lacks take their defaults."""
    def arg(name: str, default: object = None) -> Any:
        return getattr(ns, name, default)

    return run_fetch(project, from_path=arg("from_path"), url=arg("url"), repo=arg("repo"),
                     branch=arg("branch") or "master", commit=arg("commit"), kind=arg("kind"),
                     substitute=bool(arg("substitute")), note=arg("note"), source=arg("source"),
                     store=store or arg("store"), git_host=arg("git_host"), mirror=arg("mirror"),
                     timeout_s=arg("timeout"), out=out, cards=cards)


def run_fetch(project: Path, *, from_path: str | os.PathLike[str] | None = None,
              url: str | None = None, repo: str | None = None, branch: str = "master",
              commit: str | None = None, kind: Kind | None = None,
              substitute: bool = False, note: str | None = None, source: str | None = None,
              store: str | os.PathLike[str] | None = None, git_host: str | None = None,
              mirror: str | None = None, timeout_s: float | None = None,
              out: TextIO | None = None, cards: Path | None = None) -> int:
    """`build-site fetch`. Returns 0; raises UserError with every diagnostic on any error.
    The lock is the cards folder's (default PROJECT/cards), as for every command."""
    out = out if out is not None else sys.stdout
    cards_dir = cards if cards is not None else project / "cards"
    lock_file = cards_dir / LOCK_FILE
    shown = _shown(lock_file, project)
    lock = read_lock(lock_file, shown)
    st = Store(store_root(project, store))
    if source is not None and not source.startswith(("http://", "https://", "path:", "package:",
                                                     "build:")):
        raise UserError([error(Code.FETCH, f"--source must be a URL or start with path:, "
                                           f"package: or build:, found {source!r}", CMDLINE, 0)])
    if from_path is not None:
        try:
            lock, item = add_from(lock, st, project, Path(from_path), url=url, repo=repo,
                                  branch=branch, commit=commit, kind=kind, substitute=substitute,
                                  note=note, source=source)
        except (FetchError, StoreError, OSError) as e:
            raise UserError([error(Code.FETCH, str(e), CMDLINE, 0)]) from None
        write_lock(lock_file, lock)
        print(f"added {item.url} ({item.kind}, {item.size} bytes, sha256 {item.sha256[:12]}…) "
              f"from {item.source} to {shown}", file=out)
        return 0

    only: set[str] | None = None
    if url or repo:
        only = {u for u in (url, hub_repo_url(repo) if repo else None) if u}
        unknown = [u for u in sorted(only) if lock.get(u) is None]
        if unknown:
            raise UserError([error(Code.FETCH, f"{u} is not in {shown}; add it with "
                                               f"`build-site fetch --from PATH`", CMDLINE, 0)
                             for u in unknown])
    options = FetchOptions.resolve(git_host, mirror, timeout_s)
    had = {it.url for it in lock.items if st.has(it)}
    new_lock, diags = fetch_missing(lock, st, project, options, only, out)
    # Hub repositories name their weights only in hubconf.py: now that they are here, add the
    # weights the cards use and fetch those too (hashes recorded on first download).
    found = wanted_weights(new_lock, st, entries_used(cards_dir))
    if found:
        print(f"found {len(found)} pretrained weight file(s) the cards use in the hub repositories", file=out)
        for item in found:
            new_lock = new_lock.with_item(item)
        new_lock, more = fetch_missing(new_lock, st, project, options, {it.url for it in found}, out)
        diags.extend(more)
    updated = new_lock != lock
    if updated:
        write_lock(lock_file, new_lock)
        print(f"updated {shown}", file=out)
    for d in diags:
        if d.level == "warning":
            print(d, file=sys.stderr)
    if has_errors(diags):
        # What did arrive is kept (the store and the lock's new hashes): say so, not "nothing".
        got = [it.url for it in new_lock.items if it.url not in had and st.has(it)]
        wrote = " and ".join(([f"{shown}"] if updated else [])
                             + ([f"{len(got)} item(s) into the store"] if got else []))
        raise UserError([d for d in diags if d.level == "error"], wrote=wrote)
    missing = [it.url for it in new_lock.items if not st.has(it)]
    print(f"store {st.root}: {len(new_lock.items) - len(missing)} of {len(new_lock.items)} "
          f"items present" + (f"; still missing: {', '.join(missing)} ({FETCH_HINT})"
                              if missing else ""), file=out)
    return 0


def _shown(lock_file: Path, project: Path) -> str:
    try:
        return lock_file.resolve().relative_to(project.resolve()).as_posix()
    except ValueError:
        return str(lock_file)


def entries_used(cards_dir: Path) -> Mapping[str, set[str]]:
    """repo_info -> entries the cards use: those their code loads with `pretrained=True` and
    those their verify specs map rows to. Card problems are the build's to report, not fetch's."""
    if not cards_dir.is_dir():
        return {}
    cards, _tags, _problems = read_cards(cards_dir)
    used: dict[str, set[str]] = {}
    for card in cards:
        for snip in iter_snippets(card):
            if snip.is_python:
                for h in hub_loads(snip.code):
                    if h.pretrained and h.repo and h.entry:
                        used.setdefault(h.repo, set()).add(h.entry)
        spec, _ = load_spec(card, cards_dir)
        if spec is not None:
            used.setdefault(spec.repo, set()).update(e for e in spec.rows.values() if e)
    return used


def run(cfg: Config, args: argparse.Namespace) -> int:
    return run_fetch_args(args, cfg.project, store=cfg.store, cards=cfg.cards)

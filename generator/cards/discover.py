"""Finding the cards and the registries on disk, and when each card last changed."""

from __future__ import annotations

import datetime as _dt
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from generator.core.errors import Code, Diagnostic, error
from generator.core.model import Card, Tag
from generator.core.workers import start_blocked, worker_init
from generator.cards.cache import ParseCache
from generator.cards.parse import parse_card
from generator.cards.registry import InputFileError, read_input
from generator.cards.tags import load_tags


@dataclass(frozen=True)
class CardFile:
    path: Path  # absolute
    display: str  # as shown in diagnostics, relative to the working directory when possible
    text: str


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def find_cards(cards_dir: Path) -> tuple[list[CardFile], list[Diagnostic]]:
    """Every `*.md` directly in the cards folder, sorted by name so builds are deterministic, and
    a located problem for each one that cannot be read (not a file, not UTF-8, too large)."""
    files: list[CardFile] = []
    problems: list[Diagnostic] = []
    with os.scandir(cards_dir) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(".md") and e.name.lower() != "readme.md")
    root = cards_dir.resolve()
    folder = display_path(cards_dir)  # once: relpath of each card cost ~75 µs, 1,000 cards a build
    for name in names:
        p = cards_dir / name
        shown = name if folder == os.curdir else os.path.join(folder, name)
        try:
            text = read_input(p, shown, within=cards_dir)
        except InputFileError as exc:
            problems.append(exc.diagnostic)
            continue
        # Resolved once for the folder; a card that is a symlink (into the folder) on its own.
        files.append(CardFile(p.resolve() if os.path.islink(p) else root / name, shown, text))
    return files, problems


def git_update_times(cards_dir: Path) -> dict[Path, str]:
    """Last commit time of every file under `cards_dir`, from one `git log` (one process, not one
    per card: a thousand cards would otherwise cost seconds). Empty outside a git work tree."""
    return _GitTimes(cards_dir).result()


class _GitTimes:
    """`git_update_times`, its three git processes started at once and left to run while the
    cards are read and parsed (one after the other they were 50-80 ms of a one-card edit)."""

    _COMMANDS = (["git", "log", "--format=@%ct", "--name-only", "--no-renames", "--", "."],
                 ["git", "rev-parse", "--show-toplevel"],
                 ["git", "status", "--porcelain", "--no-renames", "--", "."])

    def __init__(self, cards_dir: Path) -> None:
        self._procs: list[subprocess.Popen[str]] = []
        try:
            for cmd in self._COMMANDS:
                self._procs.append(subprocess.Popen(cmd, cwd=cards_dir, stdin=subprocess.DEVNULL,
                                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        except (OSError, subprocess.SubprocessError):
            self.close()

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
        self._procs = []

    def result(self) -> dict[Path, str]:
        if len(self._procs) != len(self._COMMANDS):
            return {}
        outs: list[str] = []
        try:
            for proc in self._procs:
                out, _ = proc.communicate(timeout=30)
                if proc.returncode != 0:
                    return {}
                outs.append(out)
        except (OSError, subprocess.SubprocessError):
            return {}
        finally:
            self.close()
        log, top, status = outs
        root = Path(top.strip())
        times: dict[Path, str] = {}
        # A file edited since its last commit is dated by its mtime instead (see update_time).
        dirty = {(root / line[3:].strip()).resolve() for line in status.splitlines() if len(line) > 3}
        stamp = ""
        for line in log.splitlines():
            if line.startswith("@"):
                stamp = iso_utc(int(line[1:]))
            elif line.strip():
                times.setdefault((root / line.strip()).resolve(), stamp)
        return {p: t for p, t in times.items() if p not in dirty}


def iso_utc(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_time(path: Path, git_times: Mapping[Path, str]) -> str:
    """Git's last commit time when the file is committed and unchanged, else its mtime."""
    return git_times.get(path) or iso_utc(path.stat().st_mtime)


def read_cards(cards_dir: Path, cache: ParseCache | None = None
               ) -> tuple[list[Card], dict[str, Tag], list[Diagnostic]]:
    """Read and validate every card; all problems are returned together, none raised. With
    `cache`, a card whose text (and registry, and the parser) is unchanged is not parsed again."""
    git = _GitTimes(cards_dir)
    try:
        tags, problems = load_tags(cards_dir)
        files, unreadable = find_cards(cards_dir)
        problems.extend(unreadable)
        parsed = _parse_all(files, tags if tags or not problems else None, cache)
        git_times = git.result() if files else {}
    finally:
        git.close()
    cards: list[Card] = []
    ids: dict[str, str] = {}
    for f, (card, diags) in zip(files, parsed):
        problems.extend(diags)
        if card is None:
            continue
        if card.meta.id.lower() in ids:
            problems.append(error(Code.DUPLICATE_ID, f"card id {card.meta.id!r} differs only in case from "
                                  f"{ids[card.meta.id.lower()]}", f.display, 1))
            continue
        ids[card.meta.id.lower()] = f.display
        cards.append(_with_time(card, update_time(f.path, git_times)))
    if not files and not unreadable:
        problems.append(error(Code.REGISTRY, "no cards (*.md) in this folder", display_path(cards_dir), 1))
    return cards, tags, problems


# Below this many cards a process pool costs more than it saves (start-up, pickling results).
PARALLEL_PARSE_MIN = 200


def _parse_all(files: list[CardFile], tags: Mapping[str, Tag] | None, cache: ParseCache | None
               ) -> list[tuple[Card | None, list[Diagnostic]]]:
    if cache is None:
        return _parse_many(files, tags)
    keys = [cache.key(f.display, f.text, tags) for f in files]
    results = [cache.get(k, f.text) for k, f in zip(keys, files)]
    todo = [i for i, r in enumerate(results) if r is None]
    for i, result in zip(todo, _parse_many([files[i] for i in todo], tags, cache, [keys[i] for i in todo])):
        results[i] = result  # with its tokens: this build renders from them
    cache.evict(keys)  # after the pool: its workers' packs are no longer being written
    return [r for r in results if r is not None]


def _parse_many(files: list[CardFile], tags: Mapping[str, Tag] | None, cache: ParseCache | None = None,
                keys: list[str] | None = None) -> list[tuple[Card | None, list[Diagnostic]]]:
    """Parse `files`; with `cache`, store each result under its key of `keys`."""
    workers = min(os.cpu_count() or 1, 4)
    if len(files) < PARALLEL_PARSE_MIN or workers < 2 or "fork" not in _start_methods():
        results = [parse_card(f.display, f.text, tags) for f in files]
        if cache is not None and keys is not None:
            for key, result in zip(keys, results):
                cache.put(key, result)
        return results
    global _POOL_TAGS, _POOL_CACHE
    # Inherited by the forked workers, not pickled per card. The workers store their results in
    # the cache themselves: done here, the pickling and the file writes were a serial second.
    _POOL_TAGS, _POOL_CACHE = tags, cache
    # Leaving the `with` terminates the workers, also on Ctrl-C; they die with this process too.
    import multiprocessing  # here: an edit parses one card, and the module costs ~8 ms to import

    ctx = multiprocessing.get_context("fork")
    try:
        with start_blocked(lambda: ctx.Pool(workers, initializer=worker_init, initargs=(os.getpid(),))) as pool:
            return pool.starmap(_parse_one, [(f.display, f.text, keys[i] if keys is not None else None)
                                             for i, f in enumerate(files)], chunksize=64)
    finally:
        _POOL_TAGS, _POOL_CACHE = None, None


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


_POOL_TAGS: Mapping[str, Tag] | None = None
_POOL_CACHE: ParseCache | None = None


def _parse_one(display: str, text: str, key: str | None) -> tuple[Card | None, list[Diagnostic]]:
    result = parse_card(display, text, _POOL_TAGS)
    if _POOL_CACHE is not None and key is not None:
        _POOL_CACHE.put(key, result)
    return result


def _with_time(card: Card, when: str) -> Card:
    from dataclasses import replace
    return replace(card, update_time=when)

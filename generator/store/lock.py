"""`cards/store.lock.json`: the pinned list of every asset a card may fetch.

The lock is data the project commits, so it is read strictly (every problem is a Diagnostic with
the line of the offending item or key) and written canonically (sorted by url, fixed key order,
2-space indent, trailing newline) so that `build-site fetch` produces small, stable diffs.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

from generator.core.errors import Code, Diagnostic, UserError, error
from generator.core.files import InputFileError, read_text
from generator.core.ids import is_id
from generator.core.jsonio import atomic_write

from generator.store import LOCK_FILE  # noqa: F401 (in the cards folder)
LOCK_RELPATH = f"cards/{LOCK_FILE}"  # how diagnostics name it in a project
LOCK_VERSION = 1

Kind = Literal["file", "weights", "hub-repo"]
KINDS: tuple[str, ...] = ("file", "weights", "hub-repo")
SourceKind = Literal["url", "path", "package", "build"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("url", "kind", "sha256", "size", "source")
_OPTIONAL = ("substitute", "note", "repo", "branch", "commit")
_HUB_ONLY = ("repo", "branch", "commit")


@dataclass(frozen=True)
class LockItem:
    """One pinned asset. `sha256` is "" until first fetched; for a hub-repo it is a tree hash."""

    url: str
    kind: Kind
    sha256: str
    size: int
    source: str
    substitute: bool = False
    note: str = ""
    repo: str | None = None  # "owner/name", hub-repo only
    branch: str = "master"
    commit: str | None = None
    line: int = field(default=0, compare=False)  # line in the lock file, for diagnostics

    @property
    def source_kind(self) -> SourceKind:
        return source_kind(self.source)

    @property
    def source_arg(self) -> str:
        """The part after `path:` / `package:` / `build:` (the URL itself for URL sources)."""
        k = self.source_kind
        return self.source if k == "url" else self.source.split(":", 1)[1]

    @property
    def owner_name(self) -> tuple[str, str]:
        owner, name = (self.repo or "/").split("/", 1)
        return owner, name

    @property
    def repo_info(self) -> str:
        """The first argument `megengine.hub.load` takes for this repository."""
        repo = self.repo or ""
        return repo if self.branch == "master" else f"{repo}:{self.branch}"


@dataclass(frozen=True)
class Lock:
    items: tuple[LockItem, ...] = ()
    path: str = LOCK_RELPATH  # as shown in diagnostics

    def get(self, url: str) -> LockItem | None:
        for it in self.items:
            if it.url == url:
                return it
        return None

    def with_item(self, item: LockItem) -> Lock:
        """A new lock with `item` added, or replacing the item with the same url (kept sorted)."""
        others = [it for it in self.items if it.url != item.url]
        return replace(self, items=tuple(sorted([*others, item], key=lambda it: it.url)))

    def of_kind(self, kind: str) -> tuple[LockItem, ...]:
        return tuple(it for it in self.items if it.kind == kind)


def source_kind(source: str) -> SourceKind:
    if source.startswith(("http://", "https://")):
        return "url"
    prefixes: tuple[SourceKind, ...] = ("path", "package", "build")
    for prefix in prefixes:
        if source.startswith(prefix + ":"):
            return prefix
    raise ValueError(f"unknown source {source!r}")


def is_repo(repo: object) -> bool:
    """`owner/name`, each a valid id (core/ids.py): it names folders of the store."""
    return isinstance(repo, str) and repo.count("/") == 1 and all(is_id(p) for p in repo.split("/"))


def hub_repo_url(repo: str) -> str:
    return f"https://github.com/{repo}"


# ---------------------------------------------------------------- reading


class _Positions:
    """Line of every key and value in a JSON text, addressed by path (("items", 3, "sha256")).

    json.loads gives no positions; this walks the (already validated) text once, letting
    `raw_decode` handle scalars so that escapes and numbers follow the json module exactly.
    """

    _WS = " \t\r\n"

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.lines: dict[tuple[Any, ...], int] = {}
        self._decoder = json.JSONDecoder()
        self._value(self._skip(0), ())

    def line_of(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def get(self, path: tuple[Any, ...], default: int = 1) -> int:
        return self.lines.get(path, default)

    def _skip(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in self._WS:
            i += 1
        return i

    def _value(self, i: int, path: tuple[Any, ...]) -> int:
        self.lines.setdefault(path, self.line_of(i))
        c = self.text[i]
        if c == "{":
            i = self._skip(i + 1)
            if self.text[i] == "}":
                return i + 1
            while True:
                key, j = self._decoder.raw_decode(self.text, i)
                self.lines[(*path, key)] = self.line_of(i)  # a key's line is where it is written
                j = self._skip(j)  # at ':'
                j = self._value(self._skip(j + 1), (*path, key))
                j = self._skip(j)
                if self.text[j] == "}":
                    return j + 1
                i = self._skip(j + 1)  # past ','
        if c == "[":
            i = self._skip(i + 1)
            if self.text[i] == "]":
                return i + 1
            n = 0
            while True:
                j = self._skip(self._value(i, (*path, n)))
                n += 1
                if self.text[j] == "]":
                    return j + 1
                i = self._skip(j + 1)
        _, end = self._decoder.raw_decode(self.text, i)
        return end


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise _DuplicateKey(k)
        seen[k] = v
    return seen


class _DuplicateKey(Exception):
    pass


MAX_DEPTH = 32  # the lock is two levels deep; _Positions below walks it recursively


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of JSON data, counted no further than `limit` + 1."""
    depth, level = 0, [value]
    while level and depth <= limit:
        depth += 1
        level = [v for x in level if isinstance(x, (dict, list))
                 for v in (x.values() if isinstance(x, dict) else x)]
    return depth


def parse_lock(text: str, path: str = LOCK_RELPATH) -> tuple[Lock, list[Diagnostic]]:
    """Parse and validate a lock file's text. Items with problems are left out of the Lock."""
    diags: list[Diagnostic] = []

    def err(msg: str, line: int) -> None:
        diags.append(error(Code.LOCKFILE, msg, path, line))

    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
        if _depth(data) > MAX_DEPTH:
            raise RecursionError
    except RecursionError:
        err(f"invalid JSON: nested more than {MAX_DEPTH} levels deep", 1)
        return Lock(path=path), diags
    except json.JSONDecodeError as e:
        err(f"invalid JSON: {e.msg} (column {e.colno})", e.lineno)
        return Lock(path=path), diags
    except _DuplicateKey as e:
        # Find the second occurrence for the line: good enough, keys are rarely repeated.
        key = json.dumps(str(e.args[0]))
        hits = [m.start() for m in re.finditer(re.escape(key) + r"\s*:", text)]
        line = text.count("\n", 0, hits[1] if len(hits) > 1 else 0) + 1
        err(f"duplicate key {key}", line)
        return Lock(path=path), diags

    pos = _Positions(text)
    if not isinstance(data, dict):
        err("the lock must be a JSON object with `version` and `items`", pos.get(()))
        return Lock(path=path), diags
    for key in data:
        if key not in ("version", "items"):
            err(f"unknown key {key!r} (expected `version` and `items`)", pos.get((key,)))
    if data.get("version") != LOCK_VERSION:
        err(f"`version` must be {LOCK_VERSION}, found {data.get('version')!r}",
            pos.get(("version",), pos.get(())))
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        err("`items` must be a list", pos.get(("items",), pos.get(())))
        return Lock(path=path), diags

    items: list[LockItem] = []
    first_line: dict[str, int] = {}
    for n, raw in enumerate(raw_items):
        item_line = pos.get(("items", n))
        item = _parse_item(raw, item_line, lambda key: pos.get(("items", n, key), item_line), err)
        if item is None:
            continue
        if item.url in first_line:
            err(f"duplicate url {item.url} (first at line {first_line[item.url]})", item_line)
            continue
        first_line[item.url] = item_line
        items.append(item)
    return Lock(items=tuple(sorted(items, key=lambda it: it.url)), path=path), diags


def _parse_item(raw: Any, line: int, key_line: Any, err: Any) -> LockItem | None:
    if not isinstance(raw, dict):
        err("each item must be a JSON object", line)
        return None
    ok = True

    def bad(key: str, msg: str) -> None:
        nonlocal ok
        ok = False
        err(msg, key_line(key))

    for key in _REQUIRED:
        if key not in raw:
            ok = False
            err(f"item is missing `{key}`", line)
    for key in raw:
        if key not in _REQUIRED and key not in _OPTIONAL:
            bad(key, f"unknown item key {key!r}")
    if not ok:
        return None

    url, kind, sha, size, source = (raw[k] for k in _REQUIRED)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        bad("url", f"`url` must be an http(s) URL, found {url!r}")
    if kind not in KINDS:
        bad("kind", f"`kind` must be one of {', '.join(KINDS)}, found {kind!r}")
    if not isinstance(sha, str) or not (sha == "" or _HEX64.fullmatch(sha)):
        bad("sha256", f"`sha256` must be 64 lowercase hex digits or \"\", found {sha!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        bad("size", f"`size` must be a non-negative integer, found {size!r}")
    if not isinstance(source, str):
        bad("source", f"`source` must be a string, found {source!r}")
    else:
        try:
            source_kind(source)
        except ValueError:
            bad("source", f"`source` must be a URL or start with path:, package: or build:, "
                          f"found {source!r}")
        else:
            if source.split(":", 1)[1] == "":
                bad("source", f"`source` {source!r} names nothing")
            elif source.startswith("package:") and "/" not in source[len("package:"):]:
                bad("source", f"`source` {source!r} must be package:<dist>/<file in the dist>")
    substitute = raw.get("substitute", False)
    if not isinstance(substitute, bool):
        bad("substitute", f"`substitute` must be true or false, found {substitute!r}")
    note = raw.get("note", "")
    if not isinstance(note, str):
        bad("note", f"`note` must be a string, found {note!r}")

    repo, branch, commit = raw.get("repo"), raw.get("branch", "master"), raw.get("commit")
    if kind == "hub-repo":
        if not isinstance(repo, str) or not is_repo(repo):
            if "repo" in raw:
                bad("repo", f"`repo` must be owner/name, found {repo!r}")
            else:
                ok = False
                err("a hub-repo item needs `repo` (owner/name)", line)
        elif isinstance(url, str) and url != hub_repo_url(repo):
            bad("url", f"a hub-repo's `url` must be {hub_repo_url(repo)}, found {url!r}")
        if not isinstance(branch, str) or not branch:
            bad("branch", f"`branch` must be a non-empty string, found {branch!r}")
        if commit is not None and (not isinstance(commit, str) or not commit):
            bad("commit", f"`commit` must be null or a string, found {commit!r}")
    else:
        for key in _HUB_ONLY:
            if key in raw:
                bad(key, f"`{key}` is only allowed on hub-repo items")
    if not ok:
        return None
    return LockItem(url=url, kind=kind, sha256=sha, size=size, source=source,
                    substitute=substitute, note=note, repo=repo if kind == "hub-repo" else None,
                    branch=branch, commit=commit, line=line)


def read_lock(file: Path, display: str = LOCK_RELPATH) -> Lock:
    """Read the lock; a missing file is an empty lock. Raises UserError listing every problem."""
    if not os.path.lexists(file):
        return Lock(path=display)
    try:
        text = read_text(file, display, within=file.parent)
    except InputFileError as exc:
        raise UserError([exc.diagnostic]) from None
    lock, diags = parse_lock(text, display)
    if diags:
        raise UserError(diags)
    return lock


# ---------------------------------------------------------------- writing


def item_to_json(item: LockItem) -> dict[str, Any]:
    out: dict[str, Any] = {"url": item.url, "kind": item.kind, "sha256": item.sha256,
                           "size": item.size, "source": item.source,
                           "substitute": item.substitute}
    if item.note:
        out["note"] = item.note
    if item.kind == "hub-repo":
        out.update(repo=item.repo, branch=item.branch, commit=item.commit)
    return out


def dump_lock(lock: Lock | Iterable[LockItem]) -> str:
    items = lock.items if isinstance(lock, Lock) else tuple(lock)
    data: Mapping[str, Any] = {
        "version": LOCK_VERSION,
        "items": [item_to_json(it) for it in sorted(items, key=lambda it: it.url)],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_lock(file: Path, lock: Lock) -> None:
    """Write atomically: a crash mid-write leaves the previous lock in place."""
    atomic_write(file, dump_lock(lock).encode("utf-8"), durable=True)

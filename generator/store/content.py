"""The hermetic asset store: content-addressed files and hub-repository trees, and the per-run
MGE_HOME built from them.

Layout under the store root (default `<project>/.store/`, env `HUB_STORE`):
    objects/<sha[:2]>/<sha>   a file or weight file, named by its sha256
    trees/<sha>/              an unpacked hub repository, named by its tree hash
    tmp/                      work area; everything enters objects/ or trees/ by os.replace
                              only after its hash has been checked, so a partial or mismatching
                              download can never be found under its final name.

Only this module and fetch.py touch the store; no network here.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Collection, Iterator
from urllib.parse import urlparse

from generator.core.errors import Code, Diagnostic, error
from generator.store.lock import Lock, LockItem

ENV_STORE = "HUB_STORE"
DEFAULT_STORE_DIRNAME = ".store"
FETCH_HINT = "run `build-site fetch`"

_IGNORED_DIRS = frozenset({"__pycache__", ".git"})
_IGNORED_SUFFIXES = (".pyc",)
_CHUNK = 1 << 20


class StoreError(Exception):
    """Content did not match what the lock expects, or a source could not be read."""


# ---------------------------------------------------------------- hashing


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def is_ignored(rel_parts: tuple[str, ...]) -> bool:
    """Files that are not part of a repository's identity: bytecode and VCS metadata."""
    return any(p in _IGNORED_DIRS for p in rel_parts) or rel_parts[-1].endswith(_IGNORED_SUFFIXES)


def tree_files(folder: Path) -> list[tuple[str, Path]]:
    """(posix relative path, absolute path) of every regular file that counts, sorted by path."""
    out: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in _IGNORED_DIRS]
        base = Path(dirpath)
        for fn in filenames:
            p = base / fn
            rel = p.relative_to(folder)
            if not is_ignored(rel.parts) and p.is_file():
                out.append((rel.as_posix(), p))
    return sorted(out)


def tree_hash(folder: Path) -> tuple[str, int]:
    """(tree hash, total bytes). The hash covers sorted relative paths and each file's sha256:
    one `<sha256>  <path>\\n` line per file, like `sha256sum` output, hashed again."""
    h = hashlib.sha256()
    total = 0
    for rel, p in tree_files(folder):
        h.update(f"{sha256_file(p)}  {rel}\n".encode("utf-8"))
        total += p.stat().st_size
    return h.hexdigest(), total


# ---------------------------------------------------------------- the store


def store_root(project: Path, override: str | os.PathLike[str] | None = None) -> Path:
    """Argument, else $HUB_STORE, else <project>/.store."""
    chosen = override or os.environ.get(ENV_STORE) or project / DEFAULT_STORE_DIRNAME
    return Path(chosen).expanduser().absolute()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_only(path: Path) -> None:
    # Store content is immutable; read-only modes make an accidental write from a hard-linked
    # run directory fail (for non-root users; root is why materialize copies by default then).
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


@dataclass(frozen=True)
class Store:
    root: Path

    @property
    def objects(self) -> Path:
        return self.root / "objects"

    @property
    def trees(self) -> Path:
        return self.root / "trees"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def object_path(self, sha: str) -> Path:
        return self.objects / sha[:2] / sha

    def tree_path(self, sha: str) -> Path:
        return self.trees / sha

    def has(self, item: LockItem) -> bool:
        if not item.sha256:
            return False
        if item.kind == "hub-repo":
            return self.tree_path(item.sha256).is_dir()
        return self.object_path(item.sha256).is_file()

    def path_of(self, item: LockItem) -> Path:
        return self.tree_path(item.sha256) if item.kind == "hub-repo" else self.object_path(
            item.sha256)

    # ---- files

    @contextmanager
    def temp_file(self) -> Iterator[tuple[BinaryIO, Path]]:
        """A temporary file inside the store; removed on exit unless committed (moved) away."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="obj-", dir=self.tmp)
        path = Path(name)
        try:
            with os.fdopen(fd, "w+b") as f:
                yield f, path
        finally:
            path.unlink(missing_ok=True)

    def commit_object(self, tmp: Path, expect_sha: str = "", expect_size: int | None = None
                      ) -> tuple[str, int]:
        """Hash a finished temp file and move it to its final name. Raises StoreError on a
        mismatch (the temp file is then deleted by its `temp_file` context)."""
        sha, size = sha256_file(tmp), tmp.stat().st_size
        if expect_size is not None and size != expect_size:
            raise StoreError(f"size is {size} bytes, the lock says {expect_size}")
        if expect_sha and sha != expect_sha:
            raise StoreError(f"sha256 is {sha}, the lock says {expect_sha}")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        dest = self.object_path(sha)
        dest.parent.mkdir(parents=True, exist_ok=True)
        _read_only(tmp)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        return sha, size

    def put_file(self, src: Path, expect_sha: str = "", expect_size: int | None = None
                 ) -> tuple[str, int]:
        with self.temp_file() as (f, tmp):
            with open(src, "rb") as s:
                shutil.copyfileobj(s, f, _CHUNK)
            f.flush()
            return self.commit_object(tmp, expect_sha, expect_size)

    # ---- trees

    @contextmanager
    def temp_dir(self) -> Iterator[Path]:
        self.tmp.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="tree-", dir=self.tmp))
        try:
            yield path
        finally:
            if path.exists():
                shutil.rmtree(path)

    def commit_tree(self, tmp: Path, expect_sha: str = "", expect_size: int | None = None
                    ) -> tuple[str, int]:
        """Hash a finished temp folder (already stripped of ignored files) and rename it to
        trees/<sha>. Raises StoreError on a mismatch."""
        sha, size = tree_hash(tmp)
        if expect_sha and sha != expect_sha:
            raise StoreError(f"tree hash is {sha}, the lock says {expect_sha}")
        if expect_size is not None and size != expect_size:
            raise StoreError(f"tree holds {size} bytes, the lock says {expect_size}")
        for _, p in tree_files(tmp):
            with open(p, "rb+") as f:
                os.fsync(f.fileno())
            _read_only(p)
        dest = self.tree_path(sha)
        if dest.is_dir():  # same content already stored (e.g. by a concurrent fetch)
            return sha, size
        self.trees.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
        _fsync_dir(self.trees)
        return sha, size

    def put_tree(self, src: Path, expect_sha: str = "") -> tuple[str, int]:
        """Copy the counted files of a local folder into the store."""
        with self.temp_dir() as tmp:
            for rel, p in tree_files(src):
                dest = tmp / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, dest)
            return self.commit_tree(tmp, expect_sha)

    def verify(self, item: LockItem) -> bool:
        """Re-hash stored content (slow path; for `build-site fetch --verify` style checks)."""
        if not self.has(item):
            return False
        if item.kind == "hub-repo":
            return tree_hash(self.tree_path(item.sha256))[0] == item.sha256
        return sha256_file(self.object_path(item.sha256)) == item.sha256


# ---------------------------------------------------------------- local sources


def resolve_local_source(item: LockItem, project: Path) -> Path:
    """The file or folder a `path:` / `package:` source names. Raises StoreError."""
    arg = item.source_arg
    if item.source_kind == "path":
        p = (project / arg).resolve()
        if not p.exists():
            raise StoreError(f"{item.source} does not exist ({p})")
        return p
    if item.source_kind == "package":
        dist_name, rel = arg.split("/", 1)
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise StoreError(f"{item.source}: Python package {dist_name!r} is not installed")
        p = Path(str(dist.locate_file(rel)))
        if not p.exists():
            raise StoreError(f"{item.source}: {rel} is not in the installed {dist_name} "
                             f"{dist.version}")
        return p
    raise StoreError(f"{item.source} is not a local source")


def is_in_project(item: LockItem, project: Path) -> bool:
    if item.source_kind != "path":
        return False
    return (project / item.source_arg).resolve().is_relative_to(project.resolve())


def is_refreshable(item: LockItem, project: Path) -> bool:
    """The project's own hub repositories: their lock hash follows the folder (via fetch)."""
    return item.kind == "hub-repo" and is_in_project(item, project)


def sync_local(lock: Lock, store: Store, project: Path, refresh: bool = False
               ) -> tuple[Lock, list[Diagnostic]]:
    """Put every `path:` / `package:` item into the store, without network, checking it against
    the lock. With `refresh` (build-site fetch), the project's own hub repositories get their
    lock hash updated; without it (build) a stale one is an error that says to run fetch."""
    diags: list[Diagnostic] = []
    for item in lock.items:
        if item.source_kind not in ("path", "package"):
            continue

        def err(msg: str, item: LockItem = item) -> None:
            diags.append(error(Code.LOCKFILE, f"{item.url}: {msg}", lock.path, item.line))

        try:
            src = resolve_local_source(item, project)
            if item.kind == "hub-repo":
                if not src.is_dir():
                    err(f"{item.source} is not a folder")
                    continue
                sha, size = tree_hash(src)
                if sha != item.sha256 or size != item.size:
                    if refresh and is_refreshable(item, project):
                        store.put_tree(src, sha)
                        lock = lock.with_item(replace(item, sha256=sha, size=size))
                        continue
                    what = "has no recorded hash" if not item.sha256 else (
                        f"is stale: {item.source} now hashes to {sha[:12]}…, "
                        f"the lock says {item.sha256[:12]}…")
                    hint = FETCH_HINT + " to record the folder's current content" if (
                        is_refreshable(item, project)) else "update the lock"
                    err(f"{what}; {hint}")
                    continue
                if not store.has(item):
                    store.put_tree(src, sha)
            else:
                if not src.is_file():
                    err(f"{item.source} is not a file")
                    continue
                sha = sha256_file(src)
                if not item.sha256 and refresh:
                    store.put_file(src)
                    lock = lock.with_item(replace(item, sha256=sha, size=src.stat().st_size))
                    continue
                if sha != item.sha256:
                    err(f"{item.source} has sha256 {sha}, the lock says "
                        f"{item.sha256 or '(none)'}" + ("" if item.sha256 else f"; {FETCH_HINT}"))
                    continue
                if not store.has(item):
                    store.put_file(src, item.sha256, item.size)
        except (StoreError, OSError) as e:
            err(str(e))
    return lock, diags


# ---------------------------------------------------------------- MegEngine's cache layout


def hub_cache_dirname(owner: str, name: str, branch: str = "master", commit: str | None = None,
                      megengine_version: str = "1.13.0") -> str:
    """Folder name megengine.hub's fetchers give a repository under $MGE_HOME/hub (see
    megengine/hub/fetcher.py: branch '/' becomes '_', `_<commit>` is appended before hashing)."""
    raw = f"{owner}_{name}_{branch.replace('/', '_')}" + (f"_{commit}" if commit else "")
    digest = hashlib.sha1(raw.encode()).hexdigest()[:16]
    return "_".join(megengine_version.split(".")) + "_" + digest


def serialized_filename(url: str) -> str:
    """File name `load_serialized_obj_from_url` looks for under $MGE_HOME/serialized."""
    return hashlib.sha256(url.encode()).hexdigest()[:6] + "_" + os.path.basename(urlparse(url).path)


@dataclass(frozen=True)
class RunAssets:
    """What one run may use: an MGE_HOME to export, and the files the urllib shim may serve."""

    mge_home: Path
    url_map: dict[str, str]  # url -> absolute path of the file in the store ("file" items)
    substitutes: frozenset[str]  # urls whose content stands in for the real one
    missing: tuple[LockItem, ...]  # in the lock, not in the store: a run needing one is blocked
    hub_repos: dict[str, str]  # repo_info ("owner/name", "owner/name:branch", +"@commit") -> sha
    weights: dict[str, str]  # url -> sha256

    def env(self) -> dict[str, str]:
        return {"MGE_HOME": str(self.mge_home)}

    def blocked_reason(self, item: LockItem) -> str:
        return f"{item.url} is not in the asset store; {FETCH_HINT}"


def _place(src: Path, dest: Path, link: bool) -> None:
    if link:
        try:
            os.link(src, dest)
            return
        except OSError:
            pass  # other filesystem, or hard links not allowed: copy instead
    shutil.copyfile(src, dest)


def materialize(lock: Lock, store: Store, run_dir: Path, megengine_version: str = "1.13.0", *,
                only: Collection[str] | None = None, link: bool | None = None) -> RunAssets:
    """Build `run_dir/mge_home` in MegEngine's own cache layout from the store.

    Every hub repository gets a fresh folder (files hard-linked or copied, never the store's
    folder itself) so the __pycache__ MegEngine's import writes lands in the run, not the store.
    `link` defaults to hard links only when not running as root: root ignores the read-only
    modes that keep a hard-linked store file from being written through.
    `only` restricts the run to those urls (default: every item in the lock).
    """
    if link is None:
        link = hasattr(os, "geteuid") and os.geteuid() != 0
    mge_home = run_dir / "mge_home"
    (mge_home / "hub").mkdir(parents=True, exist_ok=True)
    (mge_home / "serialized").mkdir(parents=True, exist_ok=True)
    url_map: dict[str, str] = {}
    missing: list[LockItem] = []
    hub_repos: dict[str, str] = {}
    weights: dict[str, str] = {}
    items = [it for it in lock.items if only is None or it.url in only]
    for item in items:
        if not store.has(item):
            missing.append(item)
            continue
        if item.kind == "file":
            url_map[item.url] = str(store.object_path(item.sha256))
        elif item.kind == "weights":
            dest = mge_home / "serialized" / serialized_filename(item.url)
            dest.unlink(missing_ok=True)
            _place(store.object_path(item.sha256), dest, link)
            weights[item.url] = item.sha256
        else:
            owner, name = item.owner_name
            dest = mge_home / "hub" / hub_cache_dirname(owner, name, item.branch, item.commit,
                                                        megengine_version)
            if dest.exists():
                shutil.rmtree(dest)
            tree = store.tree_path(item.sha256)
            for rel, p in tree_files(tree):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                _place(p, dest / rel, link)
            dest.mkdir(parents=True, exist_ok=True)  # an empty repository is still a repository
            key = item.repo_info + (f"@{item.commit}" if item.commit else "")
            hub_repos[key] = item.sha256
    return RunAssets(
        mge_home=mge_home,
        url_map=url_map,
        substitutes=frozenset(it.url for it in items if it.substitute),
        missing=tuple(missing),
        hub_repos=hub_repos,
        weights=weights,
    )


def item_digest(lock: Lock, store: Store) -> str:
    """One hash over every lock item and whether the store has it (for cache keys): a run's
    result changes when any asset it could read changes, appears, or becomes (or stops being) a
    substitute."""
    # Absent items count too: whether a missing URL is listed in the lock changes what a
    # blocked run says ("locked but not in the store" vs "not in the lock").
    rows = sorted(f"{it.kind} {it.url} {it.sha256} {'substitute' if it.substitute else 'real'} "
                  f"{'present' if store.has(it) else 'absent'}" for it in lock.items)
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- reading hubconf.py


def weights_url_for(repo_tree: Path, entry: str) -> str | None:
    """The `@hub.pretrained(URL)` URL of a hub entry, found by reading (never running) the
    repository's hubconf.py and, through `from X import entry`, the module defining it."""
    return _Scanner(repo_tree).find(repo_tree / "hubconf.py", entry)


_NOT_HERE = object()


class _Scanner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: set[tuple[Path, str]] = set()

    def find(self, module: Path, name: str) -> str | None:
        found = self._lookup(module, name)
        return found if isinstance(found, str) else None

    def _parse(self, module: Path) -> ast.Module | None:
        try:
            return ast.parse(module.read_text(encoding="utf-8"), str(module))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            return None

    def _lookup(self, module: Path, name: str) -> object:
        """URL (str), None (defined here without weights) or _NOT_HERE."""
        if (module, name) in self.seen:
            return _NOT_HERE
        self.seen.add((module, name))
        tree = self._parse(module)
        if tree is None:
            return _NOT_HERE
        consts: dict[str, str] = {}
        result: object = _NOT_HERE
        star_modules: list[Path] = []
        for node in tree.body:  # in order: the last binding of `name` wins, as in Python
            if isinstance(node, ast.Assign):
                value = _const_str(node.value, consts)
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict):
                        # WEIGHT_URLS = {"entry": BASE + "x.pkl"}: remembered as WEIGHT_URLS[entry]
                        for k, v in zip(node.value.keys, node.value.values):
                            item = _const_str(v, consts)
                            if isinstance(k, ast.Constant) and isinstance(k.value, str) and item is not None:
                                consts[f"{target.id}[{k.value}]"] = item
                    if isinstance(target, ast.Name):
                        if value is not None:
                            consts[target.id] = value
                        else:
                            consts.pop(target.id, None)
                        if target.id == name:
                            result = _applied_pretrained(node.value, consts)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == name:
                    result = None
                    for dec in node.decorator_list:
                        url = _pretrained_arg(dec, consts)
                        if url is not None:
                            result = url
                            break
            elif isinstance(node, ast.ImportFrom):
                target_mod = self._module_file(module, node.module, node.level)
                for alias in node.names:
                    if alias.name == "*":
                        if target_mod is not None:
                            star_modules.append(target_mod)
                    elif (alias.asname or alias.name) == name:
                        result = (self._lookup(target_mod, alias.name)
                                  if target_mod is not None else _NOT_HERE)
        if result is _NOT_HERE:
            for m in star_modules:
                result = self._lookup(m, name)
                if result is not _NOT_HERE:
                    break
        return result

    def _module_file(self, current: Path, module: str | None, level: int) -> Path | None:
        if level == 0:
            base = self.root
        else:
            base = current.parent
            for _ in range(level - 1):
                base = base.parent
        parts = module.split(".") if module else []
        stem = base.joinpath(*parts)
        for candidate in (stem.with_suffix(".py") if parts else None, stem / "__init__.py"):
            if candidate is not None and candidate.is_file():
                return candidate
        return None


def _const_str(node: ast.expr, consts: dict[str, str]) -> str | None:
    """A string built only from literals, module-level string constants and `+`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
        return consts.get(f"{node.value.id}[{node.slice.value}]")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _const_str(node.left, consts), _const_str(node.right, consts)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in node.values):
        return "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    return None


def _is_pretrained(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "pretrained") or (
        isinstance(func, ast.Name) and func.id == "pretrained")


def _pretrained_arg(dec: ast.expr, consts: dict[str, str]) -> str | None:
    if not isinstance(dec, ast.Call) or not _is_pretrained(dec.func):
        return None
    if dec.args:
        return _const_str(dec.args[0], consts)
    for kw in dec.keywords:
        if kw.arg == "url":
            return _const_str(kw.value, consts)
    return None


def _applied_pretrained(value: ast.expr, consts: dict[str, str]) -> str | None:
    """`entry = hub.pretrained(URL)(builder)`."""
    if isinstance(value, ast.Call):
        return _pretrained_arg(value.func, consts)
    return None

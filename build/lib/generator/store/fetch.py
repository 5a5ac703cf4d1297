"""Filling the asset store from the network or from local files (the work of `build-site fetch`,
whose command line is cli/fetch.py).

Downloads go through urllib with a timeout, are checked against Content-Length, the lock's
size and its sha256 before they enter the store, and never leave partial files behind.
`--git-host` (env HUB_GIT_HOST) replaces github.com for hub archives; `--mirror` (env
HUB_MIRROR) rewrites file/weight URLs to `<mirror>/<host>/<path>`.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import os
import shutil
import socket
import stat
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, TextIO
from urllib.parse import urlparse

from generator.core.errors import Code, Diagnostic, error, warning
from generator.store.content import Store, StoreError, is_ignored
from generator.store.lock import Kind, Lock, LockItem, hub_repo_url
from generator.store.sync import sync_local

ENV_GIT_HOST = "HUB_GIT_HOST"
ENV_MIRROR = "HUB_MIRROR"
DEFAULT_GIT_HOST = "github.com"
DEFAULT_TIMEOUT_S = 60.0
# A hub archive has no size in the lock (its hash is of the unpacked tree): cap it instead.
MAX_ARCHIVE_BYTES = 1 << 31
_CHUNK = 1 << 16
_WEIGHT_SUFFIXES = (".pkl", ".mge")


class FetchError(Exception):
    pass


@dataclass(frozen=True)
class FetchOptions:
    git_host: str = DEFAULT_GIT_HOST  # "host[:port]" (https) or a full "http://host:port" base
    mirror: str | None = None  # base URL that file/weight downloads are redirected to
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def resolve(cls, git_host: str | None = None, mirror: str | None = None,
                timeout_s: float | None = None) -> FetchOptions:
        """Arguments win over the environment, which wins over the defaults."""
        return cls(
            git_host=git_host or os.environ.get(ENV_GIT_HOST) or DEFAULT_GIT_HOST,
            mirror=mirror or os.environ.get(ENV_MIRROR) or None,
            timeout_s=timeout_s if timeout_s is not None else DEFAULT_TIMEOUT_S,
        )


# ---------------------------------------------------------------- URLs


def archive_url(item: LockItem, git_host: str = DEFAULT_GIT_HOST) -> str:
    """Where megengine.hub's HTTPS fetcher downloads this repository from."""
    base = git_host if "://" in git_host else f"https://{git_host}"
    owner, name = item.owner_name
    return f"{base.rstrip('/')}/{owner}/{name}/archive/{item.commit or item.branch}.zip"


def download_url(item: LockItem, mirror: str | None = None) -> str:
    """The URL a file/weights item is downloaded from: its source, optionally via a mirror."""
    src = item.source if item.source_kind == "url" else item.url
    if not mirror:
        return src
    p = urlparse(src)
    return f"{mirror.rstrip('/')}/{p.netloc}{p.path}" + (f"?{p.query}" if p.query else "")


# ---------------------------------------------------------------- HTTP


def download(url: str, dest: BinaryIO, timeout_s: float, expect_size: int | None = None,
             cap: int = MAX_ARCHIVE_BYTES) -> int:
    """Stream `url` into `dest`; returns the byte count. Raises FetchError for any HTTP error,
    timeout, or a body whose length disagrees with Content-Length or `expect_size`."""
    req = urllib.request.Request(url, headers={"User-Agent": "verified-hub-fetch/1"})
    limit = expect_size if expect_size is not None else cap
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            if resp.status != 200:  # e.g. 203/206: not the plain whole file we asked for
                raise FetchError(f"HTTP {resp.status} {resp.reason} from {url}")
            header = resp.headers.get("Content-Length")
            declared = int(header) if header and header.strip().isdigit() else None
            if declared is not None and expect_size is not None and declared != expect_size:
                raise FetchError(f"{url} announces {declared} bytes, the lock says {expect_size}")
            if declared is not None and declared > cap:
                raise FetchError(f"{url} announces {declared} bytes, more than the {cap} allowed")
            got = 0
            while True:
                # http.client returns b"" at a premature EOF instead of raising: count instead.
                chunk = resp.read(min(_CHUNK, limit + 1 - got))
                if not chunk:
                    break
                got += len(chunk)
                if got > limit:
                    what = f"the lock says {expect_size}" if expect_size is not None else (
                        f"the limit is {cap}")
                    raise FetchError(f"{url} sent more than {limit} bytes; {what}")
                dest.write(chunk)
    except urllib.error.HTTPError as e:
        raise FetchError(f"HTTP {e.code} {e.reason} from {url}") from None
    except urllib.error.URLError as e:
        raise FetchError(f"cannot download {url}: {e.reason}") from None
    except (socket.timeout, TimeoutError):
        raise FetchError(f"timed out after {timeout_s:g} s downloading {url}") from None
    except (http.client.HTTPException, OSError) as e:
        raise FetchError(f"download of {url} failed: {e or type(e).__name__}") from None
    if declared is not None and got != declared:
        raise FetchError(f"truncated download: {url} sent {got} of {declared} bytes")
    if expect_size is not None and got != expect_size:
        raise FetchError(f"{url} sent {got} bytes, the lock says {expect_size}")
    dest.flush()
    return got


# ---------------------------------------------------------------- archives


def unpack_archive(zip_path: Path, dest: Path) -> list[str]:
    """Unpack a GitHub-style archive into `dest`, dropping its single top folder and the files a
    tree hash ignores. Refuses absolute paths and `..`; returns notes about skipped symlinks."""
    notes: list[str] = []
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
            tops = {i.filename.split("/", 1)[0] for i in infos}
            if len(tops) != 1 or not all("/" in i.filename for i in infos):
                raise FetchError(f"the archive must hold exactly one top folder, found "
                                 f"{', '.join(sorted(tops))[:200] or 'nothing'}")
            total = 0
            for info in infos:
                name = info.filename
                if name.startswith("/") or "\\" in name or "\x00" in name:
                    raise FetchError(f"unsafe path in archive: {name!r}")
                rel = name.split("/")[1:]
                if info.is_dir() or rel in ([], [""]):
                    continue
                if any(part in ("", ".", "..") for part in rel):
                    raise FetchError(f"unsafe path in archive: {name!r}")
                if stat.S_ISLNK(info.external_attr >> 16):
                    notes.append(f"skipped symbolic link {'/'.join(rel)}")
                    continue
                if is_ignored(tuple(rel)):
                    continue
                total += info.file_size
                if total > MAX_ARCHIVE_BYTES:
                    raise FetchError(f"the archive unpacks to more than {MAX_ARCHIVE_BYTES} bytes")
                target = dest.joinpath(*rel)
                if not target.resolve().is_relative_to(dest.resolve()):
                    raise FetchError(f"unsafe path in archive: {name!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
    except zipfile.BadZipFile as e:
        raise FetchError(f"not a valid zip archive: {e}") from None
    return notes


# ---------------------------------------------------------------- fetching lock items


def fetch_item(item: LockItem, store: Store, options: FetchOptions) -> tuple[LockItem, list[str]]:
    """Download one item into the store. Returns the item (with sha256/size filled in when the
    lock had none) and notes. Raises FetchError; nothing enters the store on failure."""
    known = bool(item.sha256)
    try:
        if item.kind == "hub-repo":
            url = archive_url(item, options.git_host)
            with store.temp_file() as (f, tmp), store.temp_dir() as tree:
                download(url, f, options.timeout_s)
                notes = unpack_archive(tmp, tree)
                sha, size = store.commit_tree(tree, item.sha256, item.size if known else None)
        else:
            url = download_url(item, options.mirror)
            expect = item.size if known or item.size else None
            with store.temp_file() as (f, tmp):
                download(url, f, options.timeout_s, expect)
                sha, size = store.commit_object(tmp, item.sha256, expect)
            notes = []
    except StoreError as e:
        raise FetchError(f"{url}: {e}; the download was discarded") from None
    return (item if known else replace(item, sha256=sha, size=size)), notes


def fetch_missing(lock: Lock, store: Store, project: Path, options: FetchOptions,
                  only: set[str] | None = None, out: TextIO | None = None
                  ) -> tuple[Lock, list[Diagnostic]]:
    """Bring every (or every `only`) lock item into the store; local sources without network.
    Returns the lock with newly recorded hashes, and every problem as a Diagnostic."""
    say = (lambda msg: print(msg, file=out)) if out is not None else (lambda msg: None)
    before = lock
    lock, diags = sync_local(lock, store, project, refresh=True)
    for item in lock.items:
        old = before.get(item.url)
        if old is not None and old.sha256 != item.sha256:
            say(f"recorded {item.url} from {item.source} (sha256 {item.sha256[:12]}…)")
    for item in lock.items:
        if only is not None and item.url not in only:
            continue
        if item.source_kind in ("path", "package") or store.has(item):
            continue
        if item.source_kind == "build":
            diags.append(error(
                Code.FETCH,
                f"{item.url} is produced by the set-up step `{item.source}` and is not in the "
                f"store; run that step, or add its output with `build-site fetch --from FILE "
                f"--url {item.url} --source {item.source}`", lock.path, item.line))
            continue
        try:
            new, notes = fetch_item(item, store, options)
        except FetchError as e:
            diags.append(error(Code.FETCH, str(e), lock.path, item.line))
            continue
        for note in notes:
            diags.append(warning(Code.FETCH, f"{item.url}: {note}", lock.path, item.line))
        if new != item:
            lock = lock.with_item(new)
            say(f"fetched {item.url} and recorded sha256 {new.sha256[:12]}… ({new.size} bytes)")
        else:
            say(f"fetched {item.url} ({new.size} bytes)")
    return lock, diags


# ---------------------------------------------------------------- --from


def package_source(path: Path) -> str | None:
    """`package:<dist>/<file>` when `path` is a file an installed distribution ships."""
    path = path.resolve()
    for dist in importlib.metadata.distributions():
        base = Path(str(dist.locate_file(""))).resolve()
        if not path.is_relative_to(base):
            continue
        rel = path.relative_to(base).as_posix()
        if any(str(f) == rel for f in dist.files or ()):
            return f"package:{dist.metadata['Name']}/{rel}"
    return None


def _project_rel(path: Path, project: Path) -> str | None:
    p, root = path.resolve(), project.resolve()
    return p.relative_to(root).as_posix() if p.is_relative_to(root) else None


def add_from(lock: Lock, store: Store, project: Path, from_path: Path, *, url: str | None = None,
             repo: str | None = None, branch: str = "master", commit: str | None = None,
             kind: Kind | None = None, substitute: bool = False, note: str | None = None,
             source: str | None = None) -> tuple[Lock, LockItem]:
    """Put a local file or repository folder into the store and add/update its lock item.
    `note` left as None keeps an existing item's note. `substitute` can only be turned on here:
    re-adding a stand-in without the flag must not quietly promote it to the real thing (edit
    the lock to clear it). Raises FetchError."""
    if not from_path.exists():
        raise FetchError(f"--from {from_path}: no such file or folder")
    rel = _project_rel(from_path, project)
    if from_path.is_dir():
        if not repo:
            raise FetchError("--from with a folder needs --repo owner/name")
        if url and url != hub_repo_url(repo):
            raise FetchError(f"a hub repository's url is {hub_repo_url(repo)}, not {url}")
        if kind not in (None, "hub-repo"):
            raise FetchError(f"--from with a folder adds a hub-repo, not {kind}")
        url, kind = hub_repo_url(repo), "hub-repo"
        if not (from_path / "hubconf.py").is_file():
            raise FetchError(f"{from_path} has no hubconf.py: not a hub repository")
        sha, size = store.put_tree(from_path)
        default_source = f"path:{rel}" if rel is not None else (
            f"{url}/archive/{commit or branch}.zip")
    else:
        if not url:
            raise FetchError("--from with a file needs --url (the URL the file stands for)")
        if repo:
            raise FetchError("--repo goes with a repository folder, not a file")
        old = lock.get(url)
        kind = kind or (old.kind if old else None) or (
            "weights" if urlparse(url).path.endswith(_WEIGHT_SUFFIXES) else "file")
        if kind == "hub-repo":
            raise FetchError("a hub-repo is added from a folder")
        sha, size = store.put_file(from_path)
        # A file an installed package ships is named by the package, even when the environment
        # lives inside the project (.venv/): another machine has the package, not our path.
        default_source = (package_source(from_path)
                          or (f"path:{rel}" if rel is not None else url))
    old = lock.get(url)
    item = LockItem(
        url=url, kind=kind, sha256=sha, size=size,
        source=source or default_source,
        substitute=bool(substitute) or (old.substitute if old else False),
        note=note if note is not None else (old.note if old else ""),
        repo=repo if kind == "hub-repo" else None,
        branch=branch if kind == "hub-repo" else "master",
        commit=commit if kind == "hub-repo" else None,
    )
    return lock.with_item(item), item

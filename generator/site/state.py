"""Build state: what produced each file of the site, so a rebuild redoes only what changed.

The state lives *inside* the site (`site/.build-state.json`), so it is swapped in together with
the files it describes and can never disagree with them. It records

- `globals`: hashes that every page depends on (templates + static files, UI catalog, tag
  registry, tool and library versions, site options);
- `pages`: for each output file, its own dependencies as `{reason label: hash}`, e.g.
  `{"card changed: cards/x.md": "ab12…", "verification changed: x": "…"}`; a differing hash
  *is* the reason the page is rebuilt, so `-v` output cannot drift from the real decision;
- `inputs` + `fingerprint`: (mtime_ns, size) of every input file and a caller-supplied key for
  everything else (options, verify on/off). When all are unchanged the caller may skip reading
  and parsing the cards altogether (`inputs_unchanged`). Like git's index, this trusts mtimes:
  a same-size edit within one timestamp tick would be missed; the hash level below catches it
  on the next build that reads the cards.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Iterable, Mapping, Sequence

from generator.core.files import tree_entries
from generator.core.jsonio import atomic_write

STATE_FILE = ".build-state.json"
STATE_VERSION = 2  # 2: `files`, the sha256 of every file the build wrote

GLOBAL_REASONS: Mapping[str, str] = {
    "templates": "templates changed",
    "catalog": "UI catalog changed",
    "tags": "tag registry changed",
    "tool": "tool version changed",
    "options": "site options changed",
}


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8") if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))  # length-prefixed: ("ab","c") != ("a","bc")
        h.update(b)
    return h.hexdigest()[:32]


def hash_tree(root: Path) -> str:
    """Hash of every file's relative path and content under `root` (sorted)."""
    h = hashlib.sha256()
    for p in sorted(x for x in root.rglob("*") if x.is_file()):
        rel = p.relative_to(root).as_posix()
        if "__pycache__" in rel:
            continue
        h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class BuildState:
    globals: Mapping[str, str] = field(default_factory=dict)
    pages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    inputs: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    fingerprint: str = ""
    # url -> sha256 of every file of the site as the build wrote it: a file is carried over into
    # the next build only while it still has these bytes (see reusable).
    files: Mapping[str, str] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        data = {
            "version": STATE_VERSION,
            "globals": dict(self.globals),
            "pages": {u: dict(d) for u, d in self.pages.items()},
            "inputs": {p: list(v) for p, v in self.inputs.items()},
            "fingerprint": self.fingerprint,
            "files": dict(self.files),
        }
        # Compact: with `indent`, json uses its pure-Python encoder (0.1 s for 3,000 pages).
        return (json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def load_state(out_dir: Path) -> BuildState | None:
    """The state of the site in `out_dir`, or None (no site, old format, unreadable). Parsed
    once while the file keeps its stat signature: a build asks twice (the fast path, then the
    site stage), 20-40 ms a parse for 1,000 cards. Callers never change what it returns."""
    path = os.path.join(os.fspath(out_dir), STATE_FILE)
    try:
        with open(path, "rb") as f:
            sig = signature(os.fstat(f.fileno()))  # of the file read, not of the name a moment before
            kept = _LOADED.get(path)
            if kept is not None and kept[0] == sig:
                return kept[1]
            data = f.read()
    except OSError:
        return None
    state = _parse_state(data)
    _LOADED.clear()  # only the last one: `serve` reads a new file after every build
    _LOADED[path] = (sig, state)
    return state


_LOADED: dict[str, tuple[str, "BuildState | None"]] = {}


def _parse_state(raw: bytes) -> BuildState | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    try:
        return BuildState(
            globals=dict(data["globals"]),
            pages={u: dict(d) for u, d in data["pages"].items()},
            inputs={p: (int(v[0]), int(v[1])) for p, v in data["inputs"].items()},
            fingerprint=str(data["fingerprint"]),
            files={str(u): str(h) for u, h in data["files"].items()},
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def changed_since_written(out_dir: Path, state: BuildState, urls: Iterable[str],
                          known: Mapping[str, str] | None = None,
                          inodes: dict[str, int] | None = None,
                          seen: dict[str, Signature] | None = None) -> set[str]:
    """The urls whose file in `out_dir` no longer has the bytes the build wrote (or was never
    recorded): edited in place, replaced, or a symlink. They are written again, never carried
    over, so nothing put into a site by hand or by anyone else reaches the next one.

    `known` (from `load_signatures`): url -> the stat signature and sha256 of each file as the
    last build left it (`_entry`). A file that still has that inode, size, mtime and ctime
    (which no write, and no `touch`, leaves as it was) and whose recorded sha256 is the state's
    is not read again; any other file is hashed. `inodes` is filled with the inode of every
    unchanged file; `seen`, of those with exactly two links (this site's and, presumably, the
    recycled folder's), with its signature now: no link the build makes or removes for other
    files changes theirs (a file shared by several URLs, write.py, has more links)."""
    out = set()
    known = known or {}
    base = os.fspath(out_dir)  # string joins: pathlib's cost ~10 µs a file, 7,000 files a build
    for url in urls:
        path = os.path.join(base, url)
        want = state.files.get(url)
        try:
            st = os.lstat(path)
            if want is None or not stat.S_ISREG(st.st_mode):
                out.add(url)
                continue
            sig = signature(st)
            if known.get(url) != _entry(sig, want) and file_digest(path) != want:
                out.add(url)
                continue
            if inodes is not None:
                inodes[url] = st.st_ino
            if seen is not None and st.st_nlink == 2:
                seen[url] = sig
        except OSError:
            out.add(url)
    return out


# What changes whenever a file's bytes do: device, inode, size, mtime, ctime (set by the kernel).
Signature = str
SIGNATURES_VERSION = 2  # 2: one string a file (a list of numbers took 10 µs a file to load)


def signature(st: os.stat_result) -> Signature:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _entry(sig: Signature, sha: str) -> str:
    return f"{sig} {sha}"


def load_signatures(path: Path | None) -> dict[str, str]:
    """The signatures `save_signatures` wrote, url -> `_entry` (a cache: anything unreadable is
    simply empty; an entry of another shape matches no file)."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_bytes())
        files = data["files"] if data.get("version") == SIGNATURES_VERSION else {}
        return files if isinstance(files, dict) else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_signatures(path: Path | None, site: Path, files: Mapping[str, str],
                    untouched: Mapping[str, Signature] | None = None) -> None:
    """Record each file's signature with its sha256, after the swap (no later link of the build
    changes a ctime). Kept outside the site (it is machine-specific; sites stay byte-identical).
    `untouched`: the signatures taken earlier in this build of files that no link or write has
    changed since (not stat'ed again)."""
    if path is None:
        return
    out: dict[str, str] = {}
    base = os.fspath(site)
    untouched = untouched or {}
    for url, sha in files.items():
        sig = untouched.get(url)
        if sig is None:
            try:
                sig = signature(os.lstat(os.path.join(base, url)))
            except OSError:
                continue
        out[url] = _entry(sig, sha)
    try:
        atomic_write(path, json.dumps({"version": SIGNATURES_VERSION, "files": out},
                                      separators=(",", ":")).encode("utf-8"))
    except OSError:
        pass


def stat_inputs(paths: Iterable[Path | str]) -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of each file; take it *before* reading the files so that an edit made
    while the build runs is seen by the next build."""
    out: dict[str, tuple[int, int]] = {}
    for p in paths:
        st = os.stat(p)
        out[_path_key(p)] = (st.st_mtime_ns, st.st_size)
    return out


def _path_key(path: Path | str) -> str:
    """The state file is published with the site, so it names inputs by a hash of their path:
    equal for the same file, and no local folder names (home directories …) on the web."""
    return hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()[:20]


def inputs_unchanged(out_dir: Path, paths: Sequence[Path | str], fingerprint: str,
                     seen: dict[str, tuple[int, int]] | None = None) -> bool:
    """True when the site in `out_dir` was built from exactly these files (same set, same
    mtime and size) and the same fingerprint: the build can stop without reading anything.
    `paths` must list every input file (cards, registries, catalog, templates, verification
    results if they come from files). `seen` is filled with the stats taken (`stat_inputs`),
    for the build that follows when the answer is no: taken before it reads a file."""
    try:
        current = stat_inputs(paths)
    except OSError:
        return False
    if seen is not None:
        seen.update(current)
    state = load_state(out_dir)
    if state is None or state.fingerprint != fingerprint or not state.inputs:
        return False
    return current == state.inputs


def outputs_unchanged(out_dir: Path, state: BuildState, known: Mapping[str, str]) -> bool:
    """Every file the last build recorded is in `out_dir` with the stat signature it left there
    (`known`, from `load_signatures`: no edit, replacement or `touch` since) and nothing else is,
    so "up to date" also holds for the output folder. Any doubt is False: the build then checks
    each file (`changed_since_written`) and writes again what is not the build's."""
    if not known:
        return False
    count = 0
    try:
        for url, entry in tree_entries(os.fspath(out_dir)):
            if url == STATE_FILE:
                continue
            want, recorded = state.files.get(url), known.get(url)
            if (want is None or recorded is None or not entry.is_file(follow_symlinks=False)
                    or _entry(signature(entry.stat(follow_symlinks=False)), want) != recorded):
                return False
            count += 1
    except OSError:
        return False
    return count == len(state.files)


@dataclass(frozen=True)
class Decision:
    url: str
    reasons: tuple[str, ...]  # empty: reuse the existing file


def decide(pages: Mapping[str, Mapping[str, str]], globals_: Mapping[str, str],
           state: BuildState | None, out_dir: Path, present: Collection[str] | None = None) -> list[Decision]:
    """For each planned page (url -> its own deps), why it must be rendered again, if at all.
    `present`: the files of `out_dir` when the caller listed them already (else each is stat'ed)."""
    if state is None:
        return [Decision(url, ("new page",) if out_dir.exists() else ("no previous build",))
                for url in pages]
    global_reasons = tuple(GLOBAL_REASONS.get(k, f"{k} changed") for k in sorted(globals_)
                           if state.globals.get(k) != globals_[k])
    out: list[Decision] = []
    for url, deps in pages.items():
        old = state.pages.get(url)
        if old is None:
            out.append(Decision(url, ("new page",)))
            continue
        if global_reasons:
            out.append(Decision(url, global_reasons))
            continue
        reasons = tuple(label for label in sorted(deps) if old.get(label) != deps[label])
        reasons += tuple(f"{label.split(':', 1)[0]} no longer applies" for label in sorted(old)
                         if label not in deps)
        if not reasons and (url not in present if present is not None else not (out_dir / url).is_file()):
            reasons = ("output missing",)
        out.append(Decision(url, reasons))
    return out

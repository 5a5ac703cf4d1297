"""Support for the executor tests: fixture cards parsed by the real parser, and a TEST DOUBLE
of store.materialize that lays out a real MGE_HOME (MegEngine's own layout) from fixture
folders, so hub loading in the child is the real megengine.hub code path."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generator.core.model import ProgramResult
from generator.run.execute import run_plan
from generator.run.plan import Limits, plan_programs
from generator.core.model import Card
from generator.cards.parse import parse_card

HERE = Path(__file__).parent
CARDS = HERE / "cards"
FIXTURES = HERE / "fixtures"
VENV_SITE = Path(np.__file__).resolve().parent.parent
CHELSEA = VENV_SITE / "skimage" / "data" / "chelsea.png"
CAT_URL = "https://data.megengine.org.cn/images/cat.jpg"
TINY_WEIGHTS_URL = "https://weights.example.org/tinyhub/tiny_net_99000_0123abcd.pkl"

# Fast limits for tests: 60 s per block is plenty for these tiny cards.
TEST_LIMITS = Limits(block_timeout_s=60.0, kill_grace_s=1.0)


def load_card(name: str, path: Path | None = None) -> Card:
    src = path or CARDS / name
    card, diags = parse_card(f"tests/execute/cards/{src.name}", src.read_text(encoding="utf-8"))
    assert card is not None, diags
    return card


# ------------------------------------------------------------- MegEngine's cache layout, by hand


def hub_dirname(repo_info: str, megengine_version: str = "1.13.0") -> str:
    """megengine/hub/fetcher.py: <version with _>_<sha1(f"{owner}_{name}_{branch}")[:16]>."""
    repo, _, branch = repo_info.partition(":")
    owner, name = repo.split("/")
    raw = f"{owner}_{name}_{(branch or 'master').replace('/', '_')}"
    return "_".join(megengine_version.split(".")) + "_" + hashlib.sha1(raw.encode()).hexdigest()[:16]


def serialized_name(url: str) -> str:
    """megengine/hub/hub.py load_serialized_obj_from_url: <sha256(url)[:6]>_<basename(url)>."""
    return hashlib.sha256(url.encode()).hexdigest()[:6] + "_" + url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class MissingItemDouble:
    """TEST DOUBLE of lockfile.LockItem: only the fields execute reads."""

    url: str
    kind: str
    repo: str | None = None
    branch: str = "master"
    commit: str | None = None


@dataclass(frozen=True)
class RunAssetsDouble:
    """TEST DOUBLE of store.RunAssets."""

    mge_home: Path
    url_map: dict[str, str]
    substitutes: frozenset[str]
    missing: tuple[Any, ...]
    hub_repos: dict[str, str]
    weights: dict[str, str]


@dataclass
class AssetsFactoryDouble:
    """TEST DOUBLE of execute.StoreAssets: builds a real MGE_HOME in `run_dir` from fixture
    folders (hubs: repo_info -> folder with hubconf.py; weights: url -> file), and serves `files`
    (url -> file) through the shim. `digest` changes whenever the offered content does."""

    hubs: dict[str, Path] = field(default_factory=dict)
    weights: dict[str, Path] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    substitutes: frozenset[str] = frozenset()
    missing: tuple[Any, ...] = ()
    calls: int = 0

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for kind, table in (("hub", self.hubs), ("w", self.weights), ("f", self.files)):
            for key in sorted(table):
                h.update(f"{kind} {key} {table[key]}\n".encode())
        h.update(repr(sorted(self.substitutes)).encode())
        return h.hexdigest()

    def __call__(self, run_dir: Path) -> RunAssetsDouble:
        self.calls += 1
        home = run_dir / "mge_home"
        (home / "hub").mkdir(parents=True)
        (home / "serialized").mkdir(parents=True)
        for repo_info, folder in self.hubs.items():
            shutil.copytree(folder, home / "hub" / hub_dirname(repo_info),
                            ignore=shutil.ignore_patterns("__pycache__"))
        for url, src in self.weights.items():
            shutil.copyfile(src, home / "serialized" / serialized_name(url))
        return RunAssetsDouble(
            mge_home=home, url_map={u: str(p) for u, p in self.files.items()},
            substitutes=self.substitutes, missing=self.missing,
            hub_repos={r: "double" for r in self.hubs}, weights={u: "double" for u in self.weights})


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes (its parent, the killed child, is gone too)
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains `marker` (zombies do not count)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes() and pid_alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def run_card(card: Card, assets_factory: Any, limits: Limits = Limits(), **kw: Any) -> tuple[ProgramResult, ...]:
    """Every program of one card, each through the executor's run_plan (what run_all does per
    program, without its thread pool and progress display)."""
    return tuple(run_plan(p, assets_factory, limits, **kw) for p in plan_programs(card))

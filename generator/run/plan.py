"""What a card program is and what its cached result depends on.

A program is `card.program(lang)`: the prelude and that language's Python blocks, run in order in
one fresh interpreter sharing one `__main__` namespace. When zh_CN and en_US have the same code
and marks, the program runs once and reports for both languages. Its cache key covers the code,
the marks, the assets the store can offer, the child-side code, the environment (Python, every
installed distribution and its version, the sandbox's code and settings) and the limits.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from generator import __version__ as TOOL_VERSION
from generator.core.jsonio import digest
from generator.core.model import PRELUDE, Card, Snippet
from generator.core.sizes import parse_size
from generator.run import sandbox
from generator.run.child import CHILD_DIR


@dataclass(frozen=True)
class Limits:
    """How a program may run. Everything here is part of the cache key: a different limit can
    give a different result. Memory, processes and disk are limits of the whole run (every
    process the card starts counts), enforced by the sandbox (run/isolation)."""

    block_timeout_s: float = 600.0  # per block, unless the card says `<!-- verify: timeout=N -->`
    # Resident memory of the whole run, never address space: MegEngine maps far more than it
    # touches (detection models: ~11 GB mapped for ~3.4 GB resident). A card may ask for more
    # with `<!-- verify: memory=16GiB -->`. Files the run writes count too (tmpfs).
    memory_bytes: int = sandbox.DEFAULT_MEMORY_BYTES
    pids: int = 512  # processes and threads together (MegEngine starts threads per core)
    disk_bytes: int = 2 * 1024 ** 3  # what the run may write (its folder, /tmp, /dev/shm)
    kill_grace_s: float = 5.0  # after a block's limit, how long the child gets to report it
    startup_s: float = 60.0  # interpreter start-up allowance in the whole-program deadline
    isolate: bool = True  # False: --unsafe-no-sandbox (limits only, no namespaces)

    def key(self) -> list[object]:
        return [self.block_timeout_s, self.memory_bytes, self.pids, self.disk_bytes, self.kill_grace_s,
                self.startup_s, self.isolate]


def memory_of(blocks: Sequence[Snippet], limits: Limits) -> tuple[int, str]:
    """The program's memory limit: the largest `memory=` mark of its blocks, else the build's."""
    marked = [(parse_size(m.value), m) for s in blocks if (m := s.mark("memory")) is not None]
    best = max(marked, key=lambda x: x[0], default=None)
    if best is not None and best[0] > limits.memory_bytes:
        return best[0], f"<!-- verify: memory={best[1].value} --> at line {best[1].loc.line}"
    return limits.memory_bytes, "the build's memory limit"




def runtime_environment() -> dict[str, str]:
    """Versions and platform facts that change a run's result (part of its cache key)."""
    return {**sandbox.library_versions(), "platform": f"{platform.system()}-{platform.machine()}",
            "device": "cpux"}


def installed_distributions() -> list[tuple[str, str]]:
    """(name, version) of every distribution the children's interpreter can import, sorted. A
    card or hub repository may import any of them, so installing, removing or upgrading one
    (say the package a hubconf.py needs) must make cached runs stale. Children run this same
    interpreter (sys.executable) with the same site-packages, so the parent's view is theirs.

    Read from the metadata folders' names (`numpy-1.26.4.dist-info`; an `.egg-info` without a
    version counts by name and mtime) and the `.pth` files on sys.path: a few directory listings,
    cheap enough for the no-op rebuild's fingerprint."""
    found: set[tuple[str, str]] = set()
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                names = [(e.name, e) for e in it]
        except OSError:
            continue
        for name, e in names:
            if name.endswith((".dist-info", ".egg-info")):
                stem = name.rsplit(".", 1)[0]
                dist, _, version = stem.partition("-")
                if not version:
                    try:
                        version = f"mtime {int(e.stat().st_mtime)}"
                    except OSError:
                        version = "?"
                found.add((dist.lower().replace("-", "_"), version.split("-py")[0]))
            elif name.endswith(".pth"):
                found.add((name, "pth"))
    return sorted(found)


@functools.lru_cache(maxsize=1)
def distributions_digest() -> str:
    """Python version and every installed distribution (evaluation results depend on them too)."""
    return digest({"python": [platform.python_implementation(), platform.python_version()],
                   "distributions": installed_distributions()})


@functools.lru_cache(maxsize=1)
def environment_digest() -> str:
    """Everything of the environment a run's result depends on: the Python version and
    implementation, every installed distribution and its version, and the sandbox's settings
    (its code, and the names and values of the environment a child gets, paths aside). Read once
    per process: a build does not install packages half-way."""
    env = sandbox.child_env(Path("/home"), "/mge_home", 1)
    return digest({
        "python": [platform.python_implementation(), platform.python_version(), sys.abiflags],
        "executable": Path(sys.executable).name,
        "distributions": installed_distributions(),
        "sandbox": Path(sandbox.__file__).read_text(encoding="utf-8"),
        "child_env": sorted((k, v) for k, v in env.items() if k not in ("PATH", "HOME", "TMPDIR", "XDG_CACHE_HOME",
                                                                            "MGE_HOME")),
    })


@functools.lru_cache(maxsize=1)
def _runner_digest() -> str:
    """Hash of the child-side code: changing how blocks are run invalidates cached runs even
    before the tool version is bumped."""
    h = []
    for p in sorted(CHILD_DIR.rglob("*.py")):
        h.append((str(p.relative_to(CHILD_DIR)), p.read_text(encoding="utf-8")))
    return digest({"files": h, "supervise": (Path(__file__).with_name("supervise.py")).read_text(encoding="utf-8")})


@dataclass(frozen=True)
class Plan:
    """One program to run: `blocks` of the first language in `langs`, reported for all of them
    (`per_lang[lang]` are that language's own section snippets, aligned with the run's)."""

    card: Card
    langs: tuple[str, ...]
    blocks: tuple[Snippet, ...]
    per_lang: Mapping[str, tuple[Snippet, ...]]


def _judging(s: Snippet) -> tuple[object, ...]:
    return (s.code, tuple((m.kind, m.value) for m in s.marks))


def plan_programs(card: Card) -> list[Plan]:
    """Group the card's languages whose programs are identical (same code, same marks)."""
    plans: list[Plan] = []
    groups: dict[tuple[object, ...], list[str]] = {}
    for lang in card.sections:
        sec = tuple(s for s in card.program(lang) if s.lang != PRELUDE)
        groups.setdefault(tuple(_judging(s) for s in sec), []).append(lang)
    for langs in groups.values():
        per_lang = {lang: tuple(s for s in card.program(lang) if s.lang != PRELUDE) for lang in langs}
        plans.append(Plan(card, tuple(langs), card.program(langs[0]), per_lang))
    if not plans and card.prelude is not None and card.prelude.is_python:
        plans.append(Plan(card, (), (card.prelude,), {}))
    return [p for p in plans if p.blocks]


def timeout_of(s: Snippet, limits: Limits) -> tuple[float, str]:
    m = s.mark("timeout")
    if m is not None:
        try:
            value = float(m.value.strip().rstrip("s"))
            if value > 0:
                return value, f"limit from <!-- verify: timeout={m.value} --> at line {m.loc.line}"
        except ValueError:
            pass  # the parser reports bad marks; fall back to the default
    return limits.block_timeout_s, "default limit"


def program_key(plan: Plan, assets_digest: str, limits: Limits) -> str:
    snippets = list(plan.blocks) + [s for lang in plan.langs[1:] for s in plan.per_lang[lang]]
    return digest({
        "tool": TOOL_VERSION,
        "runner": _runner_digest(),
        "card": plan.card.path,
        "langs": list(plan.langs),
        "blocks": [{"lang": s.lang, "index": s.index, "line": s.loc.line, "code_line": s.code_line,
                    "info": s.info, "code": s.code,
                    "marks": [[m.kind, m.value, m.loc.line] for m in s.marks]} for s in snippets],
        "assets": assets_digest,
        "env": runtime_environment(),
        "environment": environment_digest(),
        "limits": limits.key(),
    })

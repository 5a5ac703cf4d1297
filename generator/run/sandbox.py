"""What every child process of the tool shares, snippet runs and evaluations alike: the sandbox it
runs in (run/isolation: bubblewrap namespaces, seccomp, limits over the whole process tree), an
environment built from an allow-list (no tokens or secrets of the parent), and the library
versions that key caches.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import sys
import threading
from pathlib import Path
from typing import Sequence

from generator.run.isolation.sandbox import Sandbox, cleanup_stale
from generator.run.isolation.spec import Bind, Limits as SandboxLimits, SandboxSpec, SandboxUnavailable

__all__ = ["ACTIVE", "DEFAULT_MEMORY_BYTES", "RESULT_DISTRIBUTIONS", "Sandbox", "SandboxUnavailable", "child_env", "cleanup_stale", "cpu_model",
           "ensure_available", "library_versions", "open_sandbox"]


def _default_memory() -> int:
    """Half the machine's memory (two runs at once fit), at least 2 GiB: what a detection model
    needs resident (~3.4 GB) fits on any machine with 8 GiB or more."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 8 * 1024 ** 3
    return max(2 * 1024 ** 3, total // 2)


DEFAULT_MEMORY_BYTES = _default_memory()


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


# The libraries whose versions change results: the name a run records -> its distribution (what
# a reader pins to reproduce a page; site/evidence.py).
RESULT_DISTRIBUTIONS: dict[str, str] = {"megengine": "MegEngine", "numpy": "numpy",
                                        "opencv": "opencv-python-headless"}


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions that change results, read cheaply (package metadata, not `import megengine`).
    Children run this same interpreter (sys.executable), so the parent's metadata is theirs."""
    return {"python": platform.python_version(),
            **{key: _dist_version(dist) for key, dist in RESULT_DISTRIBUTIONS.items()}}


def child_env(home: Path, mge_home: Path | str, threads: int) -> dict[str, str]:
    """A child's whole environment: built from scratch, nothing inherited from the parent."""
    n = str(max(1, threads))
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": "/tmp",
        "XDG_CACHE_HOME": str(Path(home) / ".cache"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",  # a child killed mid-way still leaves what it printed
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MGE_HOME": str(mge_home),
        "MGE_DEFAULT_DEVICE": "cpux",  # no GPU here; also avoids most of the CUDA-driver banner
        "MGE_FASTRUN_CACHE_TYPE": "MEMORY",  # no redis lookup, no cache.bin written into MGE_HOME
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "NUMEXPR_NUM_THREADS": n,
        "MPLBACKEND": "Agg",
    }


def open_sandbox(*, isolate: bool, memory_bytes: int, pids: int, disk_bytes: int,
                 wall_s: float | None, mge_home: Path | None, binds: Sequence[Path] = (),
                 hide: Sequence[Path] = ()) -> Sandbox:
    """A sandbox for one child: this interpreter and its venv, `mge_home` and `binds` read-only,
    one writable folder (`.writable`); `hide`: folders under the system binds shown empty (an
    evaluation's dataset, labels included). With `isolate=False` (--unsafe-no-sandbox) only the
    limits and the kill of the whole tree apply."""
    # Each file or folder once, and none inside another (bwrap would bind it twice). Package
    # folders on this interpreter's path that lie outside its venv (a venv layered on another
    # through a .pth) are shown too: the child runs this interpreter and needs its packages.
    base_spec = SandboxSpec()
    shown_env = [p.resolve() for p in (base_spec.python_home, base_spec.venv) if p is not None]
    packages = [Path(x) for x in sys.path if ("site-packages" in x or "dist-packages" in x) and Path(x).is_dir()]
    hops = _interpreter_hops()
    candidates = {Path(p).resolve() for p in binds} | {
        p.resolve() for p in [*packages, *hops] if not any(e == p.resolve() or e in p.resolve().parents for e in shown_env)}
    paths = sorted(candidates)
    kept = [p for p in paths if not any(q != p and q in p.parents for q in paths)]
    shown = [Path(d) for d in base_spec.system if os.path.isdir(d) and not os.path.islink(d)]
    # Only what the sandbox would show needs hiding: paths under its system binds (/usr).
    hidden = tuple(base_spec.hide) + tuple(str(h) for h in {Path(x).resolve() for x in hide}
                                      if h.is_dir() and any(d in h.parents for d in shown))
    spec = SandboxSpec(mge_home=mge_home, ro_binds=tuple(Bind(p) for p in kept), isolate=isolate, hide=hidden)
    limits = SandboxLimits(memory_bytes=memory_bytes, pids=pids, wall_s=wall_s, disk_bytes=disk_bytes,
                           fsize_bytes=disk_bytes)
    return Sandbox(spec, limits)


def _interpreter_hops() -> list[Path]:
    """The folders of every symlink between sys.executable and the real interpreter (a venv
    made from another venv's python links through it): the child starts the same path."""
    hops, p = [], Path(sys.executable)
    for _ in range(16):
        if not p.is_symlink():
            break
        hops.append(p.parent)
        p = p.parent / os.readlink(p)
    return hops


def ensure_available(isolate: bool) -> None:
    """SandboxUnavailable (with the fix) when card code could not be sandboxed here. Checked
    before the first child starts, so a build never runs untrusted code unsandboxed by accident."""
    if not isolate:
        return
    Sandbox(SandboxSpec(), SandboxLimits(memory_bytes=None, pids=None)).close()


class Active:
    """The sandboxes of the runs in progress, so an interrupted build (Ctrl-C, SIGTERM) stops
    them at once instead of waiting for their deadlines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boxes: set[Sandbox] = set()
        self.stopping = False

    def add(self, box: Sandbox) -> None:
        with self._lock:
            if self.stopping:
                raise KeyboardInterrupt
            self._boxes.add(box)

    def discard(self, box: Sandbox) -> None:
        with self._lock:
            self._boxes.discard(box)

    def kill_all(self) -> None:
        with self._lock:
            self.stopping = True
            boxes = list(self._boxes)
        for box in boxes:
            box.kill()


ACTIVE = Active()


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

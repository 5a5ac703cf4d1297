"""What every child process of the tool shares, snippet runs and evaluations alike: an empty
network namespace where the machine allows one, an environment built from an allow-list (no
tokens or secrets of the parent), resource limits, and the library versions that key caches.

The snippet runner (child/runner.py) sets its own limits from inside, per block; an evaluation
child gets them from `limit_resources` before it starts.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import resource
import subprocess
import sys
import threading
from pathlib import Path

# MegEngine's CUDA build reserves ~2.2 GB of address space at import; 8 GiB leaves room for
# real work while a runaway allocation still fails instead of taking the machine down.
DEFAULT_MEMORY_BYTES = 8 * 1024 ** 3

_lock = threading.Lock()
_netns: tuple[str, ...] | None = None


def network_prefix() -> tuple[str, ...]:
    """The command prefix that puts a process in an empty network namespace, or () when this
    machine does not allow it. Probed once per process."""
    global _netns
    with _lock:
        if _netns is None:
            _netns = ()
            for prefix in (("unshare", "--net", "--"), ("unshare", "-rn", "--")):
                try:
                    r = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
                except (OSError, subprocess.SubprocessError):
                    continue
                if r.returncode == 0:
                    _netns = prefix
                    break
        return _netns


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions that change results, read cheaply (package metadata, not `import megengine`).
    Children run this same interpreter (sys.executable), so the parent's metadata is theirs."""
    return {
        "python": platform.python_version(),
        "megengine": _dist_version("MegEngine"),
        "numpy": _dist_version("numpy"),
        "opencv": _dist_version("opencv-python-headless"),
    }


def child_env(home: Path, mge_home: Path | str, threads: int) -> dict[str, str]:
    """A child's whole environment: built from scratch, nothing inherited from the parent."""
    n = str(max(1, threads))
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
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


def limit_resources(memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
    """For `preexec_fn`: no core dumps, a cap on address space."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()

"""How many numbers a published weights file holds, counted without running any of its code.

MegEngine's `megengine.save(module.state_dict(), f)` is plain pickle: an OrderedDict of numpy
arrays. Loading a pickle may call any function it names, so a hostile weights file would run
code in the tool's own process (outside the sandbox). `_ArraysOnly` rebuilds only what a dict of
arrays needs (`find_class` allows the handful of numpy and collections names below and refuses
every other, before anything is called; persistent ids are refused too). The count is the sum of
the arrays' sizes: every array of the file, BatchNorm running statistics included.

Only a store object is counted (a file named by its sha256), and only when the bytes read hash
to that sha256. Counts and refusals are cached by sha256 (`ParamCache`): the same bytes always
give the same answer, so each file is read once.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.core.jsonio import JsonCache

if TYPE_CHECKING:
    from generator.store.content import Store

# Bump when what is counted changes (cached counts of another version are not used).
COUNTER_VERSION = 1
# The globals `megengine.save` of a state dict refers to (numpy 1 spells its core module
# `numpy.core`, numpy 2 `numpy._core`): nothing else is needed to rebuild arrays.
_ALLOWED = frozenset({
    ("collections", "OrderedDict"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),  # a 0-d value (e.g. a step counter) pickled as a numpy scalar
    ("numpy._core.multiarray", "scalar"),
})
# Weights larger than this are not read into memory to be counted.
MAX_BYTES = 4 * 1024 ** 3


class Refused(Exception):
    """The file cannot be counted without trusting it. `code` names why (a catalog key
    `compare.params.<code>`); `detail` is the name or problem it found."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """What protocol 2 pickles write for bytes (`_codecs.encode(text, "latin1")`), and only that."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refused("refused", f"_codecs.encode with {encoding!r}")
    return text.encode("latin1")


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):  # array bytes in a protocol 2 pickle
            return _latin1
        if (module, name) not in _ALLOWED:
            # refused before it is imported or called
            raise Refused("refused", f"{module}.{name}")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("refused", "a persistent id")


def _arrays(obj: object, depth: int = 0) -> int:
    """The sum of the sizes of the arrays in a (nested) dict of arrays."""
    import numpy as np

    if isinstance(obj, (np.ndarray, np.generic)):
        return int(obj.size)
    if isinstance(obj, dict) and depth < 8:
        return sum(_arrays(v, depth + 1) for v in obj.values())
    raise Refused("not-arrays", type(obj).__name__)


def count_bytes(data: bytes) -> int:
    """The numbers in a pickled dict of arrays; Refused when it names anything else, is no
    pickle, or holds no dict of arrays."""
    try:
        obj = _ArraysOnly(io.BytesIO(data)).load()
    except Refused:
        raise
    except Exception as exc:  # a damaged or foreign file: what pickle says about it
        raise Refused("unreadable", f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(obj, dict):
        raise Refused("not-arrays", type(obj).__name__)
    return _arrays(obj)


def count_file(path: Path, sha256: str) -> int:
    """Count a store object whose bytes must hash to `sha256` (Refused("changed") otherwise)."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise Refused("too-large", str(size))
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise Refused("changed", sha256)
    return count_bytes(data)


@dataclass(frozen=True)
class Count:
    params: int | None  # None: not counted
    refused: str = ""  # why not: a code of `Refused`
    detail: str = ""


class ParamCache:
    """Counts by sha256, `<root>/<sha[:2]>/<sha>.json`; an entry of another counter version or
    of another shape is a miss (and is counted again)."""

    def __init__(self, root: Path) -> None:
        self.store = JsonCache(Path(root), fanout=True)

    def get(self, sha256: str) -> Count | None:
        data = self.store.read(sha256)
        if not isinstance(data, dict) or data.get("version") != COUNTER_VERSION or data.get("sha256") != sha256:
            return None
        params, refused, detail = data.get("params"), data.get("refused"), data.get("detail")
        if isinstance(params, int) and not isinstance(params, bool) and params >= 0 and refused == "":
            return Count(params)
        if params is None and isinstance(refused, str) and refused and isinstance(detail, str):
            return Count(None, refused, detail)
        return None

    def put(self, sha256: str, count: Count) -> None:
        self.store.write(sha256, {"version": COUNTER_VERSION, "sha256": sha256, "params": count.params,
                                  "refused": count.refused, "detail": count.detail})


def count_stored(store: "Store", sha256: str, cache: ParamCache | None = None) -> Count:
    """The count of the store's object `sha256`; Count(None, "not-stored") when the store does
    not hold it (a lock item without a hash, or not fetched)."""
    path = store.object_path(sha256) if len(sha256) == 64 else None
    if path is None or not path.is_file():
        return Count(None, "not-stored")
    return count_weights(path, sha256, cache)


def count_weights(path: Path, sha256: str, cache: ParamCache | None = None) -> Count:
    """The count of the store object `path` (named `sha256`), from the cache when it has it."""
    if cache is not None:
        hit = cache.get(sha256)
        if hit is not None:
            return hit
    try:
        count = Count(count_file(path, sha256))
    except Refused as exc:
        count = Count(None, exc.code, exc.detail)
    except OSError as exc:  # not cached: the file may be readable next time
        return Count(None, "unreadable", exc.strerror or type(exc).__name__)
    if cache is not None and count.refused != "changed":
        cache.put(sha256, count)
    return count

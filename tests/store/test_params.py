"""Counting the numbers of a weights file without running its pickle: a file MegEngine saved is
counted; a pickle that would call anything but the array builders is refused before the call."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generator.store import params
from generator.store.content import Store
from generator.store.params import Count, ParamCache, Refused, count_bytes, count_stored

ROOT = Path(__file__).resolve().parents[2]

# A small module's state dict, saved by MegEngine itself; prints what the module holds, counted
# from the module (not from the file).
_SAVE = """
import sys
import megengine, megengine.module as M
class Net(M.Module):
    def __init__(self):
        super().__init__()
        self.conv = M.Conv2d(3, 8, 3)
        self.bn = M.BatchNorm2d(8)
        self.fc = M.Linear(8, 10)
    def forward(self, x):
        return self.fc(self.bn(self.conv(x)))
net = Net()
sd = net.state_dict()
megengine.save(sd, sys.argv[1])
print(sum(int(v.size) for v in sd.values()), sum(int(p.size) for p in net.parameters()))
"""


@pytest.fixture(scope="module")
def megengine_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    path = tmp_path_factory.mktemp("weights") / "net.pkl"
    proc = subprocess.run([sys.executable, "-c", _SAVE, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    arrays, parameters = map(int, proc.stdout.split()[-2:])
    return path, arrays, parameters


@pytest.mark.megengine
def test_a_megengine_saved_state_dict_is_counted(megengine_weights: tuple[Path, int, int]) -> None:
    path, arrays, parameters = megengine_weights
    # conv 8*3*3*3 + 8, bn 8 + 8 (+ 8 + 8 running statistics), fc 8*10 + 10
    assert parameters == 216 + 8 + 16 + 90 and arrays == parameters + 16
    assert count_bytes(path.read_bytes()) == arrays  # every array, BatchNorm statistics included


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (self.command,))


@pytest.mark.parametrize("wrap", ["bare", "in-a-state-dict", "as-array-dtype"])
def test_a_pickle_that_would_run_a_command_is_refused_without_running(tmp_path: Path, wrap: str) -> None:
    marker = tmp_path / "ran"
    hostile = _System(f"touch {marker}")
    obj: object = {"bare": hostile,
                   "in-a-state-dict": collections.OrderedDict([("w", np.ones(3, np.float32)), ("x", hostile)]),
                   "as-array-dtype": [np.ones(2), hostile]}[wrap]
    data = pickle.dumps(obj, protocol=4)
    assert b"system" in data
    with pytest.raises(Refused) as exc:
        count_bytes(data)
    assert exc.value.code == "refused" and exc.value.detail in ("posix.system", "os.system")
    assert not marker.exists()
    pickle.loads(data)  # the same bytes, loaded as pickle would: the command runs (the test can fail)
    assert marker.exists()


@pytest.mark.parametrize("name", ["builtins.eval", "builtins.getattr", "numpy.load", "subprocess.Popen",
                                  "megengine.tensor.Tensor"])
def test_every_other_global_is_refused(name: str) -> None:
    module, attr = name.rsplit(".", 1)
    data = b"\x80\x04" + b"c" + module.encode() + b"\n" + attr.encode() + b"\n" + b"."  # GLOBAL, STOP
    with pytest.raises(Refused) as exc:
        count_bytes(data)
    assert (exc.value.code, exc.value.detail) == ("refused", name)


@pytest.mark.parametrize("data, code", [
    (pickle.dumps([np.ones(3)]), "not-arrays"),
    (pickle.dumps({"w": np.ones(3), "note": "text"}), "not-arrays"),
    (b"PK\x03\x04 not a pickle", "unreadable"),
    (b"", "unreadable"),
])
def test_what_is_no_dict_of_arrays_is_not_counted(data: bytes, code: str) -> None:
    with pytest.raises(Refused) as exc:
        count_bytes(data)
    assert exc.value.code == code


def test_numpy_scalars_and_nested_dicts_count() -> None:
    sd = collections.OrderedDict([("a", np.zeros((2, 3), np.float32)), ("step", np.int64(7)),
                                  ("head", {"b": np.ones(4, np.float16)})])
    assert count_bytes(pickle.dumps(sd, protocol=4)) == 6 + 1 + 4
    assert count_bytes(pickle.dumps(sd, protocol=2)) == 11  # bytes as _codecs.encode(text, "latin1")
    # ... and nothing else of _codecs.encode
    zipped = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R."
    with pytest.raises(Refused):
        count_bytes(zipped)


def test_only_a_verified_store_object_is_counted_and_the_count_is_cached(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "store")
    src = tmp_path / "w.pkl"
    src.write_bytes(pickle.dumps(collections.OrderedDict([("w", np.ones((5, 5)))])))
    sha, _ = store.put_file(src)
    cache = ParamCache(tmp_path / "cache")
    assert count_stored(store, sha, cache) == Count(25)
    entry = json.loads(cache.store.path(sha).read_text())
    assert entry == {"version": params.COUNTER_VERSION, "sha256": sha, "params": 25, "refused": "", "detail": ""}

    def no_reading(*_: object) -> int:
        raise AssertionError("counted again")

    monkeypatch.setattr(params, "count_file", no_reading)
    assert count_stored(store, sha, cache) == Count(25)  # from the cache
    monkeypatch.undo()
    # not in the store: not counted (whatever the lock says)
    assert count_stored(store, "0" * 64, cache) == Count(None, "not-stored")
    assert count_stored(store, "", cache) == Count(None, "not-stored")
    # a stored object whose bytes changed is not counted, and that is not cached
    other = hashlib.sha256(b"x").hexdigest()
    path = store.object_path(other)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(src.read_bytes())
    assert count_stored(store, other, cache).refused == "changed"
    assert cache.get(other) is None


def test_a_refusal_is_cached_and_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    src = tmp_path / "evil.pkl"
    src.write_bytes(pickle.dumps(_System("true")))
    sha, _ = store.put_file(src)
    cache = ParamCache(tmp_path / "cache")
    got = count_stored(store, sha, cache)
    assert (got.params, got.refused) == (None, "refused")
    assert cache.get(sha) == got
    for damaged in ({"version": 0}, {"version": params.COUNTER_VERSION, "sha256": sha, "params": -1,
                                     "refused": "", "detail": ""},
                    {"version": params.COUNTER_VERSION, "sha256": "f" * 64, "params": 3, "refused": "", "detail": ""}):
        cache.store.write(sha, damaged)
        assert cache.get(sha) is None


def test_the_bundled_zoo_weights_are_counted() -> None:
    """The zoo's published weights (cards/store.lock.json), as the store holds them."""
    lock = json.loads((ROOT / "cards" / "store.lock.json").read_text())
    store = Store(ROOT / ".store")
    weights = {Path(i["url"]).name: i["sha256"] for i in lock["items"] if i["kind"] == "weights"}
    effnet = weights["efficientnet_lite0_tfport_75100_ac0ce428.pkl"]
    if not store.object_path(effnet).is_file():
        pytest.skip("the project's store has no copy (run ./dev build first)")
    got = count_stored(store, effnet)
    assert got.params is not None and 4_600_000 < got.params < 4_800_000, got  # EfficientNet-Lite0: 4.65 M

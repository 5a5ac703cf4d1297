"""Fashion-MNIST from the idx gz files, and the one preprocessing both training and evaluation use.

Files as shipped by Debian's `dataset-fashion-mnist`:
`<root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"

# Mean and std of the 60k training pixels after scaling to [0, 1] (0.2860, 0.3530).
MEAN = 0.286
STD = 0.353

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

_DTYPES = {0x08: np.uint8}


def read_idx(path: str) -> np.ndarray:
    """Read one idx file (gz or plain). Only the unsigned-byte type is accepted: that is all
    Fashion-MNIST uses, and anything else means the wrong file."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an idx file")
    dtype_code, ndim = data[2], data[3]
    if dtype_code not in _DTYPES:
        raise ValueError(f"{path}: idx type 0x{dtype_code:02x} is not unsigned byte")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape)) if shape else 0
    if len(data) != header + count:
        raise ValueError(f"{path}: expected {header + count} bytes for shape {shape}, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def load(split: str = "test", n: int | None = None, root: str = DEFAULT_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N x 28 x 28, labels int32 N) of `split` ("train" or "test"); the first n
    if n is given, in file order so every caller sees the same slice."""
    prefix = {"train": "train", "test": "t10k"}[split]
    images = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int32)
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"{root}: {split} images {images.shape} do not match labels {labels.shape}")
    if n is not None:
        images, labels = images[:n], labels[:n]
    return images, labels


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 N x 28 x 28 (or one 28 x 28 image) -> float32 N x 1 x 28 x 28: x/255, then
    (x - 0.286) / 0.353."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"expected N x 28 x 28 images, got shape {x.shape}")
    x = x.astype(np.float32) / np.float32(255.0)
    return ((x - np.float32(MEAN)) / np.float32(STD))[:, None, :, :]

"""ImageNet eval preprocessing for the EfficientNet-Lite0 weights (TF-trained, RGB input).

This is the pipeline the published 75.1 % top-1 was measured with, the TF EfficientNet eval
preprocessing (tensorflow/tpu models/official/efficientnet/preprocessing.py, preprocess_for_eval,
plus lite's MEAN_RGB = 127, STDDEV_RGB = 128), applied to already-decoded pixels:

1. centre crop: c = int(224 / (224 + 32) * min(h, w)), offsets ((h - c) + 1) // 2, ((w - c) + 1) // 2;
2. TF1 `resize_bicubic` of the crop to 224 x 224, its legacy variant (align_corners=False,
   half_pixel_centers=False): source coordinate = dst * c / 224, Keys cubic with a = -0.75,
   the fraction rounded to 1/1024 (TF's coefficient table), edge indices clamped; the float
   result is not clamped to [0, 255];
3. (x - 127) / 128.

On the same decoded pixels this gives TensorFlow's own output (bit-identical on scikit-image's and
scikit-learn's photos and on random sizes, against TF 2.21's tf.compat.v1.image.resize_bicubic).
One part of TF's pipeline lies outside this function: TF decodes JPEGs with libjpeg's fast
integer IDCT (`INTEGER_FAST`), while cv2.imread and PIL use the accurate one: decoded pixels
differ by about 1 level on average (up to ~20), which this function cannot undo.
"""

from __future__ import annotations

import numpy as np

IMAGE_SIZE = 224
CROP_PADDING = 32
_TABLE = 1024  # TF resize_bicubic_op.cc kTableSize
_A = -0.75  # TF's legacy (non-half-pixel) cubic coefficient


def _coefficients() -> np.ndarray:
    """TF's table: row i holds the weights of the two taps at distance i / 1024 and 1 + i / 1024."""
    x = np.arange(_TABLE + 1, dtype=np.float64) / _TABLE
    t = np.empty((_TABLE + 1, 2), np.float32)
    t[:, 0] = ((_A + 2) * x - (_A + 3)) * x * x + 1
    x1 = x + 1.0
    t[:, 1] = ((_A * x1 - 5 * _A) * x1 + 8 * _A) * x1 - 4 * _A
    return t


def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, weights), each n_out x 4: output o = sum_k weights[o, k] * input[indices[o, k]]."""
    table = _coefficients()
    scale = np.float32(n_in) / np.float32(n_out)
    src = np.arange(n_out, dtype=np.float32) * scale
    base = np.floor(src).astype(np.int64)
    offset = np.rint((src - base.astype(np.float32)) * np.float32(_TABLE)).astype(np.int64)
    weights = np.stack(
        [table[offset, 1], table[offset, 0], table[_TABLE - offset, 0], table[_TABLE - offset, 1]], axis=1
    )
    indices = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    return indices, weights.astype(np.float32)


def resize_bicubic_tf_legacy(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """H x W x C -> out_h x out_w x C float32, as TF1 tf.image.resize_bicubic (defaults)."""
    x = np.asarray(img, dtype=np.float32)
    iy, wy = _taps(x.shape[0], out_h)
    ix, wx = _taps(x.shape[1], out_w)
    x = np.einsum("ok,okwc->owc", wy, x[iy])  # rows first, as TF
    return np.einsum("ok,hokc->hoc", wx, x[:, ix])


def center_crop_box(h: int, w: int, size: int = IMAGE_SIZE, crop_padding: int = CROP_PADDING) -> tuple[int, int, int]:
    """(top, left, side) of TF's eval crop."""
    side = int(np.float32(size / (size + crop_padding)) * np.float32(min(h, w)))
    return (h - side + 1) // 2, (w - side + 1) // 2, side


def preprocess(rgb: np.ndarray, size: int = IMAGE_SIZE, crop_padding: int = CROP_PADDING) -> np.ndarray:
    """uint8 H x W x 3 RGB -> float32 1 x 3 x size x size (TF eval crop + legacy bicubic, then
    (x - 127) / 128: the scaling the TF EfficientNet-Lite checkpoints were trained with, not the
    torchvision mean/std). numpy only."""
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {img.shape}")
    top, left, side = center_crop_box(img.shape[0], img.shape[1], size, crop_padding)
    x = resize_bicubic_tf_legacy(img[top: top + side, left: left + side], size, size)
    x = (x - np.float32(127.0)) / np.float32(128.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)

"""ImageNet-style preprocessing for the EfficientNet-Lite0 weights (TF-trained, RGB input)."""

from __future__ import annotations

import numpy as np


def preprocess(rgb: np.ndarray, resize: int = 256, crop: int = 224) -> np.ndarray:
    """uint8 H x W x 3 RGB -> float32 1 x 3 x crop x crop.

    Resize the short side to `resize` (bilinear), centre-crop `crop`, then (x - 127) / 128: the
    scaling the TF EfficientNet-Lite checkpoints were trained with (not the torchvision mean/std).
    """
    import cv2  # only this helper needs it; hubconf must import with megengine + numpy alone

    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {img.shape}")
    h, w = img.shape[:2]
    scale = resize / min(h, w)
    nh, nw = max(resize, round(h * scale)), max(resize, round(w * scale))
    img = cv2.resize(np.ascontiguousarray(img), (nw, nh), interpolation=cv2.INTER_LINEAR)
    top, left = (nh - crop) // 2, (nw - crop) // 2
    img = img[top: top + crop, left: left + crop].astype(np.float32)
    x = (img - np.float32(127.0)) / np.float32(128.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

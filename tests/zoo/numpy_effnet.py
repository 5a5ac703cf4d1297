"""An independent numpy forward of EfficientNet-Lite0 on the checkpoint's own (PyTorch-layout,
lukemelas-named) arrays, for comparison with the MegEngine module. Written from the
architecture description, not from zoo/models: depthwise conv as a sum of shifted slices,
1x1 conv as a tensordot, TF "same" padding computed per layer."""

from __future__ import annotations

import numpy as np

# (repeats, kernel, stride, expand) of EfficientNet-B0 / Lite0.
STAGES = ((1, 3, 1, 1), (2, 3, 2, 6), (2, 5, 2, 6), (3, 3, 2, 6), (3, 5, 1, 6), (4, 5, 2, 6), (1, 3, 1, 6))
EPS = 1e-3


def _pad_same(x: np.ndarray, k: int, s: int) -> np.ndarray:
    h, w = x.shape[1:]
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    return np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))


def _bn(x: np.ndarray, sd, p: str) -> np.ndarray:
    scale = sd[p + ".weight"] / np.sqrt(sd[p + ".running_var"] + EPS)
    shift = sd[p + ".bias"] - sd[p + ".running_mean"] * scale
    return x * scale[:, None, None] + shift[:, None, None]


def _conv_full(x: np.ndarray, w: np.ndarray, s: int) -> np.ndarray:
    """Dense kxk conv of one image (C, H, W), weight (O, C, k, k)."""
    k = w.shape[2]
    xp = _pad_same(x, k, s)
    oh, ow = -(-x.shape[1] // s), -(-x.shape[2] // s)
    out = np.zeros((w.shape[0], oh, ow), np.float64)
    for i in range(k):
        for j in range(k):
            patch = xp[:, i: i + s * oh: s, j: j + s * ow: s]
            out += np.tensordot(w[:, :, i, j], patch, axes=(1, 0))
    return out


def _conv_dw(x: np.ndarray, w: np.ndarray, s: int) -> np.ndarray:
    k = w.shape[2]
    xp = _pad_same(x, k, s)
    oh, ow = -(-x.shape[1] // s), -(-x.shape[2] // s)
    out = np.zeros((x.shape[0], oh, ow), np.float64)
    for i in range(k):
        for j in range(k):
            out += w[:, 0, i, j][:, None, None] * xp[:, i: i + s * oh: s, j: j + s * ow: s]
    return out


def _pw(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.tensordot(w[:, :, 0, 0], x, axes=(1, 0))


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


def forward(sd, image_chw: np.ndarray) -> dict[str, np.ndarray]:
    """Activations of one image (3, H, W): 'stem', 'block<i>' for every block, 'logits'.
    float64 throughout, so the comparison measures MegEngine's float32 error."""
    sd = {k: v.astype(np.float64) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    acts: dict[str, np.ndarray] = {}
    x = relu6(_bn(_conv_full(image_chw.astype(np.float64), sd["_conv_stem.weight"], 2), sd, "_bn0"))
    acts["stem"] = x
    b = 0
    for repeats, k, stride, expand in STAGES:
        for r in range(repeats):
            p = f"_blocks.{b}."
            s = stride if r == 0 else 1
            y = x
            if expand != 1:
                y = relu6(_bn(_pw(y, sd[p + "_expand_conv.weight"]), sd, p + "_bn0"))
            assert sd[p + "_depthwise_conv.weight"].shape[2] == k
            y = relu6(_bn(_conv_dw(y, sd[p + "_depthwise_conv.weight"], s), sd, p + "_bn1"))
            y = _bn(_pw(y, sd[p + "_project_conv.weight"]), sd, p + "_bn2")
            x = x + y if (s == 1 and x.shape == y.shape) else y
            acts[f"block{b}"] = x
            b += 1
    x = relu6(_bn(_pw(x, sd["_conv_head.weight"]), sd, "_bn1"))
    pooled = x.mean(axis=(1, 2))
    acts["logits"] = sd["_fc.weight"] @ pooled + sd["_fc.bias"]
    return acts

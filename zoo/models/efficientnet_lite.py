"""EfficientNet-Lite in MegEngine, laid out for the TF-trained Lite0 checkpoint.

Lite differs from EfficientNet-B0 in three ways (all visible in the checkpoint: no `_se_*`
tensors): no squeeze-and-excite, ReLU6 instead of swish, stem and head widths not scaled.
The checkpoint came from TensorFlow, so convolutions use TF "same" padding: for stride 2 on an
even input the extra pixel goes on the bottom/right, which MegEngine's symmetric `padding`
cannot express; those layers pad explicitly first. BatchNorm eps is TF's 1e-3.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import megengine.functional as F
import megengine.module as M

BN_EPS = 1e-3


class StageSpec(NamedTuple):
    repeats: int
    kernel: int
    stride: int
    expand: int
    cin: int
    cout: int


# EfficientNet-B0 stages; Lite0 uses them unchanged (width and depth multipliers 1.0).
LITE0_STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 32, 16),
    StageSpec(2, 3, 2, 6, 16, 24),
    StageSpec(2, 5, 2, 6, 24, 40),
    StageSpec(3, 3, 2, 6, 40, 80),
    StageSpec(3, 5, 1, 6, 80, 112),
    StageSpec(4, 5, 2, 6, 112, 192),
    StageSpec(1, 3, 1, 6, 192, 320),
)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (before, after) along one axis."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ConvBN(M.Module):
    """Conv (TF same padding, no bias) + BatchNorm, optionally followed by ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.act = kernel, stride, act
        self.conv = M.Conv2d(cin, cout, kernel, stride, padding=0, groups=groups, bias=False)
        self.bn = M.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x):
        ph = same_padding(x.shape[2], self.kernel, self.stride)
        pw = same_padding(x.shape[3], self.kernel, self.stride)
        if ph[0] == ph[1] and pw[0] == pw[1]:
            self.conv.padding = (ph[0], pw[0])
        else:
            self.conv.padding = (0, 0)
            x = F.nn.pad(x, ((0, 0), (0, 0), ph, pw))
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act else x


class MBConv(M.Module):
    """Inverted residual: 1x1 expand, kxk depthwise, 1x1 linear projection, identity skip
    when the shape is kept."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = ConvBN(cin, mid, 1) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, cout, 1, act=False)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.skip else y


class EfficientNetLite(M.Module):
    def __init__(
        self,
        stages: tuple[StageSpec, ...] = LITE0_STAGES,
        stem_width: int = 32,
        head_width: int = 1280,
        num_classes: int = 1000,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.stem = ConvBN(3, stem_width, 3, 2)
        blocks = []
        for s in stages:
            for i in range(s.repeats):
                blocks.append(MBConv(s.cin if i == 0 else s.cout, s.cout, s.kernel, s.stride if i == 0 else 1, s.expand))
        self.blocks = blocks
        self.head = ConvBN(stages[-1].cout, head_width, 1)
        self.dropout = M.Dropout(dropout)
        self.fc = M.Linear(head_width, num_classes)

    def features(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)

    def forward(self, x):
        x = F.mean(self.features(x), axis=(2, 3))
        return self.fc(self.dropout(x))


def efficientnet_lite0(num_classes: int = 1000) -> EfficientNetLite:
    return EfficientNetLite(num_classes=num_classes)

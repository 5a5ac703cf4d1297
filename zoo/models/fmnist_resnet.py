"""A small ResNet for 28x28 grey images (Fashion-MNIST).

A 2x2 stride-2 stem, then three stages of one basic block each at widths 16/32/64 (14x14, 7x7,
4x4): 77,674 parameters. MegEngine's CPU weight-gradient for convolutions is slow (~0.6 GMAC/s
on these machines), so the network is sized to train ~1.3 epochs in about six minutes.
"""

from __future__ import annotations

import megengine.functional as F
import megengine.module as M


class BasicBlock(M.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = M.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = M.BatchNorm2d(cout)
        self.conv2 = M.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = M.BatchNorm2d(cout)
        # A projection only where the shape changes; identity elsewhere keeps the block cheap.
        self.downsample = (
            M.Sequential(M.Conv2d(cin, cout, 1, stride, 0, bias=False), M.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        short = x if self.downsample is None else self.downsample(x)
        return F.relu(y + short)


class FashionResNet(M.Module):
    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32, 64),
        blocks_per_stage: int = 1,
        num_classes: int = 10,
        stem_stride: int = 2,
    ) -> None:
        super().__init__()
        k = stem_stride if stem_stride > 1 else 3
        self.stem = M.Conv2d(1, widths[0], k, stem_stride, (k - 1) // 2, bias=False)
        self.bn = M.BatchNorm2d(widths[0])
        layers = []
        cin = widths[0]
        for i, w in enumerate(widths):
            for j in range(blocks_per_stage):
                stride = 2 if (i > 0 and j == 0) else 1
                layers.append(BasicBlock(cin, w, stride))
                cin = w
        self.layers = M.Sequential(*layers)
        self.fc = M.Linear(cin, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.layers(x)
        x = F.mean(x, axis=(2, 3))
        return self.fc(x)

"""Confidence intervals for a measured proportion."""

from __future__ import annotations

import math

Z95 = 1.959964  # two-sided 95 % normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of successes/n as fractions in [0, 1]. Chosen over the normal
    ("Wald") interval because it stays inside [0, 1] and keeps its coverage near 0 % and 100 %,
    where accuracies of small subsets often sit."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must be within 0..n")
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)

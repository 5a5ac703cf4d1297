"""What the sandbox costs: a cold verification of the bundled hub (every snippet run and every
number evaluated again, `--rerun`) with the bubblewrap sandbox vs `--unsafe-no-sandbox`, paired
and alternating so that the machine's drifting load hits both alike.

    .venv/bin/python benchmarks/sandbox_overhead.py [--pairs 3]

Prints one JSON line: each run's wall time, the medians, the median of the per-pair ratios
(sandboxed / unsandboxed) and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path, sandboxed: bool) -> float:
    cmd = [sys.executable, "-m", "generator", "build", "--rerun", "--no-search", "--out", str(out)]
    if not sandboxed:
        cmd.append("--unsafe-no-sandbox")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({'sandboxed' if sandboxed else 'unsandboxed'}):\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        build(Path(tmp) / "warm", True)  # warm the page cache and pip's imports once
        sand, bare = [], []
        for i in range(args.pairs):
            order = (True, False) if i % 2 == 0 else (False, True)
            for sandboxed in order:
                (sand if sandboxed else bare).append(build(Path(tmp) / f"site-{i}-{sandboxed}", sandboxed))
    ratios = [s / b for s, b in zip(sand, bare)]
    print(json.dumps({
        "what": "cold verification of the bundled hub (build --rerun --no-search)",
        "pairs": args.pairs, "sandboxed_s": [round(x, 2) for x in sand], "unsandboxed_s": [round(x, 2) for x in bare],
        "sandboxed_median_s": round(statistics.median(sand), 2),
        "unsandboxed_median_s": round(statistics.median(bare), 2),
        "ratio_median": round(statistics.median(ratios), 3),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()

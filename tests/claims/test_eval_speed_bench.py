"""benchmarks/eval_speed.py on a few Fashion-MNIST items, for real (sandboxed evaluator, eager
DataLoader baseline, bare traced forward): the evaluator's counts equal the eager path's and the
report line carries every field the speed claims are read from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.megengine


def test_fmnist_counts_equal_the_eager_path_and_fields_are_reported() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "eval_speed.py"), "--models", "fmnist_resnet",
                           "--images", "100", "--pairs", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["model"] == "fmnist_resnet" and line["images"] == 100
    assert line["counts_equal"] is True and line["counts"]["evaluator"]["top1"] > 50
    assert line["max_abs_logit_diff"] <= 1e-4
    for k in ("evaluator_img_per_s", "eager_img_per_s", "bare_traced_img_per_s", "speedup_vs_eager",
              "evaluator_vs_bare"):
        assert line[k] > 0, k
    assert len(line["loadavg"]["before"]) == 3
    # the bare forward runs with the evaluator's settings (a fair comparison)
    assert line["bare_inference"]["threads"] == line["inference"]["threads"]
    assert line["bare_inference"]["allocator"] == line["inference"]["allocator"] == "freed memory kept"
    # the steady figure beside the others (one run: one value)
    assert line["evaluator_after_first_batch_img_per_s"] > 0 and len(line["runs"]["evaluator_after_first_batch"]) == 1

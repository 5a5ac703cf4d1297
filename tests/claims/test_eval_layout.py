"""The evaluator's graph layouts (run/child/evaluate_child.py compile_graph), for real: a layout
MegEngine rejects at dump time falls back to the plain layout, which gives the eager logits; on
x86 with AVX2 the NCHW88 graph gives them too; a last layout that fails raises (the evaluator
then runs eagerly, with a note). A small convolutional model, so that the layout matters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.megengine

# MegEngine in a child, as everywhere in these tests.
CHILD = r"""
import json, os, sys, tempfile
import numpy as np
import megengine as mge, megengine.functional as F, megengine.module as M
from generator.run.child import evaluate_child as child

class Small(M.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = M.Conv2d(3, 8, 3, padding=1), M.BatchNorm2d(8)
        self.c2, self.b2 = M.Conv2d(8, 16, 3, stride=2, padding=1), M.BatchNorm2d(16)
        self.fc = M.Linear(16, 10)
    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        x = F.relu(self.b2(self.c2(x)))
        return self.fc(F.flatten(F.adaptive_avg_pool2d(x, 1), 1))

mge.random.seed(0)
model = Small()
model.eval()
rng = np.random.default_rng(0)
for p in model.parameters():  # non-trivial weights, batch-norm statistics left as made
    p._reset(mge.tensor(rng.normal(0, 0.5, p.shape).astype("float32")))
x = rng.normal(0, 1, (12, 3, 16, 16)).astype("float32")
eager = model(mge.tensor(x)).numpy()
out = {"avx2": child.x86_avx2(), "default_layouts": [sorted(l) for l in child.LAYOUTS]}

def check(name, layouts):
    child.LAYOUTS = layouts
    with tempfile.TemporaryDirectory() as work:
        try:
            graph = child.compile_graph(model, x[:4], os.path.join(work, "g.mge"))
        except Exception as exc:
            out[name] = {"raised": type(exc).__name__ + ": " + str(exc)[:200]}
            return
        got = child.run_graph(graph, x[4:], 4)  # images the graph was not traced on
    out[name] = {"layout": graph.layout, "rejected": graph.rejected, "delta": float(np.max(np.abs(got - eager[4:])))}

default = child.LAYOUTS
# an option MegEngine's dump rejects ("unknown options"), then the plain layout
check("fallback", ({"enable_nchw88": True, "enable_no_such_layout": True}, {}))
check("default", default)
check("all_fail", ({"enable_no_such_layout": True},))
print(json.dumps(out))
"""


def _run(script: str) -> dict:
    """What `script` printed last, as JSON (it runs MegEngine in a child of its own)."""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_rejected_layout_falls_back_to_the_plain_one() -> None:
    out = _run(CHILD)
    assert out["fallback"]["layout"] == "nchw" and out["fallback"]["delta"] <= 1e-4, out
    assert "unknown options" in out["fallback"]["rejected"], out
    if out["avx2"]:  # the machine the figures in benchmarks/README come from
        assert out["default_layouts"] == [["enable_nchw88"], []]
        # NCHW88 unless its test run in a process of its own failed (on an AMD EPYC with AVX-512
        # MegEngine's JIT ends that process: "bad err=45 in Xbyak::Error")
        assert out["default"]["layout"] == "nchw88" or out["default"]["rejected"].startswith("nchw88: RuntimeError: its test run"), out
        assert (out["default"]["layout"] == "nchw88") == (out["default"]["rejected"] == ""), out
    else:
        assert out["default_layouts"] == [[]] and out["default"]["layout"] == "nchw", out
    assert out["default"]["delta"] <= 1e-4, out
    assert out["all_fail"]["raised"].startswith("ValueError") and "unknown options" in out["all_fail"]["raised"], out


PROBE_CHILD = r"""
import json, os, sys, tempfile, time
import numpy as np
import megengine as mge, megengine.module as M
from generator.run.child import evaluate_child as child

model = M.Linear(6, 3)
model.eval()
x = np.ones((4, 6), dtype="float32")
out = {}
with tempfile.TemporaryDirectory() as work:
    child.LAYOUTS = ({},)
    path = os.path.join(work, "g.mge")
    child.compile_graph(model, x, path)
    out["good"] = child.runs_apart(path, x)
    # a child that ends after loading, one that hangs (as exit() did in MegEngine's handlers),
    # one that never loads, and a graph file that is not one
    ends = "import os; print('loaded', flush=True); os._exit(1)"
    hangs = "import time; print('loaded', flush=True); time.sleep(600)"
    silent = "import time; time.sleep(600)"
    for name, script, load_s, run_s in (("ends", ends, 30, 30), ("hangs", hangs, 30, 1), ("silent", silent, 1, 30)):
        t0 = time.monotonic()
        out[name] = child.runs_apart(path, x, load_s=load_s, run_s=run_s, script=script)
        out[name + "_s"] = time.monotonic() - t0
    open(path, "wb").write(b"not a graph")
    out["corrupt"] = child.runs_apart(path, x)
    out["left"] = sorted(os.listdir(work))
print(json.dumps(out))
"""


def test_a_graph_runs_apart_first_and_a_child_that_dies_or_hangs_is_a_reason() -> None:
    out = _run(PROBE_CHILD)
    assert out["good"] == "", out
    assert out["ends"].startswith("its test run ended (exit code 1)"), out
    assert out["hangs"] == "its test run did not say 'ran' within 1 s" and out["hangs_s"] < 20, out
    assert out["silent"] == "its test run did not say 'loaded' within 1 s" and out["silent_s"] < 20, out
    assert out["corrupt"].startswith("its test run ended"), out
    assert out["left"] == ["g.mge"], out  # the input it wrote is gone

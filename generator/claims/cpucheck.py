"""Whether this machine's CPU runs MegEngine's NCHW88 kernels: the build's own check, with a
small model of its own, run once per CPU and MegEngine version and remembered.

Why: the evaluator's child tries the NCHW88 layout first on x86 with AVX2 (faster where it
works) and gives it a test run in a process of its own, because on some CPUs MegEngine's JIT
ends the process instead (an AMD EPYC with AVX-512: "bad err=45 in Xbyak::Error", exit()).
On such a CPU every compiled job paid ~1.3 s of its first batch for that (the NCHW88 dump and
its test run). The child is untrusted, so what its test run found cannot be remembered for
other jobs; this check runs no card code (the model is built here, its weights are seeded),
so its result may be kept. It only ever removes NCHW88 from what the child tries: when it
passes, the child still gives the real model's NCHW88 graph its own test run.

Kept in `<cache>/cpu-checks/<key>.json`; the key is the MegEngine version, the Python and the
CPU's model name and flags, so a machine that moves to another CPU checks again. Only a
definite answer is kept (ran, or ended inside MegEngine); a check that timed out or could not
start is asked again next time, and meanwhile the child tries NCHW88 as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.core.jsonio import atomic_write

NCHW88 = "nchw88"
NCHW = "nchw"
BUDGET_S = 120.0  # a fresh Python importing MegEngine, tracing and running a small model: 1.3 s here
FORMAT = 1

# The check itself, run as `python -I -c CHECK FOLDER`. Convolutions of the shapes MegEngine's
# NCHW88 kernels take (3x3, strided, depthwise, 1x1) with bias and ReLU fused, as in the
# zoo's image models. An exit() inside MegEngine ends it with code 70 at once (see
# evaluate_child._PROBE); "ran" and the largest difference from eager on the last line.
CHECK = r"""
import os, sys
import numpy as np
import megengine
import megengine.module as M
from megengine.jit import trace
from megengine.utils.comp_graph_tools import GraphInference

class Small(M.Module):
    def __init__(self):
        super().__init__()
        self.a = M.ConvBnRelu2d(3, 16, 3, padding=1)
        self.b = M.ConvRelu2d(16, 32, 3, stride=2, padding=1)
        self.c = M.ConvRelu2d(32, 32, 3, padding=1, groups=32)
        self.d = M.ConvRelu2d(32, 64, 1)
        self.fc = M.Linear(64, 10)
    def forward(self, x):
        x = self.d(self.c(self.b(self.a(x))))
        return self.fc(x.mean(axis=(2, 3)))

np.random.seed(0)
model = Small()
for p in model.parameters():
    p._reset(megengine.tensor(np.random.uniform(-0.5, 0.5, p.shape).astype("float32")))
model.eval()
x = np.random.uniform(0, 1, (4, 3, 32, 32)).astype("float32")
ref = model(megengine.tensor(x)).numpy()
traced = trace(lambda data: model(data), symbolic=True, capture_as_const=True)
traced(megengine.tensor(x))
path = os.path.join(sys.argv[1], "check.mge")
traced.dump(path, arg_names=["data"], no_assert=True, optimize_for_inference=True,
            enable_fuse_conv_bias_nonlinearity=True, enable_nchw88=True)
graph = GraphInference(path)
try:
    import ctypes
    libc = ctypes.CDLL(None)
    libc.__cxa_atexit.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    libc.__cxa_atexit(ctypes.cast(libc._exit, ctypes.c_void_p), ctypes.c_void_p(70), None)
except (OSError, AttributeError):
    pass
got = np.asarray(next(iter(graph.run(inp_dict={"data": x}).values())))
print("ran", float(np.max(np.abs(got - ref))) if got.shape == ref.shape else "shape", flush=True)
os._exit(0)
"""


@dataclass(frozen=True)
class Verdict:
    runs: bool | None  # None: no definite answer (timed out, could not start)
    why: str  # what the check saw, for the provenance


def cpu_key(megengine_version: str) -> str:
    """What the answer depends on: MegEngine, Python, the CPU's model name and flags."""
    h = hashlib.sha256(f"{FORMAT}\0{megengine_version}\0{sys.version}\0{platform.machine()}".encode())
    h.update("".join(sorted(set(_cpuinfo()))).encode())
    return h.hexdigest()[:32]


def has_avx2() -> bool:
    """As evaluate_child.x86_avx2 (the child cannot import this package): whether the child
    would try NCHW88 at all."""
    return platform.machine() in ("x86_64", "AMD64") and any(
        line.startswith("flags") and " avx2" in line for line in _cpuinfo())


def _cpuinfo() -> list[str]:
    """The model name and flags lines of /proc/cpuinfo (none where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return [ln for ln in f if ln.startswith(("model name", "flags"))]
    except OSError:
        return []


def layouts_to_try(python: str, folder: Path | None, megengine_version: str,
                   budget_s: float = BUDGET_S) -> tuple[tuple[str, ...] | None, str]:
    """The layouts the child may try (None: its own default) and, when NCHW88 is left out, why."""
    if folder is None or not has_avx2():
        return None, ""  # the child tries no NCHW88 on such a CPU anyway
    verdict = nchw88_runs(python, folder, megengine_version, budget_s)
    if verdict.runs is False:
        return (NCHW,), f"{NCHW88}: this CPU failed the build's own NCHW88 check ({verdict.why})"
    return None, ""


def nchw88_runs(python: str, folder: Path, megengine_version: str, budget_s: float = BUDGET_S) -> Verdict:
    """The remembered answer for this CPU, else the check run now (and remembered if definite)."""
    path = Path(folder) / f"{cpu_key(megengine_version)}.json"
    try:
        data = json.loads(path.read_bytes())
        if isinstance(data, dict) and isinstance(data.get("runs"), bool) and isinstance(data.get("why"), str):
            return Verdict(data["runs"], data["why"])
    except (OSError, ValueError):
        pass
    verdict = run_check(python, budget_s)
    if verdict.runs is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, (json.dumps({"runs": verdict.runs, "why": verdict.why}) + "\n").encode())
    return verdict


def run_check(python: str, budget_s: float = BUDGET_S, script: str = CHECK) -> Verdict:
    """The check in a fresh process (no card code in it; one thread, as the evaluator's child)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_NUM_THREADS": "1", "MGB_LOG_LEVEL": "error"}
    with tempfile.TemporaryDirectory(prefix="build-site-cpucheck-") as tmp:
        env["HOME"] = tmp
        try:
            proc = subprocess.run([python, "-I", "-c", script, tmp], stdin=subprocess.DEVNULL,
                                  capture_output=True, env=env, timeout=budget_s, start_new_session=True, cwd=tmp)
        except subprocess.TimeoutExpired:
            return Verdict(None, f"the check did not finish in {budget_s:.0f} s")
        except OSError as exc:
            return Verdict(None, f"the check could not start: {exc}")
    said = proc.stdout.decode("utf-8", "replace").split()
    if proc.returncode == 0 and said[:1] == ["ran"]:
        try:
            delta = float(said[1])
        except (IndexError, ValueError):
            return Verdict(False, "its NCHW88 graph gave logits of another shape")
        if not delta <= 1e-4:
            return Verdict(False, f"its NCHW88 graph's logits differ from eager by {delta:.3g}")
        return Verdict(True, f"ran, logits within {delta:.2g} of eager")
    if proc.returncode == 70:
        return Verdict(False, "exit() called inside MegEngine while running its NCHW88 graph")
    if proc.returncode < 0:
        return Verdict(False, f"the check was ended by signal {-proc.returncode}")
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
    return Verdict(None, f"the check failed (exit code {proc.returncode}): {tail[0][:200]}")

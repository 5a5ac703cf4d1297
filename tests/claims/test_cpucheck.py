"""The build's own NCHW88 check (claims/cpucheck.py): how a check process's end is read, that
only a definite answer is remembered and under a key of the CPU and MegEngine version, that a
failing CPU makes the child leave NCHW88 out (with the reason in the provenance), and, with
real MegEngine, that the check agrees with the child's own test run of an NCHW88 graph."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.claims import cpucheck
from generator.claims.evaluate import EvalOptions, job_payload, layouts

ROOT = Path(__file__).resolve().parents[2]

# Stand-ins for the check script, each ending the way a real check can.
FAKE_RAN = "print('ran', 2e-07)"
FAKE_WRONG = "print('ran', 0.5)"
FAKE_EXIT_IN_MEGENGINE = "import os; os._exit(70)"
FAKE_CRASH = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
FAKE_IMPORT_ERROR = "import no_such_module_here"
FAKE_HANG = "import time; time.sleep(600)"


@pytest.mark.parametrize("script, runs, said", [
    (FAKE_RAN, True, "ran, logits within 2e-07 of eager"),
    (FAKE_WRONG, False, "differ from eager by 0.5"),
    (FAKE_EXIT_IN_MEGENGINE, False, "exit() called inside MegEngine"),
    (FAKE_CRASH, False, "ended by signal 11"),
    (FAKE_IMPORT_ERROR, None, "ModuleNotFoundError"),
])
def test_how_a_check_ended_is_read(script: str, runs: bool | None, said: str) -> None:
    verdict = cpucheck.run_check(sys.executable, script=script)
    assert verdict.runs is runs and said in verdict.why, verdict


def test_a_check_that_hangs_is_no_answer() -> None:
    verdict = cpucheck.run_check(sys.executable, budget_s=1.0, script=FAKE_HANG)
    assert verdict.runs is None and "did not finish in 1 s" in verdict.why


def _with_check(monkeypatch: pytest.MonkeyPatch, script: str) -> list[int]:
    calls: list[int] = []
    real = cpucheck.run_check

    def counted(python: str, budget_s: float = cpucheck.BUDGET_S, script_: str = script) -> cpucheck.Verdict:
        calls.append(1)
        return real(python, budget_s, script_)

    monkeypatch.setattr(cpucheck, "run_check", counted)
    return calls


def test_a_definite_answer_is_remembered_per_cpu_and_megengine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _with_check(monkeypatch, FAKE_EXIT_IN_MEGENGINE)
    first = cpucheck.nchw88_runs(sys.executable, tmp_path, "1.13.0")
    again = cpucheck.nchw88_runs(sys.executable, tmp_path, "1.13.0")
    assert first == again and first.runs is False and len(calls) == 1
    (kept,) = tmp_path.iterdir()
    assert kept.name == cpucheck.cpu_key("1.13.0") + ".json"
    assert json.loads(kept.read_text())["runs"] is False
    cpucheck.nchw88_runs(sys.executable, tmp_path, "1.14.0")  # another MegEngine: checked again
    assert len(calls) == 2 and len(list(tmp_path.iterdir())) == 2
    assert cpucheck.cpu_key("1.13.0") != cpucheck.cpu_key("1.14.0")


def test_no_answer_is_not_remembered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _with_check(monkeypatch, FAKE_IMPORT_ERROR)
    assert cpucheck.nchw88_runs(sys.executable, tmp_path, "1.13.0").runs is None
    assert cpucheck.nchw88_runs(sys.executable, tmp_path, "1.13.0").runs is None
    assert len(calls) == 2 and not any(tmp_path.iterdir())


def test_a_malformed_entry_is_checked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _with_check(monkeypatch, FAKE_RAN)
    (tmp_path / (cpucheck.cpu_key("1.13.0") + ".json")).write_text('{"runs": "no"}')
    assert cpucheck.nchw88_runs(sys.executable, tmp_path, "1.13.0").runs is True and len(calls) == 1


def test_a_failing_cpu_makes_the_job_leave_nchw88_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpucheck, "has_avx2", lambda: True)
    _with_check(monkeypatch, FAKE_EXIT_IN_MEGENGINE)
    got = layouts(EvalOptions(cpu_checks=tmp_path))
    assert got["layouts"] == ["nchw"] and got["layouts_note"].startswith("nchw88: this CPU failed the build's own"), got
    assert layouts(EvalOptions(cpu_checks=tmp_path, compiled=False)) == {}  # eager jobs compile nothing
    assert layouts(EvalOptions()) == {}  # no place to remember it: the child decides, as before


def test_a_passing_or_non_avx2_cpu_leaves_it_to_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpucheck, "has_avx2", lambda: True)
    _with_check(monkeypatch, FAKE_RAN)
    assert layouts(EvalOptions(cpu_checks=tmp_path)) == {}
    monkeypatch.setattr(cpucheck, "has_avx2", lambda: False)
    calls = _with_check(monkeypatch, FAKE_EXIT_IN_MEGENGINE)
    assert layouts(EvalOptions(cpu_checks=tmp_path / "other")) == {} and not calls


def test_the_job_file_carries_the_layouts() -> None:
    assert {"layouts", "layouts_note"}.isdisjoint(job_payload(_job(), EvalOptions()))
    payload = job_payload(_job(), EvalOptions(), {"layouts": ["nchw"], "layouts_note": "why"})
    assert payload["layouts"] == ["nchw"] and payload["layouts_note"] == "why"


def _job():  # type: ignore[no-untyped-def]
    """Only the fields job_payload reads."""
    from types import SimpleNamespace

    spec = SimpleNamespace(repo="r", git_host="h", commit="c", entry_kwargs={}, preprocess={})
    return SimpleNamespace(spec=spec, entry="e", batch_size=8)


# With real MegEngine: the check, and a child told to leave NCHW88 out.
CHILD = r"""
import json, os, sys, tempfile
import numpy as np
import megengine as mge, megengine.module as M
from generator.claims import cpucheck
from generator.run.child import evaluate_child as child

out = {"avx2": child.x86_avx2()}
v = cpucheck.run_check(sys.executable)
out["check"] = [v.runs, v.why]
mge.random.seed(0)
model = M.Sequential(M.Conv2d(3, 8, 3, padding=1), M.ReLU(), M.Conv2d(8, 8, 3, padding=1))
model.eval()
x = np.random.default_rng(0).normal(0, 1, (4, 3, 16, 16)).astype("float32")
with tempfile.TemporaryDirectory() as work:
    if out["avx2"]:  # the child's own test run of an NCHW88 graph, as the evaluator does it
        traced = mge.jit.trace(lambda data: model(data), symbolic=True, capture_as_const=True)
        traced(mge.tensor(x))
        path = os.path.join(work, "n88.mge")
        traced.dump(path, arg_names=["data"], no_assert=True, optimize_for_inference=True,
                    enable_fuse_conv_bias_nonlinearity=True, enable_nchw88=True)
        out["apart"] = child.runs_apart(path, x)
    infer = child.Inference(model, "compiled")
    infer.set_layouts(["nchw"], "nchw88: left out by the job")
    graph = child.compile_graph(model, x, os.path.join(work, "g.mge"), infer.layouts)
    out["told"] = [graph.layout, graph.rejected, [sorted(l) for l in infer.layouts]]
print(json.dumps(out))
"""


@pytest.mark.megengine
def test_the_real_check_agrees_with_the_childs_test_run() -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    runs, why = out["check"]
    assert isinstance(runs, bool), out  # a definite answer on a machine with MegEngine installed
    if out["avx2"]:
        # both ran, or both ended: on an AMD EPYC with AVX-512 both end inside MegEngine
        assert runs == (out["apart"] == ""), out
        if not runs:
            assert "exit() called inside MegEngine" in why and "exit() called inside MegEngine" in out["apart"], out
    assert out["told"] == ["nchw", "", [[]]], out  # told to leave NCHW88 out: only the plain layout

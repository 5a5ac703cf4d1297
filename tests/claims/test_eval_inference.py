"""The evaluator's compiled inference (run/child/evaluate_child.py), for real: a traced, dumped
graph gives the eager predictions; a model that cannot be traced, one whose graph disagrees with
eager, one that drifts after a while and a compile that hangs all end as an eager evaluation with
the same counts and a note saying why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from generator.claims.evaluate import EvalJob, EvalOptions, _evaluate_once, inference_record, plan_card, run_job
from generator.claims.extract import extract_claims
from generator.claims.spec import load_spec

from claims_support import DigitsZoo, make_card

pytestmark = pytest.mark.megengine
FORCE = EvalOptions(progress=False, compile_if_eager_s=0.0)  # compile even this tiny job


def _job(z: DigitsZoo, tmp: Path, entry: str, batch_size: int | None = None) -> EvalJob:
    verify = ("verify:\n  repo: testzoo/digits\n  dataset: digits-test\n"
              f"  preprocess: {{channel_order: GRAY, scale: 0.0625}}\n  rows: {{DigitsLinear: {entry}}}\n")
    card = make_card(tmp, f"| DigitsLinear | {z.percent} |", verify=verify)
    claims, _ = extract_claims(card)
    spec, diags = load_spec(card)
    assert not diags
    plan = plan_card(card, claims, spec, z.assets, z.registry, EvalOptions(batch_size=batch_size))
    (job,) = plan.jobs.values()
    return job


def test_compiled_graph_gives_the_eager_predictions(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    job = _job(digits_zoo, tmp_path, "digits_linear")
    order = list(reversed(job.positions))
    opts = FORCE
    compiled = _evaluate_once(job, opts, order)
    eager = _evaluate_once(job, dataclasses.replace(opts, compiled=False), order)
    assert isinstance(compiled, tuple) and isinstance(eager, tuple), (compiled, eager)
    assert compiled[0]["top"] == eager[0]["top"]
    rec, rec_eager = inference_record(compiled[0]["inference"]), inference_record(eager[0]["inference"])
    assert rec["mode"] == "compiled" and rec["note"] == "", rec
    assert 0.0 <= rec["agreement"] <= 1e-4 and rec["batch"] == 32 and rec["micro_batch"] == 4
    assert sorted(rec["micro_batch_img_per_s"]) == ["4"]
    assert 0.0 < rec["compile_s"] < rec["first_batch_s"], rec  # the compile is part of the first batch
    # 898 images: 28 full batches (the first: 4 eager, traced on; 8 eager and compiled, checked;
    # the other 20 compiled), the last 2 images through the graph, padded to a micro-batch
    assert rec["compiled_batches"] == 29 and rec["eager_batches"] == 0 and rec["checked_batches"] == 1, rec
    assert rec_eager["mode"] == "eager" and rec_eager["compiled_batches"] == 0
    # glibc (Linux) keeps the memory the model frees for the next batch, eager or compiled
    assert rec["allocator"] == rec_eager["allocator"] == "freed memory kept"
    assert "turned off" in rec_eager["note"]


def test_untraceable_model_is_evaluated_eagerly_with_a_note(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    result = run_job(_job(digits_zoo, tmp_path, "digits_host_read"), FORCE, None)
    assert not isinstance(result, str), result
    assert result.correct["top1"] == digits_zoo.correct  # what training measured, eagerly
    rec = result.provenance["inference"]
    assert rec["mode"] == "eager" and rec["compiled_batches"] == 0
    assert "compiled graph failed" in rec["note"] or "compiling failed" in rec["note"], rec


def test_graph_that_disagrees_with_eager_is_not_used(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    result = run_job(_job(digits_zoo, tmp_path, "digits_noisy"), FORCE, None)
    assert not isinstance(result, str), result
    rec = result.provenance["inference"]
    assert rec["mode"] == "eager" and rec["compiled_batches"] == 0
    assert rec["agreement"] > 1e-4 and "differ from eager" in rec["note"] and "first batch" in rec["note"], rec


def test_late_disagreement_and_hung_compile_run_the_job_again_eagerly(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    # drifting: agrees on the second batch, not on the spot check of the 50th compiled one (batch 8: 112 batches)
    drift = run_job(_job(digits_zoo, tmp_path, "digits_drifting", batch_size=8), FORCE, None)
    assert not isinstance(drift, str), drift
    assert drift.correct["top1"] == digits_zoo.correct
    rec = drift.provenance["inference"]
    assert rec["mode"] == "eager" and "disagreed with eager on a spot check" in rec["note"], rec
    # a compile that outlives its time (here: none at all) ends the child; the job runs again, eager
    hung = run_job(_job(digits_zoo, tmp_path, "digits_linear"), dataclasses.replace(FORCE, compile_timeout_s=0.0), None)
    assert not isinstance(hung, str), hung
    assert hung.correct["top1"] == digits_zoo.correct
    rec = hung.provenance["inference"]
    assert rec["mode"] == "eager" and rec["note"].startswith("compiling did not finish in 0 s"), rec


def test_job_too_short_to_pay_for_compiling_runs_eagerly(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    result = run_job(_job(digits_zoo, tmp_path, "digits_linear"), EvalOptions(progress=False), None)
    assert not isinstance(result, str), result
    assert result.correct["top1"] == digits_zoo.correct
    rec = result.provenance["inference"]
    assert rec["mode"] == "eager" and rec["note"].startswith("not compiled: the other 886 images take about"), rec


def test_micro_batch_divides_the_batch_and_fits_twice_in_it() -> None:
    from generator.run.child.evaluate_child import micro_batches

    assert micro_batches(32) == [4] and micro_batches(8) == [4]
    assert micro_batches(6) == [3] and micro_batches(7) == [1] and micro_batches(2) == [1]
    assert micro_batches(1) == []  # nothing left in the batch to check a graph on


def test_eager_estimate_separates_the_cost_of_a_call_from_the_cost_of_an_image() -> None:
    from generator.run.child.evaluate_child import eager_estimate

    # 10 ms a call, 1 ms an image: 64 images in batches of 32 are two calls
    assert eager_estimate(0.014, 4, 0.018, 8, 64, 32) == pytest.approx(0.084)
    assert eager_estimate(0.014, 4, 0.018, 8, 65, 32) == pytest.approx(0.095)  # a third, short batch
    assert eager_estimate(0.020, 4, 0.018, 8, 64, 32) == pytest.approx(0.036)  # noise: no negative cost
    assert eager_estimate(0.0, 4, 0.008, 4, 64, 32) == pytest.approx(0.128)  # one size timed: per image


def test_batch_the_default_graph_size_does_not_divide_compiles_another(digits_zoo: DigitsZoo, tmp_path: Path) -> None:
    job = _job(digits_zoo, tmp_path, "digits_linear", batch_size=6)
    order = list(job.positions)
    compiled = _evaluate_once(job, FORCE, order)
    eager = _evaluate_once(job, dataclasses.replace(FORCE, compiled=False), order)
    assert isinstance(compiled, tuple) and isinstance(eager, tuple), (compiled, eager)
    assert compiled[0]["top"] == eager[0]["top"]
    rec = inference_record(compiled[0]["inference"])
    # 149 full batches and 4 images: the first batch's 3 traced on, its other 3 checked; spot
    # checks of the 50th and the 100th
    assert rec["mode"] == "compiled" and rec["micro_batch"] == 3, rec
    assert rec["compiled_batches"] == 150 and rec["checked_batches"] == 3, rec
    single = _evaluate_once(_job(digits_zoo, tmp_path, "digits_linear", batch_size=1), FORCE, order)
    assert isinstance(single, tuple), single
    assert single[0]["top"] == eager[0]["top"]
    one = inference_record(single[0]["inference"])
    assert one["mode"] == "eager" and one["note"] == "not compiled: a batch of one image leaves none to check a graph on", one

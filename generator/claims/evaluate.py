"""Check 3: evaluate the models a card's tables speak about.

    plan evaluation jobs (spec, hub repo, weights, dataset manifest) -> run each job in a
    sandboxed child (run/child/evaluate_child.py), cached (evalcache.py) -> one evaluation
    outcome per claim (verify.py combines it with the other checks).

The child runs in the same sandbox as snippet runs (run/sandbox.py): it sees the Python, the
run's MGE_HOME (read-only) and a private writable folder, nothing else; limits cover its whole
process tree. It is sent the images only, in an order only the parent knows, and returns its
predictions; the parent keeps the labels and counts (count_correct). Placeholder weights are
never evaluated; weights missing from the store or an absent dataset make the claim
`unverified` with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import secrets
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Mapping, Sequence

from generator import __version__ as TOOL_VERSION
from generator.claims import rows
from generator.claims.checks import evaluation_outcome
from generator.claims.datasets import DatasetDef, Manifest, Unavailable, image_stream, manifest, stratified_subset
from generator.claims.evalcache import EvalCache, EvalResult, cache_key
from generator.claims.extract import plain_text, results_table_ordinal
from generator.claims.samples import Holding
from generator.claims.spec import MEASUREMENTS, VerifySpec
from generator.core.errors import Code, Diagnostic, error
from generator.core.text import for_terminal
from generator.core.model import Card, CheckOutcome, Claim
from generator.hub.hubconf import weights_url_for
from generator.hub.layout import DEFAULT_MEGENGINE_VERSION, repo_tree, serialized_filename
from generator.run import sandbox
from generator.run.child import CHILD_DIR
from generator.run.isolation.spec import RunResult, SandboxError
from generator.run.plan import distributions_digest
from generator.store.content import sha256_file
from generator.store.materialize import RunAssets

CHILD = CHILD_DIR / "evaluate_child.py"


@dataclass(frozen=True)
class EvalOptions:
    limit: int = 0  # --eval-limit: 0 = the whole dataset
    batch_size: int | None = None  # overrides the spec's
    workers: int = 2  # decoding threads in the child
    dataset_dirs: Mapping[str, str] = field(default_factory=dict)  # dataset id -> location
    timeout_s: float = 6 * 3600.0
    python: str = sys.executable
    isolate: bool = True  # False: --unsafe-no-sandbox
    memory_bytes: int = sandbox.DEFAULT_MEMORY_BYTES  # resident, the whole evaluation
    pids: int = 512
    disk_bytes: int = 1024 ** 3
    progress: bool = True  # forward the child's progress lines to stderr
    run: bool = True  # False: only use cached results (plan, never start a child)
    compiled: bool = True  # False: every batch eager (no tracing) in the child
    compile_timeout_s: float = 900.0  # a compile still running then ends the child; it runs again eagerly
    compile_if_eager_s: float = 20.0  # compile only when the job would take this long eagerly
    cpu_checks: Path | None = None  # where the build's own NCHW88 check is remembered (cpucheck.py)


@dataclass(frozen=True)
class EvalJob:
    card_id: str
    row: str  # a row label the job speaks for (as written)
    entry: str
    spec: VerifySpec
    dataset: Manifest
    positions: tuple[int, ...]  # manifest positions evaluated, in order
    full: bool
    weights_url: str
    weights_path: str
    weights_sha256: str
    mge_home: str
    limit: int
    batch_size: int
    holding: Holding = Holding("full", "")  # what the dataset's location holds (claims/samples.py)

    @property
    def judged_as(self) -> str:
        """How a result of this job may judge a claim: "full" (verify), "random" (an interval:
        the tool's own --eval-limit draw or a declared random sample) or "subset" (report only)."""
        if self.holding.kind == "subset":
            return "subset"
        return "full" if self.full else "random"

    @property
    def id(self) -> str:
        return f"{self.card_id}/{self.entry}/{self.dataset.dataset}/{self.limit}"

    def key_fields(self) -> dict[str, Any]:
        return {"repo": self.spec.repo, "commit": self.spec.commit, "entry": self.entry,
                "entry_kwargs": dict(self.spec.entry_kwargs), "weights_sha256": self.weights_sha256,
                "dataset": self.dataset.dataset, "fingerprint": self.dataset.fingerprint,
                "n": len(self.positions), "limit": self.limit, "preprocess": dict(self.spec.preprocess),
                "versions": sandbox.library_versions(), "distributions": distributions_digest()}

    @property
    def key(self) -> str:
        return cache_key(self.key_fields())


def row_entries(claims: Sequence[Claim], tree: Path | None, spec: VerifySpec | None) -> dict[str, str | None]:
    """The hub entry point each row label speaks for (claims/rows.py)."""
    return dict(rows.row_entries(claims, tree, spec).entries)


def megengine_version() -> str:
    return sandbox.library_versions()["megengine"] or DEFAULT_MEGENGINE_VERSION


# ---------------------------------------------------------------- planning

@dataclass
class CardPlan:
    jobs: dict[str, EvalJob] = field(default_factory=dict)  # row label -> job
    blocked: dict[Claim, CheckOutcome] = field(default_factory=dict)
    measure: dict[Claim, str] = field(default_factory=dict)  # claim -> measurement (top1/top5)
    diagnostics: list[Diagnostic] = field(default_factory=list)


# Why a number could not be evaluated: (English reason, reason code, its values). The code and
# values let pages say it in their language (site/reasons.py, catalog `vt.reason.evaluation.*`).
Why = tuple[str, str, Mapping[str, object]]


def _unverified(reason: str, code: str = "", **args: object) -> CheckOutcome:
    return CheckOutcome("evaluation", "unverified", reason=reason, code=code, args=args)


def _unverified_all(whys: Sequence[Why]) -> CheckOutcome:
    """One outcome for every reason at once; several are code "several" with each one's code."""
    if len(whys) == 1:
        reason, code, args = whys[0]
        return _unverified(reason, code, **args)
    return _unverified("; ".join(w[0] for w in whys), "several",
                       parts=tuple({"code": code, **args} for _, code, args in whys))


def measurements(claims: Sequence[Claim], spec: VerifySpec, card: Card) -> dict[Claim, str]:
    """Which measurement each claim is compared with. A spec column (header text in either
    language) also covers the other language's column at the same position."""
    ordinal = results_table_ordinal(card)
    out: dict[Claim, str] = {}
    if not spec.metrics:
        return {c: c.metric for c in claims if c.metric in MEASUREMENTS}
    slots: dict[tuple[int, int], str] = {}
    for m, col in spec.metrics.items():
        for c in claims:
            if (col is None and c.metric == m) or (col is not None and plain_text(c.column).lower() == plain_text(col).lower()):
                slots[(ordinal.get((c.lang, c.table), c.table), c.col_index)] = m
    for c in claims:
        measured = slots.get((ordinal.get((c.lang, c.table), c.table), c.col_index))
        if measured is not None:
            out[c] = measured
    return out


def plan_card(card: Card, claims: Sequence[Claim], spec: VerifySpec | None, assets: RunAssets | None,
              registry: Mapping[str, DatasetDef], options: EvalOptions,
              manifests: dict[str, Manifest | Unavailable] | None = None) -> CardPlan:
    plan = CardPlan()
    if spec is None:
        for c in claims:
            plan.blocked[c] = _unverified(f"no verification spec (front matter `verify:` or {card.meta.id}.verify.yaml)",
                                          "no-spec", file=f"{card.meta.id}.verify.yaml")
        return plan
    plan.measure = measurements(claims, spec, card)
    for c in claims:
        if c not in plan.measure:
            plan.blocked[c] = _unverified(f"the evaluator measures {', '.join(MEASUREMENTS)}; "
                                          f"column {plain_text(c.column)!r} is not mapped to one",
                                          "column-not-measured", column=plain_text(c.column),
                                          measurements=", ".join(MEASUREMENTS))
    todo = [c for c in claims if c in plan.measure]
    defn = registry.get(spec.dataset)
    if defn is None:
        plan.diagnostics.append(error(Code.VERIFY_SPEC, f"unknown dataset {spec.dataset!r} "
                                      f"(known: {', '.join(sorted(registry)) or 'none'})", spec.path, spec.line))
        for c in todo:
            plan.blocked[c] = _unverified(f"unknown dataset {spec.dataset!r}", "unknown-dataset", dataset=spec.dataset)
        return plan
    cache = manifests if manifests is not None else {}
    if defn.id not in cache:
        cache[defn.id] = manifest(defn, options.dataset_dirs.get(defn.id))
    man = cache[defn.id]
    tree = repo_tree(assets.mge_home, spec.repo, spec.commit, megengine_version()) if assets is not None else None
    entries = row_entries(todo, tree, spec)
    for c in todo:
        whys = _row_blocker(c, spec, tree, entries.get(c.row), assets, man, defn)
        if whys:
            plan.blocked[c] = _unverified_all(whys)
            continue
        if c.row in plan.jobs:
            continue
        assert assets is not None and tree is not None and isinstance(man, Manifest)
        entry = entries[c.row]
        assert entry is not None
        url = weights_url_for(tree, entry)
        assert url is not None
        wpath = assets.mge_home / "serialized" / serialized_filename(url)
        limit = options.limit if 0 < options.limit < man.size else 0
        positions = tuple(stratified_subset(man.labels, limit)) if limit else tuple(range(man.size))
        held = defn.holding(man)
        plan.jobs[c.row] = EvalJob(
            card_id=card.meta.id, row=c.row, entry=entry, spec=spec, dataset=man, positions=positions,
            full=(limit == 0 and held.kind == "full"), weights_url=url, weights_path=str(wpath),
            weights_sha256=assets.weights.get(url) or sha256_file(wpath), mge_home=str(assets.mge_home),
            limit=limit, batch_size=options.batch_size or spec.batch_size, holding=held)
    return plan


def _row_blocker(c: Claim, spec: VerifySpec, tree: Path | None, entry: str | None,
                 assets: RunAssets | None, man: Manifest | Unavailable, defn: DatasetDef) -> list[Why]:
    """Every reason the row cannot be evaluated here (empty: it can)."""
    whys: list[Why] = []
    if assets is None or tree is None:
        whys.append((f"hub repository {spec.repo} is not in the asset store, so neither are its weights "
                     "(run: build-site fetch)", "repo-not-stored", {"repo": spec.repo}))
    elif entry is None:
        if rows.explicit_entry(c.row, spec.rows)[0]:
            whys.append((f"row {c.row!r} is mapped to no model in the spec", "row-unmapped", {"row": c.row}))
        else:
            whys.append((f"no entry point of {spec.repo} matches row {c.row!r} (map it under rows: in the spec)",
                         "no-entry", {"repo": spec.repo, "row": c.row}))
    else:
        url = weights_url_for(tree, entry)
        if url is None:
            whys.append((f"entry {entry!r} of {spec.repo} has no pretrained weight URL", "no-weights-url",
                         {"entry": entry, "repo": spec.repo}))
        elif url in assets.substitutes:
            whys.append((f"only placeholder weights are in the store for {url}; placeholders are never evaluated",
                         "placeholder-weights", {"url": url}))
        elif not (assets.mge_home / "serialized" / serialized_filename(url)).is_file():
            whys.append((f"weights not in store: {url}", "weights-not-stored", {"url": url}))
    if isinstance(man, Unavailable):
        whys.append((man.reason, "dataset-unavailable" if defn.env else "dataset-unavailable-no-env",
                     {"dataset": man.dataset, "env": defn.env}))
    return whys


# ---------------------------------------------------------------- running

TOPK = 5  # the child returns this many classes per image; top-1 and top-5 are counted from them


def child_env(mge_home: str, home: str, threads: int = 2) -> dict[str, str]:
    """The same allow-list environment snippet runs get (run/sandbox.py); evaluations need no
    offline shim: they read only the materialised MGE_HOME, and their images come on stdin."""
    return sandbox.child_env(Path(home), mge_home, threads)


def launch(argv: list[str], env: Mapping[str, str], box: sandbox.Sandbox, progress: bool,
           feed: Callable[[BinaryIO], None] | None = None) -> tuple[RunResult, str]:
    """Run the child in `box`; (how it ended, last lines of its stderr). `feed` writes its stdin
    (from a thread, so a child that stops reading cannot block the build). Progress lines
    (`eval …`) are passed on to our stderr as they come."""
    tail: deque[str] = deque(maxlen=30)
    proc = box.start(argv, env=env, cwd=box.writable, stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    writer = None
    if feed is not None:
        assert proc.stdin is not None
        writer = threading.Thread(target=_feed, args=(feed, proc.stdin), daemon=True)
        writer.start()
    sandbox.ACTIVE.add(box)
    try:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            tail.append(line.rstrip("\n"))
            if progress and line.startswith("eval "):
                sys.stderr.write(for_terminal(line))  # the child's words: no escape sequences
                sys.stderr.flush()
        ended = box.wait()
    finally:
        sandbox.ACTIVE.discard(box)
        if proc.stderr is not None:
            proc.stderr.close()
    if writer is not None:
        writer.join(timeout=5)
    return ended, "\n".join(tail)


def _feed(feed: Callable[[BinaryIO], None], stdin: BinaryIO) -> None:
    try:
        feed(stdin)
    except (BrokenPipeError, ValueError, OSError):
        pass  # the child stopped reading: how it ended says why
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def write_stream(header: Mapping[str, object], records: Iterable[bytes], out: BinaryIO) -> None:
    out.write((json.dumps(header) + "\n").encode())
    for data in records:
        out.write(struct.pack(">I", len(data)))
        out.write(data)


def job_payload(job: EvalJob, options: EvalOptions, layouts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the child is told: the model and how to preprocess. No dataset, no labels.
    `layouts`: which graph layouts it may try, when the build's own CPU check says (layouts())."""
    return {**(layouts or {}),
        "repo": job.spec.repo, "entry": job.entry, "git_host": job.spec.git_host, "commit": job.spec.commit,
        "entry_kwargs": dict(job.spec.entry_kwargs), "batch_size": job.batch_size, "workers": options.workers,
        "topk": TOPK, "preprocess": dict(job.spec.preprocess),
        "inference": "compiled" if options.compiled else "eager", "compile_timeout_s": options.compile_timeout_s,
        "compile_if_eager_s": options.compile_if_eager_s,
    }


# The child's exit codes that ask for the job to be run again, eagerly (evaluate_child.py).
AGAIN_EAGER = {75: "compiling did not finish in {timeout:g} s",
               76: "the compiled graph disagreed with eager on a spot check"}
_MODES = ("compiled", "eager")


def inference_record(raw: Any, retried: str = "") -> dict[str, Any]:
    """What the child says about how it ran the model, kept to known fields of known types for
    the provenance. It is the child's word: it is shown, never counted (the counts come from the
    predictions alone)."""
    rec: dict[str, Any] = {"mode": "unknown"}
    if isinstance(raw, dict):
        if raw.get("mode") in _MODES:
            rec["mode"] = raw["mode"]
        for k in ("batch", "micro_batch", "compiled_batches", "eager_batches", "checked_batches"):
            if isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool):
                rec[k] = raw[k]
        for k in ("agreement", "compile_s", "first_batch_s"):
            if isinstance(raw.get(k), (int, float)) and not isinstance(raw.get(k), bool):
                rec[k] = float(raw[k])
        for k in ("device", "threads", "allocator", "layout", "layout_rejected", "note"):
            if isinstance(raw.get(k), str):
                rec[k] = for_terminal(raw[k])[:400]
        timings = raw.get("micro_batch_img_per_s")
        if isinstance(timings, dict):
            rec["micro_batch_img_per_s"] = {str(m)[:8]: float(v) for m, v in list(timings.items())[:8]
                                            if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if retried:
        rec["note"] = "; ".join(x for x in (retried, rec.get("note", "")) if x)
    return rec


def count_correct(top: Any, order: Sequence[int], labels: Sequence[int], classes: Any) -> dict[str, int] | str:
    """top-1 and top-5 counts of the child's predictions (`top[j]` for manifest position
    `order[j]`), or why the predictions cannot be counted. Only the parent knows the labels."""
    if not isinstance(classes, int) or classes <= 0:
        return "the evaluator reported no classes"
    if not isinstance(top, list) or len(top) != len(order):
        return f"the evaluator returned {len(top) if isinstance(top, list) else 'no'} predictions for {len(order)} images"
    k = min(TOPK, classes)
    correct = {"top1": 0, "top5": 0}
    for preds, pos in zip(top, order):
        if (not isinstance(preds, list) or len(preds) != k
                or not all(isinstance(c, int) and 0 <= c < classes for c in preds)):
            return "the evaluator returned a malformed prediction"
        y = labels[pos]
        correct["top1"] += preds[0] == y
        correct["top5"] += y in preds[:5]
    if classes < 5:
        del correct["top5"]  # top-5 of a 3-class model says nothing
    return correct


def _dataset_dirs(m: Manifest) -> list[Path]:
    """Where the dataset (and its labels) lie: hidden from the child even under /usr."""
    root = Path(m.root)
    return [root if root.is_dir() else root.parent, *(Path(f).parent for f in m.files.values())]


NOT_EVALUATED = "not evaluated"
CACHED_ONLY = "not evaluated in this run (cached results only)"


def run_job(job: EvalJob, options: EvalOptions, cache: EvalCache | None) -> EvalResult | str:
    """The job's result (from the cache or a fresh child run), or the reason it has none."""
    key = job.key
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    if not options.run:
        return CACHED_ONLY
    started = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    # The images go in an order only this process knows (a model cannot look its labels up
    # by position); the counts do not depend on it.
    order = list(job.positions)
    secrets.SystemRandom().shuffle(order)
    got = _evaluate_once(job, options, order, layouts(options))
    retried = ""
    if isinstance(got, int):
        # A hang inside the graph compiler or a graph that went wrong: the job once more, eager.
        retried = AGAIN_EAGER[got].format(timeout=options.compile_timeout_s) + "; the evaluation was run again, eager"
        secrets.SystemRandom().shuffle(order)
        got = _evaluate_once(job, dataclasses.replace(options, compiled=False), order)
    if not isinstance(got, tuple):
        return got if isinstance(got, str) else f"evaluation of {job.entry} failed (exit code {got})"
    out, wall = got
    counted = count_correct(out.get("top"), order, job.dataset.labels, out.get("classes"))
    if isinstance(counted, str):
        return f"evaluation of {job.entry}: {counted}"
    n = len(order)
    speed = out.get("images_per_s")
    versions = out.get("versions")
    prov = {
        "repo": job.spec.repo, "entry": job.entry, "weights_url": job.weights_url,
        "weights_sha256": job.weights_sha256, "weights_size": _size_of(job.weights_path),
        "tool_version": TOOL_VERSION, "dataset": job.dataset.dataset,
        "dataset_fingerprint": job.dataset.fingerprint, "dataset_size": job.dataset.size,
        "n": n, "limit": job.limit, "full": job.full, "holds": job.holding.kind,
        "sample": job.holding.name, "preprocess": dict(job.spec.preprocess),
        "versions": {**(versions if isinstance(versions, dict) else {}), **sandbox.library_versions()},
        "date": started, "cpu": sandbox.cpu_model(), "wall_s": round(wall, 3),
        "images_per_s": round(float(speed), 2) if isinstance(speed, (int, float)) else None,
        "batch_size": job.batch_size, "sandbox": "bubblewrap" if options.isolate else "none (--unsafe-no-sandbox)",
        "inference": inference_record(out.get("inference"), retried),
    }
    result = EvalResult(key=key, job=job.key_fields(), n=n, correct=counted, full=job.full, provenance=prov)
    if cache is not None:
        cache.put(result)
    return result


def _size_of(path: str) -> int | None:
    try:
        return Path(path).stat().st_size
    except OSError:
        return None


def layouts(options: EvalOptions) -> dict[str, Any]:
    """The job fields that leave NCHW88 out of what a compiled child tries, when this CPU failed
    the build's own check ({} otherwise: the child decides, and tests the real graph apart)."""
    if not options.compiled or options.cpu_checks is None:
        return {}
    from generator.claims import cpucheck

    allowed, why = cpucheck.layouts_to_try(options.python, options.cpu_checks, megengine_version())
    return {} if allowed is None else {"layouts": list(allowed), "layouts_note": why}


def _evaluate_once(job: EvalJob, options: EvalOptions, order: Sequence[int],
                   layouts: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], float] | str | int:
    """One sandboxed child run over the images in `order`: (its result file, wall seconds), the
    reason it has none, or the exit code that asks for an eager run (AGAIN_EAGER)."""
    header, records = image_stream(job.dataset, order)
    with sandbox.open_sandbox(isolate=options.isolate, memory_bytes=options.memory_bytes, pids=options.pids,
                              disk_bytes=options.disk_bytes, wall_s=options.timeout_s,
                              mge_home=Path(job.mge_home), binds=[CHILD], hide=_dataset_dirs(job.dataset)) as box:
        work = box.writable
        (work / "home").mkdir()
        (work / "job.json").write_text(json.dumps(job_payload(job, options, layouts)), encoding="utf-8")
        t0 = time.perf_counter()
        ended, tail = launch([options.python, "-I", str(CHILD), str(work / "job.json"), str(work / "result.json")],
                             child_env(job.mge_home, str(work / "home")), box, options.progress,
                             feed=lambda out: write_stream(header, records, out))
        wall = time.perf_counter() - t0
        if ended.limit is not None:
            return f"evaluation of {job.entry} {ended.message}"
        if ended.exit_code in AGAIN_EAGER and options.compiled:
            return ended.exit_code
        try:
            out = json.loads(box.read_output("result.json", max_bytes=64 * 1024 ** 2))
        except (SandboxError, ValueError):
            out = None
        if ended.exit_code != 0 or not isinstance(out, dict):
            last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), ended.message)
            return f"evaluation of {job.entry} failed ({ended.message}): {last}"
    return out, wall


def outcomes(plan: CardPlan, results: Mapping[str, EvalResult | str], claims: Sequence[Claim],
             spec: VerifySpec | None) -> dict[Claim, CheckOutcome]:
    """Check 3 for every claim, from the plan and the job results (keyed by job key)."""
    out = dict(plan.blocked)
    for c in claims:
        if c in out:
            continue
        job = plan.jobs.get(c.row)
        if job is None:
            out[c] = _unverified("no evaluation job for this row", "no-job")
            continue
        res = results.get(job.key, NOT_EVALUATED)
        if isinstance(res, str):
            out[c] = (_unverified(res, "not-evaluated") if res in (NOT_EVALUATED, CACHED_ONLY)
                      else _unverified(res, "eval-failed", detail=res))
            continue
        m = plan.measure[c]
        if m not in res.correct:
            out[c] = _unverified(f"{m} cannot be measured for this model (fewer classes than k)",
                                 "fewer-classes", metric=m)
            continue
        # Judged by what this build knows of the location (a declaration may have changed since
        # the result was cached; the counts did not).
        prov = {**res.provenance, "metric": m, "correct": res.correct[m], "full": job.full,
                "holds": job.holding.kind, "sample": job.holding.name}
        kind = job.judged_as
        out[c] = evaluation_outcome(c, res.correct[m], res.n, kind == "full", spec.tolerance if spec else None,
                                    prov, subset=job.holding.name if kind == "subset" else None)
    return out

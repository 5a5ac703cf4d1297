"""Check 3: evaluate the models a card's tables speak about.

    plan evaluation jobs (spec, hub repo, weights, dataset manifest) -> run each job in a
    sandboxed child (run/child/evaluate_child.py), cached (evalcache.py) -> one evaluation
    outcome per claim (verify.py combines it with the other checks).

The child is sandboxed like a snippet run (sandbox.py): an environment built from an allow-list,
a temporary HOME and working directory, the run's MGE_HOME, an empty network namespace where the
machine allows one, no core dumps, an address-space cap and a time limit. Placeholder weights are never evaluated; weights missing from the store or
an absent dataset make the claim `unverified` with the reason.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from generator.claims import rows
from generator.claims.checks import evaluation_outcome
from generator.claims.datasets import DatasetDef, Manifest, Unavailable, manifest, stratified_subset
from generator.claims.evalcache import EvalCache, EvalResult, cache_key
from generator.claims.extract import plain_text, results_table_ordinal
from generator.claims.samples import Holding
from generator.claims.spec import MEASUREMENTS, VerifySpec
from generator.core.errors import Code, Diagnostic, error
from generator.core.model import Card, CheckOutcome, Claim
from generator.hub.hubconf import weights_url_for
from generator.hub.layout import DEFAULT_MEGENGINE_VERSION, repo_tree, serialized_filename
from generator.run import sandbox
from generator.run.child import CHILD_DIR
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
    isolate_network: bool = True
    progress: bool = True  # forward the child's progress lines to stderr
    run: bool = True  # False: only use cached results (plan, never start a child)


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


def _unverified(reason: str) -> CheckOutcome:
    return CheckOutcome("evaluation", "unverified", reason=reason)


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
            plan.blocked[c] = _unverified(f"no verification spec (front matter `verify:` or {card.meta.id}.verify.yaml)")
        return plan
    plan.measure = measurements(claims, spec, card)
    for c in claims:
        if c not in plan.measure:
            plan.blocked[c] = _unverified(f"the evaluator measures {', '.join(MEASUREMENTS)}; "
                                          f"column {plain_text(c.column)!r} is not mapped to one")
    todo = [c for c in claims if c in plan.measure]
    defn = registry.get(spec.dataset)
    if defn is None:
        plan.diagnostics.append(error(Code.VERIFY_SPEC, f"unknown dataset {spec.dataset!r} "
                                      f"(known: {', '.join(sorted(registry)) or 'none'})", spec.path, spec.line))
        for c in todo:
            plan.blocked[c] = _unverified(f"unknown dataset {spec.dataset!r}")
        return plan
    cache = manifests if manifests is not None else {}
    if defn.id not in cache:
        cache[defn.id] = manifest(defn, options.dataset_dirs.get(defn.id))
    man = cache[defn.id]
    tree = repo_tree(assets.mge_home, spec.repo, spec.commit, megengine_version()) if assets is not None else None
    entries = row_entries(todo, tree, spec)
    for c in todo:
        reason = _row_blocker(c, spec, tree, entries.get(c.row), assets, man)
        if reason:
            plan.blocked[c] = _unverified(reason)
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
                 assets: RunAssets | None, man: Manifest | Unavailable) -> str:
    """Every reason the row cannot be evaluated here, joined (empty: it can)."""
    reasons: list[str] = []
    if assets is None or tree is None:
        reasons.append(f"hub repository {spec.repo} is not in the asset store, so neither are its weights "
                       "(run: build-site fetch)")
    elif entry is None:
        reasons.append(f"row {c.row!r} is mapped to no model in the spec" if rows.explicit_entry(c.row, spec.rows)[0]
                       else f"no entry point of {spec.repo} matches row {c.row!r} (map it under rows: in the spec)")
    else:
        url = weights_url_for(tree, entry)
        if url is None:
            reasons.append(f"entry {entry!r} of {spec.repo} has no pretrained weight URL")
        elif url in assets.substitutes:
            reasons.append(f"only placeholder weights are in the store for {url}; placeholders are never evaluated")
        elif not (assets.mge_home / "serialized" / serialized_filename(url)).is_file():
            reasons.append(f"weights not in store: {url}")
    if isinstance(man, Unavailable):
        reasons.append(man.reason)
    return "; ".join(reasons)


# ---------------------------------------------------------------- running

def child_env(mge_home: str, home: str, threads: int = 2) -> dict[str, str]:
    """The same allow-list environment snippet runs get (sandbox.py); evaluations need no
    offline shim: they read only the materialised MGE_HOME and the dataset."""
    return sandbox.child_env(Path(home), mge_home, threads)


def launch(argv: list[str], env: Mapping[str, str], cwd: str, timeout_s: float, progress: bool,
           isolate_network: bool = True) -> tuple[int, str]:
    """Run the child; returns (exit code, last lines of stderr). Progress lines (`eval …`) are
    passed on to our stderr as they come."""
    if isolate_network:
        argv = [*sandbox.network_prefix(), *argv]
    tail: deque[str] = deque(maxlen=30)
    with subprocess.Popen(argv, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
                          preexec_fn=sandbox.limit_resources) as proc:
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line.rstrip("\n"))
                if progress and line.startswith("eval "):
                    sys.stderr.write(line)
                    sys.stderr.flush()
            rc = proc.wait()
        finally:
            timer.cancel()
    if rc < 0 and not tail:
        tail.append(f"killed by signal {-rc}")
    return rc, "\n".join(tail)


def job_payload(job: EvalJob, options: EvalOptions) -> dict[str, Any]:
    m = job.dataset
    return {
        "repo": job.spec.repo, "entry": job.entry, "git_host": job.spec.git_host, "commit": job.spec.commit,
        "entry_kwargs": dict(job.spec.entry_kwargs), "batch_size": job.batch_size, "workers": options.workers,
        "topk": [1, 5], "preprocess": dict(job.spec.preprocess),
        "dataset": {"id": m.dataset, "kind": m.kind, "root": m.root, "files": dict(m.files),
                    "items": [m.items[i] for i in job.positions], "labels": [m.labels[i] for i in job.positions]},
    }


def run_job(job: EvalJob, options: EvalOptions, cache: EvalCache | None) -> EvalResult | str:
    """The job's result (from the cache or a fresh child run), or the reason it has none."""
    key = job.key
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    if not options.run:
        return "not evaluated in this run (cached results only)"
    started = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    with tempfile.TemporaryDirectory(prefix="vh-eval-") as tmp:
        job_path, out_path = os.path.join(tmp, "job.json"), os.path.join(tmp, "result.json")
        with open(job_path, "w", encoding="utf-8") as f:
            json.dump(job_payload(job, options), f)
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        t0 = time.perf_counter()
        rc, tail = launch([options.python, "-I", str(CHILD), job_path, out_path], child_env(job.mge_home, home),
                          home, options.timeout_s, options.progress, options.isolate_network)
        wall = time.perf_counter() - t0
        if rc != 0 or not os.path.exists(out_path):
            last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), "no output")
            return f"evaluation of {job.entry} failed (exit {rc}): {last}"
        with open(out_path, encoding="utf-8") as f:
            out = json.load(f)
    prov = {
        "repo": job.spec.repo, "entry": job.entry, "weights_url": job.weights_url,
        "weights_sha256": job.weights_sha256, "dataset": job.dataset.dataset,
        "dataset_fingerprint": job.dataset.fingerprint, "dataset_size": job.dataset.size,
        "n": out["n"], "limit": job.limit, "full": job.full, "holds": job.holding.kind,
        "sample": job.holding.name, "preprocess": dict(job.spec.preprocess),
        "versions": {**sandbox.library_versions(), **out.get("versions", {})}, "date": started,
        "cpu": sandbox.cpu_model(), "wall_s": round(wall, 3), "images_per_s": round(out["images_per_s"], 2),
        "batch_size": job.batch_size,
    }
    result = EvalResult(key=key, job=job.key_fields(), n=int(out["n"]), correct=out["correct"], full=job.full,
                        provenance=prov)
    if cache is not None:
        cache.put(result)
    return result


def outcomes(plan: CardPlan, results: Mapping[str, EvalResult | str], claims: Sequence[Claim],
             spec: VerifySpec | None) -> dict[Claim, CheckOutcome]:
    """Check 3 for every claim, from the plan and the job results (keyed by job key)."""
    out = dict(plan.blocked)
    for c in claims:
        if c in out:
            continue
        job = plan.jobs.get(c.row)
        if job is None:
            out[c] = _unverified("no evaluation job for this row")
            continue
        res = results.get(job.key, "not evaluated")
        if isinstance(res, str):
            out[c] = _unverified(res)
            continue
        m = plan.measure[c]
        if m not in res.correct:
            out[c] = _unverified(f"{m} cannot be measured for this model (fewer classes than k)")
            continue
        # Judged by what this build knows of the location (a declaration may have changed since
        # the result was cached; the counts did not).
        prov = {**res.provenance, "metric": m, "correct": res.correct[m], "full": job.full,
                "holds": job.holding.kind, "sample": job.holding.name}
        kind = job.judged_as
        out[c] = evaluation_outcome(c, res.correct[m], res.n, kind == "full", spec.tolerance if spec else None,
                                    prov, subset=job.holding.name if kind == "subset" else None)
    return out

"""The claims stage: every number of every card with its checks and one state.

    claims (extract.py) -> evidence (hub repository, entries, evaluation results)
    -> each check of CHECKS gives an outcome per claim -> one ClaimState per claim (combine.py)

A check is a function from a card's `Evidence` to an outcome per claim; adding one is adding an
entry to CHECKS (and its name to CheckOutcome.name). Only the evaluation starts processes, and it
runs before the checks: the checks themselves are pure.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from generator.claims.checks import check_languages, check_weight_names
from generator.claims.combine import combine_all
from generator.claims.datasets import DatasetDef, Manifest, Unavailable
from generator.claims.evalcache import EvalCache, EvalResult
from generator.claims.evaluate import EvalOptions, megengine_version, outcomes, plan_card, run_job
from generator.claims.extract import extract_claims, results_table_ordinal
from generator.claims.rows import row_diagnostics, row_entries
from generator.claims.spec import VerifySpec
from generator.core.errors import Code, Diagnostic, Level, Loc, warning
from generator.core.model import Card, CardVerification, CheckOutcome, Claim, ClaimState
from generator.hub.hubconf import hub_loads, weights_url_for
from generator.hub.layout import repo_tree
from generator.store.content import Store
from generator.store.lock import Lock
from generator.store.materialize import RunAssets, materialize


@dataclass(frozen=True)
class Evidence:
    """What the checks of one card look at."""

    card: Card
    claims: Sequence[Claim]
    repo: str | None  # the card's hub repository
    tree: Path | None  # its materialised checkout, None when not in the store
    entries: Mapping[str, str | None]  # row label -> hub entry point
    evaluation: Mapping[Claim, CheckOutcome]  # check 3, from the evaluation jobs


Check = Callable[[Evidence], Mapping[Claim, CheckOutcome]]


def languages(ev: Evidence) -> Mapping[Claim, CheckOutcome]:
    return check_languages(ev.claims, ev.card.sections.keys(), results_table_ordinal(ev.card))


def weight_name(ev: Evidence) -> Mapping[Claim, CheckOutcome]:
    if ev.tree is None:
        why = (f"hub repository {ev.repo} is not in the asset store" if ev.repo
               else "the card names no hub repository")
        code, args = ("repo-not-stored", {"repo": ev.repo}) if ev.repo else ("no-repo", {})
        return {c: CheckOutcome("weight-name", "unverified", reason=why, code=code, args=args) for c in ev.claims}
    urls = {e: weights_url_for(ev.tree, e) for e in set(ev.entries.values()) if e}
    return check_weight_names(ev.claims, ev.entries, urls)


def evaluation(ev: Evidence) -> Mapping[Claim, CheckOutcome]:
    return ev.evaluation


CHECKS: tuple[Check, ...] = (languages, weight_name, evaluation)


def card_repo(card: Card, spec: VerifySpec | None) -> str | None:
    """The hub repository of a card: the spec's, else the first `hub.load("owner/name", …)` of
    the prelude."""
    if spec is not None:
        return spec.repo
    if card.prelude is None:
        return None
    return next((h.repo for h in hub_loads(card.prelude.code) if h.attribute and h.repo), None)


def verify_card(card: Card, spec: VerifySpec | None, *, assets: RunAssets | None,
                registry: Mapping[str, DatasetDef], options: EvalOptions = EvalOptions(),
                cache: EvalCache | None = None,
                manifests: dict[str, Manifest | Unavailable] | None = None,
                ) -> tuple[list[ClaimState], list[Diagnostic]]:
    """Every number of the card with its checks and one state."""
    claims, diags = extract_claims(card)
    repo = card_repo(card, spec)
    tree = (repo_tree(assets.mge_home, repo, spec.commit if spec else None, megengine_version())
            if (assets and repo) else None)
    rows = row_entries(claims, tree, spec)
    if tree is not None:
        diags.extend(row_diagnostics(claims, rows, repo, spec))
    plan = plan_card(card, claims, spec, assets, registry, options, manifests)
    diags.extend(plan.diagnostics)
    results: dict[str, EvalResult | str] = {}
    for job in plan.jobs.values():
        if job.key not in results:
            results[job.key] = run_job(job, options, cache)
    ev = Evidence(card, claims, repo, tree, rows.entries, outcomes(plan, results, claims, spec))
    return combine_all(claims, *(check(ev) for check in CHECKS)), diags


def verify_claims(cards: Sequence[Card], specs: Mapping[str, VerifySpec | None], lock: Lock, store: Store,
                  registry: Mapping[str, DatasetDef], options: EvalOptions, cache: EvalCache | None
                  ) -> tuple[dict[str, tuple[ClaimState, ...]], list[Diagnostic]]:
    """The claims stage for every card (card id -> states)."""
    problems: list[Diagnostic] = []
    results: dict[str, tuple[ClaimState, ...]] = {}
    manifests: dict[str, Manifest | Unavailable] = {}
    # One MGE_HOME for every evaluation of this build: the evaluator only reads it.
    with tempfile.TemporaryDirectory(prefix="verify-eval-") as tmp:
        # read-only in every sandbox, so hard links cannot reach back into the store
        assets = materialize(lock, store, Path(tmp), link=True if options.isolate else None)
        for card in cards:
            states, diags = verify_card(card, specs.get(card.meta.id), assets=assets, registry=registry,
                                        options=options, cache=cache, manifests=manifests)
            problems.extend(diags)
            results[card.meta.id] = tuple(states)
    problems.extend(subset_warnings(registry, manifests))
    return results, problems


def subset_warnings(registry: Mapping[str, DatasetDef], manifests: Mapping[str, Manifest | Unavailable]
                    ) -> list[Diagnostic]:
    """Once per dataset whose location holds an undeclared part of it: what that means for its
    numbers, and how to declare the location if it is a random sample."""
    out = []
    for did, man in sorted(manifests.items()):
        defn = registry.get(did)
        if defn is None or not isinstance(man, Manifest):
            continue
        held = defn.holding(man)
        if held.kind == "subset" and not held.declared:
            where = defn.env or "its location"
            out.append(warning(
                Code.DATASET_SUBSET,
                f"{where} holds {man.size:,} items, not the {defn.size:,} of the full {did}: numbers measured "
                f"on it are shown as measured-on-subset, never verified or contradicted. If it is a random "
                f"sample, declare it under {did}.samples with holds: random-sample, seed, population and "
                f"fingerprint: {man.fingerprint}", defn.path or "datasets.yaml", defn.line or 1))
    return out


def mismatches(verifications: Iterable[CardVerification], level: Level = "error") -> list[Diagnostic]:
    """A diagnostic at its table row's card line for every number a check contradicts: errors
    under --strict (what it fails on), warnings in other builds."""
    out = []
    for cv in verifications:
        for s in cv.claims:
            if s.status == "mismatch":
                c = s.claim
                out.append(Diagnostic(level, Code.CLAIM_MISMATCH, f"{c.row} / {c.column} = {c.text}: {s.reason}",
                                      Loc(c.loc.path, c.loc.line)))
    return sorted(out, key=lambda d: (d.loc, d.message))

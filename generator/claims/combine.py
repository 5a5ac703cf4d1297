"""The outcomes of one claim's checks -> exactly one state. Pure.

mismatch (any check disagreed; a languages disagreement only marks the cell the evaluation does not
back, or both cells when there is no evaluation) > verified (full-set evaluation agreed) > consistent (a random
sample's 95 % interval contains the claim) > measured-on-subset (evaluated on a sample nobody drew
at random: reported, not judged) > unverified (with every reason).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from generator.core.model import CheckOutcome, Claim, ClaimState


def combine(claim: Claim, outcomes: Iterable[CheckOutcome]) -> ClaimState:
    """Exactly one state per number; every CheckOutcome is kept."""
    checks = tuple(outcomes)
    mism = [o for o in checks if o.status == "mismatch"]
    ev_agrees = any(o.name == "evaluation" and o.status in ("verified", "consistent") for o in checks)
    if ev_agrees:
        # The languages disagree, but the evaluation measured this cell right: the wrong number is
        # the other language's (its own evaluation check marks it), not this one.
        mism = [o for o in mism if o.name != "languages"]
    if mism:
        reason = "; ".join(f"{o.name} check: {o.reason}" for o in mism)
        return ClaimState(claim, "mismatch", checks, reason)
    ev = [o for o in checks if o.name == "evaluation"]
    if any(o.status == "verified" for o in ev):
        return ClaimState(claim, "verified", checks, next(o.reason for o in ev if o.status == "verified"))
    if any(o.status == "consistent" for o in ev):
        return ClaimState(claim, "consistent", checks, next(o.reason for o in ev if o.status == "consistent"))
    if any(o.status == "measured-on-subset" for o in ev):
        return ClaimState(claim, "measured-on-subset", checks,
                          next(o.reason for o in ev if o.status == "measured-on-subset"))
    reasons = [f"{o.name}: {o.reason}" for o in checks if o.status == "unverified" and o.reason]
    if not ev:
        reasons.append("evaluation: not run")
    return ClaimState(claim, "unverified", checks, "; ".join(reasons))


def combine_all(
    claims: Sequence[Claim], *outcome_maps: Mapping[Claim, CheckOutcome]
) -> list[ClaimState]:
    """One ClaimState per claim from per-check outcome maps (missing entries are simply absent)."""
    return [combine(c, [m[c] for m in outcome_maps if c in m]) for c in claims]

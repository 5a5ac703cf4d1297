"""Hugging Face `model-index` metadata for a card, from its checked claims. Pure.

Only numbers the tool could back are written: `verified` (full-set evaluation) and `consistent`
(subset evaluation whose 95 % interval contains the claim). `verified: true` is set only for
full-set verified results; the value is the number as the card states it. One language is used
(en_US when present) so that the zh_CN copy of a table does not duplicate results.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from generator.claims.extract import plain_text
from generator.core.model import DEFAULT_LANG, Card, ClaimState

_TASK = {"top1": "image-classification", "top5": "image-classification", "miou": "image-segmentation"}
_METRIC_TYPE = {"top1": "accuracy", "top5": "top-5 accuracy", "miou": "mean_iou"}


def model_index(card: Card, claim_states: Sequence[ClaimState],
                datasets: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, Any]:
    """{"model-index": [{"name": row, "results": [...]}]}. `datasets` maps a dataset id to its
    registry `model_index` block ({type, name, split}); without it the id is used."""
    langs = {s.claim.lang for s in claim_states}
    lang = DEFAULT_LANG if DEFAULT_LANG in langs else (sorted(langs)[0] if langs else "")
    models: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for s in claim_states:
        c = s.claim
        if c.lang != lang or s.status not in ("verified", "consistent"):
            continue
        ev = next((o for o in s.checks if o.name == "evaluation" and o.status == s.status), None)
        if ev is None:
            continue
        did = str(ev.provenance.get("dataset", ""))
        info = dict((datasets or {}).get(did, {}))
        dataset = {"type": info.get("type", did), "name": info.get("name", did)}
        if "split" in info:
            dataset["split"] = info["split"]
        task = _TASK.get(c.metric, "image-classification")
        result = models.setdefault(c.row, {}).setdefault((task, did), {
            "task": {"type": task}, "dataset": dataset, "metrics": []})
        metric: dict[str, Any] = {
            "type": ("error rate" if c.kind == "error" else _METRIC_TYPE.get(c.metric, c.metric)),
            "name": plain_text(c.column), "value": c.value,
        }
        if s.status == "verified":
            metric["verified"] = True
        result["metrics"].append(metric)
    return {"model-index": [{"name": row, "results": list(res.values())} for row, res in models.items()]}

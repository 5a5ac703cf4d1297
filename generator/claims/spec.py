"""The verification spec of a card: how to evaluate the models its tables speak about.

It comes from the card's front matter (`verify:` key) or, so that existing cards stay unchanged,
from a sidecar `cards/<card id>.verify.yaml` (a card may not have both). Shape:

```yaml
repo: megengine/models        # required: repo_info exactly as given to megengine.hub.load
git_host: github.com          # optional, default github.com
commit: null                  # optional commit pinned in hub.load
dataset: imagenet-val         # required: an id from cards/datasets.yaml
preprocess:                   # required: declarative ...
  channel_order: BGR          #   BGR | RGB | GRAY: what the model expects (images decode as BGR)
  resize: 256                 #   optional: short side, megengine.data.transform.Resize
  crop: 224                   #   optional: centre crop, megengine.data.transform.CenterCrop
  scale: 1.0                  #   optional: multiply pixel values before mean/std
  mean: [103.530, 116.280, 123.675]
  std: [57.375, 57.120, 58.395]
# preprocess: {hub_entry: preprocess_fmnist}   # ... or the repo's own function: called on one
#   decoded image (grey: as a batch of one, 1 x H x W), returns CHW or 1 x C x H x W;
#   channel_order: RGB may be given with it (images decode as BGR)
metrics:                      # optional: measurement -> the column it is compared with
  top1: {column: "Top1 acc"}  #   (header as written in either language; default: the columns
  top5: {column: "Top5 acc"}  #   whose normalised metric id is top1 / top5)
tolerance: 0.0005             # optional: percentage points, absolute, for full-set runs;
                              #   default: half a unit of the claim's last written digit
rows:                         # optional: row label as written -> entry point (null: no model);
  ResNet18: resnet18          #   rows not listed are matched against the entry names and weight
                              #   file names (hub/names.py: `ShuffleNetV2 x0.5` -> shufflenet_v2_x0_5);
                              #   a table whose first column repeats labels its rows with the
                              #   column that tells them apart too (`SimpleBaseline res50`)
batch_size: 32                # optional
entry_kwargs: {}              # optional: extra keyword arguments for hub.load
```
The evaluator measures top1 and top5 (classification); other columns stay unverified.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from generator.cards.registry import InputFileError, YamlProblem, load_yaml, read_input
from generator.core.errors import Code, Diagnostic, error
from generator.core.ids import ID_RULE, is_id
from generator.core.model import Card

MEASUREMENTS = ("top1", "top5")
MAX_BATCH = 1024  # a batch is held in the evaluator's memory at once
PREPROCESS_KEYS = ("channel_order", "resize", "crop", "scale", "mean", "std", "hub_entry")
SPEC_KEYS = ("repo", "git_host", "commit", "dataset", "preprocess", "metrics", "tolerance", "rows",
             "batch_size", "entry_kwargs")


@dataclass(frozen=True)
class VerifySpec:
    path: str  # file the spec was read from (card or sidecar)
    line: int  # line of the spec's start
    repo: str
    dataset: str
    preprocess: Mapping[str, Any]
    metrics: Mapping[str, str | None] = field(default_factory=dict)  # measurement -> column (None: by id)
    tolerance: float | None = None
    rows: Mapping[str, str | None] = field(default_factory=dict)
    git_host: str = "github.com"
    commit: str | None = None
    batch_size: int = 32
    entry_kwargs: Mapping[str, Any] = field(default_factory=dict)


def _shown(path: Path) -> str:
    """As diagnostics name files elsewhere: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def sidecar_path(card: Card, cards_dir: Path | None = None) -> Path:
    base = cards_dir if cards_dir is not None else Path(card.path).parent
    return base / f"{card.meta.id}.verify.yaml"


def load_spec(card: Card, cards_dir: Path | None = None) -> tuple[VerifySpec | None, list[Diagnostic]]:
    """The card's spec (None when it has none) and every problem with it, located."""
    side = sidecar_path(card, cards_dir)
    has_side = os.path.lexists(side)  # a sidecar that is a folder or a FIFO is reported, not skipped
    if card.meta.verify is not None:
        fm_line = next((i + 1 for i, t in enumerate(card.source.split("\n")) if t.startswith("verify:")), 1)
        lines = _front_matter_lines(card.source)
        diags: list[Diagnostic] = []
        if has_side:
            diags.append(error(Code.VERIFY_SPEC, f"the spec is given twice: in the front matter and in {side}",
                               card.path, fm_line))
        spec, more = _validate(dict(card.meta.verify), card.path, fm_line,
                               {k[len("verify."):]: v for k, v in lines.items() if k.startswith("verify.")})
        return spec, diags + more
    if not has_side:
        return None, []
    shown = _shown(side)
    try:
        doc = load_yaml(read_input(side, shown, within=side.parent))
    except InputFileError as exc:
        return None, [exc.diagnostic]
    except YamlProblem as p:
        return None, [error(p.code, p.message("the verify spec"), shown, p.line)]
    if not isinstance(doc.data, dict) or doc.node is None:
        return None, [error(Code.VERIFY_SPEC, "a verify spec must be a mapping", shown, 1)]
    return _validate(doc.data, shown, 1, doc.lines)


def _front_matter_lines(source: str) -> dict[str, int]:
    """Lines of the front matter's keys (the card parser read them; here only their lines)."""
    lines = source.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return {}
    try:
        return dict(load_yaml("\n".join(lines[1:end]), first_line=2).lines)
    except YamlProblem:
        return {}


def _validate(d: dict[str, Any], path: str, line: int, lines: Mapping[str, int]) -> tuple[VerifySpec | None, list[Diagnostic]]:
    diags: list[Diagnostic] = []

    def bad(key: str, msg: str) -> None:
        diags.append(error(Code.VERIFY_SPEC, msg, path, lines.get(key, line)))

    for k in d:
        if k not in SPEC_KEYS:
            bad(str(k), f"unknown verify spec key {k!r} (known: {', '.join(SPEC_KEYS)})")
    for k in ("repo", "dataset"):
        if not isinstance(d.get(k), str) or not d.get(k):
            bad(k, f"verify spec needs {k!r} (a string)")
    if isinstance(d.get("repo"), str) and (d["repo"].count("/") != 1 or not all(map(is_id, d["repo"].split("/")))):
        bad("repo", f"repo must be 'owner/name' ({ID_RULE} each), not {d['repo']!r}")
    if d.get("commit") is not None and not isinstance(d["commit"], str):
        bad("commit", "commit must be a text (a commit id) or null")
    pre = d.get("preprocess")
    if not isinstance(pre, dict):
        bad("preprocess", "verify spec needs 'preprocess' (a mapping, or {hub_entry: name})")
        pre = {}
    for k in pre:
        if k not in PREPROCESS_KEYS:
            bad(f"preprocess.{k}", f"unknown preprocess key {k!r} (known: {', '.join(PREPROCESS_KEYS)})")
    if "hub_entry" not in pre and pre:
        order = pre.get("channel_order", "BGR")
        if order not in ("BGR", "RGB", "GRAY"):
            bad("preprocess.channel_order", f"channel_order must be BGR, RGB or GRAY, not {order!r}")
        for k in ("resize", "crop"):
            if k in pre and (not isinstance(pre[k], int) or pre[k] <= 0):
                bad(f"preprocess.{k}", f"{k} must be a positive integer")
        for k in ("mean", "std"):
            v = pre.get(k)
            if v is not None and (not isinstance(v, list) or not all(isinstance(x, (int, float)) for x in v)):
                bad(f"preprocess.{k}", f"{k} must be a list of numbers")
        if isinstance(pre.get("std"), list) and any(x == 0 for x in pre["std"]):
            bad("preprocess.std", "std must not contain 0")
    metrics: dict[str, str | None] = {}
    raw_m = d.get("metrics", {}) or {}
    if not isinstance(raw_m, dict):
        bad("metrics", "metrics must be a mapping: measurement -> {column: header}")
        raw_m = {}
    for m, v in raw_m.items():
        if m not in MEASUREMENTS:
            bad(f"metrics.{m}", f"the evaluator measures {', '.join(MEASUREMENTS)}, not {m!r}")
            continue
        col = v.get("column") if isinstance(v, dict) else v
        if col is not None and not isinstance(col, str):
            bad(f"metrics.{m}", "a metric's column must be a header text")
            continue
        metrics[m] = col
    tol = d.get("tolerance")
    if tol is not None and (not isinstance(tol, (int, float)) or isinstance(tol, bool) or not 0 <= tol < 100):
        bad("tolerance", "tolerance must be a number of percentage points, at least 0 and below 100")
        tol = None
    rows = d.get("rows", {}) or {}
    if not isinstance(rows, dict) or not all(v is None or isinstance(v, str) for v in rows.values()):
        bad("rows", "rows must map row labels to entry-point names (or null)")
        rows = {}
    bs = d.get("batch_size", 32)
    if not isinstance(bs, int) or isinstance(bs, bool) or not 0 < bs <= MAX_BATCH:
        bad("batch_size", f"batch_size must be a whole number from 1 to {MAX_BATCH}")
        bs = 32
    kw = d.get("entry_kwargs", {}) or {}
    if not isinstance(kw, dict):
        bad("entry_kwargs", "entry_kwargs must be a mapping")
        kw = {}
    if diags:
        return None, diags
    return VerifySpec(path=path, line=line, repo=d["repo"], dataset=d["dataset"], preprocess=dict(pre),
                      metrics=metrics, tolerance=float(tol) if tol is not None else None,
                      rows={str(k): v for k, v in rows.items()}, git_host=str(d.get("git_host", "github.com")),
                      commit=d.get("commit"), batch_size=bs, entry_kwargs=dict(kw)), diags

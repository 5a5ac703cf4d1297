"""How fast the evaluator is: the real sandboxed evaluation the build runs (claims/evaluate.py
run_job, bubblewrap, the secret image order) vs an eager baseline written the way the zoo's
test scripts are (megengine.data.DataLoader over the same images, T.Compose-style transform
with the card's own preprocessing, batch 100, eager forward), and vs a bare traced forward on
already-preprocessed batches (no decoding, no IPC). Paired and alternating, so the machine's
drifting load hits both sides alike.

The bare forward runs with the evaluator's settings: its thread variables (OMP_NUM_THREADS and
the like, from claims/evaluate.py child_env; MegEngine's CPU comp node runs the graph on one
worker thread either way) and its allocator setting (evaluate_child.keep_freed_memory, set once
the eager baseline is done: the baseline runs with glibc's defaults, as a user's script does).

    .venv/bin/python benchmarks/eval_speed.py [--models efficientnet_lite0,fmnist_resnet]
                                              [--images 200] [--pairs 2]

The evaluator side runs as a build does, with the build's own NCHW88 check of this CPU
(claims/cpucheck.py): run once per CPU and MegEngine version (~1.3 s here, before the child
starts, so outside its images/s) and remembered in the project's .cache/cpu-checks/.

EfficientNet-Lite0 has no ImageNet here: its images are crop windows of the photos the tests
hold (tests/claims/fixtures/imagenet_val_subset), saved as JPEG under ImageNet file names, so
the accuracy is meaningless, only the speed is measured (the output says so). Fashion-MNIST
uses the first --images items of its real test set.

Prints one JSON line per model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PHOTOS = ROOT / "tests" / "claims" / "fixtures" / "imagenet_val_subset"
CARDS = {"efficientnet_lite0": "verifiedhub_vision_efficientnet_lite", "fmnist_resnet": "verifiedhub_vision_fmnist_resnet"}

# The baseline and the bare forward run unsandboxed in a child (MegEngine never in this process).
EAGER = r'''
import json, sys, time
import numpy as np
import megengine, megengine.hub as hub
import megengine.data as data
import megengine.data.transform as T
job = json.load(open(sys.argv[1]))
hub_args = dict(git_host=job["git_host"], commit=job["commit"])
model = hub.load(job["repo"], job["entry"], pretrained=True, **hub_args)
model.eval()
pre = getattr(hub.import_module(job["repo"], **hub_args), job["preprocess"]["hub_entry"])
rgb = job["preprocess"].get("channel_order") == "RGB"
arrays = job.get("arrays")

class Images(data.dataset.Dataset):
    def __init__(self, items): self.items = items
    def __len__(self): return len(self.items)
    def __getitem__(self, i):
        if arrays is not None:
            return (np.asarray(self.items[i], dtype=np.uint8), 0)
        import cv2
        return (cv2.imread(self.items[i], cv2.IMREAD_COLOR), 0)

class CardPreprocess(T.VisionTransform):
    """The card's own preprocessing as a transform of the zoo's test-script kind."""
    def apply(self, input):
        img = input[0]
        if img.ndim == 3 and rgb:
            img = img[:, :, ::-1]
        x = np.asarray(pre(img[None] if img.ndim == 2 else img), dtype=np.float32)
        return (x[0] if x.ndim == 4 else x, input[1])

items = arrays if arrays is not None else job["files"]
loader = data.DataLoader(Images(items), sampler=data.SequentialSampler(Images(items), batch_size=100),
                         transform=T.Compose([CardPreprocess()], order=("image", "image_category")))
t0 = time.perf_counter()
logits, batches = [], []
for x, _ in loader:
    logits.append(model(megengine.tensor(x)).numpy())
    batches.append(x)
eager_s = time.perf_counter() - t0
n = sum(len(b) for b in batches)

# The bare forward: the evaluator's own inference code (run/child/evaluate_child.py) on the same
# images in the evaluator's batches, already preprocessed, in memory: no decoding, no IPC.
import importlib.util, tempfile
spec = importlib.util.spec_from_file_location("evaluate_child", job["child"])
child = importlib.util.module_from_spec(spec)
spec.loader.exec_module(child)
X = np.concatenate(batches)
bs = int(job["batch_size"])
ev_batches = [X[i:i + bs] for i in range(0, len(X), bs)]
# the evaluator's allocator setting, set here after the eager baseline (which runs as a user's
# script does, glibc's defaults); the thread variables are the evaluator's already (run_eager)
kept = child.keep_freed_memory()
infer = child.Inference(model, "compiled")
if kept:
    infer.allocator = "freed memory kept"
with tempfile.TemporaryDirectory() as work:
    out = [infer.first(ev_batches[0], work, 900.0, len(X) - len(ev_batches[0]), worth_s=0.0)]
    out += [infer(x) for x in ev_batches[1:2]]  # untimed too: the bare figure is the steady state
    t0 = time.perf_counter()
    out += [infer(x) for x in ev_batches[2:]]
    bare_s = time.perf_counter() - t0
bare_n = sum(len(x) for x in ev_batches[2:])
# the compiled graph's logits (eager on the first batch, as in the evaluator) vs eager at batch 100
diff = float(np.abs(np.concatenate(out) - np.concatenate(logits)).max())
top = [np.argsort(-lg, axis=1, kind="stable")[:, :5].tolist() for lg in logits]
print(json.dumps({"n": n, "classes": int(logits[0].shape[1]), "eager_s": eager_s, "bare_s": bare_s, "bare_n": bare_n,
                  "bare_inference": infer.record(bs), "compiled_vs_eager": diff,
                  "top": [t for b in top for t in b]}))
'''


def photo_crops(dest: Path, count: int) -> list[Path]:
    """`count` JPEG crop windows of the test photos, named like ImageNet validation files."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    photos = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in sorted(PHOTOS.glob("*.JPEG"))]
    out = []
    for i in range(count):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.5, 1.0)), int(w * rng.uniform(0.5, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        path = dest / f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        cv2.imwrite(str(path), img[y:y + ch, x:x + cw], [cv2.IMWRITE_JPEG_QUALITY, 90])
        out.append(path)
    return out


def plan(model: str, images: int, tmp: Path):  # type: ignore[no-untyped-def]
    from generator.claims.evaluate import plan_card
    from generator.claims.extract import extract_claims
    from generator.cli import config_from, parser
    from generator.cli.config import eval_options
    from generator.cli.inputs import read_inputs
    from generator.store.content import Store
    from generator.store.materialize import materialize
    from generator.store.sync import sync_local

    argv = ["eval", "--project", str(ROOT)]
    if model == "efficientnet_lite0":
        folder = tmp / "imagenet"
        folder.mkdir()
        photo_crops(folder, images)
        argv += ["--imagenet-dir", str(folder)]
    else:
        argv += ["--eval-limit", str(images)]
    cfg = config_from(parser().parse_args(argv))
    inputs, problems = read_inputs(cfg, verification=True)
    store = Store(cfg.store)
    lock, _ = sync_local(inputs.lock, store, cfg.project, refresh=False)
    options = dataclasses.replace(eval_options(cfg, progress=False))
    assets = materialize(lock, store, tmp / "assets")
    card = next(c for c in inputs.cards if c.meta.id == CARDS[model])
    claims, _ = extract_claims(card)
    p = plan_card(card, claims, inputs.specs.get(card.meta.id), assets, inputs.datasets, options)
    job = next(j for j in p.jobs.values() if j.entry == model)
    return job, options


def eager_job(job, tmp: Path) -> Path:  # type: ignore[no-untyped-def]
    from generator.claims.datasets import image_stream

    from generator.claims.evaluate import CHILD

    spec = {"repo": job.spec.repo, "entry": job.entry, "git_host": job.spec.git_host, "commit": job.spec.commit,
            "preprocess": dict(job.spec.preprocess), "batch_size": job.batch_size, "child": str(CHILD)}
    positions = list(job.positions)
    header, records = image_stream(job.dataset, positions)
    if header["format"] == "array":
        import numpy as np
        shape = tuple(header["shape"])
        spec["arrays"] = [np.frombuffer(r, dtype=header.get("dtype", "uint8")).reshape(shape).tolist() for r in records]
    else:
        folder = tmp / "eager-files"
        folder.mkdir(exist_ok=True)
        files = []
        for i, r in enumerate(records):
            (folder / f"{i}.img").write_bytes(r)
            files.append(str(folder / f"{i}.img"))
        spec["files"] = files
    path = tmp / "eager.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def run_eager(job, spec_path: Path) -> dict:  # type: ignore[no-untyped-def]
    from generator.claims.evaluate import child_env

    # The evaluator child's thread settings (OMP_NUM_THREADS and the like), so that the bare
    # forward runs as the evaluator's does; the eager baseline shares them (on this 2-core
    # machine they are what an unset OMP_NUM_THREADS gives anyway).
    threads = {k: v for k, v in child_env(job.mge_home, "/nonexistent").items() if k.endswith("_NUM_THREADS")}
    env = {**os.environ, "MGE_HOME": job.mge_home, **threads}
    proc = subprocess.run([sys.executable, "-c", EAGER, str(spec_path)], env=env, capture_output=True,
                          text=True, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"eager baseline failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_evaluator(job, options) -> tuple[float, dict]:  # type: ignore[no-untyped-def]
    from generator.claims.evaluate import run_job

    t0 = time.perf_counter()
    result = run_job(job, options, None)
    wall = time.perf_counter() - t0
    if isinstance(result, str):
        raise SystemExit(f"evaluator failed: {result}")
    return wall, result.provenance | {"correct": result.correct}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="efficientnet_lite0,fmnist_resnet")
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--pairs", type=int, default=2)
    args = ap.parse_args()
    from generator.claims.evaluate import count_correct
    for model in args.models.split(","):
        with tempfile.TemporaryDirectory(prefix="eval-speed-") as t:
            tmp = Path(t)
            load_before = os.getloadavg()
            job, options = plan(model, args.images, tmp)
            spec = eager_job(job, tmp)
            ev, steady, ea, bare, diff, provs, eager_counts = [], [], [], [], 0.0, [], None
            after_first: list[float] = []
            bare_modes: list = []
            for i in range(args.pairs):
                for side in (("ev", "ea") if i % 2 == 0 else ("ea", "ev")):
                    if side == "ev":
                        wall, prov = run_evaluator(job, options)
                        ips = float(prov["images_per_s"] or 0.0)
                        ev.append(ips)
                        # the same run without its one-off compile (trace, dump, load, first run)
                        n = len(job.positions)
                        compile_s = float(prov.get("inference", {}).get("compile_s", 0.0))
                        steady.append(n / max(n / ips - compile_s, 1e-9) if ips else 0.0)
                        # and without its first batch (every one-off cost of compiling is in it),
                        # a steady state as the bare forward's
                        first_s = float(prov.get("inference", {}).get("first_batch_s", 0.0))
                        rest = n - min(job.batch_size, n)
                        after_first.append(rest / max(n / ips - first_s, 1e-9) if ips and rest else 0.0)
                        provs.append(prov)
                    else:
                        out = run_eager(job, spec)
                        ea.append(out["n"] / out["eager_s"])
                        bare.append(out["bare_n"] / out["bare_s"])
                        bare_modes.append(out["bare_inference"])
                        diff = max(diff, out["compiled_vs_eager"])
                        eager_counts = count_correct(out["top"], list(job.positions), job.dataset.labels, out["classes"])
            e, b, a = statistics.median(ev), statistics.median(bare), statistics.median(ea)
            st = statistics.median(steady)
            af = statistics.median(after_first)
            print(json.dumps({
                "model": model, "images": len(job.positions),
                "images_note": ("crop windows of the test photos, not ImageNet: speed only"
                                if model == "efficientnet_lite0" else "Fashion-MNIST test set, first items (stratified)"),
                "evaluator_img_per_s": round(e, 2), "eager_img_per_s": round(a, 2),
                "speedup_vs_eager": round(e / a, 3), "bare_traced_img_per_s": round(b, 2),
                "evaluator_vs_bare": round(e / b, 3),
                "evaluator_without_compile_img_per_s": round(st, 2), "speedup_vs_eager_without_compile": round(st / a, 3),
                "evaluator_without_compile_vs_bare": round(st / b, 3),
                "evaluator_after_first_batch_img_per_s": round(af, 2),
                "evaluator_after_first_batch_vs_bare": round(af / b, 3),
                "max_abs_logit_diff": diff, "logit_diff_of": "the evaluator's inference code vs eager at batch 100, every image",
                "inference": provs[-1].get("inference", "eager"), "bare_inference": bare_modes[-1],
                # the parent's top-1/top-5 counts of the evaluator and of the eager baseline's predictions
                "counts": {"evaluator": provs[-1]["correct"], "eager": eager_counts},
                "counts_equal": all(p["correct"] == eager_counts for p in provs),
                "evaluator_wall_s": [p["wall_s"] for p in provs],
                "runs": {"evaluator": ev, "evaluator_without_compile": steady, "evaluator_after_first_batch": after_first,
                         "eager": ea, "bare_traced": bare},
                "loadavg": {"before": load_before, "after": os.getloadavg()},
            }), flush=True)


if __name__ == "__main__":
    main()

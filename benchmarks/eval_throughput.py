"""Evaluation throughput vs bare forward throughput of the same model and batch size.

    .venv/bin/python benchmarks/eval_throughput.py [--batch-size 32] [--limit 10000]

Model: the zoo's fmnist_resnet on the Fashion-MNIST test set through the real evaluator
(generator.evaluate.run_job: sandboxed child, decoding + preprocessing in a producer thread).
"Forward" is the same model in the same kind of child fed one pre-made batch over and over, so
the ratio is what the evaluator's data pipeline costs. If the zoo's trained weights are not in
the store, randomly initialised weights are used: fine for throughput, and the output says so.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator.datasets import load_registry, manifest  # noqa: E402
from generator.evaluate import EvalJob, EvalOptions, child_env, cpu_model, run_job  # noqa: E402
from generator.store import hub_cache_dirname, serialized_filename, sha256_file, weights_url_for  # noqa: E402
from generator.verifyspec import VerifySpec  # noqa: E402

REPO = "verifiedhub/zoo"

FORWARD = r"""
import json, sys, time
import numpy as np
import megengine, megengine.hub as hub
bs, n = int(sys.argv[1]), int(sys.argv[2])
model = hub.load("verifiedhub/zoo", "fmnist_resnet", pretrained=True)
model.eval()
zoo = hub.import_module("verifiedhub/zoo", git_host="github.com")
x = megengine.tensor(zoo.preprocess_fmnist(zoo.fashion_mnist_test(bs)[0]))  # a real batch
model(x).numpy()  # warm-up
t = time.perf_counter()
done = 0
while done < n:
    model(x).numpy()
    done += bs
print(json.dumps({"images_per_s": done / (time.perf_counter() - t)}))
"""

MAKE_WEIGHTS = r"""
import sys
import megengine, megengine.hub as hub
megengine.random.seed(0)
model = hub.load("verifiedhub/zoo", "fmnist_resnet", pretrained=False)
megengine.save(model.state_dict(), sys.argv[1])
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--limit", type=int, default=0, help="images to evaluate (0: all 10,000)")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()

    registry, _ = load_registry(ROOT / "cards" / "datasets.yaml")
    man = manifest(registry["fashion-mnist-test"])
    if not hasattr(man, "items"):
        sys.exit(f"benchmark needs Fashion-MNIST: {man.reason}")  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="vh-bench-") as tmp:
        mge_home = Path(tmp) / "mge_home"
        tree = mge_home / "hub" / hub_cache_dirname(*REPO.split("/"))
        shutil.copytree(ROOT / "zoo", tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # store.weights_url_for reads literals only; the zoo keeps its URLs in a dict, so ask
        # the module itself (this is the project's own repository, not card code).
        url = weights_url_for(tree, "fmnist_resnet") or subprocess.run(
            [sys.executable, "-c", "import hubconf; print(hubconf.WEIGHT_URLS['fmnist_resnet'])"],
            cwd=tree, env={**os.environ, "MGE_HOME": str(mge_home)}, check=True, capture_output=True,
            text=True).stdout.strip().splitlines()[-1]
        dest = mge_home / "serialized" / serialized_filename(url)
        dest.parent.mkdir(parents=True)
        found = [p for p in (ROOT / ".store").rglob("*") if p.is_file()] if (ROOT / ".store").is_dir() else []
        real = next((p for p in list((ROOT / "zoo" / "weights").glob("fmnist_resnet*.pkl")) + found
                     if p.name.startswith("fmnist_resnet") or p.name == url.rsplit("/", 1)[-1]), None)
        home = Path(tmp) / "home"
        home.mkdir()
        env = child_env(str(mge_home), str(home))
        if real is not None:
            shutil.copyfile(real, dest)
            weights = f"trained ({real.relative_to(ROOT)})"
        else:
            subprocess.run([sys.executable, "-c", MAKE_WEIGHTS, str(dest)], env=env, cwd=home, check=True,
                           capture_output=True)
            weights = "random init (trained weights not found; fine for a throughput benchmark)"
        n = args.limit or man.size
        spec = VerifySpec(path="benchmark", line=1, repo=REPO, dataset=man.dataset,
                          preprocess={"hub_entry": "preprocess_fmnist"}, batch_size=args.batch_size)
        job = EvalJob(card_id="benchmark", row="fmnist_resnet", entry="fmnist_resnet", spec=spec, dataset=man,
                      positions=tuple(range(n)), full=n == man.size, weights_url=url, weights_path=str(dest),
                      weights_sha256=sha256_file(dest), mge_home=str(mge_home), limit=args.limit,
                      batch_size=args.batch_size)
        res = run_job(job, EvalOptions(workers=args.workers, progress=False), cache=None)
        if isinstance(res, str):
            sys.exit(res)
        fwd = subprocess.run([sys.executable, "-c", FORWARD, str(args.batch_size), str(n)], env=env, cwd=home,
                             capture_output=True, text=True)
        if fwd.returncode != 0:
            sys.exit("forward benchmark failed: " + fwd.stderr.strip().splitlines()[-1])
        forward = json.loads(fwd.stdout.strip().splitlines()[-1])["images_per_s"]
    evaluate = float(res.provenance["images_per_s"])
    print(json.dumps({
        "model": "zoo fmnist_resnet", "weights": weights, "dataset": "fashion-mnist-test", "images": n,
        "batch_size": args.batch_size, "decode_workers": args.workers,
        "eval_images_per_s": round(evaluate, 1), "forward_images_per_s": round(forward, 1),
        "ratio": round(evaluate / forward, 3), "target_ratio": 0.9,
        "top1_correct": res.correct.get("top1"), "cpu": cpu_model(), "nproc": os.cpu_count(),
        "efficientnet_lite0": "not measured: the zoo's converted weights are not in the store",
    }, indent=1))


if __name__ == "__main__":
    main()

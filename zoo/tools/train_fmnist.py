"""Train the `fmnist_resnet` hub entry on Fashion-MNIST (CPU) and write its weight file.

Usage: python zoo/tools/train_fmnist.py [--epochs 1.3] [--seed 0] [--out zoo/weights]

Recipe: the model of zoo/models/fmnist_resnet.py as the hub entry builds it; no augmentation;
input = preprocess_fmnist (x/255, then (x - 0.286) / 0.353); Adam, batch 128, lr 2e-3 with
linear warm-up over 100 steps then cosine decay to 0, weight decay 1e-4; seeded shuffling
(numpy) and initialisation (megengine.random.seed). MegEngine's CPU convolution weight-gradient
is slow (~0.6 GMAC/s here), which is why the network is small and training is short.

At the end all 10,000 test images are evaluated in eval mode, in file order, batch 500; the
top-1 in percent with 3 decimals becomes the metric of the file name
(`fmnist_resnet_noaug_<round(top1*1000)>_<sha8>.pkl`), and `fmnist_resnet.json` records the
run. Training is not bit-reproducible across machines: the committed file is the artefact,
this script is how it was made. Older `fmnist_resnet_noaug_*.pkl` files in --out are removed.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import importlib.util
import io
import json
import math
import os
import pickle
import sys
import time

import numpy as np

ZOO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PICKLE_PROTOCOL = 4
AUG = "noaug"


def load_hubconf():
    spec = importlib.util.spec_from_file_location("verifiedhub_zoo_hubconf", os.path.join(ZOO, "hubconf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def evaluate(model, images: np.ndarray, labels: np.ndarray, preprocess, batch: int = 500) -> tuple[float, float]:
    """(top-1 %, top-5 %) over all images, eval mode."""
    import megengine as mge

    model.eval()
    top1 = top5 = 0
    for i in range(0, len(images), batch):
        logits = model(mge.tensor(preprocess(images[i: i + batch]))).numpy()
        y = labels[i: i + batch]
        order = np.argsort(-logits, axis=1, kind="stable")
        top1 += int((order[:, 0] == y).sum())
        top5 += int((order[:, :5] == y[:, None]).any(axis=1).sum())
    return 100.0 * top1 / len(images), 100.0 * top5 / len(images)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train fmnist_resnet (see module docstring)")
    ap.add_argument("--epochs", type=float, default=1.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--root", default=None, help="Fashion-MNIST directory (default: Debian's)")
    ap.add_argument("--out", default=os.path.join(ZOO, "weights"))
    args = ap.parse_args(argv)

    import megengine as mge
    import megengine.functional as F
    import megengine.optimizer as optim
    from megengine.autodiff import GradManager

    hubconf = load_hubconf()
    data = hubconf._fmnist_data
    root = args.root or data.DEFAULT_ROOT
    train_x, train_y = data.load("train", root=root)
    test_x, test_y = data.load("test", root=root)

    np.random.seed(args.seed)
    mge.random.seed(args.seed)
    rng = np.random.RandomState(args.seed)
    model = hubconf.fmnist_resnet(pretrained=False)
    n_params = int(sum(p.size for p in model.parameters()))
    gm = GradManager().attach(model.parameters())
    opt = optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)

    steps_per_epoch = len(train_x) // args.batch
    total = int(round(args.epochs * steps_per_epoch))
    warmup = min(100, total // 10)
    order = np.concatenate([rng.permutation(len(train_x)) for _ in range(int(math.ceil(args.epochs)))])
    t0 = time.time()
    model.train()
    running = 0.0
    for step in range(total):
        lr = args.lr * (step + 1) / warmup if step < warmup else \
            0.5 * args.lr * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = order[step * args.batch: (step + 1) * args.batch]
        x = mge.tensor(data.preprocess(train_x[idx]))
        y = mge.tensor(train_y[idx])
        with gm:
            loss = F.nn.cross_entropy(model(x), y)
            gm.backward(loss)
        opt.step().clear_grad()
        if step % 50 == 0 or step == total - 1:
            running = float(loss.numpy())
            print(f"step {step + 1}/{total} loss {running:.4f} lr {lr:.5f} {time.time() - t0:.0f}s", flush=True)
    train_seconds = time.time() - t0

    t1 = time.time()
    top1, top5 = evaluate(model, test_x, test_y, data.preprocess)
    eval_seconds = time.time() - t1
    state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(model.state_dict().items())}
    from collections import OrderedDict

    buf = io.BytesIO()
    mge.save(OrderedDict(state), buf, pickle_protocol=PICKLE_PROTOCOL)
    blob = buf.getvalue()
    sha = hashlib.sha256(blob).hexdigest()
    metric = int(round(top1 * 1000))
    name = f"fmnist_resnet_{AUG}_{metric:05d}_{sha[:8]}.pkl"
    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, f"fmnist_resnet_{AUG}_*.pkl")):
        os.remove(old)
    with open(os.path.join(args.out, name), "wb") as f:
        f.write(blob)
    record = {
        "file": name, "sha256": sha, "top1": round(top1, 3), "top5": round(top5, 3),
        "train_seconds": round(train_seconds, 1), "eval_seconds": round(eval_seconds, 1),
        "epochs": args.epochs, "steps": total, "batch": args.batch, "lr": args.lr, "seed": args.seed,
        "n_test": int(len(test_x)), "n_train": int(len(train_x)), "params": n_params,
        "preprocess": "x/255, then (x - 0.286) / 0.353", "megengine": mge.__version__,
    }
    with open(os.path.join(args.out, "fmnist_resnet.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    print(json.dumps(record))
    print(os.path.join(args.out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The evaluator's child process: load one hub entry with its real weights and count correct
top-k predictions over a dataset. Never imports `generator` (run as a script, `python -I`).

    python -I evaluate_child.py JOB.json RESULT.json

JOB.json: {repo, entry, git_host, commit, entry_kwargs, batch_size, workers, topk: [1, 5],
           preprocess: {...} | {hub_entry: name},
           dataset: {kind, root, files, items: [...], labels: [...]}, progress_every_s}
RESULT.json: {n, correct: {top1: k, top5: k}, wall_s, load_s, eval_s, images_per_s,
              forward_images_per_s, versions}

Decoding and preprocessing run in a producer thread (OpenCV and numpy release the GIL) that
keeps a small queue of ready batches, so the forward pass never waits when decoding is faster
than the model. Order is fixed (manifest order), the model is in eval mode, and ties in the
logits are broken by class index, so two runs give the same counts.
"""

from __future__ import annotations

import gzip
import json
import os
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np


def _idx_images(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[:4], "big") != 0x803:
        raise ValueError(f"{path} is not an idx3 image file")
    n, h, w = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, h, w)


class Source:
    """Item id -> decoded image (HxW or HxWx3 BGR, as stored)."""

    def __init__(self, ds: dict) -> None:
        self.kind = ds["kind"]
        self.root = ds["root"]
        self.array: np.ndarray | None = None
        if self.kind == "idx-gz":
            self.array = _idx_images(ds["files"]["images"])
        elif self.kind == "npz":
            with np.load(ds["files"]["npz"]) as z:
                self.array = np.asarray(z["images"])

    def load(self, item: str) -> np.ndarray:
        if self.array is not None:
            return self.array[int(item)]
        import cv2

        img = cv2.imread(os.path.join(self.root, item), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot decode {item}")
        return img


Transform = Callable[[np.ndarray], np.ndarray]  # one decoded H x W (x C) image -> C x H x W


def _declarative(spec: dict[str, Any]) -> Transform:
    import cv2
    import megengine.data.transform as T

    order = spec.get("channel_order", "BGR")
    steps = []
    if spec.get("resize"):
        steps.append(T.Resize(int(spec["resize"])))
    if spec.get("crop"):
        steps.append(T.CenterCrop(int(spec["crop"])))
    geometry = T.Compose(steps) if steps else None
    scale = float(spec.get("scale", 1.0))
    mean = np.asarray(spec.get("mean", [0.0]), dtype=np.float32)
    std = np.asarray(spec.get("std", [1.0]), dtype=np.float32)

    def apply(img: np.ndarray) -> np.ndarray:
        if img.ndim == 2:
            img = img[:, :, None]
        if order == "RGB" and img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        elif order == "GRAY" and img.shape[2] == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)[:, :, None]
        if geometry is not None:
            img = geometry.apply(img)
            if img.ndim == 2:  # OpenCV drops a single channel when resizing
                img = img[:, :, None]
        x = img.astype(np.float32)
        if scale != 1.0:
            x *= scale
        x = (x - mean) / std
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    return apply


def _hub_entry(fn: Callable[[np.ndarray], Any], order: str) -> Transform:
    """A repository's own preprocessing function. Hub repos write them batch-wise (the zoo's
    preprocess_fmnist takes N x H x W, preprocess_imagenet one H x W x 3 image and returns
    1 x C x H x W), so a grey image goes in as a batch of one and a leading batch axis of one
    comes off."""
    import cv2

    def apply(img: np.ndarray) -> np.ndarray:
        if img.ndim == 3 and order == "RGB":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        x = np.asarray(fn(img[None] if img.ndim == 2 else img))
        return x[0] if x.ndim == 4 else x

    return apply


def main(job_path: str, result_path: str) -> int:
    t0 = time.perf_counter()
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    import megengine
    import megengine.hub as hub

    hub_args = dict(git_host=job.get("git_host", "github.com"), commit=job.get("commit"))
    model = hub.load(job["repo"], job["entry"], pretrained=True, **hub_args, **job.get("entry_kwargs", {}))
    model.eval()
    pre = job["preprocess"]
    if "hub_entry" in pre:
        transform = _hub_entry(getattr(hub.import_module(job["repo"], **hub_args), pre["hub_entry"]), pre.get("channel_order", "BGR"))
    else:
        transform = _declarative(pre)

    ds = job["dataset"]
    items, labels = ds["items"], np.asarray(ds["labels"], dtype=np.int64)
    source = Source(ds)
    bs = int(job.get("batch_size", 32))
    topk = [int(k) for k in job.get("topk", [1, 5])]
    load_s = time.perf_counter() - t0

    batches: queue.Queue = queue.Queue(maxsize=4)
    pool = ThreadPoolExecutor(max(1, int(job.get("workers", 1))))

    def one(item: str) -> np.ndarray:
        return np.asarray(transform(source.load(item)), dtype=np.float32)

    def produce() -> None:
        try:
            for start in range(0, len(items), bs):
                chunk = items[start:start + bs]
                batches.put((start, np.stack(list(pool.map(one, chunk)))))
            batches.put(None)
        except BaseException as exc:  # hand the error to the consumer, which reports it
            batches.put(exc)

    threading.Thread(target=produce, daemon=True).start()
    correct = {f"top{k}": 0 for k in topk}
    done = 0
    forward_s = 0.0
    t_eval = time.perf_counter()
    last = t_eval
    every = float(job.get("progress_every_s", 2.0))
    label = f"eval {job['entry']} {ds.get('id', '')}"
    while True:
        got = batches.get()
        if got is None:
            break
        if isinstance(got, BaseException):
            raise got
        start, x = got
        tf = time.perf_counter()
        logits = model(megengine.tensor(x)).numpy()
        forward_s += time.perf_counter() - tf
        y = labels[start:start + len(x)]
        # stable sort on -logits: ties go to the lower class index, deterministically
        order = np.argsort(-logits, axis=1, kind="stable")
        for k in topk:
            kk = min(k, logits.shape[1])
            correct[f"top{k}"] += int((order[:, :kk] == y[:, None]).any(axis=1).sum())
        done += len(x)
        now = time.perf_counter()
        if now - last >= every:
            print(f"{label}: {done}/{len(items)} images, {done / (now - t_eval):.1f} images/s",
                  file=sys.stderr, flush=True)
            last = now
    eval_s = time.perf_counter() - t_eval
    classes = logits.shape[1] if done else 0
    for k in topk:
        if k > classes:
            correct.pop(f"top{k}")  # top-5 of a 3-class model says nothing
    print(f"{label}: {done}/{len(items)} images, {done / max(eval_s, 1e-9):.1f} images/s (done)",
          file=sys.stderr, flush=True)
    result = {
        "n": done,
        "correct": correct,
        "wall_s": time.perf_counter() - t0,
        "load_s": load_s,
        "eval_s": eval_s,
        "images_per_s": done / max(eval_s, 1e-9),
        "forward_images_per_s": done / max(forward_s, 1e-9),
        "versions": {"megengine": megengine.__version__, "numpy": np.__version__},
    }
    with open(result_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(result_path + ".tmp", result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))

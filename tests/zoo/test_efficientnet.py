"""EfficientNet-Lite0 in MegEngine against an independent numpy forward, and on real photos."""

from __future__ import annotations

import json

import numpy as np
import pytest

from . import numpy_effnet
from .conftest import ZOO, run_child

CHILD = r"""
import json, sys, collections, importlib.util, numpy as np
import megengine as mge, megengine.functional as F
import skimage.data
spec = importlib.util.spec_from_file_location("hubconf", {hubconf!r})
hub = importlib.util.module_from_spec(spec); spec.loader.exec_module(hub)
state = mge.load({weights!r})
model = hub.efficientnet_lite0(pretrained=False)
model.load_state_dict(state, strict=True)
model.eval()
out = {{"keys_match": sorted(state) == sorted(model.state_dict())}}
acts = {{}}
for name, img in (("chelsea", skimage.data.chelsea()), ("coffee", skimage.data.coffee())):
    x = mge.tensor(hub.preprocess_imagenet(img))
    if name == "chelsea":
        np.save({tmp!r} + "/input.npy", x.numpy())
        y = model.stem(x); acts["stem"] = y.numpy()[0]
        for i, b in enumerate(model.blocks):
            y = b(y); acts[f"block{{i}}"] = y.numpy()[0]
    logits = model(x).numpy()[0]
    acts[name + "_logits"] = logits
    p = F.softmax(mge.tensor(logits[None]), axis=1).numpy()[0]
    top = np.argsort(-p)[:3]
    out[name] = {{"top": top.tolist(), "prob": [float(p[i]) for i in top]}}
# megengine.save with protocol 4 writes exactly the converter's bytes.
import io
buf = io.BytesIO(); mge.save(collections.OrderedDict(state), buf, pickle_protocol=4)
out["save_identical"] = buf.getvalue() == open({weights!r}, "rb").read()
np.savez({tmp!r} + "/acts.npz", **acts)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, effnet_weights):
    tmp = tmp_path_factory.mktemp("effnet_run")
    code = CHILD.format(hubconf=str(ZOO / "hubconf.py"), weights=str(effnet_weights), tmp=str(tmp))
    result = run_child(code, tmp)  # an empty MGE_HOME: nothing is fetched here
    acts = dict(np.load(tmp / "acts.npz"))
    x = np.load(tmp / "input.npy")
    return result, acts, x


@pytest.mark.megengine
def test_loads_strict(run):
    result, _, _ = run
    assert result["keys_match"]
    assert result["save_identical"]


@pytest.mark.megengine
def test_matches_numpy_reference(run, legacy_state):
    _, acts, x = run
    ref = numpy_effnet.forward(legacy_state, x[0])
    for name in ["stem"] + [f"block{i}" for i in range(16)]:
        assert acts[name].shape == ref[name].shape, name
        scale = max(1.0, float(np.abs(ref[name]).max()))
        err = float(np.abs(acts[name] - ref[name]).max())
        assert err < 1e-4 * scale, (name, err, scale)
    err = float(np.abs(acts["chelsea_logits"] - ref["logits"]).max())
    assert err < 1e-3, err
    print(f"max |delta| logits megengine vs numpy: {err:.3g}")


@pytest.mark.megengine
def test_chelsea_is_tiger_cat(run):
    result, _, _ = run
    assert result["chelsea"]["top"][0] == 282
    assert abs(result["chelsea"]["prob"][0] - 0.41) < 0.02
    assert result["chelsea"]["top"][:3] == [282, 285, 281]


@pytest.mark.megengine
def test_coffee_is_espresso(run):
    result, _, _ = run
    assert result["coffee"]["top"][0] == 967
    assert result["coffee"]["prob"][0] > 0.9

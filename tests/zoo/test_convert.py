"""The legacy-format reader and the EfficientNet-Lite0 converter (no MegEngine needed)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import ZOO, converter, weight_urls


def test_reads_all_296_tensors(legacy_state):
    assert len(legacy_state) == 296
    assert legacy_state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert legacy_state["_fc.weight"].shape == (1000, 1280)
    assert legacy_state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    counters = [k for k in legacy_state if k.endswith("num_batches_tracked")]
    assert len(counters) == 49 and all(legacy_state[k].dtype == np.int64 for k in counters)
    floats = [v for k, v in legacy_state.items() if k not in counters]
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in floats)
    # Misaligned storage bytes would give negative or absurd variances. (Some channels are
    # exactly 0: dead channels of the TF checkpoint.)
    variances = np.concatenate([v for k, v in legacy_state.items() if k.endswith("running_var")])
    assert variances.min() >= 0 and (variances > 0).mean() > 0.99 and variances.max() < 1e4
    assert float(np.abs(legacy_state["_fc.weight"]).mean()) > 1e-3


def test_no_squeeze_excite_in_checkpoint(legacy_state):
    assert not any("_se_" in k for k in legacy_state)


def test_converted_names_and_layouts(legacy_state):
    out = converter.convert(legacy_state)
    assert len(out) == 296 - 49
    assert list(out) == sorted(out)
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in out.values())
    assert out["stem.conv.weight"].shape == (32, 3, 3, 3)
    assert out["blocks.0.depthwise.conv.weight"].shape == (32, 1, 1, 3, 3)
    assert out["blocks.3.depthwise.conv.weight"].shape == (144, 1, 1, 5, 5)
    assert out["blocks.1.expand.conv.weight"].shape == (96, 16, 1, 1)
    assert "blocks.0.expand.conv.weight" not in out
    assert out["fc.weight"].shape == (1000, 1280) and out["fc.bias"].shape == (1000,)
    np.testing.assert_array_equal(
        out["blocks.3.depthwise.conv.weight"][:, 0], legacy_state["_blocks.3._depthwise_conv.weight"]
    )


def test_bytes_are_deterministic_and_named_as_in_hubconf(legacy_state, effnet_weights):
    a = converter.serialize(converter.convert(legacy_state))
    with open(converter.default_source(), "rb") as f:
        b = converter.serialize(converter.convert(converter.read_legacy(f)))
    assert a == b == effnet_weights.read_bytes()
    assert os.path.basename(weight_urls()["efficientnet_lite0"]) == effnet_weights.name
    assert effnet_weights.name == converter.weight_file_name(a)


def test_cli_prints_the_output_path(tmp_path, effnet_weights):
    proc = subprocess.run(
        [sys.executable, str(ZOO / "tools" / "convert_efficientnet_lite0.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    path = proc.stdout.strip()
    assert path == str(tmp_path / effnet_weights.name)
    assert Path(path).read_bytes() == effnet_weights.read_bytes()


def test_reader_refuses_foreign_globals():
    evil = io.BytesIO()
    for obj in (converter.LEGACY_MAGIC, converter.LEGACY_PROTOCOL, {"little_endian": True}):
        pickle.dump(obj, evil, 2)
    evil.write(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.")
    evil.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="refusing global os.system"):
        converter.read_legacy(evil)


def test_reader_rejects_a_non_legacy_file():
    with pytest.raises(ValueError, match="magic"):
        converter.read_legacy(io.BytesIO(pickle.dumps(42, 2)))


def test_reader_detects_truncation():
    with open(converter.default_source(), "rb") as f:
        data = f.read()
    with pytest.raises(ValueError, match="truncated"):
        converter.read_legacy(io.BytesIO(data[:-100]))

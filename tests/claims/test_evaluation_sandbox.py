"""Evaluation children run in the same sandbox as snippet runs (run/sandbox.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from generator.claims.evaluate import child_env, launch, write_stream
from generator.run import sandbox

pytestmark = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")

PROBE = """
import json, os, resource, socket, sys
print("secret", os.environ.get("FAKE_SECRET_TOKEN"), file=sys.stderr)
print("as", resource.getrlimit(resource.RLIMIT_AS)[0], file=sys.stderr)
print("core", resource.getrlimit(resource.RLIMIT_CORE)[0], file=sys.stderr)
print("ifaces", sorted(n for _, n in socket.if_nameindex()), file=sys.stderr)
print("checkout", os.path.exists({checkout!r}), file=sys.stderr)
print("datasets", os.path.exists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"), file=sys.stderr)
header = json.loads(sys.stdin.buffer.readline())
print("header", sorted(header), file=sys.stderr)
"""


def test_evaluation_child_is_sandboxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SECRET_TOKEN", "do-not-leak")
    checkout = Path(__file__).resolve().parents[2] / "README.md"
    script = tmp_path / "probe.py"
    script.write_text(PROBE.format(checkout=str(checkout)), encoding="utf-8")
    mge = tmp_path / "mge"
    mge.mkdir()
    with sandbox.open_sandbox(isolate=True, memory_bytes=2 * 2**30, pids=64, disk_bytes=2**28,
                              wall_s=60, mge_home=mge, binds=[script],
                              hide=[Path("/usr/share/datasets/fashion-mnist")]) as box:
        ended, tail = launch([sys.executable, "-I", str(script)], child_env(str(mge), str(box.writable)),
                             box, progress=False,
                             feed=lambda out: write_stream({"count": 1, "format": "encoded"}, [b"x"], out))
    assert ended.exit_code == 0, tail
    lines = dict(line.split(" ", 1) for line in tail.splitlines())
    assert lines["secret"] == "None"
    assert int(lines["as"]) == -1  # no address-space cap: MegEngine maps far more than it uses
    assert lines["core"] == "0"
    assert lines["ifaces"] == "['lo']"
    assert lines["checkout"] == "False"
    assert lines["datasets"] == "False"  # /usr/share is there; a hidden dataset, labels and all, is not
    assert lines["header"] == "['count', 'format']"  # images only: no names, no labels

"""Evaluation children get the same sandbox as snippet runs (sandbox.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from generator.run import sandbox
from generator.claims.evaluate import child_env, launch

PROBE = """
import os, resource, socket, sys
print("secret", os.environ.get("FAKE_SECRET_TOKEN"), file=sys.stderr)
print("as", resource.getrlimit(resource.RLIMIT_AS)[0], file=sys.stderr)
print("core", resource.getrlimit(resource.RLIMIT_CORE)[0], file=sys.stderr)
print("ifaces", sorted(n for _, n in socket.if_nameindex()), file=sys.stderr)
"""


def test_evaluation_child_is_sandboxed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SECRET_TOKEN", "do-not-leak")
    script = tmp_path / "probe.py"
    script.write_text(PROBE, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    rc, tail = launch([sys.executable, "-I", str(script)], child_env(str(tmp_path / "mge"), str(home)),
                      str(home), timeout_s=60, progress=False)
    assert rc == 0, tail
    lines = dict(line.split(" ", 1) for line in tail.splitlines())
    assert lines["secret"] == "None"
    assert int(lines["as"]) == sandbox.DEFAULT_MEMORY_BYTES
    assert lines["core"] == "0"
    if sandbox.network_prefix():
        assert lines["ifaces"] in ("['lo']", "[]")

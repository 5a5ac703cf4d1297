"""The run cache key covers the environment a program runs in: every installed distribution and
its version, the Python version, and the sandbox's settings and limits (not only MegEngine's
version), so installing the package a hub repository needs makes its cached failure stale.
(The same with real runs, end to end: tests/claims/test_real_card_shapes.py.)"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from exec_support import load_card
from generator.run import plan as run_plan
from generator.run.plan import Limits, installed_distributions, plan_programs, program_key


def _key(limits: Limits = Limits()) -> str:
    (p,) = plan_programs(load_card("exec_pass.md"))[:1]
    return program_key(p, "assets", limits)


def test_the_key_changes_with_the_installed_distributions(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _key()
    assert _key() == before  # stable
    monkeypatch.setattr(run_plan, "installed_distributions",
                        lambda: [*installed_distributions(), ("ftfy", "6.1.1")])
    run_plan.environment_digest.cache_clear()
    try:
        assert _key() != before, "installing a package must make cached runs stale"
        monkeypatch.setattr(run_plan, "installed_distributions",
                            lambda: [(n, "0.0" if n == "numpy" else v) for n, v in installed_distributions()])
        run_plan.environment_digest.cache_clear()
        assert _key() != before, "another version of any package too"
    finally:
        monkeypatch.undo()
        run_plan.environment_digest.cache_clear()
    assert _key() == before


def test_the_key_changes_with_the_limits() -> None:
    base = Limits()
    assert _key(replace(base, memory_bytes=base.memory_bytes // 2)) != _key(base)
    assert _key(replace(base, startup_s=base.startup_s + 1)) != _key(base)


def test_distributions_are_read_from_the_metadata_on_sys_path(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ftfy-6.1.1.dist-info").mkdir()
    (tmp_path / "oldstyle.egg-info").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    got = installed_distributions()
    assert ("ftfy", "6.1.1") in got and any(name == "oldstyle" for name, _ in got)

"""The command line as a user meets it: exit codes, every problem in one run, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HUB_STORE"}
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_reports_every_problem_of_every_card_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "cards"
    bad.mkdir()
    (bad / "tags.yaml").write_text((ROOT / "cards" / "tags.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    expected: list[str] = []
    for card in sorted((HERE / "parse" / "bad").glob("*.md")):
        (bad / card.name).write_text(card.read_text(encoding="utf-8"), encoding="utf-8")
        expected += [line.replace("bad/", "cards/", 1)
                     for line in card.with_suffix(".expected").read_text(encoding="utf-8").splitlines()]
    proc = run_cli("check", "--cards", "cards", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    got = [line for line in proc.stderr.splitlines() if ": error: " in line or ": warning: " in line]
    assert sorted(got) == sorted(expected)
    n_errors = sum(1 for line in expected if ": error: " in line)
    assert f"{n_errors} error(s)" in proc.stderr


def test_check_accepts_the_bundled_cards() -> None:
    proc = run_cli("check")
    assert proc.returncode == 0, proc.stderr
    assert "card(s) OK" in proc.stderr


def test_missing_tag_registry_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "x.md").write_text((ROOT / "cards" / "megengine_vision_resnet.md").read_text(encoding="utf-8"), encoding="utf-8")
    proc = run_cli("check", cwd=tmp_path)
    assert proc.returncode == 2
    assert "cards/tags.yaml:1: error: tag registry tags.yaml is missing" in proc.stderr


def test_fetch_store_option_puts_the_file_into_that_store(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "cards").mkdir(parents=True)
    (project / "cards" / "store.lock.json").write_text('{"version": 1, "items": []}\n', encoding="utf-8")
    blob = tmp_path / "w.pkl"
    blob.write_bytes(b"weights")
    store = tmp_path / "elsewhere"
    proc = run_cli("fetch", "--project", str(project), "--store", str(store), "--from", str(blob),
                   "--url", "https://cdn.example/w.pkl", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    objects = [p for p in (store / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 1 and objects[0].read_bytes() == b"weights"
    assert "https://cdn.example/w.pkl" in (project / "cards" / "store.lock.json").read_text(encoding="utf-8")


def test_fetch_and_build_read_the_lock_of_the_cards_folder_they_are_given(tmp_path: Path) -> None:
    cards = tmp_path / "mycards"
    cards.mkdir()
    (cards / "store.lock.json").write_text('{"version": 1, "items": []}\n', encoding="utf-8")
    blob = tmp_path / "f.bin"
    blob.write_bytes(b"x")
    proc = run_cli("fetch", "--cards", str(cards), "--store", str(tmp_path / "s"), "--from", str(blob),
                   "--url", "https://cdn.example/f.bin", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "https://cdn.example/f.bin" in (cards / "store.lock.json").read_text(encoding="utf-8")


def test_an_environment_failure_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """How the sandbox (or any stage) says the machine failed: EnvironmentFailure -> exit 3."""
    import generator.cli.check as check
    from generator.cli import ExitCode, main
    from generator.core.errors import EnvironmentFailure

    def sandbox_missing(cfg: object, args: object) -> int:
        raise EnvironmentFailure("the sandbox is missing: unshare is not installed\n(second line)")

    monkeypatch.setattr(check, "run", sandbox_missing)
    assert main(["check", "--cards", str(ROOT / "cards")]) == ExitCode.ENVIRONMENT == 3
    err = capsys.readouterr().err
    assert err == "build-site: error: the sandbox is missing: unshare is not installed (second line)\n"


def test_strict_with_no_verify_is_refused_before_anything_is_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    out = tmp_path / "site"
    (out / "verify").mkdir(parents=True)
    (out / "verify" / "report.json").write_text("{}")
    r = subprocess.run([sys.executable, "-m", "generator", "build", "--strict", "--no-verify", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "--strict with --no-verify" in r.stderr and "Traceback" not in r.stderr
    assert (out / "verify" / "report.json").read_text() == "{}"

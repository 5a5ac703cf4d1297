"""What a build prints, read as a CI log is read: every bad block and every drifted number as
`path:line: level: message [code]` at the card line it went wrong on (warnings in a plain build,
errors and exit 1 under --strict), totals that are the sum of the per-program lines, and the
warning of a build without --base-url.

The cards (tests/cli/cards/) need no MegEngine: plain Python in the real sandbox, one card whose
languages run different programs (so its prelude runs twice), one whose languages share one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SPLIT = "cards/cli_split.md"


def run_cli(command: str, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`build-site COMMAND` on `project` with its own store, none of the machine's data folders."""
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_STORE", "IMAGENET_VAL_DIR")}
    return subprocess.run([sys.executable, "-m", "generator", command, "--project", str(project),
                           "--store", str(project / "store"), *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)


def build(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("build", project, *args)


def card_line(text: str) -> int:
    """The 1-based line of the cards' fixture that holds `text` (so edits to it move the test)."""
    lines = (HERE / SPLIT).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    project = tmp_path_factory.mktemp("cli") / "project"
    shutil.copytree(HERE / "cards", project / "cards")
    plain = build(project)
    # --rerun: the programs run again, so the progress lines are not only cache hits
    strict = build(project, "--strict", "--rerun", "--base-url", "https://hub.example.org/")
    return {"plain": plain, "strict": strict}


def diagnostics(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(r"^\S+:\d+: (error|warning): ", line)]


def test_a_plain_build_warns_at_the_failing_line_and_exits_0(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = runs["plain"]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    fence = card_line('print("en starts")') - 1
    # the innermost frame inside the card: the prelude's function the en_US block called
    failing = card_line("return value / 0")
    assert (f"{SPLIT}:{failing}: warning: en_US block 1 (starts at line {fence}) failed (the card's code): "
            "ZeroDivisionError: division by zero [snippet-failed]") in diagnostics(proc.stderr)
    # both rows of a number the languages disagree on, each at its own table row
    zh_row, en_row = card_line("| TinyNet | 71.0 |"), card_line("| TinyNet | 72.0 |")
    mismatched = sorted(d for d in diagnostics(proc.stderr) if d.endswith("[claim-mismatch]"))
    assert [d.split(": ")[0] for d in mismatched] == [f"{SPLIT}:{zh_row}", f"{SPLIT}:{en_row}"]
    assert all(": warning: TinyNet / Top1 acc = " in d for d in mismatched)
    assert len(diagnostics(proc.stderr)) == 3
    assert "--strict:" not in proc.stderr


def test_strict_makes_the_same_lines_errors_and_exits_1(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    plain, strict = runs["plain"], runs["strict"]
    assert strict.returncode == 1, strict.stderr
    assert diagnostics(strict.stderr) == [d.replace(": warning: ", ": error: ", 1) for d in diagnostics(plain.stderr)]
    assert "build-site: --strict: 3 problem(s) (1 failed: the card's code, 2 mismatch: a number of the card)" in strict.stderr


def _counts(text: str) -> Counter[str]:
    """"1 failed (the card's code), 5 passed" -> {"failed": 1, "passed": 5}"""
    out: Counter[str] = Counter()
    for part in text.split(", "):
        m = re.fullmatch(r"(\d+) ([a-z-]+)(?: \(.*\))?", part.strip())
        assert m, part
        out[m.group(2)] += int(m.group(1))
    return out


@pytest.mark.parametrize("which", ["plain", "strict"])
def test_the_summary_is_the_sum_of_the_per_program_lines(runs: dict[str, subprocess.CompletedProcess[str]],
                                                          which: str) -> None:
    stderr = runs[which].stderr
    lines = [m for m in re.finditer(r"^\[(\d+)/(\d+)\] (\S+) (\S+): (.*?)(?: \(([^()]*)\))?$", stderr, re.M)]
    assert len(lines) == 3, stderr  # cli_split runs twice (its languages differ), cli_same once
    summed: Counter[str] = Counter()
    for m in lines:
        summed += _counts(m.group(5))
    summary = re.search(r"; code blocks: (.*?); numbers: (.*?) \(read ", stderr)
    assert summary, stderr
    assert _counts(summary.group(1)) == summed
    # every distinct block once: 7 blocks in the two cards (the split card's prelude counted once)
    assert sum(summed.values()) == 7 and summed == Counter(passed=5, failed=1, skipped=1)
    assert _counts(summary.group(2)) == Counter(mismatch=2)
    # the prelude's second run says where it was counted
    second = next(m for m in lines if m.group(3) == "cli_split" and m.group(4) == "en_US")
    assert "prelude counted with zh_CN" in (second.group(6) or "")


def test_without_base_url_the_build_warns_about_the_sitemap(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    warned = [line for line in runs["plain"].stderr.splitlines() if line.startswith("build-site: warning: no --base-url: ")]
    assert len(warned) == 1 and "sitemap.xml" in warned[0] and "https://example.invalid/" in warned[0]
    assert "--base-url https://" in warned[0]  # how to fix it
    assert "no --base-url" not in runs["strict"].stderr


def test_the_cycle_collector_stays_off_only_when_the_process_ends_with_the_build(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import gc

    from generator import cli
    from generator.cli import build as build_cmd
    from generator.cli.config import Config

    def fake_build(cfg: Config, later: object = None) -> int:  # test double: no real build
        assert not gc.isenabled()
        return 0

    monkeypatch.setattr(build_cmd, "_build", fake_build)
    cfg = Config(project=tmp_path, cards=tmp_path / "cards", templates=tmp_path / "templates",
                 out=tmp_path / "site", store=tmp_path / "store", cache=tmp_path / ".cache", verify=False)
    assert gc.isenabled()
    try:
        monkeypatch.setattr(cli, "PROCESS_ENDS_WITH_COMMAND", False)
        assert build_cmd.run(cfg, argparse.Namespace()) == 0 and gc.isenabled()
        assert build_cmd.build(cfg) == 0 and gc.isenabled()  # serve's builds: always on again
        monkeypatch.setattr(cli, "PROCESS_ENDS_WITH_COMMAND", True)
        assert build_cmd.run(cfg, argparse.Namespace()) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()

"""`build-site eval --card ID`: only the named cards are planned; an id no card has stops the
command with one `<command line>:1: error:` line that names it and the cards there are."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from test_build_output import run_cli  # the same command line, with `eval`

HERE = Path(__file__).parent


def _eval(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("eval", project, *args)


def test_an_unknown_card_id_is_one_clear_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(HERE / "cards", project / "cards")
    proc = _eval(project, "--card", "cli_split", "--card", "no_such_card")
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("<command line>:1: error: --card no_such_card: no card has this id"), errors
    assert "cli_same" in errors[0] and "cli_split" in errors[0]
    assert "Traceback" not in proc.stderr


def test_a_known_card_id_is_accepted(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(HERE / "cards", project / "cards")
    proc = _eval(project, "--card", "cli_split")
    assert proc.returncode == 0, proc.stderr
    assert "0 of 0 job(s)" in proc.stderr  # these cards state no evaluable numbers

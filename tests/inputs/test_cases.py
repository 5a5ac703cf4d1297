"""Broken and hostile inputs (cases/*.yaml, see input_cases.py): each gives its exact diagnostics
and exit code within its time bound: never a traceback, a hang, or a file outside the output."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from input_cases import Case, can_mount, expected_lines, line_matches, load_cases, run_case

CASES = load_cases()
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MOUNT_OK = can_mount()


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    marks = []
    if case.megengine:
        marks.append(pytest.mark.megengine)
    if case.mount:
        marks.append(pytest.mark.skipif(not MOUNT_OK, reason="needs unshare -m and tmpfs mounts"))
    return marks


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=_marks(c)) for c in CASES])
def test_case(case: Case, tmp_path: Path) -> None:
    got = run_case(case, tmp_path)
    project = tmp_path / "work" / "project"
    assert "Traceback" not in got.stderr, got.stderr
    assert got.code == case.exit, got.stderr
    lines = got.stderr.splitlines()
    want = expected_lines(case, project)
    for expected in want:
        assert any(line_matches(expected, line) for line in lines), f"missing: {expected}\n{got.stderr}"
    if case.exact:
        extra = [d for d in got.diagnostics if not any(line_matches(e, d) for e in want)]
        assert not extra, f"unexpected diagnostics: {extra}"
    assert got.seconds <= case.seconds, f"took {got.seconds:.1f} s (bound {case.seconds} s)"
    assert not got.written_outside, f"written outside the output folder: {got.written_outside}"
    for rel in case.absent:
        assert not (project / rel).exists() and not (project / rel).is_symlink(), rel
    for rel in case.present:
        assert (project / rel).exists(), rel
    for rel in case.xml:
        ET.parse(project / rel)  # well-formed, whatever the snippets printed
    # Nothing a card or its code printed reaches the terminal as a control character.
    assert not CONTROL.search(got.stderr), repr(CONTROL.search(got.stderr))


def test_the_corpus_covers_every_kind_of_input_problem() -> None:
    codes = {line.rsplit("[", 1)[1].rstrip("]") for c in CASES for line in c.lines if line.endswith("]")}
    assert {"encoding", "not-a-file", "too-large", "yaml-limit", "bad-id", "bad-filename", "bad-mark"} <= codes
    assert {c.exit for c in CASES} >= {0, 1, 2, 3}

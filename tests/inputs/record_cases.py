"""Run every case of the corpus for real and print what a user sees: exit code, wall time and
the lines stderr gave (a Markdown table, for the issue's notes).

    .venv/bin/python tests/inputs/record_cases.py [name ...] > cases.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from input_cases import can_mount, load_cases, run_case  # noqa: E402


def main(names: list[str]) -> None:
    mount_ok = can_mount()
    print("| case | what | exit | seconds | stderr (diagnostics, or the last line) |")
    print("| --- | --- | --- | --- | --- |")
    for case in load_cases():
        if names and case.name not in names:
            continue
        if case.mount and not mount_ok:
            print(f"| {case.name} | {case.about} | skipped | | needs unshare -m |")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            got = run_case(case, Path(tmp))
            project = str(Path(tmp) / "work" / "project")
        said = [ln for ln in got.stderr.splitlines() if "cache: ignoring" in ln]
        lines = said + (got.diagnostics or got.stderr.strip().splitlines()[-1:])
        shown = "<br>".join(ln.replace(project, "<project>").replace("|", "\\|") for ln in lines)
        print(f"| {case.name} | {case.about} | {got.code} | {got.seconds:.2f} | {shown} |")


if __name__ == "__main__":
    main(sys.argv[1:])

"""The hostile-input corpus: each `cases/<name>.yaml` builds a project folder, runs `build-site`
as a user would (a subprocess, with a timeout), and states the exit code, the lines stderr must
hold and how long it may take. `test_cases.py` asserts them; `record_cases.py` prints the table
of observed messages and times.

A case file:

    about: what a user or an attacker does
    run: [check]                    # build-site arguments; {project} and {out} are filled in
    files:                          # on top of the base project (cards/tags.yaml, cards/good.md)
      cards/x.md: "text"            #   UTF-8 text
      cards/y.md: {hex: "80"}       #   raw bytes
      cards/z.md: {base: good.md, replace: {old: new}, encoding: latin-1}   # a base/ file, edited
      cards/i18n.yaml: {copy: templates/i18n.yaml, append: "..."}      # a file of the checkout
      cards/big.md: {size: 9000000}  #   that many bytes
      cards/deep.yaml: {text: "a: ", nest: {depth: 100000, open: "[", close: "]"}}
      cards/l.md: {symlink: /dev/zero}
      cards/f.md: {fifo: true}
      cards/d.md: {dir: true}
      cards/good.md: {remove: true}
    before: [[build, --no-verify]]  # commands that must succeed first
    edit_json: {glob: ".cache/runs/**/*.json", set: {blocks: [1]}}   # then change what they wrote
    leftovers: [.site.new-4242]     # folders a killed build left beside the output
    mount: {size: 48k} | {readonly: true}   # the output's parent is a tmpfs (needs unshare -m)
    hold_lock: true                 # another build holds the output's lock meanwhile
    exit: 2
    lines: ["cards/y.md:1: error: not valid UTF-8 (byte 0x80 at column 1) [encoding]"]   # or "re:..."
    exact: true                     # the diagnostics (path:line: level: ...) are exactly `lines`'
    seconds: 10                     # wall-time bound
    absent: [site]                  # paths (relative to the project) that must not exist after
    present: [site/index.html]      # ... and that must
    allow: [j.xml]                  # files the command may write outside the output (--junit)
    xml: [j.xml]                    # files that must be well-formed XML
    megengine: true                 # runs card snippets in the sandbox (marked like those tests)

Every case also checks: no traceback, and nothing written outside the output folder (besides
its lock, the caches and the store).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = HERE / "cases"
BASE = HERE / "base"
DIAGNOSTIC = re.compile(r"^.+:\d+: (error|warning): .+ \[[a-z0-9-]+\]$")


@dataclass(frozen=True)
class Case:
    name: str
    about: str
    run: tuple[str, ...]
    exit: int
    lines: tuple[str, ...] = ()
    files: Mapping[str, Any] = field(default_factory=dict)
    before: tuple[tuple[str, ...], ...] = ()
    edit_json: Mapping[str, Any] = field(default_factory=dict)
    leftovers: tuple[str, ...] = ()
    mount: Mapping[str, Any] = field(default_factory=dict)
    hold_lock: bool = False
    exact: bool = True
    seconds: float = 15.0
    absent: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()
    xml: tuple[str, ...] = ()
    megengine: bool = False  # runs snippets (a real sandboxed child)


def load_cases() -> list[Case]:
    out = []
    for path in sorted(CASES.glob("*.yaml")):
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.append(Case(
            name=path.stem, about=d["about"], run=tuple(d["run"]), exit=d["exit"],
            lines=tuple(d.get("lines", ())), files=d.get("files", {}),
            before=tuple(tuple(b) for b in d.get("before", ())), edit_json=d.get("edit_json", {}),
            leftovers=tuple(d.get("leftovers", ())), mount=d.get("mount", {}),
            hold_lock=bool(d.get("hold_lock", False)), exact=d.get("exact", True),
            seconds=float(d.get("seconds", 15)), absent=tuple(d.get("absent", ())),
            present=tuple(d.get("present", ())), allow=tuple(d.get("allow", ())),
            xml=tuple(d.get("xml", ())), megengine=bool(d.get("megengine", False))))
    return out


# ---------------------------------------------------------------- building the project


def _make(path: Path, spec: Any) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if isinstance(spec, dict) and spec.get("remove"):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(spec, str):
        path.write_bytes(spec.encode("utf-8"))
    elif "hex" in spec:
        path.write_bytes(bytes.fromhex(spec["hex"]))
    elif "size" in spec:
        path.write_bytes(b"#" * int(spec["size"]))
    elif "symlink" in spec:
        os.symlink(spec["symlink"], path)
    elif spec.get("fifo"):
        os.mkfifo(path)
    elif spec.get("dir"):
        path.mkdir()
    else:
        text = (spec["text"] if "text" in spec else (ROOT / spec["copy"]).read_text(encoding="utf-8")
                if "copy" in spec else (BASE / spec["base"]).read_text(encoding="utf-8"))
        for old, new in (spec.get("replace") or {}).items():
            assert old in text, f"{old!r} is not in the base file"
            text = text.replace(old, new)
        nest = spec.get("nest")
        if nest:  # {depth: N, open: "[", close: "]"}: deeply nested brackets after the text
            text += nest["open"] * nest["depth"] + nest["close"] * nest["depth"]
        text += spec.get("append", "")
        path.write_bytes(text.encode(spec.get("encoding", "utf-8")))


def prepare(case: Case, project: Path) -> None:
    (project / "cards").mkdir(parents=True)
    shutil.copy(ROOT / "cards" / "tags.yaml", project / "cards" / "tags.yaml")
    shutil.copy(BASE / "good.md", project / "cards" / "good.md")
    for rel, spec in case.files.items():
        _make(project / rel, spec)


def make_leftovers(case: Case, project: Path) -> None:
    for name in case.leftovers:
        (project / name / "en").mkdir(parents=True, exist_ok=True)
        (project / name / "en" / "index.html").write_text("left by a killed build\n")


def out_dir(case: Case, project: Path) -> Path:
    return project / "disk" / "site" if case.mount else project / "site"


def fill(arg: str, project: Path, out: Path) -> str:
    return arg.replace("{project}", str(project)).replace("{out}", str(out))


# ---------------------------------------------------------------- running it


def cli(args: list[str], project: Path, timeout: float, wrap: list[str] | None = None
        ) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_STORE", "IMAGENET_VAL_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "generator", *args]
    if wrap:  # the last item of `wrap` is a shell script that ends in `exec`
        cmd = [*wrap[:-1], wrap[-1] + " " + " ".join(_quote(c) for c in cmd)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
                          errors="replace")
    return proc.returncode, proc.stderr, time.perf_counter() - t0


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def mount_wrapper(case: Case, project: Path) -> list[str] | None:
    """`unshare -m sh -c 'mount ... && exec <command>'`: the output's disk, private to the run."""
    if not case.mount:
        return None
    disk = project / "disk"
    disk.mkdir(exist_ok=True)
    opts = "ro" if case.mount.get("readonly") else f"size={case.mount['size']}"
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            f"mount -t tmpfs -o {opts} tmpfs {_quote(str(disk))} && exec"]


def can_mount() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                               "mount -t tmpfs -o size=4k tmpfs /mnt"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def edit_json(case: Case, project: Path) -> None:
    spec = case.edit_json
    if not spec:
        return
    paths = [p for p in project.rglob("*") if fnmatch.fnmatch(p.relative_to(project).as_posix(), spec["glob"])]
    assert paths, f"nothing matches {spec['glob']}"
    for p in paths:
        if "raw" in spec:
            p.write_text(spec["raw"])
            continue
        data = json.loads(p.read_text())
        for key, value in (spec.get("set") or {}).items():
            data[key] = value
        for key in spec.get("truncate", ()):
            data[key] = data[key][:-1]
        for key, value in (spec.get("set_in_blocks") or {}).items():
            for b in data["blocks"]:
                b[key] = value
        p.write_text(json.dumps(data))


@dataclass(frozen=True)
class Outcome:
    code: int
    stderr: str
    seconds: float
    written_outside: tuple[str, ...]

    @property
    def diagnostics(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if DIAGNOSTIC.match(ln)]


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def run_case(case: Case, tmp: Path) -> Outcome:
    project = tmp / "work" / "project"  # two levels down: a `../../X` would still land in tmp
    prepare(case, project)
    out = out_dir(case, project)
    for before in case.before:
        code, err, _ = cli([fill(a, project, out) for a in before], project, 300)
        assert code == 0, err
    edit_json(case, project)
    make_leftovers(case, project)
    lock = None
    if case.hold_lock:
        from generator.site.write import OutputLock

        lock = OutputLock(out).__enter__()
    before_files = _snapshot(tmp)
    try:
        code, err, seconds = cli([fill(a, project, out) for a in case.run], project, case.seconds + 60,
                                 mount_wrapper(case, project))
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    # beside the output: its lock and the previous site, kept for the next build to recycle
    allowed = (out.relative_to(tmp).as_posix(), (out.parent / f".{out.name}.lock").relative_to(tmp).as_posix(),
               (out.parent / f".{out.name}.spare").relative_to(tmp).as_posix(),
               (project / ".cache").relative_to(tmp).as_posix(), (project / ".store").relative_to(tmp).as_posix(),
               *((project / a).relative_to(tmp).as_posix() for a in case.allow),
               *((project / "disk").relative_to(tmp).as_posix() for _ in [case.mount] if case.mount))
    outside = tuple(sorted(p for p in _snapshot(tmp) - before_files
                           if not any(p == a or p.startswith(a + "/") for a in allowed)))
    return Outcome(code, err, seconds, outside)


def expected_lines(case: Case, project: Path) -> list[str]:
    return [fill(line, project, out_dir(case, project)) for line in case.lines]


def line_matches(expected: str, line: str) -> bool:
    """A whole line, or with `re:` a regular expression the whole line matches."""
    return re.fullmatch(expected[3:], line) is not None if expected.startswith("re:") else expected == line

"""The build as a process among others: two at once, killed with kill -9, SIGTERM or Ctrl-C in
the middle of rendering, and the swap where the system has no rename-exchange. The output path
always names a complete site, leftovers are cleaned by the next build, and no worker outlives
the build."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from generator.site import write
from generator.site.write import OutputLock, clean_leftovers, swap_in

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
# Enough pages (2 per card + API) for build_site to render in two forked workers.
N_CARDS = 160


def _project(tmp: Path, n: int = N_CARDS) -> Path:
    cards = tmp / "cards"
    cards.mkdir(parents=True)
    shutil.copy(ROOT / "cards" / "tags.yaml", cards / "tags.yaml")
    text = (HERE / "base" / "good.md").read_text(encoding="utf-8")
    for i in range(n):
        (cards / f"card{i:04d}.md").write_text(text.replace("title: Good", f"title: Card {i}"), encoding="utf-8")
    return tmp


STARTED: list[subprocess.Popen[str]] = []


def _start(project: Path, *args: str, verify: bool = False) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "HUB_STORE"}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONFAULTHANDLER"] = "1"  # a hang is killed with SIGABRT: its stacks are the report
    cmd = [sys.executable, "-m", "generator", "build", *([] if verify else ["--no-verify"]), "--no-search", *args]
    # The build starts as from a terminal: with SIGINT at its default, whatever pytest inherited
    # (a shell's background job starts with SIGINT ignored, and the child would inherit that).
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    STARTED.append(proc)
    return proc


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _tree(pid: int) -> list[int]:
    out = []
    for kid in _children(pid):
        out += [kid, *_tree(kid)]
    return out


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    """Whatever a test ends with (failure, skip, xfail), its builds and their children go."""
    yield
    while STARTED:
        proc = STARTED.pop()
        for pid in [proc.pid, *_tree(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.communicate(timeout=30)


def _children(pid: int) -> list[int]:
    """Children of every thread of `pid` (a thread pool's children are listed under its thread)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_workers(proc: subprocess.Popen[str], project: Path, timeout: float = 60) -> list[int]:
    """The render workers of a running build, as soon as two exist and its staging folder too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        kids = [k for k in _children(proc.pid) if _alive(k)]
        if len(kids) >= 2 and (project / f".site.new-{proc.pid}").exists():
            return kids
        time.sleep(0.005)
    pytest.skip("the build finished before its render workers could be seen (machine too fast)")


def _gone(pids: list[int], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


linux_only = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")


@linux_only
def test_kill_9_mid_render_leaves_no_worker_and_the_next_build_cleans_up(tmp_path: Path) -> None:
    project = _project(tmp_path)
    proc = _start(project)
    workers = _wait_for_workers(proc, project)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _gone(workers), "render workers outlived the build"
    assert (project / f".site.new-{proc.pid}").exists()  # what kill -9 leaves behind

    again = _start(project)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert not (project / f".site.new-{proc.pid}").exists()
    assert (project / "site" / "en" / "models" / "card0000" / "index.html").is_file()


@linux_only
@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_sigterm_and_sigint_stop_the_build_cleanly(tmp_path: Path, sig: int, code: int, word: str) -> None:
    project = _project(tmp_path)
    first = _start(project)  # a previous site, which must survive
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    (project / "cards" / "card0000.md").write_text(
        (project / "cards" / "card0000.md").read_text().replace("Card 0", "Card zero"))
    for p in (project / "cards").glob("*.md"):  # everything must be rendered again
        p.write_text(p.read_text().replace("English.", "English!"))
    proc = _start(project)
    workers = _wait_for_workers(proc, project)
    t0 = time.monotonic()
    os.kill(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGABRT)
        _, err = proc.communicate(timeout=15)
        raise AssertionError(err)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == f"build-site: {word}; the previous site is left as it was", err
    assert "Traceback" not in err
    assert _gone(workers)
    assert not list(project.glob(".site.new-*"))
    assert "Card 0<" in (project / "site" / "en" / "models" / "card0000" / "index.html").read_text()
    with OutputLock(project / "site"):  # released
        pass


def test_two_builds_at_once_never_interleave(tmp_path: Path) -> None:
    project = _project(tmp_path, 40)
    procs = [_start(project), _start(project)]
    results = [(p.communicate(timeout=120)[1], p.returncode)[::-1] for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 3]), results
    for code, err in results:
        assert "Traceback" not in err and "Directory not empty" not in err
        if code == 3:
            assert "error: another build (pid " in err and "is writing" in err
    assert (project / "site" / "index.html").is_file()
    assert not list(project.glob(".site.new-*"))


def test_the_exchange_swaps_whole_folders(tmp_path: Path) -> None:
    out, new = tmp_path / "site", tmp_path / ".site.new-1"
    out.mkdir()
    (out / "v").write_text("old")
    new.mkdir()
    (new / "v").write_text("new")
    swap_in(new, out)
    assert (out / "v").read_text() == "new" and not new.exists()


def test_without_rename_exchange_the_output_becomes_a_symlink_replaced_in_one_rename(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(write, "_RENAMEAT2", None)
    out = tmp_path / "site"
    out.mkdir()
    (out / "v").write_text("0")
    for n in (1, 2):
        new = tmp_path / f".site.new-{n}"
        new.mkdir()
        (new / "v").write_text(str(n))
        swap_in(new, out)
        assert out.is_symlink() and (out / "v").read_text() == str(n)
    with OutputLock(out):  # keeps the folder the link points at, removes any other
        pass
    (tmp_path / ".site.v-9-9").mkdir()
    assert clean_leftovers(out) == [".site.v-9-9"]
    assert (out / "v").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".site.lock", "site", os.readlink(out)])


@pytest.mark.megengine
def test_ctrl_c_stops_a_running_snippet_at_once(tmp_path: Path) -> None:
    project = _project(tmp_path, 1)
    card = project / "cards" / "card0000.md"
    card.write_text(card.read_text().replace("x = 1\n", "import time\ntime.sleep(300)\n", 1))
    proc = _start(project, verify=True)
    deadline = time.monotonic() + 60
    while not _tree(proc.pid) and time.monotonic() < deadline:  # the snippet's child is running
        time.sleep(0.05)
    time.sleep(1)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 5

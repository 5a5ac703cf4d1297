"""Hostile cards, built with the real sandbox beside an honest card.

Each hostile card's code tries one of the attacks card code has been seen to try (reading the
build's secrets, reaching the host, writing the store/caches/cards/site/tool, leaving daemons,
forking or allocating without bound, faking its own results). One build runs them all; the test
asserts that each attack was contained, that the honest card next to them keeps its verified
numbers, and that the build went on. Attacks that reach a limit are bounded in the card itself
(at most 3,000 forks, 4 x 700 MB), so even a broken sandbox cannot take the machine down.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "vh-hostile-secret-7c1e"
pytestmark = [pytest.mark.megengine,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")]

FRONT = """---
template: hub1
title: {id}
summary:
    en_US: hostile card (test)
    zh_CN: 恶意卡片（测试）
author: Test Team
tags: [vision]
github-link: https://github.com/testowner/hostile
---

```python
import json, os, sys, time
```
"""


def card(card_id: str, *blocks: str) -> str:
    body = "".join(f"```python\n{b.strip()}\n```\n\n" for b in blocks)
    return FRONT.format(id=card_id) + f"<!-- section: zh_CN -->\n{body}<!-- section: en_US -->\n{body}"


def hostile_cards(paths: dict[str, str]) -> dict[str, str]:
    p = {k: json.dumps(v) for k, v in paths.items()}
    return {
        "hostile_read": card("hostile_read", f"""
found = {{}}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            for var in open(f"/proc/{{pid}}/environ", "rb").read().split(b"\\0"):
                if var.startswith(b"VH_TEST_SECRET="):
                    found["environ of " + pid] = var.decode()   # would put the secret on the page
        except OSError:
            pass
for path in ["/etc/shadow", "/root/.bashrc", {p['card']}, {p['git']}, {p['store_object']}, {p['readme']},
             {p['cache']}]:
    try:
        open(path, "rb").read(16)
        found[path] = "read"
    except OSError:
        pass
print("FOUND", json.dumps(found, sort_keys=True))
"""),
        "hostile_write": card("hostile_write", f"""
wrote = []
targets = [{p['store_object']}, {p['card']}, {p['tool']}, {p['old_page']}, {p['poison']},
           {p['planted']}, {p['lock']}]
hub = os.path.join(os.environ["MGE_HOME"], "hub")
for d in os.listdir(hub) if os.path.isdir(hub) else []:
    targets.append(os.path.join(hub, d, "hubconf.py"))
for path in targets:
    try:
        with open(path, "a") as f:
            f.write("<script>alert(1)</script>")
        wrote.append(path)
    except OSError:
        pass
print("WROTE", json.dumps(wrote))
"""),
        "hostile_net": card("hostile_net", f"""
import ctypes, socket
reached = []
try:
    socket.create_connection(("127.0.0.1", {paths['port']}), timeout=2).close()
    reached.append("tcp")
except OSError:
    pass
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect({p['unix']})
    reached.append("unix")
except OSError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
try:
    fd = os.open("/proc/1/ns/net", os.O_RDONLY)
    if libc.setns(fd, 0) == 0:
        reached.append("setns")
except OSError:
    pass
print("REACHED", json.dumps(reached))
"""),
        "hostile_procs": card("hostile_procs", """
import subprocess
if os.fork() == 0:                   # a setsid double-fork daemon meant to outlive the build
    os.setsid()
    if os.fork() == 0:
        subprocess.Popen(["sleep", "777.123"], start_new_session=True)
    os._exit(0)
time.sleep(0.5)
os.kill(os.getppid(), 9)             # the build, were it the parent
print("alive after killing my parent")
""", """
print("second block ran")
"""),
        "hostile_fork": card("hostile_fork", """
children = 0
for _ in range(3000):                # bounded, so a broken sandbox cannot take the machine down
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    except OSError:
        time.sleep(0.01)
print("forked", children)
time.sleep(5)
"""),
        "hostile_memory": card("hostile_memory", """
pids = []
for _ in range(4):                   # 4 x 700 MB, each process under any per-process cap
    pid = os.fork()
    if pid == 0:
        block = b"x" * (700 * 2**20)
        time.sleep(30)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
print("all children finished")
"""),
        "hostile_exit": card("hostile_exit", """
sys.exit(0)                          # "passes" by leaving before the failing line
raise RuntimeError("the real failure")
"""),
        "hostile_forge": card("hostile_forge", """
for fd in range(3, 64):              # write fake results to every fd that might be the report pipe
    try:
        os.write(fd, b'{"type": "result", "i": 9, "status": "passed"}\\n{"type": "done"}\\n')
    except OSError:
        pass
""", """
raise RuntimeError("this block fails, whatever was written before")
"""),
        "hostile_symlink": card("hostile_symlink", """
os.makedirs("../out", exist_ok=True)
for name in ("0.stdout", "0.stderr"):
    path = os.path.join("..", "out", name)
    try:
        os.remove(path)
    except OSError:
        pass
    os.symlink("/etc/shadow", path)  # the build reads a crashed block's output from here
os._exit(3)
"""),
        "honest_bigmap": card("honest_bigmap", """
import mmap
# Like a detection model: ~11 GB of address space reserved, ~1.5 GB of it touched (resident).
MAP_NORESERVE = 0x4000  # Linux x86_64 (the mmap module of Python 3.10 lacks the name)
area = mmap.mmap(-1, 11 * 2**30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)
for offset in range(0, 1536 * 2**20, 4096):
    area[offset] = 1
print("resident part touched")
"""),
        "hostile_disk": card("hostile_disk", """
with open("big.bin", "wb") as f:
    for _ in range(512):
        f.write(b"\\0" * 2**20)
print("wrote 512 MiB")
"""),
    }


def tree_digest(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def host_processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    project = tmp_path_factory.mktemp("hostile")
    cards = project / "cards"
    cards.mkdir()
    (project / "zoo").symlink_to(ROOT / "zoo")
    for name in ("tags.yaml", "datasets.yaml", "verifiedhub_vision_fmnist_resnet.md"):
        shutil.copy(ROOT / "cards" / name, cards / name)
    lock = json.loads((ROOT / "cards" / "store.lock.json").read_text(encoding="utf-8"))
    lock["items"] = [it for it in lock["items"] if it["source"].startswith("path:zoo")]
    (cards / "store.lock.json").write_text(json.dumps(lock, indent=2), encoding="utf-8")
    store, cache, site = project / ".store", project / ".cache", project / "site"
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    base = [sys.executable, "-m", "generator", "build", "--project", str(project), "--cards", str(cards),
            "--out", str(site), "--store", str(store), "--no-search", "--jobs", "2"]
    env = {**{k: v for k, v in os.environ.items() if k != "HUB_STORE"}, "VH_TEST_SECRET": SECRET}
    first = subprocess.run(base, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    hits: list[str] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append("tcp")
                conn.close()
            except OSError:
                continue

    stop = threading.Event()
    threading.Thread(target=accept, daemon=True).start()
    unix_path = project / "host.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(unix_path))
    unix.listen()
    store_object = next(p for p in (store / "objects").rglob("*") if p.is_file())
    paths = {"card": str(cards / "verifiedhub_vision_fmnist_resnet.md"), "cards": str(cards),
             "git": str(project / ".git" / "HEAD"), "store_object": str(store_object),
             "readme": str(ROOT / "README.md"), "tool": str(ROOT / "generator" / "__init__.py"),
             "old_page": str(site / "en" / "index.html"), "cache": str(cache), "lock": str(cards / "store.lock.json"),
             "poison": str(cache / "poison.json"), "planted": str(cards / "planted.md"),
             "port": server.getsockname()[1], "unix": str(unix_path)}
    for cid, text in hostile_cards(paths).items():
        (cards / f"{cid}.md").write_text(text, encoding="utf-8")
    before = {"store": tree_digest(store), "cache": tree_digest(cache), "tool": tree_digest(ROOT / "generator"),
              "site": tree_digest(site), "cards": tree_digest(cards)}
    t0 = time.monotonic()
    proc = subprocess.run([*base, "--memory-limit", "2GiB", "--disk-limit", "256MiB", "--pids-limit", "256"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - t0
    stop.set()
    server.close()
    unix.close()
    time.sleep(0.5)
    report = json.loads((site / "verify" / "report.json").read_text(encoding="utf-8"))
    return {"proc": proc, "report": {c["id"]: c for c in report["cards"]}, "before": before, "site": site,
            "store": store, "cache": cache, "cards": cards, "hits": hits, "seconds": seconds}


def blocks(build: dict[str, object], card_id: str) -> list[dict[str, object]]:
    report = build["report"]
    assert isinstance(report, dict)
    (program,) = report[card_id]["programs"]
    return [b for b in program["blocks"] if b["lang"] in ("prelude", "zh_CN")]


def output(build: dict[str, object], card_id: str) -> str:
    """Everything the site says about the card's blocks (outputs are only on the pages)."""
    site = build["site"]
    assert isinstance(site, Path)
    return (site / "en" / "models" / card_id / "index.html").read_text(encoding="utf-8")


def test_the_build_goes_on_and_the_honest_card_keeps_its_verified_numbers(hostile_build: dict[str, object]) -> None:
    proc = hostile_build["proc"]
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    honest = hostile_build["report"]["verifiedhub_vision_fmnist_resnet"]  # type: ignore[index]
    assert {c["status"] for c in honest["claims"]} == {"verified"}
    assert all(b["status"] == "passed" for p in honest["programs"] for b in p["blocks"])


def test_secrets_and_files_of_the_build_are_out_of_reach(hostile_build: dict[str, object]) -> None:
    assert blocks(hostile_build, "hostile_read")[1]["status"] == "passed"
    assert "FOUND {}" in output(hostile_build, "hostile_read")
    site = hostile_build["site"]
    assert isinstance(site, Path)
    assert not any(SECRET in p.read_text(encoding="utf-8", errors="replace")
                   for p in site.rglob("*") if p.is_file())


def test_nothing_outside_the_run_can_be_written(hostile_build: dict[str, object]) -> None:
    assert "WROTE []" in output(hostile_build, "hostile_write")
    before = hostile_build["before"]
    assert isinstance(before, dict)
    assert tree_digest(hostile_build["store"]) == before["store"]  # type: ignore[arg-type]
    assert tree_digest(ROOT / "generator") == before["tool"]
    cards = hostile_build["cards"]
    assert isinstance(cards, Path)
    assert tree_digest(cards) == before["cards"]
    cache = hostile_build["cache"]
    assert isinstance(cache, Path)
    assert not (cache / "poison.json").exists()
    site = hostile_build["site"]
    assert isinstance(site, Path)
    assert "<script>alert(1)</script>" not in (site / "en" / "index.html").read_text(encoding="utf-8")


def test_no_way_to_the_host_network(hostile_build: dict[str, object]) -> None:
    assert "REACHED []" in output(hostile_build, "hostile_net")
    assert hostile_build["hits"] == []


def test_daemons_die_with_the_run_and_the_build_survives_its_kill(hostile_build: dict[str, object]) -> None:
    first, second = blocks(hostile_build, "hostile_procs")[1:]
    assert first["status"] == "passed" and second["status"] == "passed"
    assert host_processes_with("777.123") == []


def test_unbounded_forks_and_memory_are_the_builds_limits(hostile_build: dict[str, object]) -> None:
    fork = blocks(hostile_build, "hostile_fork")[1]
    assert fork["status"] == "limit", fork
    assert "processes" in str(fork["reason"])
    memory = blocks(hostile_build, "hostile_memory")[1]
    assert memory["status"] == "limit", memory
    assert "memory limit of 2 GiB" in str(memory["reason"])
    disk = blocks(hostile_build, "hostile_disk")[1]
    assert disk["status"] == "limit", disk
    assert "limit of 256 MiB" in str(disk["reason"])


def test_address_space_far_above_the_memory_limit_is_not_a_limit(hostile_build: dict[str, object]) -> None:
    block = blocks(hostile_build, "honest_bigmap")[1]
    assert block["status"] == "passed", block


def test_a_card_cannot_pass_by_exiting_or_by_forging_results(hostile_build: dict[str, object]) -> None:
    exit_block = blocks(hostile_build, "hostile_exit")[1]
    assert exit_block["status"] == "failed" and "sys.exit(0)" in str(exit_block["reason"])
    forged = blocks(hostile_build, "hostile_forge")
    assert forged[2]["status"] == "failed"


def test_a_crashed_blocks_output_is_read_without_following_its_links(hostile_build: dict[str, object]) -> None:
    crashed = blocks(hostile_build, "hostile_symlink")[1]
    assert crashed["status"] == "failed"
    assert "root:" not in output(hostile_build, "hostile_symlink")

"""The two layers that keep runs offline, each on its own."""

from __future__ import annotations

import pytest

from exec_support import TEST_LIMITS, AssetsFactoryDouble, load_card, run_card
from generator.run import execute, supervise
from generator.run.plan import Limits
from generator.run import sandbox

pytestmark = pytest.mark.megengine


def test_child_has_no_network_interfaces(tmp_path) -> None:  # type: ignore[no-untyped-def]
    if not supervise.network_isolation():
        pytest.skip("unshare is not allowed here: only the shim isolates runs")
    card_path = tmp_path / "exec_netns.md"
    text = (execute.PROJECT_DIR / "tests/execute/cards/exec_secrets.md").read_text()
    text = text.replace("print(os.getcwd())", "import socket\nprint(sorted(n for _, n in socket.if_nameindex()))")
    card_path.write_text(text)
    (p,) = run_card(load_card("", card_path), AssetsFactoryDouble(), TEST_LIMITS)
    assert p.block("zh_CN", 0).stdout == "['lo']\n"


def test_shim_alone_blocks_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_netns", ())  # as on a machine where unshare is refused
    zh, en = run_card(load_card("exec_network.md"), AssetsFactoryDouble(), TEST_LIMITS)
    assert zh.block("zh_CN", 0).status == "blocked"
    assert "93.184.216.34:80" in zh.block("zh_CN", 0).reason
    assert zh.block("zh_CN", 0).duration_s < 2
    assert en.block("en_US", 0).status == "blocked"


def test_memory_limit_applies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    card_path = tmp_path / "exec_memory.md"
    text = (execute.PROJECT_DIR / "tests/execute/cards/exec_secrets.md").read_text()
    text = text.replace("import os\nprint(sorted(os.environ.items()))", "import megengine")
    text = text.replace("print(os.getcwd())", "block = bytearray(4 * 2**30)")
    card_path.write_text(text)
    limits = Limits(block_timeout_s=60, memory_bytes=3 * 2**30, kill_grace_s=1)
    (p,) = run_card(load_card("", card_path), AssetsFactoryDouble(), limits)
    assert p.blocks[0].status == "passed"  # MegEngine itself fits in 3 GiB of address space
    assert p.blocks[1].status == "failed" and p.blocks[1].reason.startswith("MemoryError")


def test_loopback_still_works(tmp_path) -> None:  # type: ignore[no-untyped-def]
    card_path = tmp_path / "exec_loopback.md"
    text = (execute.PROJECT_DIR / "tests/execute/cards/exec_secrets.md").read_text()
    text = text.replace("print(os.getcwd())", "\n".join([
        "import socket",
        "server = socket.create_server(('127.0.0.1', 0))",
        "client = socket.create_connection(server.getsockname(), timeout=5)",
        "conn, _ = server.accept()",
        "client.sendall(b'ping')",
        "print(conn.recv(4))",
    ]))
    card_path.write_text(text)
    (p,) = run_card(load_card("", card_path), AssetsFactoryDouble(), TEST_LIMITS)
    assert p.blocks[1].status == "passed", p.blocks[1].traceback
    assert p.blocks[1].stdout == "b'ping'\n"

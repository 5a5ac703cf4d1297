"""The two layers that keep runs offline, each on its own, and the run-wide memory limit."""

from __future__ import annotations

import pytest

from exec_support import TEST_LIMITS, AssetsFactoryDouble, load_card, run_card
from dataclasses import replace

from generator.run import execute
from generator.run.plan import Limits

pytestmark = pytest.mark.megengine


def test_child_has_no_network_interfaces(tmp_path) -> None:  # type: ignore[no-untyped-def]
    card_path = tmp_path / "exec_netns.md"
    text = (execute.PROJECT_DIR / "tests/execute/cards/exec_secrets.md").read_text()
    text = text.replace("print(os.getcwd())", "import socket\nprint(sorted(n for _, n in socket.if_nameindex()))")
    card_path.write_text(text)
    (p,) = run_card(load_card("", card_path), AssetsFactoryDouble(), TEST_LIMITS)
    assert p.block("zh_CN", 0).stdout == "['lo']\n"


def test_shim_alone_blocks_the_network() -> None:
    unsandboxed = replace(TEST_LIMITS, isolate=False)  # --unsafe-no-sandbox: only the shim is left
    zh, en = run_card(load_card("exec_network.md"), AssetsFactoryDouble(), unsandboxed)
    assert zh.block("zh_CN", 0).status == "blocked"
    assert "93.184.216.34:80" in zh.block("zh_CN", 0).reason
    assert zh.block("zh_CN", 0).duration_s < 2
    assert en.block("en_US", 0).status == "blocked"


def test_memory_limit_is_the_builds_not_the_cards(tmp_path) -> None:  # type: ignore[no-untyped-def]
    card_path = tmp_path / "exec_memory.md"
    text = (execute.PROJECT_DIR / "tests/execute/cards/exec_secrets.md").read_text()
    text = text.replace("import os\nprint(sorted(os.environ.items()))", "import megengine")
    text = text.replace("print(os.getcwd())", "block = b'x' * (3 * 2**30)")  # 3 GiB, all of it touched
    card_path.write_text(text)
    limits = Limits(block_timeout_s=60, memory_bytes=2 * 2**30, kill_grace_s=1)
    (p,) = run_card(load_card("", card_path), AssetsFactoryDouble(), limits)
    assert p.blocks[0].status == "passed"  # MegEngine itself maps far more than 2 GiB, resident less
    assert p.blocks[1].status == "limit", p.blocks[1]
    assert p.blocks[1].reason.startswith("stopped by the build's memory limit of 2 GiB at peak")
    assert (p.blocks[1].reason_code, p.blocks[1].reason_args) == ("limit.memory", {"limit": "2 GiB"})


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

"""Card programs really run in child interpreters with real MegEngine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from exec_support import (CAT_URL, CHELSEA, FIXTURES, TEST_LIMITS, TINY_WEIGHTS_URL,
                      AssetsFactoryDouble, MissingItemDouble, host_processes_with, load_card, pid_alive, run_card)
from generator.run.plan import Limits
from generator.core.model import ProgramResult

pytestmark = pytest.mark.megengine


def run(name: str, assets: AssetsFactoryDouble | None = None, limits: Limits = TEST_LIMITS
        ) -> tuple[ProgramResult, ...]:
    return run_card(load_card(name), assets or AssetsFactoryDouble(), limits)


def statuses(p: ProgramResult) -> list[tuple[str, int, str]]:
    return [(b.lang, b.index, b.status) for b in p.blocks]


def test_passing_card_runs_once_for_identical_languages() -> None:
    (p,) = run("exec_pass.md")
    assert p.langs == ("zh_CN", "en_US")
    assert statuses(p) == [("prelude", 0, "passed"), ("zh_CN", 0, "passed"), ("en_US", 0, "passed")]
    assert p.blocks[0].stdout == "sum 12.0\n"
    assert p.blocks[0].line == 12 and p.block("en_US", 0).line == 29  # each language's own fence
    assert all(b.duration_s > 0 and b.peak_mb > 50 for b in p.blocks)
    assert p.environment["megengine"] == "1.13.0"
    assert p.blocks[0].stderr == ""  # no pkg_resources warning, no CUDA banner


def test_name_error_traceback_points_at_card_line() -> None:
    (p,) = run("exec_nameerror.md")
    first, second = p.block("zh_CN", 0), p.block("zh_CN", 1)
    assert first.status == "failed"
    assert first.reason == "NameError: name 'undefined_name' is not defined"
    assert 'File "tests/execute/cards/exec_nameerror.md", line 18, in <module>' in first.traceback
    assert "print(undefined_name)" in first.traceback  # source line shown from the card
    assert "runner.py" not in first.traceback and "exec(" not in first.traceback
    assert first.stdout == "hello\n"
    assert second.status == "skipped" and second.reason == "not run: the block at line 16 failed"
    # the same as data, for the pages (run/reasons.py)
    assert (first.reason_code, first.reason_args) == ("exception", {"detail": first.reason})
    assert (second.reason_code, second.reason_args) == ("stopped.failed", {"line": "16"})


def test_image_fetched_from_store_and_flagged_as_substitute() -> None:
    url = "https://data.example.org/images/cat.jpg"
    zh, en = run("exec_fetch.md", AssetsFactoryDouble(files={url: CHELSEA}, substitutes=frozenset({url})))
    b = zh.block("zh_CN", 0)
    assert b.status == "passed", b.traceback
    assert "shape (300, 451, 3)" in b.stdout
    assert b.flags == ("substitute-asset",)
    assert b.served == (url,)  # what the page names next to the block
    assert zh.blocks[0].flags == () and zh.blocks[0].served == ()  # the prelude ran before anything was served
    # requests is served from the store too
    r = en.block("en_US", 0)
    assert r.status == "passed", r.traceback
    assert r.stdout == f"bytes {CHELSEA.stat().st_size}\n"
    assert r.served == (url,)
    # a swallowed download error still explains the later failure
    swallowed = en.block("en_US", 1)
    assert swallowed.status == "blocked"
    assert "https://data.example.org/images/dog.jpg" in swallowed.reason
    assert (swallowed.reason_code, swallowed.reason_args) == ("url-not-locked",
                                                              {"url": "https://data.example.org/images/dog.jpg"})
    assert "FileNotFoundError" in swallowed.traceback
    zh, _ = run("exec_fetch.md", AssetsFactoryDouble(files={url: CHELSEA}))
    assert zh.block("zh_CN", 0).status == "passed" and zh.block("zh_CN", 0).flags == ()


def test_network_fails_fast_with_fetch_hint() -> None:
    t0 = time.monotonic()
    programs = run("exec_network.md")
    assert len(programs) == 2
    sock = programs[0].block("zh_CN", 0)
    assert sock.status == "blocked"
    assert sock.reason.startswith("card code tried to reach 93.184.216.34:80; runs are offline")
    assert "build-site fetch" in sock.reason
    assert (sock.reason_code, sock.reason_args) == ("network-blocked", {"target": "93.184.216.34:80"})
    assert sock.duration_s < 2
    url = programs[1].block("en_US", 0)
    assert url.status == "blocked"
    assert "https://example.com/not-in-the-store.bin" in url.reason
    assert "run: build-site fetch" in url.reason
    assert url.duration_s < 2
    assert time.monotonic() - t0 < 15


def test_timeout_kills_the_process_group() -> None:
    zh, en = run("exec_timeout.md", limits=Limits(block_timeout_s=60, kill_grace_s=1.0))
    b = zh.block("zh_CN", 0)
    assert b.status == "timeout"
    assert "timed out after 2 s" in b.reason and "timeout=2" in b.reason
    assert (b.reason_code, b.reason_args) == ("timeout", {"seconds": "2"})
    assert zh.block("zh_CN", 1).reason_code == "stopped.timeout"
    assert "time.sleep(30)" in b.traceback  # where the card was stuck
    assert zh.block("zh_CN", 1).status == "skipped"
    assert b.stdout.startswith("pids ")  # the helper process had started
    # a card that swallows the runner's timeout is killed by the parent's deadline
    e = en.block("en_US", 0)
    assert e.status == "timeout" and "killed" in e.reason
    assert e.reason_code == "timeout"  # said by the parent, which killed it
    assert e.duration_s < 1 + 1.0 + 1.5
    # pids inside the sandbox mean nothing on the host: look for the helpers by their command
    assert host_processes_with("300.731") == [] and host_processes_with("300.732") == []


def test_expect_error_both_ways() -> None:
    zh, en = run("exec_expect_error.md")
    b = zh.block("zh_CN", 0)
    assert b.status == "expected-error"
    assert b.reason.startswith("TypeError:")
    assert (b.reason_code, b.reason_args) == ("exception", {"detail": b.reason})
    assert zh.block("zh_CN", 1).status == "passed"
    b = en.block("en_US", 0)
    assert b.status == "failed" and b.reason == "expected TypeError, but the block passed"
    assert (b.reason_code, b.reason_args) == ("expected-passed", {"expect": "TypeError"})
    (p,) = run("exec_wrong_error.md")
    b = p.block("zh_CN", 0)
    assert b.status == "failed"
    assert b.reason == "expected TypeError, but the block raised ValueError: not the one"
    assert (b.reason_code, b.reason_args) == ("expected-other", {"expect": "TypeError",
                                                                 "detail": "ValueError: not the one"})


def test_skip_mark_and_crash() -> None:
    (p,) = run("exec_skip_crash.md")
    assert p.block("zh_CN", 0).status == "skipped"
    assert p.block("zh_CN", 0).reason == "needs a GPU"
    assert (p.block("zh_CN", 0).reason_code, p.block("zh_CN", 0).reason_args) == ("skip-mark", {"text": "needs a GPU"})
    crash = p.block("zh_CN", 1)
    assert crash.status == "failed" and "SIGSEGV" in crash.reason
    assert crash.reason_code == "process-died" and "SIGSEGV" in crash.reason_args["detail"]
    assert p.block("zh_CN", 2).reason_code == "earlier-failed"
    assert crash.stdout == "about to crash\n"  # printed before the crash, read from the file
    assert p.block("zh_CN", 2).status == "skipped"


def test_hub_repo_with_weights(tiny_weights: Path) -> None:
    assets = AssetsFactoryDouble(hubs={"testowner/tinyhub": FIXTURES / "tinyhub"},
                                 weights={TINY_WEIGHTS_URL: tiny_weights})
    (p,) = run("exec_tinyhub.md", assets)
    assert [b.status for b in p.blocks] == ["passed", "passed"], p.blocks[0].traceback
    assert "out [[2.0, 2.0]]" in p.blocks[1].stdout  # the stored weights were loaded
    assert all(b.flags == () for b in p.blocks)


def test_hub_repo_without_weights_runs_with_placeholder() -> None:
    assets = AssetsFactoryDouble(hubs={"testowner/tinyhub": FIXTURES / "tinyhub"})
    (p,) = run("exec_tinyhub.md", assets)
    assert [b.status for b in p.blocks] == ["passed", "passed"], p.blocks[0].traceback
    assert [b.flags for b in p.blocks] == [("placeholder-weights",)] * 2
    assert "out [[2.0, 2.0]]" not in p.blocks[1].stdout
    assert "keeps freshly initialised weights" in p.blocks[0].stderr


def test_hub_repo_missing_is_blocked() -> None:
    (p,) = run("exec_tinyhub.md", AssetsFactoryDouble())
    b = p.blocks[0]
    assert b.status == "blocked"
    assert "hub repository testowner/tinyhub" in b.reason and "run: build-site fetch" in b.reason
    assert (b.reason_code, b.reason_args) == ("repo-not-locked", {"repo": "testowner/tinyhub"})
    assert p.blocks[1].status == "skipped"


def test_secrets_do_not_reach_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SECRET_TOKEN", "s3cr3t-value")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fake")
    (p,) = run("exec_secrets.md")
    out = p.blocks[0].stdout
    assert "'HOME'" in out  # the listing really happened
    assert "FAKE_SECRET_TOKEN" not in out and "s3cr3t-value" not in out and "GITHUB_TOKEN" not in out
    cwd = p.blocks[1].stdout.strip()
    assert cwd.startswith("/") and not os.path.exists(cwd)  # working directory deleted afterwards


RESNET_LOGITS_LINE = {"zh_CN": 51, "en_US": 103}


def test_resnet_card_blocked_without_hub_repo() -> None:
    missing = (MissingItemDouble("https://github.com/megengine/models", "hub-repo", repo="megengine/models"),)
    (p,) = run("resnet_original.md", AssetsFactoryDouble(files={CAT_URL: CHELSEA}, missing=missing))
    assert p.langs == ("zh_CN", "en_US")
    pre = p.blocks[0]
    assert pre.status == "blocked"
    assert pre.reason == ("hub repository megengine/models is locked but not in the asset store; "
                          "run: build-site fetch")
    assert (pre.reason_code, pre.reason_args) == ("repo-not-stored", {"repo": "megengine/models"})
    assert {b.reason_code for b in p.blocks[1:]} == {"stopped.blocked"}
    assert {b.status for b in p.blocks[1:]} == {"skipped"}


def test_resnet_card_fails_on_numpy_input_with_placeholder_weights() -> None:
    assets = AssetsFactoryDouble(hubs={"megengine/models": FIXTURES / "megengine_models_double"},
                                 files={CAT_URL: CHELSEA}, substitutes=frozenset({CAT_URL}))
    (p,) = run("resnet_original.md", assets)
    pre = p.blocks[0]
    assert pre.status == "passed" and pre.flags == ("placeholder-weights",), pre.traceback
    for lang, line in RESNET_LOGITS_LINE.items():
        b = p.block(lang, 0)
        assert b.status == "failed"
        assert b.reason == "TypeError: py_apply expects tensor as inputs"
        assert f'File "tests/execute/cards/resnet_original.md", line {line}, in <module>' in b.traceback
        assert "logits = model(processed_img)" in b.traceback
        assert set(b.flags) == {"placeholder-weights", "substitute-asset"}

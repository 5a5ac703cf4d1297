"""Pieces of the executor that need no child process."""

from __future__ import annotations

from pathlib import Path

from exec_support import hub_dirname, load_card, serialized_name
from generator.hub import layout as store
from generator.run import execute, progress, results
from generator.run.plan import plan_programs
from generator.run.child import protocol
from generator.core.errors import Code
from generator.core.model import BlockResult, ProgramResult
from generator.run.cache import BadEntry, RunCache, program_from_json, program_to_json


def test_mge_home_layout_matches_megengine() -> None:
    # value measured from megengine/hub/fetcher.py (MEGENGINE.md); store.py must agree
    assert hub_dirname("megengine/models") == "1_13_0_e093aa62cdf8f313"
    assert store.hub_cache_dirname("megengine", "models") == hub_dirname("megengine/models")
    url = "https://data.megengine.org.cn/models/weights/resnet18_naiveaug_70312_78a63ca6.pkl"
    assert store.serialized_filename(url) == serialized_name(url)
    assert serialized_name(url).endswith("_resnet18_naiveaug_70312_78a63ca6.pkl")


def test_identical_languages_make_one_program() -> None:
    (plan,) = plan_programs(load_card("resnet_original.md"))
    assert plan.langs == ("zh_CN", "en_US")
    assert [s.lang for s in plan.blocks] == ["prelude", "zh_CN"]
    plans = plan_programs(load_card("exec_expect_error.md"))
    assert [p.langs for p in plans] == [("zh_CN",), ("en_US",)]


def test_traceback_lines_move_to_the_other_language() -> None:
    card = load_card("resnet_original.md")
    zh, en = card.sections["zh_CN"].snippets[0], card.sections["en_US"].snippets[0]
    tb = ('  File "tests/execute/cards/resnet_original.md", line 51, in <module>\n'
          '  File "/lib/megengine/module.py", line 51, in __call__\n')
    r = BlockResult("zh_CN", 0, zh.loc.line, "failed", traceback=tb)
    moved = results._for_lang(r, zh, en, card.path)
    assert moved.lang == "en_US" and moved.line == en.loc.line
    assert 'resnet_original.md", line 103' in moved.traceback
    assert 'module.py", line 51' in moved.traceback  # other files untouched


def test_bounded_streams(tmp_path: Path) -> None:
    f = tmp_path / "out"
    f.write_bytes(b"a" * 30_000 + b"THE END")
    text = protocol.read_bounded(str(f))
    assert len(text.encode()) < protocol.STREAM_CAP + 100
    assert "[truncated: 10007 bytes omitted]" in text and text.endswith("THE END")
    f.write_bytes(b"short")
    assert protocol.read_bounded(str(f)) == "short"
    assert protocol.read_bounded(str(tmp_path / "missing")) == ""


def _program(*blocks: BlockResult, path: str = "cards/x.md") -> ProgramResult:
    return ProgramResult("x", ("zh_CN", "en_US"), blocks, "k" * 64, "2026-01-01T00:00:00+00:00",
                         {"python": "3.10"}, card_path=path)


def test_strict_failures() -> None:
    p = _program(BlockResult("prelude", 0, 12, "passed"),
                 BlockResult("zh_CN", 0, 20, "failed", reason="NameError: x"),
                 BlockResult("zh_CN", 1, 30, "skipped", reason="needs a GPU"),
                 BlockResult("en_US", 0, 40, "timeout", reason="timed out after 2 s"),
                 BlockResult("en_US", 1, 50, "blocked", reason="hub repository a/b ..."),
                 BlockResult("en_US", 2, 60, "expected-error"),
                 BlockResult("en_US", 3, 70, "hub-error", reason="the hub repository's hubconf.py line 3 ..."),
                 BlockResult("en_US", 4, 80, "limit", reason="stopped by the build's memory limit of 8 GiB at peak 8.0 GiB"))
    diags = results.strict_failures({"x": (p,)})
    assert [(d.code, d.loc.line) for d in diags] == [
        (Code.SNIPPET_FAILED, 20), (Code.SNIPPET_TIMEOUT, 40), (Code.SNIPPET_BLOCKED, 50),
        (Code.SNIPPET_HUB_ERROR, 70), (Code.SNIPPET_LIMIT, 80)]
    # each says whose fault it is
    assert str(diags[0]) == ("cards/x.md:20: error: zh_CN block 1 failed (the card's code): NameError: x "
                             "[snippet-failed]")
    assert "en_US block 4 hub-error (the hub repository): the hub repository's hubconf.py" in str(diags[3])
    assert "en_US block 5 limit (a limit of the build's sandbox)" in str(diags[4])
    assert "blocked (this machine's environment)" in str(diags[2])


def test_cache_round_trip_and_damaged_entry(tmp_path: Path) -> None:
    p = _program(BlockResult("prelude", 0, 12, "passed", flags=("placeholder-weights",), stdout="é",
                             served=("https://data.example.org/a.pkl",)))
    assert program_from_json(program_to_json(p)) == p
    coded = _program(BlockResult("zh_CN", 0, 20, "skipped", reason="not run: the block at line 12 failed",
                                 reason_code="stopped.failed", reason_args={"line": "12"}))
    assert program_from_json(program_to_json(coded)) == coded  # the reason's code survives the cache
    older = program_to_json(p)
    del older["blocks"][0]["served"]  # an entry written before blocks recorded what was served
    assert program_from_json(older).blocks[0].served == ()
    older["blocks"][0]["served"] = "not a list"
    import pytest
    with pytest.raises(BadEntry):
        program_from_json(older)
    c = RunCache(tmp_path, "9.9")
    assert c.get(p.cache_key) is None
    c.put(p)
    hit = c.get(p.cache_key)
    assert hit is not None and hit.blocks[0].cached and hit.blocks[0].flags == ("placeholder-weights",)
    (tmp_path / "9.9" / p.cache_key[:2] / f"{p.cache_key}.json").write_text("{not json")
    assert c.get(p.cache_key) is None


def test_assets_factory_needs_a_digest() -> None:
    import pytest
    with pytest.raises(TypeError, match="digest"):
        execute.run_all([], lambda run_dir: None, progress=lambda e: None)  # type: ignore[arg-type]


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, ""

    def isatty(self) -> bool:
        return self.tty

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def test_progress_display() -> None:
    p = _program(BlockResult("prelude", 0, 12, "passed"), BlockResult("zh_CN", 0, 20, "failed"))
    events = [progress.Progress("started", "x", ("zh_CN", "en_US"), 2, 0, 1, 0),
              progress.Progress("finished", "x", ("zh_CN", "en_US"), 2, 1, 0, 1, p),
              progress.Progress("cached", "y", ("zh_CN",), 2, 2, 0, 1, p),
              progress.Progress("all-done", "", (), 2, 2, 0, 1)]
    plain, tty = _Stream(False), _Stream(True)
    for e in events:
        progress.StderrProgress(plain)(e)  # type: ignore[arg-type]
        progress.StderrProgress(tty)(e)  # type: ignore[arg-type]
    assert plain.text == ("[1/2] x zh_CN+en_US: 1 failed, 1 passed\n"
                          "[2/2] y zh_CN: 1 failed, 1 passed (cached)\n")
    assert tty.text.endswith("\rrunning cards: 2/2 done, 0 running, 1 failed\n")
    assert "\r" in tty.text and tty.text.count("\n") == 1

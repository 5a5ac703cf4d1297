"""A block's output on the page: framework log lines set apart and collapsed, a failed block's
output open with its failing line marked, and no build-machine path anywhere in what is built."""

from __future__ import annotations

import dataclasses
import re

from render_fixtures import RESNET, options, sample_verification

from generator.core.model import CardVerification
from generator.site.build import render_site
from generator.site.outputs import failing_line, is_log_line, split_log
from generator.site.redact import public_text

FORBIDDEN = ("/tmp/", "/work/", ".venv", "vh-run-", "/root", "/home/", "site-packages", ".store/")


def test_megengine_and_libpng_lines_are_log_the_rest_is_program_output() -> None:
    assert is_log_line("02 06:43:00 load_serialized_obj_from_url: Using cached download\n")
    assert is_log_line("13 23:59:59.120 [WRN] something\n")
    assert is_log_line("libpng warning: iCCP: known incorrect sRGB profile\n")
    assert not is_log_line("Tensor([0.1 0.9], device=xpux:0)\n")
    assert not is_log_line("2 06:43:00 looks like a log line but is not MegEngine's format\n")
    split = split_log("a\n02 06:43:00 x\nb\nlibpng warning: iCCP: y\n")
    assert split.program == "a\nb\n" and split.log == "02 06:43:00 x\nlibpng warning: iCCP: y\n"
    assert split_log("only output").log == ""


def test_failing_line_is_the_innermost_frame_in_the_card() -> None:
    tb = ('File "cards/a.md", line 40, in <module>\nFile "megengine/x.py", line 9\n'
          'File "cards/a.md", line 44, in f\nValueError: no')
    assert failing_line(tb, "cards/a.md") == 44
    assert failing_line(tb, "cards/b.md") is None
    assert failing_line("", "cards/a.md") is None


def test_run_folders_of_megengine_home_are_dropped() -> None:
    out = public_text('File "/tmp/vh-run-x1/mge_home/cache/weights.pkl" and /tmp/vh-run-x1/mge_home/hub/'
                      '1_13_0_e093aa62cdf8f313/hubconf.py')
    assert out == 'File "cache/weights.pkl" and <hub repository>/hubconf.py'


def _page(lang: str, verification: dict[str, CardVerification] | None = None) -> str:
    from render_fixtures import read_fixture_cards
    cards, tags = read_fixture_cards()
    pages = {p.url: p.content for p in render_site(cards, tags, verification or sample_verification(), options())}
    return pages[f"{lang}/models/{RESNET}/index.html"].decode()


def test_a_path_that_climbs_out_of_the_working_folder_keeps_only_its_name() -> None:
    out = public_text('File "../../tmp/pytest-7/cards0/cards/x.md", line 14 and cards/y.md and a/../b.md')
    assert out == 'File "…/x.md", line 14 and cards/y.md and a/../b.md'


def test_failed_block_is_open_with_its_line_marked_and_the_log_collapsed() -> None:
    html = _page("zh")
    block = html[html.index('<div class="code code-failed"'):]
    block = block[:block.index('<h3') if '<h3' in block else len(block)]
    assert '<details class="output" data-pagefind-ignore open>' in block
    assert 'style="--fail-line: 20"' in block  # card line 51, the block's code starts at 31
    assert "第 21 行" in block
    log = re.search(r'<details class="output-log">.*?</details>', block, re.S)
    assert log is not None and "libpng warning" in log.group(0) and "02 06:43:00" in log.group(0)
    outside = block.replace(log.group(0), "")
    assert "libpng" not in outside and "06:43:00" not in outside and "partial &lt;output&gt;" in outside
    # The passed prelude's output stays closed.
    prelude = html[html.index('id="code-prelude"'):]
    assert prelude[:prelude.index("</details>")].count(" open>") == 0


def test_no_build_machine_path_in_any_built_file() -> None:
    from render_fixtures import read_fixture_cards
    base = sample_verification()
    v = base[RESNET]
    program = v.programs[0]
    dirty = []
    for b in program.blocks:
        dirty.append(dataclasses.replace(
            b, stdout=b.stdout + "saved /tmp/vh-run-ab12/work/cat.jpg\nloaded /tmp/vh-run-ab12/mge_home/x/w.pkl\n",
            stderr=b.stderr + "warning in /work/wb/.venv/lib/python3.10/site-packages/megengine/core.py:3\n",
            traceback=(b.traceback + '\nFile "/root/.pyenv/versions/3.10.13/lib/python3.10/runpy.py", line 1')
            if b.traceback else "",
            reason=(b.reason + " (/work/wb/.store/objects/ab/cd)") if b.reason else ""))
    verification = {RESNET: dataclasses.replace(v, programs=(dataclasses.replace(program, blocks=tuple(dirty)),))}
    cards, tags = read_fixture_cards()
    built = {p.url: p.content.decode("utf-8", "replace") for p in render_site(cards, tags, verification, options())
             if p.url.endswith((".html", ".json", ".xml", ".txt"))}
    assert any("cat.jpg" in text for text in built.values())  # the dirty output did reach the pages
    for url, text in built.items():
        for bad in FORBIDDEN:
            assert bad not in text, f"{url}: {bad!r}"

"""A one-card edit under `build-site serve`, next to the same edit rebuilt by `build-site build`.

    .venv/bin/python benchmarks/serve_edit.py [-n 1000] [--pairs 5] [--keep DIR]

N synthetic cards (benchmarks/build_speed.py's) in two copies of one project, each built once
with search. One copy is served by a `build-site serve --no-verify` process; in each pair,
alternating which goes first:
  serve  a card of the served copy is edited; timed from the write until the server sends the
         page with the new text (`page`: what a reader waits for, the server's polling included),
         and until the reload number has moved twice (`search`: the index caught up as well);
         `rebuild` is what serve itself prints (from noticing the change to the swap)
  (one edit before the pairs is not counted: the first rebuild of a serve process imports the
  pipeline and compiles the templates)
  build  the same kind of edit in the other copy, then one whole `build-site build --no-verify`
         process (its search stage included, before the swap)
Prints JSON lines: `setup`, one per figure (median, min, max, runs), `ratio` (median of the
per-pair build / serve page), and `done`, each with the load average.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_speed import BUILD_SITE, edit_bench_args, emit, emit_runs, make_cards, ours, timed, work_folder  # noqa: E402
from search_incremental import edit, loadavg  # noqa: E402


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:  # 127.0.0.1 only
        return r.read().decode("utf-8")


def wait_for(pred: Callable[[], bool], timeout: float = 120.0) -> float:
    start = time.perf_counter()
    while not pred():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out waiting for the served site")
        time.sleep(0.03)  # a tighter loop would take the server thread from the build it times
    return time.perf_counter()


class Served:
    """A `build-site serve` process on a free port, and the lines it writes."""

    def __init__(self, work: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([str(BUILD_SITE), "serve", "--no-verify", "--cards", str(work / "cards"),
                                      "--out", str(work / "site"), "--project", str(work), "--port", "0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: bool(self.url) or self.proc.poll() is not None)
        if not self.url:
            raise SystemExit("serve did not start:\n" + "".join(self.lines[-20:]))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"build-site serve: (http://127\.0\.0\.1:\d+/)", line)
            if m:
                self.url = m.group(1)

    def number(self) -> int:
        return int(fetch(self.url + "__reload"))

    def last_rebuild(self) -> float:
        found = [float(m.group(1)) for line in self.lines if (m := re.search(r"rebuilt in ([0-9.]+) s", line))]
        return found[-1]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> int:
    args = edit_bench_args(__doc__)
    with work_folder(args.keep) as work:
        return _pairs(args, work)


def _pairs(args: argparse.Namespace, work: Path) -> int:
    served_copy, built_copy = work / "serve", work / "build"
    served = None
    try:
        emit("setup", cards=args.n, pairs=args.pairs, cores=os.cpu_count(), loadavg=loadavg())
        for copy in (served_copy, built_copy):
            if not (copy / "cards").is_dir():
                make_cards(copy / "cards", args.n)
            timed(ours(copy, search=True))
        cards_s = sorted((served_copy / "cards").glob("*.md"))
        cards_b = sorted((built_copy / "cards").glob("*.md"))
        served = Served(served_copy)
        # The first rebuild of a serve process also imports the pipeline and compiles the
        # templates (its first build found the site up to date): said apart, not a figure.
        card, before = cards_s[-1], served.number()
        t0 = time.perf_counter()
        edit(card, 999)
        first = wait_for(lambda: served.number() >= before + 2) - t0
        emit("serve_first_edit_with_search", seconds=round(first, 3), loadavg=loadavg())

        nonce = time.time_ns() % 10 ** 12 * 100
        page_s, search_s, rebuild_s, build_s, ratios = [], [], [], [], []
        for k in range(args.pairs):
            def under_serve() -> float:
                card = cards_s[(k * 37) % len(cards_s)]
                page = f"{served.url}zh/models/{card.stem}/index.html"  # the first table is zh_CN's
                marker, before = f"Top1 acc{nonce + k}.", served.number()  # new to the page, even with --keep
                t0 = time.perf_counter()
                edit(card, nonce + k)
                shown = wait_for(lambda: marker in fetch(page))
                caught_up = wait_for(lambda: served.number() >= before + 2)
                page_s.append(shown - t0)
                search_s.append(caught_up - t0)
                rebuild_s.append(served.last_rebuild())
                return shown - t0

            def whole_build() -> float:
                edit(cards_b[(k * 37) % len(cards_b)], 2000 + k)
                took = timed(ours(built_copy, search=True))
                build_s.append(took)
                return took

            if k % 2:
                b, s = whole_build(), under_serve()
            else:
                s, b = under_serve(), whole_build()
            ratios.append(b / s)
        for figure, values in (("serve_page", page_s), ("serve_rebuild", rebuild_s), ("serve_search", search_s),
                               ("build_edit", build_s)):
            emit_runs(figure, values)
        emit("ratio", build_over_serve_page_paired_median=round(statistics.median(ratios), 3),
             ratios=[round(r, 3) for r in ratios])
        emit("done", loadavg=loadavg())
    finally:
        if served is not None:
            served.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

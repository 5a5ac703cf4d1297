"""What a one-card edit costs with the search index kept in parts, next to indexing everything.

    .venv/bin/python benchmarks/search_incremental.py [-n 1000] [--pairs 5] [--keep DIR]

N synthetic cards (benchmarks/build_speed.py's) are built once with search. Then, paired and
alternating which goes first, each pair edits one card and times the whole `build-site build
--no-verify` process twice:
  edit   the previous site and its search parts kept: only the parts holding the card's pages
         are indexed again
  full   the same kind of edit, but the site's search bundles are deleted first: every part of
         both languages is indexed again (what each edit cost before the index was split)
Prints JSON lines: `setup`, one per figure (median, min, max, runs), `ratio` (median of the
per-pair full / edit), and `done`, each with the load average.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_speed import edit_bench_args, emit, emit_runs, make_cards, ours, timed, work_folder  # noqa: E402


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def edit(card: Path, k: int) -> None:
    card.write_text(card.read_text(encoding="utf-8").replace("Top1 acc", f"Top1 acc{k}.", 1), encoding="utf-8")


def drop_bundles(site: Path) -> None:
    for lang in ("en", "zh"):
        shutil.rmtree(site / lang / "pagefind", ignore_errors=True)


def main() -> int:
    args = edit_bench_args(__doc__)
    with work_folder(args.keep) as work:
        emit("setup", cards=args.n, pairs=args.pairs, cores=os.cpu_count(), loadavg=loadavg())
        cards = sorted((work / "cards").glob("*.md")) if (work / "cards").is_dir() else make_cards(work / "cards", args.n)
        cmd = ours(work, search=True)
        first = timed(cmd)  # cold (or whatever --keep left): not a figure
        timed(cmd)  # no-op, so the first pair does not pay for a stale state
        emit("first_build", seconds=round(first, 3), loadavg=loadavg())

        one, full, ratios = [], [], []
        for k in range(args.pairs):
            def incremental() -> float:
                edit(cards[(k * 37) % len(cards)], 2 * k)
                return timed(cmd)

            def everything() -> float:
                edit(cards[(k * 37 + 11) % len(cards)], 2 * k + 1)
                drop_bundles(work / "site")
                return timed(cmd)

            if k % 2:
                f, o = everything(), incremental()
            else:
                o, f = incremental(), everything()
            one.append(o)
            full.append(f)
            ratios.append(f / o)
        emit_runs("edit", one)
        emit_runs("full", full)
        emit("ratio", full_over_edit_paired_median=round(statistics.median(ratios), 3),
             ratios=[round(r, 3) for r in ratios])
        emit("done", loadavg=loadavg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

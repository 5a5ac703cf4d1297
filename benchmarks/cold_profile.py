"""Where does a cold build's time go? One in-process build of N synthetic cards, optionally under
cProfile, with the parse and render pools off (so the profile sees every call).

    .venv/bin/python benchmarks/cold_profile.py [-n 1000] [--profile OUT.prof] [--top 40]
    .venv/bin/python benchmarks/cold_profile.py --site DIR   # keep the site (e.g. to diff two builds)

The cards are benchmarks/build_speed.py's. The build is `build-site build --no-verify --no-search`
from an empty output folder and no caches, like build_speed.py's "full" figure, but serial: the
figures are CPU per stage, not the wall time of the 2-process build.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from build_speed import make_cards  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--profile", type=Path, default=None, help="write the cProfile stats here")
    ap.add_argument("--top", type=int, default=40, help="print this many functions by cumulative time")
    ap.add_argument("--site", type=Path, default=None, help="build into this folder and keep it")
    ap.add_argument("--parallel", action="store_true", help="keep the parse and render pools")
    args = ap.parse_args()

    from generator.cards import discover
    from generator.cli import main as cli_main
    from generator.site import build

    if not args.parallel:
        discover.PARALLEL_PARSE_MIN = 10**9
        build.PAGES_PER_WORKER = 10**9
    (ROOT / ".cache").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="coldprof-", dir=ROOT / ".cache"))
    try:
        for card in make_cards(work / "cards", args.n):
            os.utime(card, (1767225600, 1767225600))  # fixed update times: two builds can be diffed
        site = args.site or work / "site"
        shutil.rmtree(site, ignore_errors=True)
        os.environ["BUILD_SITE_TIMINGS"] = str(work / "timings.json")
        argv = ["build", "--no-verify", "--no-search", "--cards", str(work / "cards"), "--out", str(site),
                "--project", str(work)]
        # CPU time, not wall: the machine is shared, and a stalled process should not look slow
        prof = cProfile.Profile(time.process_time) if args.profile or args.top else None
        t0, c0 = time.perf_counter(), time.process_time()
        if prof is not None:
            prof.enable()
        rc = cli_main(argv)
        if prof is not None:
            prof.disable()
        print(f"rc={rc} wall {time.perf_counter() - t0:.2f} s, cpu {time.process_time() - c0:.2f} s, "
              f"load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        print((work / "timings.json").read_text(encoding="utf-8"), file=sys.stderr)
        if prof is not None:
            if args.profile:
                prof.dump_stats(str(args.profile))
            if args.top:
                st = pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative")
                st.print_stats(args.top)
                st.sort_stats("tottime").print_stats(args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

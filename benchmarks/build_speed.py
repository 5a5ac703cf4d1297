"""How fast is a build without verification? Full build, then a no-op rebuild, of N synthetic
cards shaped like the ResNet card (each with its own model names, so no cache shortcut makes
the numbers look better than a real hub would).

    .venv/bin/python benchmarks/build_speed.py [-n 1000] [--keep DIR]

Uses `generator.build.build` with verification disabled when it exists, else this stage's own
pipeline (discover.read_cards + site.build_site), with the stat-based no-op fast path.
Targets on a 2-core machine: >= 1,000 pages/s full build and <= 0.3 s no-op for 1,000 cards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = ROOT / "cards" / "megengine_vision_resnet.md"
VARIANTS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d")


def synth_card(i: int, seed: str) -> str:
    """The seed card with every model name, the title and the numbers made unique to card i."""
    text = seed.replace("title: ResNet", f"title: SynthNet {i:05d}")
    for v in VARIANTS:
        text = text.replace(f"'{v}'", f"'{v}_s{i}'").replace(f"`{v}`", f"`{v}_s{i}`")
    text = text.replace("cat.jpg", f"cat{i}.jpg")
    # perturb the last digit of the table numbers so every card's tables differ
    return text.replace("70.312", f"70.{i % 1000:03d}").replace("89.430", f"89.{(i * 7) % 1000:03d}")


def make_cards(dst: Path, n: int) -> None:
    dst.mkdir(parents=True)
    seed = SEED.read_text(encoding="utf-8")
    for i in range(n):
        (dst / f"synth_vision_net{i:05d}.md").write_text(synth_card(i, seed), encoding="utf-8")
    shutil.copy(ROOT / "cards" / "tags.yaml", dst / "tags.yaml")
    shutil.copy(ROOT / "cards" / "i18n.yaml", dst / "i18n.yaml")


def io_floor(work: Path, n: int = 300) -> float:
    """Seconds to create one folder holding one 30 kB file, on this file system: the part of a
    build no rendering speed-up can remove (the site has a folder per page)."""
    probe = work / "io-probe"
    probe.mkdir()
    data = b"x" * 30_000
    t0 = time.perf_counter()
    for i in range(n):
        (probe / str(i)).mkdir()
        with open(probe / str(i) / "index.html", "wb") as fh:
            fh.write(data)
    took = (time.perf_counter() - t0) / n
    shutil.rmtree(probe)
    return took


def own_pipeline(cards_dir: Path, out: Path) -> str:
    from generator.site import state as incremental
    from generator.cards.discover import read_cards
    from generator.core.errors import UserError, has_errors
    from generator.site.build import build_site, site_is_current
    from generator.site.options import SiteOptions

    options = SiteOptions.for_project(cards_dir)
    inputs = sorted(cards_dir.glob("*.md")) + [cards_dir / "tags.yaml"]
    fingerprint = "verify=off"
    if site_is_current(out, inputs, options, fingerprint):
        return "no-op (inputs unchanged)"
    stats = incremental.stat_inputs(inputs)
    t0 = time.perf_counter()
    cards, tags, problems = read_cards(cards_dir)
    if has_errors(problems):
        raise UserError(problems)
    t1 = time.perf_counter()
    report = build_site(cards, tags, {}, options, out, input_stats=stats, fingerprint=fingerprint)
    t2 = time.perf_counter()
    return (f"read+parse cards {t1 - t0:.2f} s; render+write {t2 - t1:.2f} s "
            f"({report.rendered / (t2 - t1):,.0f} files/s): rendered {report.rendered}, reused {report.reused}")


SEARCH = True


def lead_pipeline(cards_dir: Path, out: Path) -> str:
    from generator import cli

    rc = cli.main(["build", "--no-verify", "--cards", str(cards_dir), "--out", str(out),
                   "--project", str(ROOT)] + ([] if SEARCH else ["--no-search"]))
    return f"exit {rc}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000, help="number of synthetic cards")
    ap.add_argument("--keep", type=Path, default=None, help="build here and keep the result")
    ap.add_argument("--own", action="store_true", help="use this stage's pipeline even if build.py exists")
    ap.add_argument("--no-search", action="store_true", help="leave the Pagefind index out of the build")
    args = ap.parse_args()
    global SEARCH
    SEARCH = not args.no_search

    use_lead = (ROOT / "generator" / "build.py").exists() and not args.own
    run = lead_pipeline if use_lead else own_pipeline
    # next to the project (like a real site/), not /tmp: on this machine /tmp is far slower
    (ROOT / ".cache").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=ROOT / ".cache")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        cards_dir, out = work / "cards", work / "site"
        floor = io_floor(work)
        make_cards(cards_dir, args.n)
        t0, c0 = time.perf_counter(), os.times()
        msg = run(cards_dir, out)
        full, c1 = time.perf_counter() - t0, os.times()
        cpu = (c1.user + c1.system + c1.children_user + c1.children_system
               - c0.user - c0.system - c0.children_user - c0.children_system)
        pages = sum(1 for p in out.rglob("*") if p.is_file() and p.suffix in (".html", ".json", ".xml"))
        html = sum(1 for p in out.rglob("*.html"))
        t1 = time.perf_counter()
        msg2 = run(cards_dir, out)
        noop = time.perf_counter() - t1
        # one card edited: an incremental rebuild
        first = sorted(cards_dir.glob("*.md"))[0]
        first.write_text(first.read_text(encoding="utf-8").replace("Top1 acc", "Top-1 acc"), encoding="utf-8")
        t2 = time.perf_counter()
        msg3 = run(cards_dir, out)
        one = time.perf_counter() - t2
        print(f"pipeline: {'generator.build' if use_lead else 'render+write (site.build_site)'}"
              f"{'' if SEARCH else ', without the search index'}")
        print(f"cards: {args.n}, output files: {pages} ({html} HTML pages)")
        print(f"full build: {full:.2f} s wall, {cpu:.2f} s CPU (all processes) -> {pages / full:,.0f} files/s, "
              f"{html / full:,.0f} HTML pages/s\n  [{msg}]")
        print(f"file system: {floor * 1000:.2f} ms to create a folder + file (single process), i.e. "
              f"{pages * floor:.2f} s of the full build is creating {pages} files")
        print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (other work slows the wall clock)")
        print(f"no-op rebuild: {noop:.3f} s  [{msg2}]")
        print(f"one card changed: {one:.3f} s  [{msg3}]")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

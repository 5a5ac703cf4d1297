"""How fast is a build without verification, next to Hugo on the same cards?

    .venv/bin/python benchmarks/build_speed.py [-n 1000] [--pairs 5] [--search] [--keep DIR]

N synthetic bilingual cards shaped like the ResNet card (each with its own model names and numbers,
so no cache shortcut makes the figures look better than a real hub would) are built by
`build-site build --no-verify` and, from the same cards, by Hugo (Debian's `hugo`: one content
folder per language, minimal templates, code highlighting on as ours). Every figure is a whole
process, timed from outside, the two tools alternating (paired), so machine load hits both alike.

Prints one JSON line per figure:
  full       cold build (no output folder, no caches): ours, hugo, paired ratios and their median
  stages     per-stage wall and CPU of our last full build (from $BUILD_SITE_TIMINGS)
  one_edit   one card changed, then rebuilt (the site of the previous build kept)
  noop       nothing changed, the whole process
  import     `build-site --version`, the whole process (start-up cost)
and the load average at the start and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "cards" / "megengine_vision_resnet.md"
VARIANTS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d")
BUILD_SITE = Path(sys.executable).with_name("build-site")


def synth_card(i: int, seed: str) -> str:
    """The seed card with every model name, the title and the numbers made unique to card i."""
    text = seed.replace("title: ResNet", f"title: SynthNet {i:05d}")
    for v in VARIANTS:
        text = text.replace(f"'{v}'", f"'{v}_s{i}'").replace(f"`{v}`", f"`{v}_s{i}`")
    text = text.replace("cat.jpg", f"cat{i}.jpg")
    return text.replace("70.312", f"70.{i % 1000:03d}").replace("89.430", f"89.{(i * 7) % 1000:03d}")


def make_cards(dst: Path, n: int) -> list[Path]:
    dst.mkdir(parents=True)
    seed = SEED.read_text(encoding="utf-8")
    paths = []
    for i in range(n):
        p = dst / f"synth_vision_net{i:05d}.md"
        p.write_text(synth_card(i, seed), encoding="utf-8")
        paths.append(p)
    shutil.copy(ROOT / "cards" / "tags.yaml", dst / "tags.yaml")
    return paths


# ---------------------------------------------------------------- the same cards for Hugo

_SECTION = re.compile(r"^<!--\s*section:\s*(zh_CN|en_US)\s*-->\s*$", re.M)
_HUGO_CONFIG = """baseURL = "https://example.invalid/"
disableKinds = ["taxonomy", "term", "RSS"]
defaultContentLanguage = "en"
defaultContentLanguageInSubdir = true
[markup.highlight]
  codeFences = true
  noClasses = false
[languages.en]
  contentDir = "content/en"
  weight = 1
[languages.zh]
  contentDir = "content/zh"
  weight = 2
"""
_BASEOF = """<!doctype html><html lang="{{ .Site.Language.Lang }}"><head><meta charset="utf-8">
<title>{{ .Title }}</title></head><body>{{ block "main" . }}{{ end }}</body></html>
"""
_SINGLE = """{{ define "main" }}<h1>{{ .Title }}</h1><p>{{ .Params.summary }}</p>{{ .Content }}
{{ range .Translations }}<a href="{{ .RelPermalink }}">{{ .Language.Lang }}</a>{{ end }}{{ end }}
"""
_LIST = """{{ define "main" }}<ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>
{{ .Params.summary }}</li>{{ end }}</ul>{{ end }}
"""


def make_hugo_site(cards: list[Path], dst: Path) -> None:
    """One Hugo page per card and language: its prelude and that language's section, as Markdown."""
    import yaml

    (dst / "layouts" / "_default").mkdir(parents=True)
    (dst / "config.toml").write_text(_HUGO_CONFIG, encoding="utf-8")
    (dst / "layouts" / "_default" / "baseof.html").write_text(_BASEOF, encoding="utf-8")
    (dst / "layouts" / "_default" / "single.html").write_text(_SINGLE, encoding="utf-8")
    (dst / "layouts" / "_default" / "list.html").write_text(_LIST, encoding="utf-8")
    for lang in ("en", "zh"):
        (dst / "content" / lang).mkdir(parents=True)
    for card in cards:
        text = card.read_text(encoding="utf-8")
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front)
        parts = _SECTION.split(body)
        prelude, sections = parts[0], dict(zip(parts[1::2], parts[2::2]))
        for lang, key in (("en", "en_US"), ("zh", "zh_CN")):
            head = {"title": meta["title"], "summary": meta["summary"][key], "tags": meta.get("tags", [])}
            page = "---\n" + json.dumps(head, ensure_ascii=False) + "\n---\n" + prelude + sections.get(key, "")
            (dst / "content" / lang / f"{card.stem}.md").write_text(page, encoding="utf-8")


# ---------------------------------------------------------------- timing whole processes

def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def ours(work: Path, search: bool, timings: Path | None = None) -> list[str]:
    cmd = [str(BUILD_SITE), "build", "--no-verify", "--cards", str(work / "cards"), "--out", str(work / "site"),
           "--project", str(work)]
    return cmd + ([] if search else ["--no-search"])


def cold_ours(work: Path, search: bool, timings: Path) -> float:
    shutil.rmtree(work / "site", ignore_errors=True)
    shutil.rmtree(work / ".cache", ignore_errors=True)  # a full build: no caches either
    return timed(ours(work, search), env={**os.environ, "BUILD_SITE_TIMINGS": str(timings)})


def cold_hugo(work: Path) -> float:
    shutil.rmtree(work / "hugo" / "public", ignore_errors=True)
    shutil.rmtree(work / "hugo" / "resources", ignore_errors=True)
    return timed(["hugo", "--quiet", "-s", str(work / "hugo"), "-d", str(work / "hugo" / "public")])


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def edit_bench_args(doc: str) -> argparse.Namespace:
    """The options of the edit benchmarks (search_incremental.py, serve_edit.py)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000, help="number of synthetic cards")
    ap.add_argument("--pairs", type=int, default=5, help="paired runs")
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep the result")
    return ap.parse_args()


@contextlib.contextmanager
def work_folder(keep: Path | None) -> Iterator[Path]:
    """`keep`, or a new folder under .cache/ removed at the end. Next to the project (like a real
    site/), not /tmp: on these machines /tmp is a slower disk."""
    (ROOT / ".cache").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=ROOT / ".cache")) if keep is None else keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def emit_runs(figure: str, values: list[float]) -> None:
    """One timed figure: its median, min and max, every run, and the load average now."""
    emit(figure, seconds=summary(values), runs=[round(x, 3) for x in values],
         loadavg=[round(x, 2) for x in os.getloadavg()])


def emit(figure: str, **data: object) -> None:
    print(json.dumps({"figure": figure, **data}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000, help="number of synthetic cards")
    ap.add_argument("--pairs", type=int, default=5, help="paired runs per figure")
    ap.add_argument("--search", action="store_true", help="our builds include the Pagefind index")
    ap.add_argument("--no-hugo", action="store_true", help="leave the Hugo comparison out")
    ap.add_argument("--keep", type=Path, default=None, help="work here and keep the result")
    args = ap.parse_args()
    hugo = None if args.no_hugo else shutil.which("hugo")
    if not args.no_hugo and hugo is None:
        raise SystemExit("hugo is not installed (Debian: apt-get install hugo); or pass --no-hugo")

    with work_folder(args.keep) as work:
        timings = work / "timings.json"
        emit("setup", cards=args.n, pairs=args.pairs, search=args.search, cores=os.cpu_count(),
             loadavg=[round(x, 2) for x in os.getloadavg()],
             hugo=subprocess.run(["hugo", "version"], capture_output=True, text=True).stdout.split()[1] if hugo else None)
        cards = make_cards(work / "cards", args.n)
        if hugo:
            make_hugo_site(cards, work / "hugo")

        mine, theirs, ratios = [], [], []
        for k in range(args.pairs):
            if hugo and k % 2:  # alternate which tool goes first
                h = cold_hugo(work)
                o = cold_ours(work, args.search, timings)
            else:
                o = cold_ours(work, args.search, timings)
                h = cold_hugo(work) if hugo else None
            mine.append(o)
            if h is not None:
                theirs.append(h)
                ratios.append(o / h)
        files = sum(1 for p in (work / "site").rglob("*") if p.is_file())
        pages = sum(1 for _ in (work / "site").rglob("*.html"))
        hugo_pages = sum(1 for _ in (work / "hugo" / "public").rglob("*.html")) if hugo else None
        emit("full", ours_s=summary(mine), hugo_s=summary(theirs) if theirs else None,
             ratio_paired_median=round(statistics.median(ratios), 3) if ratios else None,
             ratios=[round(r, 3) for r in ratios], our_files=files, our_html_pages=pages, hugo_html_pages=hugo_pages,
             our_html_pages_per_s=round(pages / statistics.median(mine)))
        emit("stages", **json.loads(timings.read_text(encoding="utf-8")))

        # one card edited: the text of one section changes, the rebuild keeps the previous site
        edits = []
        for k in range(args.pairs):
            card = cards[(k * 37) % len(cards)]
            card.write_text(card.read_text(encoding="utf-8").replace("Top1 acc", f"Top1 acc{k}", 1), encoding="utf-8")
            edits.append(timed(ours(work, args.search)))
        emit("one_edit", seconds=summary(edits), runs=[round(x, 3) for x in edits])

        noops = [timed(ours(work, args.search)) for _ in range(args.pairs)]
        emit("noop", seconds=summary(noops), runs=[round(x, 3) for x in noops])
        starts = [timed([str(BUILD_SITE), "--version"]) for _ in range(args.pairs)]
        emit("import", seconds=summary(starts))
        emit("done", loadavg=[round(x, 2) for x in os.getloadavg()])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

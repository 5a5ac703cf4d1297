"""Search recall on the bundled hub: build cards/, run each query of tests/search/queries.yaml
through the built site's own Pagefind bundle in headless Chromium, print recall per language.

    .venv/bin/python benchmarks/search_recall.py [--no-verify] [--site DIR] [--queries FILE]

Recall = expected pages found (anywhere in the result list) / expected pages. A query also
"leaks" when one of its `not_marked` words is highlighted on its own in an excerpt (a wrong
segmentation: 差 of 标准差 highlighted for the query 残差). One JSON line per language, then a
line per missed page (what a reader would not find), so a change can be compared query by query.
Without --no-verify the build runs the cards (from the run cache when warm): program outputs are
then on the pages, which some queries need ("tiger cat" is what EfficientNet's snippet prints).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "tests" / "search" / "queries.yaml"
LANG_DIR = {"zh": "zh", "en": "en"}
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def load_queries(path: Path) -> tuple[dict[str, str], dict[str, list[dict]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data["pages"], {lang: data[lang] for lang in LANG_DIR}


def build(out: Path, verify: bool) -> None:
    cmd = [str(ROOT / ".venv" / "bin" / "build-site"), "build", "--project", str(ROOT), "--out", str(out)]
    if not verify:
        cmd.append("--no-verify")
    subprocess.run(cmd, check=True, timeout=1800)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


# Pagefind's own JS API, loaded as the page's search box loads it (the first index part, the
# others merged, as site.js does; on the main thread, as site.js runs it, so the query is cut with the index's words).
_SEARCH_JS = """async (q) => {
  const ui = document.querySelector('script[src$="pagefind-ui.js"]');
  const base = new URL(ui.getAttribute('src'), location.href).pathname.replace(/pagefind-ui\\.js$/, '');
  const parts = window.hubSearchParts || [];
  const pf = await import(base + (parts.length ? parts[0] + '/' : '') + 'pagefind.js');
  await pf.options({excerptLength: 30, noWorker: true});
  for (const p of parts.slice(1)) await pf.mergeIndex(base + p + '/');
  const r = await pf.search(q);
  const out = [];
  for (const hit of r.results) { const d = await hit.data(); out.push({url: d.url, excerpt: d.excerpt}); }
  return out;
}"""


def run_queries(base: str, pages: dict[str, str], queries: dict[str, list[dict]]) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    report: dict[str, dict] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, headless=True, args=FLAGS)
        page = browser.new_page()
        for lang, items in queries.items():
            first = next(iter(pages.values()))
            page.goto(f"{base}/{LANG_DIR[lang]}/models/{first}/index.html")
            found = expected = leaks = 0
            misses: list[str] = []
            for item in items:
                hits = page.evaluate(_SEARCH_JS, str(item["q"]))
                ids = [re.sub(r".*/models/([^/]+)/.*", r"\1", h["url"]) for h in hits]
                for key in item["expect"]:
                    expected += 1
                    if pages[key] in ids:
                        found += 1
                    else:
                        misses.append(f"{item['q']} -> {key}")
                for word in item.get("not_marked", []):
                    marked = re.compile(rf"<mark>\s*{re.escape(word)}\s*</mark>")
                    if any(marked.search(h["excerpt"]) for h in hits):
                        leaks += 1
                        misses.append(f"{item['q']}: <mark>{word}</mark> in an excerpt")
            report[lang] = {"lang": lang, "queries": len(items), "expected": expected, "found": found,
                            "recall": round(found / expected, 3) if expected else None,
                            "wrong_highlights": leaks, "misses": misses}
        browser.close()
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-verify", action="store_true", help="build without running the cards")
    ap.add_argument("--site", type=Path, help="an already built site (skips the build)")
    ap.add_argument("--queries", type=Path, default=QUERIES)
    args = ap.parse_args(argv)
    pages, queries = load_queries(args.queries)
    with tempfile.TemporaryDirectory(prefix="search-recall-") as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            build(site, verify=not args.no_verify)
        srv, base = serve(site)
        try:
            report = run_queries(base, pages, queries)
        finally:
            srv.shutdown()
    for lang, r in report.items():
        print(json.dumps({k: v for k, v in r.items() if k != "misses"}, ensure_ascii=False))
    for lang, r in report.items():
        for m in r["misses"]:
            print(f"  {lang} miss: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the number of index parts costs a reader: the same query on two built sites in a real
Chromium (Debian's, through Playwright), each served over HTTP on 127.0.0.1, paired and
alternating. For each site and round, a fresh browser context (no cache) opens the English and
the Chinese index page, waits for the search box, types the query and times until Pagefind's
result count shows ("N results for ..."); it also counts the requests the page made for the
search bundle (the excerpts' fragments included).

    .venv/bin/python benchmarks/search_parts_browser.py SITE_A SITE_B [--rounds 7]
                     [--queries 'residual,残差网络,tiger cat']

SITE_A and SITE_B: output folders of `build-site build` (e.g. the same 1,000 synthetic cards
built with PART_PAGES 64 and 32). Prints one JSON line: medians per site (ms, requests), their
paired ratio, the parts of each site, the load average.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from harness import CHROMIUM_FLAGS, chromium_path  # noqa: E402


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a context closed while a fetch was in flight: the broken pipe is expected


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = _Server(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def one(browser, base: str, lang: str, query: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    try:
        page = context.new_page()
        bundle: list[str] = []
        page.on("request", lambda r: bundle.append(r.url) if "/pagefind/" in r.url else None)
        page.goto(f"{base}{lang}/index.html")
        box = page.locator("#search input")
        box.wait_for(state="visible", timeout=20000)
        t0 = time.perf_counter()
        box.fill(query)
        # Pagefind's UI says "Searching for …" at once and "N results for …" once it has them
        page.wait_for_function("() => { const m = document.querySelector('.pagefind-ui__message');"
                               " return m && m.textContent.trim() && !m.textContent.includes('Searching'); }",
                               timeout=30000)
        ms = (time.perf_counter() - t0) * 1000
        page.wait_for_timeout(200)  # the excerpts' fragments are fetched right after: counted too
        return ms, len(bundle)
    finally:
        context.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site_a", type=Path)
    ap.add_argument("site_b", type=Path)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--queries", default="residual,残差网络,tiger cat")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    queries = [(("zh" if any("\u4e00" <= ch <= "\u9fff" for ch in q) else "en"), q) for q in args.queries.split(",")]
    load_before = os.getloadavg()
    servers = [serve(args.site_a), serve(args.site_b)]
    times: dict[str, list[float]] = {"a": [], "b": []}
    requests: dict[str, list[int]] = {"a": [], "b": []}
    ratios: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        for _warm in range(2):
            for _server, base in servers:
                one(browser, base, *queries[0])
        for r in range(args.rounds):
            for lang, query in queries:
                got = {}
                for side in (("a", "b") if r % 2 == 0 else ("b", "a")):
                    base = servers[0][1] if side == "a" else servers[1][1]
                    ms, n = one(browser, base, lang, query)
                    times[side].append(ms)
                    requests[side].append(n)
                    got[side] = ms
                ratios.append(got["a"] / got["b"])
        browser.close()
    for server, _base in servers:
        server.shutdown()
    parts = {k: len(list((site / "en" / "pagefind").glob("part*"))) for k, site in (("a", args.site_a), ("b", args.site_b))}
    print(json.dumps({
        "parts_per_language": parts, "queries": [q for _l, q in queries], "rounds": args.rounds,
        "query_ms_median": {k: round(statistics.median(v), 1) for k, v in times.items()},
        "query_ms_max": {k: round(max(v), 1) for k, v in times.items()},
        "bundle_requests_median": {k: statistics.median(v) for k, v in requests.items()},
        "a_vs_b_paired_median": round(statistics.median(ratios), 3),
        "loadavg": {"before": load_before, "after": os.getloadavg()},
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Full-text search: one Pagefind bundle per language, built over the written site.

Runs after the pages are written into the temporary output folder and before the atomic swap, so
a reader never sees pages without their index.

Why one run per language folder (`site/en/pagefind/`, `site/zh/pagefind/`) rather than one run
over the whole site (which would also split by `<html lang>`):
- each language's pages load only their own bundle, at a path relative to the page;
- Pagefind resolves result URLs against the bundle's own location, so results link to
  `<lang>/models/<id>/index.html` under any base path, with nothing to configure;
- the language chooser, 404 and tag pages stay out of the index (`--glob models/**`).

The *extended* binary (pip `pagefind-bin-extended`) is required: it segments Chinese at index
time, so "残差" finds "深度残差网络" although Chinese has no spaces between words.

When the binary is missing or fails, each language still gets `pagefind/pagefind-ui.js` and
`pagefind-ui.css`, as stubs that define nothing: pages keep their search box hidden (site.js shows
it only when `PagefindUI` exists), no request 404s, and the build goes on with a warning.

Output is byte-identical across runs, folders and file times (checked in tests/search), so the
site's determinism test needs no exclusion for it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import Code, Diagnostic, warning
from .model import LANGS, URL_LANG

BUNDLE = "pagefind"  # folder inside each language folder
INDEXED = "models/**/*.html"  # model pages only; relative to the language folder
TIMEOUT_S = 300

STUB_JS = (
    "/* Search is not available on this build of the site: {reason}.\n"
    "   Pages keep their search box hidden because PagefindUI is not defined. */\n"
)
STUB_CSS = "/* Search is not available on this build of the site. */\n"


def pagefind_binary() -> Path | None:
    """The extended Pagefind binary shipped by the `pagefind-bin-extended` wheel, else one on PATH."""
    try:
        from pagefind_bin_extended import get_executable  # type: ignore[import-untyped]

        return Path(get_executable())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("pagefind_extended")
    return Path(found) if found else None


def index_site(site_dir: Path) -> tuple[Diagnostic, ...]:
    """Write `<lang>/pagefind/` into every language folder of `site_dir`.

    Never raises for a missing or failing Pagefind: the problem comes back as a warning
    (the site is still complete, only without search) and stubs are written instead.
    """
    binary = pagefind_binary()
    problems: list[Diagnostic] = []
    for lang in LANGS:
        lang_dir = site_dir / URL_LANG[lang]
        if not lang_dir.is_dir():
            continue
        out = lang_dir / BUNDLE
        if out.exists():
            shutil.rmtree(out)
        if binary is None:
            reason = "the Pagefind binary was not found (pip install pagefind[extended])"
        elif not any(lang_dir.glob("models/*/index.html")):
            reason = "there are no model pages to index"
        else:
            reason = _run(binary, lang_dir)
        if reason:
            if out.exists():
                shutil.rmtree(out)  # a half-written bundle would make the UI fail at search time
            _write_stub(out, reason)
            problems.append(warning(Code.SEARCH_INDEX, f"no search for {URL_LANG[lang]}/: {reason}",
                                    str(lang_dir), 1))
    return tuple(problems)


def _run(binary: Path, lang_dir: Path) -> str:
    """Run Pagefind over one language folder; '' on success, else why it failed."""
    # Pagefind also reads PAGEFIND_* variables and a pagefind.yml in its working directory: run it
    # in the language folder (which holds only our output) with those variables removed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
    cmd = [str(binary), "--site", ".", "--output-subdir", BUNDLE, "--glob", INDEXED,
           "--keep-index-url", "--silent"]
    try:
        proc = subprocess.run(cmd, cwd=lang_dir, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Pagefind could not run ({exc})"
    if proc.returncode != 0 or not (lang_dir / BUNDLE / "pagefind-ui.js").is_file():
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return f"Pagefind exited with status {proc.returncode}" + (f": {last[0]}" if last else "")
    return ""


def _write_stub(out: Path, reason: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "pagefind-ui.js").write_text(STUB_JS.format(reason=reason.replace("*/", "* /")), encoding="utf-8")
    (out / "pagefind-ui.css").write_text(STUB_CSS, encoding="utf-8")

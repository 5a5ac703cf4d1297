"""Is the site already built from these inputs? The stat fast path, kept apart from the renderer
so that answering it imports neither Jinja2 nor markdown-it (`build-site` on an unchanged site)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from generator.site import state as incremental
from generator.site.options import SiteOptions


def site_input_files(options: SiteOptions) -> list[Path]:
    """The files this stage reads besides the cards (catalog, templates, static files): add
    them to the card files when calling `incremental.inputs_unchanged`."""
    files = sorted(p for p in options.templates_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files if options.catalog_path in files else [options.catalog_path] + files


def site_is_current(out_dir: Path, card_files: Sequence[Path], options: SiteOptions, fingerprint: str,
                    seen: dict[str, tuple[int, int]] | None = None) -> bool:
    """True when `out_dir` was built from exactly these card/registry files (same mtimes and
    sizes), the same templates and catalog, and the same fingerprint, so the whole build can stop
    before reading a card. `card_files`: every file the cards stage reads (cards, tags.yaml, any
    other registry); pass the same list's stats to `build_site` (`seen` receives them: a build
    that goes on need not stat them again)."""
    return incremental.inputs_unchanged(out_dir, list(card_files) + site_input_files(options), fingerprint, seen)


def outputs_are_the_builds(out_dir: Path, signatures: Path | None) -> bool:
    """True when every file of the site in `out_dir` is the one the last build left (by its
    recorded stat signature) and no other file is there: an edit or a file put into the site
    by hand makes the fast path give way to a build, which writes it again or leaves it out.
    Without recorded signatures (no cache folder) the answer is no."""
    state = incremental.load_state(out_dir)
    if state is None or signatures is None:
        return False
    return incremental.outputs_unchanged(out_dir, state, incremental.load_signatures(signatures))

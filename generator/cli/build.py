"""`build-site build`: the whole pipeline, top to bottom. The only place that orders the stages.

    read + validate every card, registry, lock and verify spec   (nothing runs before all pass)
 -> verify: run every program, check every number                (cached: no child when unchanged)
 -> render + write the site, report.json and model-index files    (only what changed; atomic)
 -> search index
 -> under --strict: exit 1 on failed/timeout/blocked code or mismatching numbers
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

from generator import __version__
from generator.cli.config import Config
from generator.cards.discover import read_cards
from generator.core.errors import Code, Diagnostic, UserError, error, has_errors
from generator.claims.evaluate import state_record
from generator.run.execute import strict_failures
from generator.core.model import Card, CardVerification
from generator.site.modelindex import model_index
from generator.site.report import junit_xml, report_dict
from generator.run.sandbox import library_versions
from generator.site.build import BuildReport, SiteOptions, build_site, site_is_current
from generator.site import state as incremental
from generator.site import urls

REPORT_URL = "verify/report.json"


def build(cfg: Config) -> int:
    started = time.perf_counter()
    options = SiteOptions.for_project(cfg.cards, cfg.templates, cfg.base_url)
    inputs = _input_files(cfg)
    fingerprint = _fingerprint(cfg)
    # The fast path skips even reading the cards. Under --strict the verdict must be recomputed
    # (from the caches), --junit needs it written, and --rerun asks for real runs.
    if (not cfg.strict and not cfg.rerun and cfg.junit is None
            and site_is_current(cfg.out, inputs, options, fingerprint)):
        _say(cfg, f"site is up to date ({time.perf_counter() - started:.3f} s)")
        return 0
    stats = incremental.stat_inputs(inputs)
    clock = _Stopwatch()

    cards, tags, problems = read_cards(cfg.cards)
    verify_inputs = None
    if cfg.verify and not has_errors(problems):
        from generator.claims.verify import load_inputs

        verify_inputs, more = load_inputs(cfg, cards)
        problems.extend(more)
    if has_errors(problems):
        raise UserError(problems)
    _print(problems)
    clock.lap("read")

    verification: dict[str, CardVerification] = {}
    if verify_inputs is not None:
        from generator.claims.verify import verify_all

        verification, more = verify_all(cfg, cards, verify_inputs)
        _print(more)
    extra = _extra_files(cards, verification, verify_inputs.registry if verify_inputs else {}, cfg)
    clock.lap("verify")

    log = (lambda m: print(m, file=sys.stderr)) if cfg.verbose else None
    report = build_site(cards, tags, verification, options, cfg.out, log=log, input_stats=stats,
                        fingerprint=fingerprint, workers=cfg.jobs, extra=extra,
                        before_swap=lambda stage, changed: _index_search(cfg, stage, changed))
    if cfg.search and not report.wrote:
        _repair_search(cfg)
    clock.lap("render+write+search")
    if cfg.junit is not None and verification:
        cfg.junit.parent.mkdir(parents=True, exist_ok=True)
        cfg.junit.write_bytes(junit_xml(verification.values()))

    _say(cfg, _summary(cards, verification, report, time.perf_counter() - started)
         + " (" + ", ".join(f"{name} {sec:.2f} s" for name, sec in clock.laps) + ")")
    if cfg.strict:
        failures = strict_failures(verification.values()) + _mismatches(verification)
        if failures:
            _print(failures)
            print(f"build-site: --strict: {len(failures)} problem(s); the site was written, CI should fail",
                  file=sys.stderr)
            return 1
    return 0


# ---------------------------------------------------------------- inputs and fingerprint

def _input_files(cfg: Config) -> list[Path]:
    """Every file the read and verify stages read from the cards folder (cards, registries, lock,
    verify sidecars). Templates and the catalog are added by the site stage."""
    return sorted(p for p in cfg.cards.iterdir() if p.is_file() and not p.name.startswith("."))


def _fingerprint(cfg: Config) -> str:
    """What else changes the output besides the input files: options, and for verification the
    tool and library versions, which store items are present and which datasets are reachable.
    (The project's own hub repository is pinned by tree hash in the lock, so a change to it
    changes the lock file, which is an input file.)"""
    parts: list[str] = [f"tool={__version__}", f"verify={cfg.verify}", f"base={cfg.base_url}",
                        f"search={cfg.search}"]
    if cfg.verify:
        parts += [f"eval_limit={cfg.eval_limit}", f"imagenet={cfg.imagenet_dir}"]
        parts += [f"{k}={v}" for k, v in sorted(library_versions().items())]
        parts += [f"{k}={os.environ.get(k, '')}" for k in ("IMAGENET_VAL_DIR", "FASHION_MNIST_DIR")]
        parts.append(f"fmnist={Path('/usr/share/datasets/fashion-mnist').is_dir()}")
        parts.append(f"store={_store_presence(cfg)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _store_presence(cfg: Config) -> str:
    """Which lock items the store holds (a `build-site fetch` changes this, not the lock): the
    same digest the run cache keys on."""
    from generator.store.lock import parse_lock
    from generator.store.content import Store, item_digest

    try:
        lock, problems = parse_lock((cfg.cards / "store.lock.json").read_text(encoding="utf-8"))
    except OSError:
        return "no lock"
    return "unreadable" if problems else item_digest(lock, Store(cfg.store))


# ---------------------------------------------------------------- outputs besides the pages

def _extra_files(cards: Sequence[Card], verification: Mapping[str, CardVerification],
                 registry: Mapping[str, object], cfg: Config) -> dict[str, bytes]:
    if not verification:
        return {}
    by_id = {c.meta.id: c for c in cards}
    report = report_dict(
        verification.values(),
        generated_from={"cards": sorted(c.path for c in cards), "eval_limit": cfg.eval_limit},
        card_extras=[lambda cv: {"claims": [state_record(s) for s in cv.claims]}],
    )
    files = {REPORT_URL: _json(report)}
    datasets = {k: dict(getattr(v, "model_index", {}) or {}) for k, v in registry.items()}
    for cid, cv in sorted(verification.items()):
        files[urls.api_model(cid).replace(".json", ".model-index.json")] = _json(
            model_index(by_id[cid], cv.claims, datasets))
    return files


def _json(data: object) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _index_search(cfg: Config, stage: Path, changed: frozenset[str]) -> None:
    """Runs on the new site folder before it is swapped in, so pages and their search index
    change together. Pagefind reads only the model pages: when none of them changed, the current
    bundles are carried over (hard links) instead of re-indexing. A missing Pagefind is a
    warning: the site works without search."""
    if not cfg.search:
        return
    from generator.site.search import BUNDLE, index_site

    pages_changed = any("/models/" in url and url.endswith(".html") for url in changed)
    old = [(cfg.out / lang / BUNDLE, stage / lang / BUNDLE) for lang in _lang_dirs(stage)]
    if not pages_changed and old and all(src.is_dir() for src, _ in old):
        for src, dst in old:
            shutil.copytree(src, dst, copy_function=os.link)
        return
    _print(index_site(stage))


def _repair_search(cfg: Config) -> None:
    """Nothing was rendered, but a bundle is missing (the last build ran with --no-search)."""
    from generator.site.search import BUNDLE, index_site

    if any(not (cfg.out / lang / BUNDLE).is_dir() for lang in _lang_dirs(cfg.out)):
        _print(index_site(cfg.out))


def _lang_dirs(site: Path) -> list[str]:
    from generator.core.model import LANGS, URL_LANG

    return [URL_LANG[lang] for lang in LANGS if (site / URL_LANG[lang]).is_dir()]


def _mismatches(verification: Mapping[str, CardVerification]) -> list[Diagnostic]:
    out = []
    for cv in verification.values():
        for s in cv.claims:
            if s.status == "mismatch":
                c = s.claim
                out.append(error(Code.CLAIM_MISMATCH, f"{c.row} / {c.column} = {c.text}: {s.reason}",
                                 c.loc.path, c.loc.line))
    return sorted(out, key=lambda d: (d.loc, d.message))


def _summary(cards: Sequence[Card], verification: Mapping[str, CardVerification],
             report: BuildReport, seconds: float) -> str:
    blocks: dict[str, int] = {}
    claims: dict[str, int] = {}
    for cv in verification.values():
        for p in cv.programs:
            for b in p.blocks:
                key = "placeholder" if "placeholder-weights" in b.flags else b.status
                blocks[key] = blocks.get(key, 0) + len(p.langs)
        for s in cv.claims:
            claims[s.status] = claims.get(s.status, 0) + 1
    fmt = lambda d: ", ".join(f"{n} {k}" for k, n in sorted(d.items())) or "none"  # noqa: E731
    verified = f"; code blocks: {fmt(blocks)}; numbers: {fmt(claims)}" if verification else "; not verified (--no-verify)"
    return (f"built {len(cards)} card(s) in {seconds:.2f} s: {report.rendered} file(s) rendered, "
            f"{report.reused} reused, {report.removed} removed{verified}")


class _Stopwatch:
    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self._last))
        self._last = now


def _print(diags: Sequence[Diagnostic]) -> None:
    for d in diags:
        print(d, file=sys.stderr)


def _say(cfg: Config, message: str) -> None:
    print(f"build-site: {message}", file=sys.stderr)

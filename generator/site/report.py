"""Machine-readable results: `site/verify/report.json` and a JUnit XML file for CI.

Both take the CardVerification objects of model.py, so later stages (accuracy claims) extend the
report by passing a `card_extras` function instead of editing this module.
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from generator import __version__ as TOOL_VERSION
from generator.core.model import PRELUDE, BlockResult, CardVerification, ProgramResult

CardExtra = Callable[[CardVerification], Mapping[str, Any]]
BAD = ("failed", "timeout", "blocked")


def block_json(b: BlockResult) -> dict[str, Any]:
    return {"lang": b.lang, "index": b.index, "line": b.line, "status": b.status,
            "flags": list(b.flags), "duration_s": round(b.duration_s, 3),
            "peak_mb": round(b.peak_mb, 1), "reason": b.reason, "cached": b.cached}


def program_json(p: ProgramResult) -> dict[str, Any]:
    return {"langs": list(p.langs), "cache_key": p.cache_key, "ran_at": p.ran_at,
            "environment": dict(p.environment), "blocks": [block_json(b) for b in p.blocks]}


def report_dict(verifications: Iterable[CardVerification], generated_from: Mapping[str, Any],
                card_extras: Sequence[CardExtra] = ()) -> dict[str, Any]:
    """The report as plain data. Each function in `card_extras` adds keys to a card's entry
    (e.g. `lambda cv: {"claims": [...]}`); it may not replace "id" or "programs"."""
    cards = []
    for cv in sorted(verifications, key=lambda v: v.card_id):
        entry: dict[str, Any] = {"id": cv.card_id, "programs": [program_json(p) for p in cv.programs]}
        for extra in card_extras:
            more = dict(extra(cv))
            clash = set(more) & {"id", "programs"}
            if clash:
                raise ValueError(f"card_extras may not replace {sorted(clash)}")
            entry.update(more)
        cards.append(entry)
    return {"tool_version": TOOL_VERSION, "generated_from": dict(generated_from), "cards": cards}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report_json(path: Path, verifications: Iterable[CardVerification],
                      generated_from: Mapping[str, Any], card_extras: Sequence[CardExtra] = ()) -> None:
    data = report_dict(verifications, generated_from, card_extras)
    _atomic_write(path, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


# ---------------------------------------------------------------- JUnit XML


def _lang_blocks(p: ProgramResult, lang: str) -> list[BlockResult]:
    return [b for b in p.blocks if b.lang in (PRELUDE, lang)]


def _where(b: BlockResult) -> str:
    return "prelude" if b.lang == PRELUDE else f"{b.lang} block {b.index + 1}"


def junit_xml(verifications: Iterable[CardVerification], suite_name: str = "card-snippets") -> bytes:
    """One <testcase classname=card id name=language> per card and language. A failed, timed-out
    or blocked block makes a <failure> (message: the first bad block's reason; text: every bad
    block with its card line and traceback); a case whose blocks were all skipped is <skipped>."""
    suite = ET.Element("testsuite", name=suite_name)
    tests = failures = skipped = 0
    total_time = 0.0
    for cv in sorted(verifications, key=lambda v: v.card_id):
        for p in cv.programs:
            for lang in p.langs or (PRELUDE,):
                blocks = _lang_blocks(p, lang)
                # a program reported for two languages ran once: count its time once
                t = sum(b.duration_s for b in blocks) if lang == (p.langs or (PRELUDE,))[0] else 0.0
                total_time += t
                case = ET.SubElement(suite, "testcase", classname=cv.card_id, name=lang,
                                     time=f"{t:.3f}")
                tests += 1
                bad = [b for b in blocks if b.status in BAD]
                if bad:
                    failures += 1
                    first = bad[0]
                    fail = ET.SubElement(case, "failure", type=first.status,
                                         message=f"{_where(first)} (line {first.line}) {first.status}: {first.reason}")
                    fail.text = "\n\n".join(
                        f"line {b.line}: {_where(b)} {b.status}: {b.reason}\n{b.traceback}".rstrip()
                        for b in bad)
                elif blocks and all(b.status == "skipped" for b in blocks):
                    skipped += 1
                    ET.SubElement(case, "skipped", message="; ".join(
                        sorted({b.reason for b in blocks if b.reason})) or "skipped")
                out = "\n".join(f"line {b.line}: {_where(b)}: {b.status}"
                                + (f" [{', '.join(b.flags)}]" if b.flags else "")
                                + (" (cached)" if b.cached else "") for b in blocks)
                ET.SubElement(case, "system-out").text = out
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", f"{total_time:.3f}")
    root = ET.Element("testsuites", name="verified-hub", tests=str(tests), failures=str(failures),
                      errors="0", skipped=str(skipped), time=f"{total_time:.3f}")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, verifications: Iterable[CardVerification]) -> None:
    _atomic_write(path, junit_xml(verifications))

"""Machine-readable results: `site/verify/report.json`, the Hugging Face model-index files, and
a JUnit XML file for CI. One place assembles each; the build only asks for the bytes.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from typing import Any, Iterable, Mapping, Sequence

from generator import __version__ as TOOL_VERSION
from generator.core.jsonio import pretty
from generator.core.text import for_xml
from generator.core.model import BAD_RUN_STATUSES, PRELUDE, BlockResult, Card, CardVerification, ClaimState, ProgramResult
from generator.site import urls
from generator.site.modelindex import model_index
from generator.site.redact import public_text

BAD = tuple(BAD_RUN_STATUSES)


def block_json(b: BlockResult) -> dict[str, Any]:
    return {"lang": b.lang, "index": b.index, "line": b.line, "status": b.status,
            "flags": list(b.flags), "duration_s": round(b.duration_s, 3),
            "peak_mb": round(b.peak_mb, 1), "reason": public_text(b.reason), "cached": b.cached,
            "served": list(b.served),
            **({"code": b.reason_code, "args": {k: public_text(v) for k, v in b.reason_args.items()}}
               if b.reason_code else {})}


def program_json(p: ProgramResult) -> dict[str, Any]:
    return {"langs": list(p.langs), "cache_key": p.cache_key, "ran_at": p.ran_at,
            "environment": dict(p.environment), "blocks": [block_json(b) for b in p.blocks]}


def claim_json(state: ClaimState) -> dict[str, Any]:
    """One number with its checks and the provenance of its evaluation."""
    c = state.claim
    ev = next((o for o in state.checks if o.name == "evaluation" and o.measured is not None), None)
    return {
        "lang": c.lang, "table": c.table, "row": c.row, "column": c.column, "metric": c.metric,
        "line": c.loc.line, "claimed": c.value, "text": c.text, "scale": c.scale, "kind": c.kind,
        "direction": c.direction,
        "measured": ev.measured if ev else None, "status": state.status, "reason": public_text(state.reason),
        "checks": [{"name": o.name, "status": o.status, "measured": o.measured, "reason": public_text(o.reason),
                    **({"code": o.code, "args": dict(o.args)} if o.code else {})}
                   for o in state.checks],
        "provenance": dict(ev.provenance) if ev else {},
    }


def report_dict(verifications: Iterable[CardVerification], generated_from: Mapping[str, Any]) -> dict[str, Any]:
    """The report as plain data: every card's programs (each block) and numbers (each check)."""
    cards = [{"id": cv.card_id, "programs": [program_json(p) for p in cv.programs],
              "claims": [claim_json(s) for s in cv.claims],
              # the store items the card used as the lock pins them, and its spec's dataset:
              # what the page's evidence panel names beside the provenance
              "assets": [dataclasses.asdict(a) for a in cv.assets],
              "dataset": dataclasses.asdict(cv.dataset) if cv.dataset is not None else None}
             for cv in sorted(verifications, key=lambda v: v.card_id)]
    return {"tool_version": TOOL_VERSION, "generated_from": dict(generated_from), "cards": cards}


def report_files(cards: Sequence[Card], verification: Mapping[str, CardVerification],
                 datasets: Mapping[str, Mapping[str, str]], eval_limit: int | None) -> dict[str, bytes]:
    """report.json and one model-index JSON per card, as site files (url -> bytes). Nothing
    when nothing was verified (`--no-verify`). `datasets`: dataset id -> its model-index block."""
    if not verification:
        return {}
    report = report_dict(verification.values(),
                         {"cards": sorted(c.path for c in cards), "eval_limit": eval_limit})
    files = {urls.REPORT: pretty(report)}
    by_id = {c.meta.id: c for c in cards}
    for cid, cv in sorted(verification.items()):
        files[urls.model_index(cid)] = pretty(model_index(by_id[cid], cv.claims, datasets))
    return files


# ---------------------------------------------------------------- JUnit XML


def _lang_blocks(p: ProgramResult, lang: str) -> list[BlockResult]:
    return [b for b in p.blocks if b.lang in (PRELUDE, lang)]


def _where(b: BlockResult) -> str:
    return "prelude" if b.lang == PRELUDE else f"{b.lang} block {b.index + 1}"


def junit_xml(verifications: Iterable[CardVerification], suite_name: str = "card-snippets") -> bytes:
    """One <testcase classname=card id name=language> per card and language. A failed, timed-out
    or blocked block makes a <failure> (message: the first bad block's reason; text: every bad
    block with its card line and traceback); a case whose blocks were all skipped is <skipped>.
    Reasons and tracebacks come from untrusted code: characters XML 1.0 cannot hold (NUL, ESC,
    other controls) are dropped, or no CI could parse the file."""
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
                    fail = ET.SubElement(case, "failure", type=first.status, message=for_xml(
                        f"{_where(first)} (line {first.line}) {first.status}: {first.reason}"))
                    fail.text = for_xml("\n\n".join(
                        f"line {b.line}: {_where(b)} {b.status}: {b.reason}\n{b.traceback}".rstrip()
                        for b in bad))
                elif blocks and all(b.status == "skipped" for b in blocks):
                    skipped += 1
                    ET.SubElement(case, "skipped", message=for_xml("; ".join(
                        sorted({b.reason for b in blocks if b.reason})) or "skipped"))
                out = "\n".join(f"line {b.line}: {_where(b)}: {b.status}"
                                + (f" [{', '.join(b.flags)}]" if b.flags else "")
                                + (" (cached)" if b.cached else "") for b in blocks)
                ET.SubElement(case, "system-out").text = for_xml(out)
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

"""What the verification says about one code block, one number and one card, as display data.

Pure functions from the shared result types to small view records; the templates only lay them
out. Honesty rule: no result means "not run" / "not verified", never a success.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from markupsafe import Markup, escape

from generator.core.text import escape_controls
from generator.core.text import strip_ansi as _strip_ansi
from generator.core.model import PRELUDE, BlockResult, Card, CardVerification, ClaimState, ProgramResult
from generator.run.progress import counted_status
from generator.site.outputs import failing_line, split_log
from generator.site.redact import public_text
from generator.site.reasons import (block_reason_html, block_reason_text, check_name, proper_name, reason_html,
                                    reason_tip)

if TYPE_CHECKING:
    from generator.site.evidence import AssetNote

Translate = Callable[..., str]

# Display statuses of a code block, worst first (used to combine the prelude's runs).
BLOCK_STATUSES: tuple[str, ...] = (
    "failed", "timeout", "hub-error", "limit", "blocked", "not-run", "skipped", "placeholder",
    "expected-error", "passed",
)
BAD_BLOCK_STATUSES: tuple[str, ...] = ("failed", "timeout", "hub-error", "limit", "blocked")
CLAIM_STATUSES: tuple[str, ...] = ("verified", "consistent", "mismatch", "unverified", "measured-on-subset")
CHECK_STATUSES: tuple[str, ...] = ("pass", "mismatch", "unverified", "consistent", "verified",
                                   "measured-on-subset")
# A block's flags and the catalog key of the note the page shows for each.
FLAG_NOTES: Mapping[str, str] = {
    "placeholder-weights": "note.placeholder_weights",
    "substitute-asset": "note.substitute_asset",
}


def catalog_keys() -> tuple[str, ...]:
    """UI strings looked up with computed keys, so the catalog check can cover them too."""
    return (tuple(f"status.{s}" for s in BLOCK_STATUSES)
            + tuple(f"claim.{s}" for s in CLAIM_STATUSES)
            + tuple(f"check.{s}" for s in CHECK_STATUSES) + tuple(FLAG_NOTES.values()) + ("time.utc",))


def block_status(result: BlockResult | None) -> str:
    if result is None:
        return "not-run"
    return counted_status(result)  # as the terminal counts it


def find_block(verification: CardVerification | None, lang: str, block_lang: str,
               index: int) -> tuple[BlockResult | None, ProgramResult | None]:
    """The result of block (block_lang, index) in the program that ran `lang`'s page.

    A program that stands for both languages may label its section blocks with either one."""
    if verification is None:
        return None, None
    program = verification.program_for(lang)
    if program is None:
        return None, None
    result = program.block(block_lang, index)
    if result is None and block_lang != PRELUDE:
        for other in program.langs:
            result = program.block(other, index)
            if result is not None:
                break
    return result, program


@dataclass(frozen=True)
class BlockView:
    id: str
    status: str
    label: str
    tip: tuple[str, ...]
    notes: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...]  # (title, text)
    has_result: bool
    log: str = ""  # framework log lines of stdout and stderr, shown collapsed
    open: bool = False  # output shown without a click (the block went wrong)
    fail_line: int | None = None  # 1-based line within the block's code where it failed
    asset_notes: tuple["AssetNote", ...] = ()  # store copies it was served, hosts a reader cannot reach


def block_view(t: Translate, block_id: str, result: BlockResult | None,
               program: ProgramResult | None, code_line: int | None = None,
               code_lines: int = 0, lang: str = "en_US") -> BlockView:
    """`code_line`, `code_lines`: where the block's code starts on the card and how many lines it
    has (to point at the failing line; a result borrowed from the other language's block has its
    lines, which must not be marked on this one). `lang`: the page's, for the block's reason."""
    status = block_status(result)
    label = t(f"status.{status}")
    if result is None:
        return BlockView(block_id, status, label, (t("tip.not_run"),), (), (), False)
    tip = [label, t("tip.duration", seconds=f"{result.duration_s:.2f}")]
    if program is not None:
        if program.ran_at:
            tip.append(t("tip.ran_at", when=utc_time(t, program.ran_at)))
        version = program.environment.get("megengine")
        if version:  # HTML: the library's name is a foreign word on a zh page (the tip copies markup)
            tip.append(escape(t("tip.megengine")).format(name=proper_name("MegEngine"),
                                                         version=Markup("<code>{}</code>").format(version)))
    if result.cached:
        tip.append(t("tip.cached"))
    if result.reason:
        tip.append(block_reason_html(t, lang, result))  # HTML: values as code (the tip copies markup)
    notes = [t(FLAG_NOTES[flag]) if flag in FLAG_NOTES else t("note.flag", flag=flag) for flag in result.flags]
    out, err = split_log(result.stdout), split_log(result.stderr)
    outputs = [(title, public_text(escape_controls(text))) for title, text in (
        (t("out.reason"), block_reason_text(t, result)),
        (t("out.stdout"), out.program),
        (t("out.stderr"), err.program),
        (t("out.traceback"), result.traceback),
    ) if text.strip()]
    log = public_text(escape_controls(out.log + err.log))
    fail_line = None
    if program is not None and code_line is not None:
        line = failing_line(result.traceback, program.card_path)
        if line is not None and code_line <= line < code_line + code_lines:
            fail_line = line - code_line + 1
    return BlockView(block_id, status, label, tuple(tip), tuple(notes), tuple(outputs), True, log,
                     status in BAD_BLOCK_STATUSES, fail_line)


# Terminal colour codes (MegEngine's logger colours its lines) are meaningless in a web page and
# dropped; any other control character is shown as `\xNN` (escape_controls), then HTML-escaped.
strip_ansi = _strip_ansi


@dataclass(frozen=True)
class CheckView:
    name: str  # the check's id (languages, weight-name, evaluation)
    title: str  # its name in the page's language
    status: str
    label: str
    reason: str  # HTML: a sentence in the page's language
    note: int = 0  # number of the page's shared note that gives this check's reason (notes.py)


@dataclass(frozen=True)
class ClaimView:
    id: str
    line: int
    row: str
    column: str
    column_display: str  # header with `<br>` as a space
    written: str
    status: str
    label: str
    measured: str  # "" when nothing was measured
    delta: str
    tip: tuple[str, ...]
    checks: tuple[CheckView, ...]
    reason: str


# Provenance keys as evaluators may spell them; the first present one is shown.
_N_KEYS = ("n", "samples", "num_samples", "count")
_DATASET_KEYS = ("dataset", "data")
_DATE_KEYS = ("date", "evaluated_at", "ran_at", "time")


def _first(prov: Mapping[str, object], keys: tuple[str, ...]) -> object | None:
    for k in keys:
        if k in prov and prov[k] not in (None, ""):
            return prov[k]
    return None


def claim_view(t: Translate, state: ClaimState, lang: str = "en_US") -> ClaimView:
    claim = state.claim
    decimals = max(claim.decimals, 1)
    written = claim.text.strip().strip("*").strip()
    # Only an evaluation measures: the other language's cell or a weight file name are claims
    # too, and showing them as "measured" would dress a comparison up as a measurement.
    measured_check = next((c for c in state.checks if c.name == "evaluation" and c.measured is not None), None)
    label = t(f"claim.{state.status}")
    tip = [label, t("tip.written", value=written)]
    if claim.direction == "lower":
        tip.append(t("tip.lower_better"))
    measured = delta = ""
    if measured_check is not None and measured_check.measured is not None:
        m = measured_check.measured
        measured = f"{m:.{decimals}f}"
        delta = f"{m - claim.value:+.{decimals}f}".replace("-", "\u2212")
        tip.append(t("tip.measured", value=measured, delta=delta))
        prov = measured_check.provenance
        for key, keys in (("tip.n", _N_KEYS), ("tip.dataset", _DATASET_KEYS), ("tip.date", _DATE_KEYS)):
            value = _first(prov, keys)
            if value is not None:
                if key == "tip.dataset":  # an id, as code (the tip's popover copies markup)
                    tip.append(Markup(t(key, value=Markup("<code>{}</code>").format(value))))
                else:
                    tip.append(t(key, value=utc_time(t, value) if key == "tip.date" else value))
    else:
        tip.append(t("tip.no_measurement"))
    # The claim's reason in the page's language: what each deciding check said (a mismatch's
    # checks when it is one, otherwise the evaluation's or every check's).
    deciding = [c for c in state.checks if c.status == "mismatch"] if state.status == "mismatch" else \
        [c for c in state.checks if c.name == "evaluation"] or list(state.checks)
    # HTML (values as code): the tip's popover copies its markup
    parts = [Markup(t("vt.check_reason", check=escape(check_name(t, c.name)), reason=text))
             for c in deciding if (text := reason_tip(t, lang, c))]
    reason = Markup(escape(t("list_sep"))).join(parts) if state.status != "unverified" or parts else ""
    if reason:
        tip.append(reason)
    checks = tuple(CheckView(c.name, check_name(t, c.name), c.status, t(f"check.{c.status}"),
                             reason_html(t, lang, c)) for c in state.checks)
    cid = f"claim-{claim.loc.line}-{_slug(claim.column)}"
    column_display = header_text(claim.column)
    return ClaimView(cid, claim.loc.line, claim.row, claim.column, column_display, written, state.status, label,
                     measured, delta, tuple(tip), checks, reason)


_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?(Z|\+00:00)")


def utc_time(t: Translate, value: object) -> str:
    """An ISO UTC timestamp as `2024-04-30 08:00 UTC` (readers, not parsers, see it), with the
    time zone in the page's words from the catalog (zh: 协调世界时); any other value as is."""
    m = _ISO_TIME.fullmatch(str(value))
    return t("time.utc", when=f"{m.group(1)} {m.group(2)}") if m else str(value)


_SUB = str.maketrans("0123456789+-=()aeoxhklmnpst", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜ")
_SUP = str.maketrans("0123456789+-=()in", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿ")
_SUBSUP = re.compile(r"<(sub|sup)>(.*?)</\1>", re.I | re.S)


def header_text(header: str) -> str:
    """A header as plain text for a list of numbers: `<br>` a space, `β<sub>1</sub>` as `β₁`
    (other text in <sub>/<sup> that has no Unicode form: as is), any other tag dropped."""
    def script(m: re.Match[str]) -> str:
        inner = m.group(2)
        table = _SUB if m.group(1).lower() == "sub" else _SUP
        mapped = inner.translate(table)
        return mapped if all(ch != orig or ch.isspace() for ch, orig in zip(mapped, inner)) else inner

    text = re.sub(r"<br\s*/?>", " ", header, flags=re.I)
    text = _SUBSUP.sub(script, text)
    text = re.sub(r"<[^>]+>", "", text)
    return " ".join(text.split())


def _slug(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "-" for ch in text)
    return "-".join(p for p in out.split("-") if p) or "x"


def column_key(header: str) -> str:
    """Header text compared loosely (spacing, case) so a claim finds its cell."""
    return " ".join(header.split()).casefold()


# ---------------------------------------------------------------- card summary


@dataclass(frozen=True)
class Summary:
    verified: bool  # a CardVerification exists at all
    ran: bool  # at least one program ran
    blocks: Mapping[str, int]
    claims: Mapping[str, int]


def summarize(card: Card, verification: CardVerification | None, lang: str | None = None) -> Summary:
    """Counts over the card's distinct code blocks (the prelude once, at its worst) and numbers.

    With `lang`, only what that language's page shows: its own blocks and numbers plus the
    shared prelude as it ran for that page, so every count matches the badges a reader sees."""
    if verification is None:
        return Summary(False, False, {}, {})
    blocks: Counter[str] = Counter()
    prelude_states = []
    langs = sorted(card.sections) if lang is None else [lang]
    if lang is not None and lang not in card.sections and card.prelude is not None and card.prelude.is_python:
        prelude_states.append(block_status(find_block(verification, lang, PRELUDE, 0)[0]))
    for lang_ in langs:
        if lang_ not in card.sections:
            continue
        if card.prelude is not None and card.prelude.is_python:
            prelude_states.append(block_status(find_block(verification, lang_, PRELUDE, 0)[0]))
        for snip in card.sections[lang_].snippets:
            if snip.is_python:
                blocks[block_status(find_block(verification, lang_, lang_, snip.index)[0])] += 1
    if prelude_states:
        blocks[min(prelude_states, key=BLOCK_STATUSES.index)] += 1
    claims: Counter[str] = Counter(s.status for s in verification.claims if lang is None or s.claim.lang == lang)
    ran = bool(verification.programs) if lang is None else verification.program_for(lang) is not None
    return Summary(True, ran, dict(blocks), dict(claims))


def summary_text(t: Translate, s: Summary) -> str:
    if not s.verified:
        return t("summary.not_verified")
    sep = t("list_sep")
    if s.ran:
        parts = [t(f"count.{k}", n=s.blocks.get(k, 0)) for k in ("passed", "failed", "blocked")]
        parts += [t(f"count.{k}", n=s.blocks[k]) for k in ("hub-error", "limit", "placeholder", "timeout",
                                                          "skipped", "expected-error", "not-run")
                  if s.blocks.get(k)]
        code = t("summary.code", counts=sep.join(parts))
    else:
        code = t("summary.code_not_run")
    if s.claims:
        parts = [t(f"count.{k}", n=s.claims.get(k, 0)) for k in ("verified", "mismatch", "unverified")]
        if s.claims.get("consistent"):
            parts.insert(1, t("count.consistent", n=s.claims["consistent"]))
        if s.claims.get("measured-on-subset"):
            parts.append(t("count.measured-on-subset", n=s.claims["measured-on-subset"]))
        numbers = t("summary.numbers", counts=sep.join(parts))
    else:
        numbers = t("summary.no_numbers")
    return t("summary.line", code=code, numbers=numbers)


def summary_tone(s: Summary) -> str:
    """CSS tone of a summary line: none (not verified), bad (something failed or disagrees),
    ok (everything ran and every number was verified), mixed otherwise."""
    if not s.verified:
        return "none"
    if any(s.blocks.get(k) for k in BAD_BLOCK_STATUSES) or s.claims.get("mismatch"):
        return "bad"
    clean_blocks = s.ran and set(s.blocks) <= {"passed", "expected-error"}
    clean_claims = set(s.claims) <= {"verified"}
    return "ok" if clean_blocks and clean_claims else "mixed"


def summary_keys() -> tuple[str, ...]:
    return tuple(f"count.{k}" for k in BLOCK_STATUSES + CLAIM_STATUSES)

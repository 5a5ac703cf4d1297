"""A check's name and reason in the page's language, from the reason's code and values.

The claims stage writes every reason in English for the terminal and report.json, with a stable
code and the values it is made of; the pages render that code through the catalog so a zh page
carries no English sentence. A reason without a catalog entry yet is said as such in the page's
language, with the English original shown only as code."""

from __future__ import annotations

import re
from typing import Callable, Mapping

from markupsafe import Markup, escape

from generator.core.model import BlockResult, CheckOutcome
from generator.run import reasons as run_reasons
from generator.site.redact import public_text

Translate = Callable[..., str]

CHECK_NAMES: tuple[str, ...] = ("languages", "weight-name", "evaluation")
# check name -> the reason codes the catalog renders (`vt.reason.<check>.<code>`)
REASON_CODES: Mapping[str, tuple[str, ...]] = {
    "languages": ("no-section", "no-counterpart", "same", "differs"),
    "weight-name": ("repo-not-stored", "no-repo", "no-entry", "no-weights-url", "not-primary", "ambiguous", "no-metric", "agrees", "differs"),
    "evaluation": ("full-agrees", "full-differs", "interval-contains", "interval-excludes", "measured-on-subset",
                   # why a number was not evaluated (claims/evaluate.py)
                   "no-spec", "column-not-measured", "unknown-dataset", "repo-not-stored", "row-unmapped",
                   "no-entry", "no-weights-url", "placeholder-weights", "weights-not-stored",
                   "dataset-unavailable", "dataset-unavailable-no-env", "no-job", "not-evaluated",
                   "eval-failed", "fewer-classes", "several"),
}
# Values that are identifiers, not words: shown as code inside the translated sentence.
_CODE_ARGS = frozenset({"entry", "subset", "encoded", "repo", "url", "dataset", "env", "file", "detail",
                        "target", "deps", "module", "package", "limit", "hubconf",
                        "metric", "measurements", "text", "expect", "call"})
_LANG_ARGS = frozenset({"lang"})


def catalog_keys() -> tuple[str, ...]:
    return (tuple(f"vt.check.{n}" for n in CHECK_NAMES)
            + tuple(f"vt.reason.{n}.{c}" for n, codes in REASON_CODES.items() for c in codes if c != "several")
            + ("vt.reason.untranslated", "vt.reason.author", "vt.reason.see_checks", "vt.check_reason", "vt.lang.en_US", "vt.lang.zh_CN",
               "vt.reason.join") + block_catalog_keys())


def check_name(t: Translate, name: str) -> str:
    return t(f"vt.check.{name}") if name in CHECK_NAMES else name


def _args(t: Translate, args: Mapping[str, object], markup: bool) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in args.items():
        if k in _LANG_ARGS and str(v) in ("en_US", "zh_CN"):
            # `language`, not `lang`: the translate function takes the page's language as `lang`
            out["language"] = escape(t(f"vt.lang.{v}")) if markup else t(f"vt.lang.{v}")
        elif markup:
            out[k] = Markup("<code>{}</code>").format(v) if k in _CODE_ARGS else escape(str(v))
        else:
            out[k] = v
    return out


def has_entry(outcome: CheckOutcome) -> bool:
    if outcome.code == "several":
        return all(isinstance(p, Mapping) and p.get("code") in REASON_CODES.get(outcome.name, ())
                   for p in _parts(outcome))
    return outcome.code in REASON_CODES.get(outcome.name, ())


def _parts(outcome: CheckOutcome) -> tuple[Mapping[str, object], ...]:
    parts = outcome.args.get("parts", ())
    return tuple(parts) if isinstance(parts, (tuple, list)) else ()


def _sentence(t: Translate, name: str, code: str, args: Mapping[str, object], markup: bool) -> str:
    return t(f"vt.reason.{name}.{code}", **_args(t, {k: v for k, v in args.items() if k != "code"}, markup))


def _coded(t: Translate, outcome: CheckOutcome, markup: bool) -> str:
    """A catalogued reason in the page's language; several reasons one after the other."""
    if outcome.code != "several":
        return _sentence(t, outcome.name, outcome.code, outcome.args, markup)
    text = ""
    for p in _parts(outcome):
        sentence = _sentence(t, outcome.name, str(p["code"]), p, markup)
        text = t("vt.reason.join", first=text, then=sentence) if text else sentence
    return text


def reason_html(t: Translate, lang: str, outcome: CheckOutcome) -> Markup:
    """The reason as a sentence in `lang` (HTML); empty when the check gave none."""
    if has_entry(outcome):
        return Markup(_coded(t, outcome, True))
    text = public_text(outcome.reason)
    if not text:
        return Markup("")
    if lang == "en_US":
        return escape(text)
    return Markup(t("vt.reason.untranslated", original=Markup("<code>{}</code>").format(text)))


def reason_text(t: Translate, lang: str, outcome: CheckOutcome) -> str:
    """The same as plain text (tooltips); an uncatalogued reason on a non-English page is said to
    be in the check table rather than shown in English."""
    if has_entry(outcome):
        return _coded(t, outcome, False)
    text = public_text(outcome.reason)
    if not text or lang == "en_US":
        return text
    return t("vt.reason.see_checks")


def reason_tip(t: Translate, lang: str, outcome: CheckOutcome) -> Markup:
    """The reason for a number's tooltip (HTML): the catalogued sentence, or on a non-English page
    for an uncatalogued one, a pointer to the check table, where it is shown as code."""
    if has_entry(outcome) or lang == "en_US":
        return reason_html(t, lang, outcome)
    return escape(t("vt.reason.see_checks")) if public_text(outcome.reason) else Markup("")


# ---------------------------------------------------------------- the environment line

ENV_NAMES: tuple[str, ...] = ("python", "megengine", "numpy", "opencv", "platform", "device", "network")


_LIBRARY_KEYS = frozenset({"python", "megengine", "numpy", "opencv"})


def proper_name(value: object) -> Markup:
    """A proper name (a tool, a library, a CPU model) kept in its own Latin spelling on every
    page; `lang="en"` is how HTML marks a foreign word (screen readers pronounce it as such)."""
    return Markup('<span class="ev-name" lang="en">{}</span>').format(value)


def environment_html(t: Translate, environment: Mapping[str, str]) -> Markup:
    """`Python <code>3.10.13</code>, …` with every label from the catalog; values are versions
    and platform ids, shown as code; the network setting is said in words."""
    sep = t("list_sep")
    parts = []
    for key, value in sorted(environment.items()):
        label = t(f"vt.env.{key}") if key in ENV_NAMES else key
        if key in _LIBRARY_KEYS:  # a proper name, the same in every language
            label = proper_name(label)
        if key == "network":
            words = t("vt.env.network_sandbox") if value.startswith("bubblewrap") else t("vt.env.network_shim")
            parts.append(Markup("{}: {}").format(label, words))
        else:
            parts.append(Markup("{} <code>{}</code>").format(label, value))
    return Markup(escape(sep)).join(parts)


def environment_keys() -> tuple[str, ...]:
    return tuple(f"vt.env.{k}" for k in ENV_NAMES) + ("vt.env.network_sandbox", "vt.env.network_shim", "vt.ran_at")


# ---------------------------------------------------------------- a code block's reason

def block_catalog_keys() -> tuple[str, ...]:
    # skip-mark is said with vt.reason.author (the author's words, quoted)
    return tuple(k for k in run_reasons.catalog_keys() if k != "vt.block.skip-mark")


# File names the block sentences name (a placeholder, so that they show as code on every page)
_BLOCK_NAMES = {"hubconf": "hubconf.py"}


def _block_args(t: Translate, reason: run_reasons.BlockReason, markup: bool) -> dict[str, object]:
    return _args(t, {**_BLOCK_NAMES, **{k: public_text(v) for k, v in reason.args.items()}}, markup)


def block_reason_html(t: Translate, lang: str, result: BlockResult) -> Markup:
    """Why a block ended as it did, as a sentence in `lang` (HTML, values as code) from the
    reason code the run stage recorded; the card's own skip reason is quoted as its author's
    words; a reason without a code (an older tool's, a forged one) is shown on an English page as
    written and on another as code inside a sentence of `lang`."""
    text = public_text(result.reason)
    if not text:
        return Markup("")
    coded = run_reasons.block_reason(result)
    if coded is not None and coded.code == "skip-mark":  # the card's `skip reason="…"` mark, as written
        return Markup(t("vt.reason.author", original=_authors_words(public_text(coded.args["text"]))))
    if coded is not None:
        return Markup(t(f"vt.block.{coded.code}", **_block_args(t, coded, True)))
    if lang == "en_US":
        return escape(text)
    return Markup(t("vt.reason.untranslated", original=Markup("<code>{}</code>").format(text)))


_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _authors_words(text: str) -> Markup:
    """A card author's text: in the page's language when it has Han characters, else marked as
    English (HTML's way to say a foreign phrase; screen readers switch voice)."""
    if _HAN.search(text):
        return Markup('<q class="author-note">{}</q>').format(text)
    return Markup('<q class="author-note" lang="en">{}</q>').format(text)


def block_reason_text(t: Translate, result: BlockResult) -> str:
    """The same as plain text for the reason box of the block's output (shown as code): a coded
    reason in the page's language, the author's skip reason and any other as it was written."""
    text = public_text(result.reason)
    coded = run_reasons.block_reason(result) if text else None
    if coded is None or coded.code == "skip-mark":
        return text
    return t(f"vt.block.{coded.code}", **_block_args(t, coded, False))

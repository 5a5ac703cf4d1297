"""Status badges for READMEs: `badges/<id>.svg` per card, shields-style ("verified hub | 4/4
verified"), from the same counts as the pages (`views.summarize` over the whole card).

The message says the worst thing first: a code block that went wrong, else how many numbers
were verified. The colour is that state's colour of the legend (the light theme's, darkened for
white text). Every text passes through XML escaping: a card id or label can never open a tag.
"""

from __future__ import annotations

import functools
from typing import Mapping, Sequence
from generator.core.xmltext import escape, quoteattr

from generator.core.model import Card, CardVerification
from generator.site import urls
from generator.site.compare import code_state, number_state
from generator.site.i18n import Catalog, load_catalog
from generator.site.options import DEFAULT_CATALOG
from generator.site.views import BAD_BLOCK_STATUSES, Summary, summarize

LABEL = "verified hub"
# Background of the message per state; white text on each has a contrast of at least 4.5:1.
COLOURS: Mapping[str, str] = {
    "verified": "#0b6e4f", "passed": "#0b6e4f", "consistent": "#1f4e8c", "expected-error": "#1f4e8c",
    "measured-on-subset": "#005a87", "skipped": "#005a87", "unverified": "#4b535d", "not-run": "#4b535d",
    "mismatch": "#a63d00", "failed": "#a63d00", "timeout": "#8e3b6e", "hub-error": "#6d2f86",
    "limit": "#6b4226", "blocked": "#8a4b00", "placeholder": "#5c5800",
}
LABEL_COLOUR = "#555555"
# English words only (READMEs are read everywhere); the state names are the legend's.
_BLOCK_WORDS: Mapping[str, str] = {
    "failed": "code failed", "timeout": "code timed out", "hub-error": "hub repository error",
    "limit": "code hit a limit", "blocked": "code blocked",
}


def badge_state(s: Summary) -> tuple[str, str]:
    """(state, message) of one card's badge."""
    if not s.verified:
        return "not-run", "not verified"
    code = code_state(s)
    numbers = number_state(s)
    total = sum(s.claims.values())
    if numbers == "mismatch":
        return "mismatch", f"{s.claims['mismatch']}/{total} mismatch"
    if code in BAD_BLOCK_STATUSES:
        word = _BLOCK_WORDS[code]
        return code, (f"{word} · {s.claims.get('verified', 0)}/{total} verified" if total else word)
    if numbers is not None:
        return numbers, f"{s.claims.get('verified', 0)}/{total} verified"
    if code is None:
        return "not-run", "nothing to check"
    return code, "code passed" if code == "passed" else f"code {code}"


def text_width(text: str) -> float:
    """Rough width in px of `text` in 11 px Verdana (the badge sets textLength to it, so the
    text is fitted to the box whatever font the viewer has)."""
    narrow, wide = set("fijlrt.,:;!|'() ·/1"), set("mwMW@%")
    return sum(4.0 if ch in narrow else 9.5 if ch in wide else 7.4 if ch.isupper() or ord(ch) > 0x2000
               else 6.6 for ch in text)


def badge_svg(state: str, message: str, label: str = LABEL) -> bytes:
    colour = COLOURS.get(state, LABEL_COLOUR)
    lw, mw = round(text_width(label)) + 12, round(text_width(message)) + 12
    w = lw + mw
    title = f"{label}: {message}"

    def text(x: float, body: str, width: int) -> str:
        return (f'<text x="{x:.1f}" y="14" textLength="{width - 12}" lengthAdjust="spacingAndGlyphs">'
                f"{escape(body)}</text>")

    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" '
        f"aria-label={quoteattr(title)}>"
        f"<title>{escape(title)}</title>"
        f'<clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{colour}"/></g>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,Geneva,sans-serif" font-size="11">'
        f"{text(6, label, lw)}{text(lw + 6, message, mw)}</g></svg>\n"
    )
    return svg.encode("utf-8")


def badge_state_zh(s: Summary) -> tuple[str, str]:
    """The same state in Chinese words, from the catalog (`badge.*`): the English message read
    back into its parts, so both badges always say the same thing."""
    t = functools.partial(_catalog().get, "zh_CN")
    state, _ = badge_state(s)
    total = sum(s.claims.values())
    if not s.verified:
        return state, t("badge.not_verified")
    code, numbers = code_state(s), number_state(s)
    if numbers == "mismatch":
        return state, t("badge.mismatch", n=s.claims["mismatch"], total=total)
    if code in BAD_BLOCK_STATUSES:
        word = t(f"badge.code.{code}")
        return state, (t("badge.with_verified", word=word, n=s.claims.get("verified", 0), total=total)
                       if total else word)
    if numbers is not None:
        return state, t("badge.verified", n=s.claims.get("verified", 0), total=total)
    if code is None:
        return state, t("badge.nothing")
    return state, t("badge.code_state", state=t(f"status.{code}"))


@functools.lru_cache(maxsize=1)
def _catalog() -> Catalog:
    # The tool's own catalog: a badge is embedded in READMEs elsewhere, whatever a cards folder words.
    return load_catalog(DEFAULT_CATALOG, f"templates/{DEFAULT_CATALOG.name}")


def badge_keys() -> tuple[str, ...]:
    return ("badge.label", "badge.not_verified", "badge.mismatch", "badge.with_verified", "badge.verified",
            "badge.nothing", "badge.code_state") + tuple(f"badge.code.{c}" for c in _BLOCK_WORDS)


def badge_files(cards: Sequence[Card], verification: Mapping[str, CardVerification]) -> dict[str, bytes]:
    """Two SVGs per card, as site files (url -> bytes): `<id>.svg` in English, `<id>.zh.svg` in
    Chinese; a card without verification (a build with --no-verify) gets a "not verified" badge,
    never a missing one."""
    out = {}
    zh_label = _catalog().get("zh_CN", "badge.label")
    for card in cards:
        summary = summarize(card, verification.get(card.meta.id))
        state, message = badge_state(summary)
        out[urls.badge(card.meta.id)] = badge_svg(state, message)
        out[urls.badge(card.meta.id, "zh_CN")] = badge_svg(*badge_state_zh(summary), label=zh_label)
    return out

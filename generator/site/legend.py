"""The legend ("How verification works"): every state a code block, a number or a check can be
in, with the symbol the site draws for it and its explanation in the page's language.

The badges of every page link to the entry of their state here (`urls.legend_anchor`), so the
states listed must be exactly the ones the pages can show: they come from views.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from generator.site.views import BLOCK_STATUSES, CLAIM_STATUSES

Translate = Callable[..., str]

CHECKS: tuple[str, ...] = ("languages", "weight-name", "evaluation")

# One symbol per state, each a different shape, so that a state never depends on colour alone
# (the label is always written next to it as well). Glyphs that common fonts draw as text, not
# emoji, so they take the badge's colour.
BLOCK_ICONS: Mapping[str, str] = {
    "passed": "✓", "failed": "✗", "timeout": "◷", "hub-error": "⚠", "limit": "⇥",
    "blocked": "⊘", "skipped": "↷", "not-run": "○", "placeholder": "◌", "expected-error": "⊙",
}
NUMBER_ICONS: Mapping[str, str] = {
    "verified": "✓", "consistent": "≈", "mismatch": "✗", "unverified": "?", "measured-on-subset": "⊂",
}
# A check's own result: `pass` is the only one that is not also a number state.
CHECK_ICONS: Mapping[str, str] = {**NUMBER_ICONS, "pass": "✓"}

assert set(BLOCK_ICONS) == set(BLOCK_STATUSES) and set(NUMBER_ICONS) == set(CLAIM_STATUSES)

# The order the legend lists them in: good first, then whose fault a problem is.
BLOCK_ORDER: tuple[str, ...] = ("passed", "expected-error", "placeholder", "skipped", "not-run",
                                "failed", "timeout", "hub-error", "limit", "blocked")
NUMBER_ORDER: tuple[str, ...] = ("verified", "consistent", "measured-on-subset", "unverified", "mismatch")


@dataclass(frozen=True)
class LegendEntry:
    anchor: str  # id on the legend page
    state: str  # css state (badge-<state> / pill-<state>), "" for a check
    icon: str
    label: str
    text: str


@dataclass(frozen=True)
class LegendSection:
    id: str
    title: str
    intro: str
    entries: tuple[LegendEntry, ...]


def anchor(kind: str, state: str) -> str:
    return f"{kind}-{state}"


def legend_sections(t: Translate) -> tuple[LegendSection, ...]:
    blocks = tuple(LegendEntry(anchor("block", s), s, BLOCK_ICONS[s], t(f"status.{s}"), t(f"legend.block.{s}"))
                   for s in BLOCK_ORDER)
    numbers = tuple(LegendEntry(anchor("number", s), s, NUMBER_ICONS[s], t(f"claim.{s}"),
                                t(f"legend.number.{s}")) for s in NUMBER_ORDER)
    checks = tuple(LegendEntry(anchor("check", c), "", "", t(f"vt.check.{c}"), t(f"legend.check.{c}"))
                   for c in CHECKS)
    return (
        LegendSection("blocks", t("legend.blocks"), t("legend.blocks_intro"), blocks),
        LegendSection("numbers", t("legend.numbers"), t("legend.numbers_intro"), numbers),
        LegendSection("checks", t("legend.checks"), t("legend.checks_intro"), checks),
    )


def legend_keys() -> tuple[str, ...]:
    """Catalog keys the legend looks up by computed name (the catalog check covers them)."""
    return (tuple(f"legend.block.{s}" for s in BLOCK_ORDER) + tuple(f"legend.number.{s}" for s in NUMBER_ORDER)
            + tuple(f"legend.check.{c}" for c in CHECKS) + tuple(f"vt.check.{c}" for c in CHECKS)
            + ("legend.blocks", "legend.blocks_intro", "legend.numbers", "legend.numbers_intro",
               "legend.checks", "legend.checks_intro"))


def anchors() -> frozenset[str]:
    """Every id of the legend page a badge may link to."""
    return frozenset([anchor("block", s) for s in BLOCK_ORDER] + [anchor("number", s) for s in NUMBER_ORDER]
                     + [anchor("check", c) for c in CHECKS])


def check_state_anchor(name: str) -> str:
    """A check's pill links to that check's entry (it explains what pass / mismatch mean there)."""
    return anchor("check", name) if name in CHECKS else anchor("number", "unverified")

"""The typed values that flow between stages. No I/O here.

parse:    card text            -> Card (meta, prelude, sections, snippets, tables)
execute:  Card programs        -> ProgramResult (one BlockResult per snippet and language)
claims:   Card tables          -> Claim
verify:   claims + evaluations -> ClaimState (one state per number, with every check)
render:   cards + verification -> Page
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

from generator.core.errors import Loc

# Card language codes as the hub1 format spells them, and the URL segment of each. Everything
# that depends on which languages a hub has derives from these (the checks, pages, API, search).
LANGS: tuple[str, ...] = ("en_US", "zh_CN")
DEFAULT_LANG = "en_US"  # x-default, language-neutral pages, and the model-index's language
# How messages name the sections: in the order hub1 cards write them (zh_CN first).
SECTION_ORDER: tuple[str, ...] = tuple(sorted(LANGS, reverse=True))
SECTIONS_TEXT = " and ".join(SECTION_ORDER)
URL_LANG: Mapping[str, str] = {"en_US": "en", "zh_CN": "zh"}
HTML_LANG: Mapping[str, str] = {"en_US": "en", "zh_CN": "zh-CN"}

PRELUDE = "prelude"


def other_langs(lang: str) -> tuple[str, ...]:
    return tuple(other for other in LANGS if other != lang)


@dataclass(frozen=True)
class Mark:
    """A `<!-- verify: ... -->` comment that changes how the next code block or table is judged.

    kind: skip | expect-error | timeout | output-contains | table
    value: the argument (reason, exception name, seconds, text, results|ignore)
    """

    kind: str
    value: str
    loc: Loc


@dataclass(frozen=True)
class Snippet:
    """One fenced code block. `loc.line` is the line of the opening fence; `code_line` the
    line of the first line of code (so tracebacks can be mapped back onto the card)."""

    card_id: str
    lang: str  # PRELUDE, "zh_CN" or "en_US"
    index: int  # position within its section (prelude: 0)
    info: str  # fence info string, e.g. "python"
    code: str
    loc: Loc
    code_line: int
    marks: tuple[Mark, ...] = ()

    @property
    def is_python(self) -> bool:
        return self.info.split()[0].lower() in ("python", "python3", "py") if self.info else False

    def mark(self, kind: str) -> Mark | None:
        for m in self.marks:
            if m.kind == kind:
                return m
        return None


@dataclass(frozen=True)
class Table:
    """A pipe table with its header and body cells as written (inline Markdown kept)."""

    card_id: str
    lang: str
    index: int  # position within its section
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    loc: Loc  # header line
    row_lines: tuple[int, ...]  # card line of each body row
    marks: tuple[Mark, ...] = ()


@dataclass(frozen=True)
class Section:
    lang: str
    loc: Loc  # line of the `<!-- section: ... -->` comment
    body: str  # Markdown text of the section, without the section comment
    body_line: int  # card line number of the first line of `body`
    snippets: tuple[Snippet, ...]
    tables: tuple[Table, ...]
    # The section's block tokens from the card's one parse (cards/markdown.py), for the site
    # stage. Not part of the section's value: `body` is.
    tokens: Sequence[Any] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class CardMeta:
    id: str
    template: str
    title: str
    summary: Mapping[str, str]  # lang -> text
    author: str
    tags: tuple[str, ...]
    github_link: str
    verify: Mapping[str, object] | None = None  # optional `verify:` spec from the front matter


@dataclass(frozen=True)
class Card:
    path: str  # as given on the command line / relative to the project, used in Loc
    source: str
    meta: CardMeta
    prelude: Snippet | None
    sections: Mapping[str, Section]  # lang -> section, in file order
    update_time: str = ""  # ISO-8601 UTC, from git or the file's mtime (filled by discover)
    # The parse's env (link reference definitions), which the inline parse of sections needs.
    markdown_env: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Loaded from the parse cache without its sections' tokens (cards/cache.py): whoever needs
    # them gets them from `cards.parse.with_tokens`.
    tokens_dropped: bool = field(default=False, compare=False, repr=False)

    def section(self, lang: str) -> Section | None:
        return self.sections.get(lang)

    def program(self, lang: str) -> tuple[Snippet, ...]:
        """Prelude + that language's Python blocks, in order: one program run in one interpreter."""
        blocks: list[Snippet] = []
        if self.prelude is not None and self.prelude.is_python:
            blocks.append(self.prelude)
        sec = self.sections.get(lang)
        if sec is not None:
            blocks.extend(s for s in sec.snippets if s.is_python)
        return tuple(blocks)


@dataclass(frozen=True)
class Tag:
    id: str
    names: Mapping[str, str]  # lang -> display name


# ---------------------------------------------------------------- snippet execution

# Whose fault a bad block is, as its status: `failed` and `timeout` the card's code, `hub-error`
# the hub repository it loads (its hubconf.py cannot be imported, a module it names is missing),
# `blocked` this machine's environment (an asset, package or dataset is not here; the reason says
# how to get it), `limit` a limit of the build's sandbox (memory, processes or disk of the whole run).
RunStatus = Literal["passed", "failed", "timeout", "blocked", "skipped", "expected-error",
                    "hub-error", "limit"]
# The bad ones, in the order a summary names them, each with whose fault it is.
RUN_STATUSES: frozenset[str] = frozenset(RunStatus.__args__)  # type: ignore[attr-defined]
BAD_RUN_STATUSES: Mapping[str, str] = {
    "failed": "the card's code",
    "timeout": "the card's code (time limit)",
    "hub-error": "the hub repository",
    "blocked": "this machine's environment",
    "limit": "a limit of the build's sandbox",
}


@dataclass(frozen=True)
class BlockResult:
    lang: str  # language the block belongs to (PRELUDE for the prelude)
    index: int
    line: int  # card line of the opening fence
    status: RunStatus
    flags: tuple[str, ...] = ()  # e.g. "placeholder-weights", "substitute-asset"
    duration_s: float = 0.0
    peak_mb: float = 0.0
    stdout: str = ""
    stderr: str = ""
    traceback: str = ""  # mapped onto the card's lines, tool frames removed
    reason: str = ""  # why blocked / skipped / failed, in one line, in English
    cached: bool = False
    # URLs the offline store served to this block (files and weights), in the order first asked
    # for: what the page names as "ran with the hub's offline copy of ...".
    served: tuple[str, ...] = ()
    # The reason as data, for pages in any language: a code of run/reasons.CODES and its values
    # ("" when the reason has none: then pages show the English text as code).
    reason_code: str = ""
    reason_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgramResult:
    """The run of one program (prelude + one language's blocks). `langs` lists every language it
    stands for: when zh_CN and en_US code is identical it runs once and reports for both."""

    card_id: str
    langs: tuple[str, ...]
    blocks: tuple[BlockResult, ...]
    cache_key: str
    ran_at: str  # ISO-8601 UTC of the real run (kept when served from cache)
    environment: Mapping[str, str] = field(default_factory=dict)  # python, megengine, numpy versions
    card_path: str = ""  # the card file, for diagnostics at a block's line (Card.path)

    def block(self, lang: str, index: int) -> BlockResult | None:
        return self._by_position.get((lang, index))

    @functools.cached_property
    def _by_position(self) -> Mapping[tuple[str, int], BlockResult]:
        # Pages look every block up: a scan per lookup made a 10,000-block card quadratic.
        # (cached_property writes the instance __dict__, which a frozen dataclass allows.)
        out: dict[tuple[str, int], BlockResult] = {}
        for b in self.blocks:
            out.setdefault((b.lang, b.index), b)  # the first one wins, as the scan did
        return out


# ---------------------------------------------------------------- accuracy claims

# `measured-on-subset`: evaluated on a sample the tool did not draw and nobody declared random
# (a curated folder, a part of the split): the measurement is shown, never judged.
ClaimStatus = Literal["verified", "consistent", "mismatch", "unverified", "measured-on-subset"]
CheckStatus = Literal["pass", "mismatch", "unverified", "consistent", "verified", "measured-on-subset"]


@dataclass(frozen=True)
class Claim:
    card_id: str
    lang: str
    table: int  # table index within the section
    row: str  # row label as written (e.g. "ResNet18")
    column: str  # header as written (e.g. "Top1 acc")
    metric: str  # normalised metric id: top1, top5, map, miou, ap, ...
    text: str  # the cell as written
    value: float  # as written (29.688 for an error of 29.688 %)
    # percent / fraction (0-1) for shares; value: a score on its own scale (FID, IS, latency)
    scale: Literal["percent", "fraction", "value"]
    # accuracy / error (its complement) / score (neither: FID, IS, BLEU; see claims/metrics.py)
    kind: Literal["accuracy", "error", "score"]
    loc: Loc
    # Position in the table (0-based body row, 0-based column): languages are matched on it because
    # headers and row labels may be translated.
    row_index: int = -1
    col_index: int = -1
    direction: Literal["higher", "lower"] = "higher"  # which way is better

    @property
    def accuracy_percent(self) -> float:
        """The same fact as an accuracy in percent, so error/accuracy and 0-1/percent compare.
        A score (FID, IS) has no accuracy: its value (a 0-1 one in percent), never complemented."""
        v = self.value * 100.0 if self.scale == "fraction" else self.value
        return 100.0 - v if self.kind == "error" else v

    @property
    def decimals(self) -> int:
        """Digits after the point as written; the precision a comparison may assume."""
        t = self.text.strip().strip("*").strip()
        return len(t.split(".", 1)[1]) if "." in t else 0


@dataclass(frozen=True)
class CheckOutcome:
    name: Literal["languages", "weight-name", "evaluation"]
    status: CheckStatus
    measured: float | None = None  # in the claim's own unit and kind
    reason: str = ""  # in English
    provenance: Mapping[str, object] = field(default_factory=dict)
    # The reason as data, for pages in other languages: a stable code and the values its text
    # is made of ("" when the reason has no code yet).
    code: str = ""
    args: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimState:
    claim: Claim
    status: ClaimStatus
    checks: tuple[CheckOutcome, ...]
    reason: str = ""


@dataclass(frozen=True)
class AssetRecord:
    """A store item a card's runs or evaluations used, as the lock pins it: what the page's
    evidence names (sha256, size) and whether a reader can fetch it from its URL themselves."""

    url: str
    kind: str  # file | weights | hub-repo
    sha256: str
    size: int
    substitute: bool = False  # its content stands in for the real one
    local: bool = False  # the store got it from the project itself (path:, package:, build:)
    repo: str = ""  # hub-repo items: owner/name
    # weights: the numbers the stored file holds (store/params.py, read without running its
    # pickle), or None with why not (`params_refused`: not-stored, refused, not-arrays, ...)
    params: int | None = None
    params_refused: str = ""
    params_detail: str = ""


@dataclass(frozen=True)
class DatasetRecord:
    """The dataset a card's spec names, as the registry describes it (for the Reproduce box)."""

    id: str
    title: str
    size: int
    env: str = ""  # the variable that points the build at it
    title_zh: str = ""  # its title in Chinese, when the registry gives one


@dataclass(frozen=True)
class CardVerification:
    card_id: str
    programs: tuple[ProgramResult, ...] = ()
    claims: tuple[ClaimState, ...] = ()
    # What the evidence panel names besides the results: the store items the card used and the
    # dataset of its spec (filled by the build from the lock and the registry).
    assets: tuple[AssetRecord, ...] = ()
    dataset: DatasetRecord | None = None

    def program_for(self, lang: str) -> ProgramResult | None:
        for p in self.programs:
            if lang in p.langs:
                return p
        return None


# ---------------------------------------------------------------- output

@dataclass(frozen=True)
class Page:
    url: str  # site-relative path of the file, e.g. "en/models/megengine_vision_resnet/index.html"
    content: bytes
    lang: str | None = None
    alternates: Mapping[str, str] = field(default_factory=dict)  # lang -> url

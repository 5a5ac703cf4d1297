"""The reason codes of a block's result, and the values each one's sentence is made of.

The run stage words every block reason in English for the terminal, JUnit and report.json, and
beside it records a code and its values (`BlockResult.reason_code` / `.reason_args`), so a page
can say it in its own language (catalog keys `vt.block.<code>`). Part of the codes are set inside
the sandbox (run/child/runner.py, run/child/site/vh_offline.py: standard library only, so they
spell the codes as literals) and part by the parent (run/supervise.py). What a child reports is
not trusted: a code that is not listed here, or whose values are not exactly its names, is
dropped (`checked`), and the page shows the English text as code instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from generator.core.model import BlockResult
from generator.run.child.protocol import STOPS

# code -> the names of its values (all strings). Producers: runner.py (stopped.*, skip-mark,
# skip-unexplained, timeout, exception, sys-exit, expected-*, output-lacks, hub.*), vh_offline.py
# (repo-*, url-*, network-blocked), supervise.py (earlier-*, limit.*, timeout, deadline,
# process-died, unclean-exit, runner-error).
CODES: Mapping[str, tuple[str, ...]] = {
    **{f"stopped.{status}": ("line",) for status in STOPS},
    "earlier-failed": (),
    "earlier-limit": (),
    "skip-mark": ("text",),  # the card author's own words (`<!-- verify: skip reason -->`)
    "skip-unexplained": (),  # a skip mark without words
    "repo-not-stored": ("repo",),
    "repo-not-locked": ("repo",),
    "url-not-stored": ("url",),
    "url-not-locked": ("url",),
    "network-blocked": ("target",),
    "timeout": ("seconds",),
    "output-lacks": ("text",),
    "expected-passed": ("expect",),
    "expected-other": ("expect", "detail"),
    "sys-exit": ("call",),
    "exception": ("detail",),  # the exception the card's code raised, as its last line says it
    "hub.missing-deps": ("deps",),
    "hub.not-in-repo": ("file", "line", "module", "detail"),
    "hub.missing-package": ("file", "line", "package", "detail"),
    "hub.raised": ("file", "line", "detail"),
    "limit.memory": ("limit",),
    "limit.pids": ("limit",),
    "limit.time": ("limit",),
    "limit.disk": ("limit",),
    "limit.fsize": ("limit",),
    "deadline": (),
    "process-died": ("detail",),
    "unclean-exit": ("detail",),
    "runner-error": ("detail",),
}
# A value longer than this is not one the run stage writes (an exception line is cut shorter).
MAX_VALUE = 2000


@dataclass(frozen=True)
class BlockReason:
    code: str  # catalog key `vt.block.<code>`
    args: Mapping[str, str] = field(default_factory=dict)


def checked(code: object, args: object) -> tuple[str, dict[str, str]]:
    """(code, values) when they are a listed code with exactly its values, all short strings;
    else ("", {}): the block keeps its English reason only."""
    if not isinstance(code, str) or code not in CODES or not isinstance(args, dict):
        return "", {}
    if set(args) != set(CODES[code]):
        return "", {}
    if not all(isinstance(v, str) and len(v) <= MAX_VALUE for v in args.values()):
        return "", {}
    return code, {k: args[k] for k in CODES[code]}


def block_reason(result: BlockResult) -> BlockReason | None:
    """The block reason's code and values; None when the run stage recorded none."""
    code, args = checked(result.reason_code, dict(result.reason_args))
    return BlockReason(code, args) if code else None


def catalog_keys() -> tuple[str, ...]:
    return tuple(f"vt.block.{c}" for c in CODES)

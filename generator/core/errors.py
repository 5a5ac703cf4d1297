"""Locations, diagnostics and their stable codes.

Every problem the tool reports to a user is a `Diagnostic` printed as
`path:line: level: message [code]`; codes come from the one `Code` enum so that they
stay stable across releases and can be looked up in the docs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Literal

from generator.core.text import escape_path, one_line

Level = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Loc:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


class Code(str, enum.Enum):
    # card structure (parse + validate)
    YAML_SYNTAX = "yaml-syntax"
    NO_FRONT_MATTER = "no-front-matter"
    FRONT_MATTER_NOT_MAPPING = "front-matter-not-mapping"
    TEMPLATE = "template"
    MISSING_FIELD = "missing-field"
    UNKNOWN_FIELD = "unknown-field"
    FIELD_TYPE = "field-type"
    SUMMARY_KEYS = "summary-keys"
    UNKNOWN_TAG = "unknown-tag"
    GITHUB_LINK = "github-link"
    PRELUDE_MISSING = "prelude-missing"
    PRELUDE_MULTIPLE = "prelude-multiple"
    TEXT_BEFORE_SECTION = "text-before-section"
    UNKNOWN_SECTION = "unknown-section"
    DUPLICATE_SECTION = "duplicate-section"
    MISSING_SECTION = "missing-section"
    NO_SECTIONS = "no-sections"
    UNCLOSED_FENCE = "unclosed-fence"
    EMPTY_CODE = "empty-code"
    CODE_SYNTAX = "code-syntax"
    UNKNOWN_MARK = "unknown-mark"
    BAD_MARK = "bad-mark"
    DUPLICATE_ID = "duplicate-id"
    BAD_FILENAME = "bad-filename"
    REGISTRY = "registry"
    VERIFY_SPEC = "verify-spec"
    # tables and rows the checks cannot use (warnings)
    RESULTS_TABLE = "results-table"
    ROW_NO_ENTRY = "row-no-entry"
    DATASET_SUBSET = "dataset-subset"
    # any input file (card, registry, spec, lock): how it is read
    ENCODING = "encoding"  # not UTF-8
    NOT_A_FILE = "not-a-file"  # a folder, device, FIFO, dangling symlink or symlink out of the folder
    UNREADABLE = "unreadable"  # the file system refused (permissions, I/O error)
    TOO_LARGE = "too-large"
    YAML_LIMIT = "yaml-limit"  # anchors/aliases expand too far, or nesting too deep
    BAD_ID = "bad-id"  # an id that becomes part of a path (tag, dataset, repository)
    # verification outcomes that fail --strict
    SNIPPET_FAILED = "snippet-failed"
    SNIPPET_TIMEOUT = "snippet-timeout"
    SNIPPET_BLOCKED = "snippet-blocked"
    SNIPPET_HUB_ERROR = "snippet-hub-error"
    SNIPPET_LIMIT = "snippet-limit"  # stopped by a limit of the build, not the card's fault
    CLAIM_MISMATCH = "claim-mismatch"
    # store / fetch
    FETCH = "fetch"
    LOCKFILE = "lockfile"
    # site output
    SEARCH_INDEX = "search-index"


@dataclass(frozen=True)
class Diagnostic:
    level: Level
    code: Code
    message: str
    loc: Loc

    def __str__(self) -> str:
        # One line, whatever a message quotes (a child's output, a file name with a newline).
        return f"{escape_path(str(self.loc))}: {self.level}: {one_line(self.message)} [{self.code.value}]"


def error(code: Code, message: str, path: str, line: int) -> Diagnostic:
    return Diagnostic("error", code, message, Loc(path, line))


def warning(code: Code, message: str, path: str, line: int) -> Diagnostic:
    return Diagnostic("warning", code, message, Loc(path, line))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.level == "error" for d in diagnostics)


class UserError(Exception):
    """A problem with the user's input or environment: printed as diagnostics, never a traceback."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | str, *, wrote: str = "") -> None:
        # What was written before the errors were found (e.g. fetch updates the lock with what it
        # did fetch); "" for the usual case, where nothing was.
        self.wrote = wrote
        if isinstance(diagnostics, str):
            self.diagnostics: tuple[Diagnostic, ...] = ()
            self.text = diagnostics
        else:
            self.diagnostics = tuple(sorted(diagnostics, key=lambda d: (d.loc, d.code.value)))
            self.text = "\n".join(str(d) for d in self.diagnostics)
        super().__init__(self.text)


class EnvironmentFailure(Exception):
    """The machine, not the input, failed: the disk is full, the output folder is not writable,
    the sandbox is missing, the asset store was changed, another build holds the output's lock. The command line prints the
    message as one line and exits 3 (`--strict` problems are 1, bad input 2)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

"""Text that came from outside (card files, captured output of untrusted code) made safe for the
place it is written to: the terminal and XML get no control characters at all; a web page keeps
them visible as escapes (the templates HTML-escape the rest).

A card's code may print `\\x1b]0;...\\x07` (retitle the terminal), `\\x1b[2J` (clear it) or a NUL:
written raw, that rewrites a CI log or makes a JUnit file unparsable.
"""

from __future__ import annotations

import re

# CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL|ESC \\`) and two-byte escapes: removed whole, so
# no `[31m` is left behind when the ESC itself goes.
_ESCAPE_SEQ = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0 and C1 controls and DEL, except tab and newline (and CR, which is folded to a newline).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BREAKS = re.compile(r"[\t\r\n]+")
# What XML 1.0 cannot hold at all, even escaped: the controls above, lone surrogates, U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def strip_ansi(text: str) -> str:
    """Terminal escape sequences removed; everything else kept."""
    return _ESCAPE_SEQ.sub("", text)


def for_terminal(text: str) -> str:
    """Escape sequences and control characters removed; tabs and newlines kept."""
    return _CONTROL.sub("", strip_ansi(text.replace("\r\n", "\n").replace("\r", "\n")))


def one_line(text: str) -> str:
    """For a diagnostic or a summary line: also newlines and tabs become spaces."""
    return _CONTROL.sub("", strip_ansi(_BREAKS.sub(" ", text)))


def for_xml(text: str) -> str:
    """Only characters an XML 1.0 document may contain (escape sequences removed first)."""
    return _NOT_XML.sub("", strip_ansi(text.replace("\r\n", "\n")))


def escape_controls(text: str) -> str:
    """For a page: escape sequences removed, other control characters shown as `\\xNN` text."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", strip_ansi(text.replace("\r\n", "\n")))


def escape_path(text: str) -> str:
    """A file name as a diagnostic shows it: control characters as `\\n`, `\\x07` (a name with
    a newline must not start a new line that looks like another diagnostic)."""
    if not _CONTROL.search(text) and "\n" not in text and "\t" not in text:
        return text
    return "".join(repr(c)[1:-1] if (c < " " or "\x7f" <= c <= "\x9f") else c for c in text)

"""Collecting a card's problems as it is read: each with the card's path and its line."""

from __future__ import annotations

from dataclasses import dataclass, field

from generator.core.errors import Code, Diagnostic, error, warning


@dataclass
class Problems:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def err(self, code: Code, line: int, message: str) -> None:
        self.diagnostics.append(error(code, message, self.path, line))

    def warn(self, code: Code, line: int, message: str) -> None:
        self.diagnostics.append(warning(code, message, self.path, line))

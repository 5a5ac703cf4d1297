"""The one way this tool reads a YAML file of the cards folder (tag registry, UI catalog, dataset
registry, verify specs; front matter too): composed once, so every key keeps its line, and the
data constructed from the same nodes. Callers word their own messages from `YamlProblem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

# libyaml when PyYAML was built with it; the pure-Python loader words its errors better (and the
# same in every install), so a failed fast parse is repeated with it for the message.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YamlDoc:
    data: Any
    node: yaml.Node | None
    # "key", "key.sub", "key[0]" -> line of that key (or item) in the file; see `key_lines`.
    lines: Mapping[str, int] = field(default_factory=dict)

    def line(self, key: str, default: int = 1) -> int:
        return self.lines.get(key, default)


class YamlProblem(Exception):
    """Not valid YAML: `problem` in words, `line` (in the file's numbering) where it is."""

    def __init__(self, exc: yaml.YAMLError, first_line: int) -> None:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        self.line = first_line + (mark.line if mark is not None else 0)
        self.problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
        context = getattr(exc, "context_mark", None)
        self.context_line = first_line + context.line if context is not None else None
        self.exc = exc
        super().__init__(str(exc))


def compose(text: str, loader_class: Any = FAST_LOADER) -> tuple[yaml.Node | None, Any]:
    """Compose once (nodes carry line numbers), then construct the data from the same nodes."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def load_yaml(text: str, *, first_line: int = 1) -> YamlDoc:
    """Parse `text`, whose first line is line `first_line` of its file. Raises YamlProblem."""
    try:
        node, data = compose(text)
    except yaml.YAMLError:
        try:
            node, data = compose(text, yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise YamlProblem(exc, first_line) from None
    return YamlDoc(data, node, key_lines(node, first_line))


def key_lines(node: yaml.Node | None, first_line: int = 1, prefix: str = "") -> dict[str, int]:
    """Line of every mapping key (dotted paths, `name[i]` for sequence items), first one wins."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}{k.value}"
            out.setdefault(key, first_line + k.start_mark.line)
            for kk, line in key_lines(v, first_line, key + ".").items():
                out.setdefault(kk, line)
            if isinstance(v, yaml.SequenceNode):
                for n, item in enumerate(v.value):
                    out.setdefault(f"{key}[{n}]", first_line + item.start_mark.line)
    return out

"""The one way this tool reads a file of the cards folder and its YAML (tag registry, UI catalog,
dataset registry, verify specs; front matter too).

Files: `read_input` (core/files.py) gives the text of a regular file inside the folder, size
capped and strictly UTF-8, or one located Diagnostic.

YAML: composed once, so every key keeps its line, and the data constructed from the same nodes.
The composer is this module's own, on top of libyaml's events, because a few hundred bytes of
anchors and aliases (`b: [*a, *a, ...]` nine levels deep) expand to billions of nodes: every alias
is counted with the size of what it stands for, and composing stops at the alias that passes
MAX_ALIAS_NODES, with its line. Nesting deeper than MAX_DEPTH and recursive aliases stop too
(both would otherwise end in a RecursionError). Callers word their own messages from `YamlProblem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from yaml.error import MarkedYAMLError

from generator.core.errors import Code
from generator.core.files import InputFileError, read_text

__all__ = ["InputFileError", "YamlDoc", "YamlProblem", "key_lines", "load_yaml", "read_input"]

# libyaml when PyYAML was built with it; the pure-Python parser words its errors better (and the
# same in every install), so a failed fast parse is repeated with it for the message.
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Honest registries and front matter use few or no aliases; these leave room for spec files that
# share a mean/std list or a preprocess block, and stop a bomb within milliseconds.
MAX_ALIAS_NODES = 10_000  # nodes reached through aliases, in total per document
MAX_DEPTH = 64  # nested collections
# The pure-Python parser is re-run on a failed text only up to this size (it is ~50x slower).
REPARSE_MAX_CHARS = 256 * 1024


def read_input(path: Path, shown: str, *, within: Path | None = None) -> str:
    """The text of one input file (see core/files.py); raises InputFileError."""
    return read_text(path, shown, within=within)


@dataclass(frozen=True)
class YamlDoc:
    data: Any
    node: yaml.Node | None
    # "key", "key.sub", "key[0]" -> line of that key (or item) in the file; see `key_lines`.
    lines: Mapping[str, int] = field(default_factory=dict)

    def line(self, key: str, default: int = 1) -> int:
        return self.lines.get(key, default)


class YamlLimit(MarkedYAMLError):
    """Valid YAML this tool will not expand (alias bomb, recursion, nesting)."""


class YamlProblem(Exception):
    """Not valid (or not acceptable) YAML: `problem` in words, `line` (in the file's numbering)
    where it is, `code` YAML_SYNTAX or YAML_LIMIT."""

    def __init__(self, exc: yaml.YAMLError, first_line: int) -> None:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        self.line = first_line + (mark.line if mark is not None else 0)
        self.problem = getattr(exc, "problem", None) or str(exc).split("\n", 1)[0]
        context = getattr(exc, "context_mark", None)
        self.context_line = first_line + context.line if context is not None else None
        self.code = Code.YAML_LIMIT if isinstance(exc, YamlLimit) else Code.YAML_SYNTAX
        self.exc = exc
        super().__init__(str(exc))

    def message(self, subject: str) -> str:
        """"<subject> is not valid YAML: ..." (or, past a limit, "... is not accepted: ...")."""
        verdict = "is not accepted" if self.code is Code.YAML_LIMIT else "is not valid YAML"
        return f"{subject} {verdict}: {self.problem}"


class _Composer:
    """yaml.composer.Composer's job on any loader's event stream, with the limits above."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.anchors: dict[str, yaml.Node] = {}
        self.open: set[str] = set()  # anchors whose collection is still being composed
        self.sizes: dict[int, int] = {}  # id(node) -> nodes in it, aliases expanded
        self.through_aliases = 0

    def single_node(self) -> yaml.Node | None:
        ld = self.loader
        ld.get_event()  # stream start
        node = None
        if not ld.check_event(yaml.StreamEndEvent):
            ld.get_event()  # document start
            node = self.node(0)
            ld.get_event()  # document end
            if not ld.check_event(yaml.StreamEndEvent):
                event = ld.get_event()
                raise yaml.composer.ComposerError("expected a single document in the stream",
                                                  node.start_mark, "but found another document",
                                                  event.start_mark)
        ld.get_event()  # stream end
        return node

    def node(self, depth: int) -> yaml.Node:
        ld = self.loader
        if ld.check_event(yaml.AliasEvent):
            return self._alias(ld.get_event())
        event = ld.peek_event()
        anchor = event.anchor
        if anchor is not None and anchor in self.anchors:
            raise yaml.composer.ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                              self.anchors[anchor].start_mark, "second occurrence",
                                              event.start_mark)
        if depth > MAX_DEPTH:
            raise YamlLimit(None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        if ld.check_event(yaml.ScalarEvent):
            event = ld.get_event()
            tag = event.tag if event.tag not in (None, "!") else ld.resolve(yaml.ScalarNode, event.value,
                                                                               event.implicit)
            node: yaml.Node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                                              style=event.style)
            size = 1
        else:
            node, size = self._collection(depth, anchor)
        if anchor is not None:
            self.anchors[anchor] = node
        self.sizes[id(node)] = size
        return node

    def _collection(self, depth: int, anchor: str | None) -> tuple[yaml.Node, int]:
        ld = self.loader
        start = ld.get_event()
        is_seq = isinstance(start, yaml.SequenceStartEvent)
        kind, end = (yaml.SequenceNode, yaml.SequenceEndEvent) if is_seq else (yaml.MappingNode, yaml.MappingEndEvent)
        tag = start.tag if start.tag not in (None, "!") else ld.resolve(kind, None, start.implicit)
        node = kind(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            # Registered now, as PyYAML does, so that an alias inside is seen as recursive.
            self.anchors[anchor] = node
            self.open.add(anchor)
        size = 1
        while not ld.check_event(end):
            if is_seq:
                item = self.node(depth + 1)
                node.value.append(item)
                size += self.sizes[id(item)]
            else:
                key = self.node(depth + 1)
                value = self.node(depth + 1)
                node.value.append((key, value))
                size += self.sizes[id(key)] + self.sizes[id(value)]
        node.end_mark = ld.get_event().end_mark
        if anchor is not None:
            self.open.discard(anchor)
        return node, size

    def _alias(self, event: Any) -> yaml.Node:
        anchor = event.anchor
        if anchor not in self.anchors:
            raise yaml.composer.ComposerError(None, None, f"found undefined alias {anchor!r}", event.start_mark)
        if anchor in self.open:
            raise YamlLimit(None, None, f"alias *{anchor} refers to the collection it is in (a recursive "
                            "structure)", event.start_mark)
        target = self.anchors[anchor]
        self.through_aliases += self.sizes[id(target)]
        if self.through_aliases > MAX_ALIAS_NODES:
            raise YamlLimit(None, None, f"alias *{anchor} takes the aliases of this document past "
                            f"{MAX_ALIAS_NODES:,} expanded nodes (an alias bomb?)", event.start_mark)
        return target


def compose(text: str, loader_class: Any = FAST_LOADER) -> tuple[yaml.Node | None, Any]:
    """Compose once (nodes carry line numbers), then construct the data from the same nodes."""
    loader = loader_class(text)
    try:
        node = _Composer(loader).single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def load_yaml(text: str, *, first_line: int = 1) -> YamlDoc:
    """Parse `text`, whose first line is line `first_line` of its file. Raises YamlProblem."""
    try:
        node, data = compose(text)
    except YamlLimit as exc:
        raise YamlProblem(exc, first_line) from None
    except yaml.YAMLError as fast_exc:
        if "maximum nesting depth" in str(getattr(fast_exc, "problem", "")):
            raise YamlProblem(YamlLimit(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                        getattr(fast_exc, "problem_mark", None)), first_line) from None
        if len(text) > REPARSE_MAX_CHARS or FAST_LOADER is yaml.SafeLoader:
            raise YamlProblem(fast_exc, first_line) from None
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


"""A card's YAML front matter -> CardMeta, every field validated and located.

The block is cut out by hand (so later line numbers stay right) and read by registry.load_yaml:
composed once, every field keeps its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlparse

import yaml

from generator.cards.problems import Problems
from generator.cards.registry import YamlProblem, key_lines, load_yaml
from generator.core.errors import Code
from generator.core.model import LANGS, SECTIONS_TEXT, CardMeta, Tag

TEMPLATE = "hub1"
REQUIRED_FIELDS = ("template", "title", "summary", "author", "tags", "github-link")
# `verify` is this project's extension (an evaluation spec); every other field would be
# silently ignored by the old hub tooling, so an unknown one is most likely a typo.
OPTIONAL_FIELDS = ("verify",)

@dataclass
class FrontMatter:
    data: Any
    node: yaml.Node | None
    first_line: int  # card line of the opening ---
    end_line: int  # card line of the closing --- (0-based index of the line after it)


def front_matter(lines: list[str], out: Problems) -> FrontMatter | None:
    if not lines or lines[0].rstrip() != "---":
        out.err(Code.NO_FRONT_MATTER, 1, "a card starts with YAML front matter between '---' lines")
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            break
    else:
        out.err(Code.NO_FRONT_MATTER, 1, "front matter opened by '---' is never closed")
        return None
    try:
        doc = load_yaml("\n".join(lines[1:i]), first_line=2)
    except YamlProblem as p:
        where = f" (in what starts at line {p.context_line})" if p.context_line not in (None, p.line) else ""
        out.err(p.code, p.line, p.message("front matter") + where)
        return FrontMatter(None, None, 1, i + 1)
    data, node = doc.data, doc.node
    if not isinstance(data, dict):
        out.err(Code.FRONT_MATTER_NOT_MAPPING, 2, "front matter must be a mapping of fields")
        return FrontMatter(None, None, 1, i + 1)
    # Duplicate keys are legal YAML for PyYAML (last one wins), but in a card they are a mistake.
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            k = str(key_node.value)
            if k in seen:
                out.err(Code.FIELD_TYPE, 2 + key_node.start_mark.line,
                        f"field {k!r} is given twice (first at line {seen[k]})")
            seen.setdefault(k, 2 + key_node.start_mark.line)
    return FrontMatter(data, node, 1, i + 1)


def card_meta(card_id: str, fm: FrontMatter, out: Problems, tags: Mapping[str, Tag] | None) -> CardMeta | None:
    if fm.data is None:
        return None
    data: dict[str, Any] = fm.data
    at = key_lines(fm.node, first_line=2)
    where = lambda key: at.get(key, 2)  # noqa: E731 — fields without a node point at the first line
    ok = True

    for key in REQUIRED_FIELDS:
        if key not in data or data[key] is None:
            out.err(Code.MISSING_FIELD, fm.first_line, f"front matter lacks required field {key!r}")
            ok = False
    for key in data:
        if key not in REQUIRED_FIELDS and key not in OPTIONAL_FIELDS:
            out.err(Code.UNKNOWN_FIELD, where(str(key)), f"unknown front matter field {key!r} "
                    f"(known: {', '.join(REQUIRED_FIELDS + OPTIONAL_FIELDS)})")

    template = data.get("template")
    if template is not None and template != TEMPLATE:
        out.err(Code.TEMPLATE, where("template"), f"template must be {TEMPLATE!r}, not {template!r}")
        ok = False

    def text_field(key: str) -> str:
        nonlocal ok
        value = data.get(key)
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
            out.err(Code.FIELD_TYPE, where(key), f"field {key!r} must be a non-empty text")
            ok = False
            return ""
        return str(value).strip()

    title, author = text_field("title"), text_field("author")

    summary: dict[str, str] = {}
    raw_summary = data.get("summary")
    if raw_summary is not None:
        if not isinstance(raw_summary, dict):
            out.err(Code.SUMMARY_KEYS, where("summary"), f"summary must map {' and '.join(LANGS)} to text")
            ok = False
        else:
            for k, v in raw_summary.items():
                if k not in LANGS:
                    out.err(Code.SUMMARY_KEYS, where(f"summary.{k}"),
                            f"summary has unknown language {k!r} (expected {', '.join(LANGS)})")
                    ok = False
                elif not isinstance(v, str) or not v.strip():
                    out.err(Code.SUMMARY_KEYS, where(f"summary.{k}"), f"summary.{k} must be a non-empty text")
                    ok = False
                else:
                    summary[k] = v.strip()
            for lang in LANGS:
                if lang not in raw_summary:
                    out.err(Code.SUMMARY_KEYS, where("summary"), f"summary lacks {lang}")
                    ok = False

    card_tags: list[str] = []
    raw_tags = data.get("tags")
    if raw_tags is not None:
        if not isinstance(raw_tags, list) or not all(isinstance(t, str) for t in raw_tags):
            out.err(Code.FIELD_TYPE, where("tags"), "tags must be a list of tag ids, e.g. [vision, classification]")
            ok = False
        else:
            for n, t in enumerate(raw_tags):
                if tags is not None and t not in tags:
                    out.err(Code.UNKNOWN_TAG, where(f"tags[{n}]"),
                            f"unknown tag {t!r}; add it to cards/tags.yaml with its {SECTIONS_TEXT} names "
                            f"(known: {', '.join(sorted(tags))})")
                    ok = False
                elif t not in card_tags:
                    card_tags.append(t)

    link = data.get("github-link")
    link_text = ""
    if link is not None:
        parsed = urlparse(str(link)) if isinstance(link, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            out.err(Code.GITHUB_LINK, where("github-link"), f"github-link must be an http(s) URL, not {link!r}")
            ok = False
        else:
            link_text = str(link)

    verify = data.get("verify")
    if verify is not None and not isinstance(verify, dict):
        out.err(Code.VERIFY_SPEC, where("verify"), "verify must be a mapping (the evaluation spec)")
        ok = False

    if not ok:
        return None
    return CardMeta(id=card_id, template=str(template), title=title, summary=summary, author=author,
                    tags=tuple(card_tags), github_link=link_text, verify=verify)

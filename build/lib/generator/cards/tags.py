"""The tag registry (`tags.yaml` in the cards folder): tag id -> its name in every language."""

from __future__ import annotations

import os
from pathlib import Path

from generator.cards.registry import YamlProblem, load_yaml
from generator.core.errors import Code, Diagnostic, error
from generator.core.model import LANGS, SECTION_ORDER, Tag

TAGS_FILE = "tags.yaml"


def load_tags(cards_dir: Path) -> tuple[dict[str, Tag], list[Diagnostic]]:
    path = cards_dir / TAGS_FILE
    shown = os.path.relpath(path)
    if not path.exists():
        return {}, [error(Code.REGISTRY, f"tag registry {TAGS_FILE} is missing from the cards folder", shown, 1)]
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))
    except YamlProblem as p:
        return {}, [error(Code.YAML_SYNTAX, f"not valid YAML: {p.problem}", shown, p.line)]
    if not isinstance(doc.data, dict):
        names = ", ".join(f"{lang}: ..." for lang in SECTION_ORDER)
        return {}, [error(Code.REGISTRY, f"the tag registry maps tag ids to {{{names}}}", shown, 1)]
    tags: dict[str, Tag] = {}
    problems: list[Diagnostic] = []
    for tag_id, names in doc.data.items():
        line = doc.line(str(tag_id))
        if not isinstance(names, dict) or any(not isinstance(names.get(lang), str) for lang in LANGS):
            problems.append(error(Code.REGISTRY, f"tag {tag_id!r} needs a name for each of {', '.join(LANGS)}", shown, line))
            continue
        tags[str(tag_id)] = Tag(str(tag_id), {lang: names[lang] for lang in LANGS})
    return tags, problems

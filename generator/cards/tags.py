"""The tag registry (`tags.yaml` in the cards folder): tag id -> its name in every language.

A tag id becomes a folder of the site (`en/tags/<id>/`), so it must be a valid id (core/ids.py);
two ids that differ only in case would be one folder on a case-insensitive disk.
"""

from __future__ import annotations

import os
from pathlib import Path

from generator.cards.registry import InputFileError, YamlProblem, load_yaml, read_input
from generator.core.errors import Code, Diagnostic, error
from generator.core.ids import id_problem
from generator.core.model import LANGS, SECTION_ORDER, Tag

TAGS_FILE = "tags.yaml"


def load_tags(cards_dir: Path) -> tuple[dict[str, Tag], list[Diagnostic]]:
    path = cards_dir / TAGS_FILE
    shown = os.path.relpath(path)
    if not os.path.lexists(path):
        return {}, [error(Code.REGISTRY, f"tag registry {TAGS_FILE} is missing from the cards folder", shown, 1)]
    try:
        doc = load_yaml(read_input(path, shown, within=cards_dir))
    except InputFileError as exc:
        return {}, [exc.diagnostic]
    except YamlProblem as p:
        return {}, [error(p.code, p.message("the tag registry"), shown, p.line)]
    if not isinstance(doc.data, dict):
        names = ", ".join(f"{lang}: ..." for lang in SECTION_ORDER)
        return {}, [error(Code.REGISTRY, f"the tag registry maps tag ids to {{{names}}}", shown, 1)]
    tags: dict[str, Tag] = {}
    folded: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for tag_id, names in doc.data.items():
        line = doc.line(str(tag_id))
        bad_id = id_problem("tag id", tag_id)
        if bad_id is not None:
            problems.append(error(Code.BAD_ID, bad_id, shown, line))
            continue
        if tag_id.lower() in folded:
            problems.append(error(Code.BAD_ID, f"tag id {tag_id!r} differs only in case from "
                                  f"{folded[tag_id.lower()]!r}", shown, line))
            continue
        folded[tag_id.lower()] = tag_id
        if not isinstance(names, dict) or any(not isinstance(names.get(lang), str) for lang in LANGS):
            problems.append(error(Code.REGISTRY, f"tag {tag_id!r} needs a name for each of {', '.join(LANGS)}", shown, line))
            continue
        tags[tag_id] = Tag(tag_id, {lang: names[lang] for lang in LANGS})
    return tags, problems

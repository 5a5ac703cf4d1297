"""The JSON API, shaped like the data of the original MegEngine hub so existing clients keep working.

api/v1/models.json          {"models": [meta, ...], "tags": {id: {"zh_CN": ..., "en_US": ...}}}
api/v1/models/<id>.json     {"meta": meta, "content": {"sampleCode": prelude,
                                                       "fullText": {lang: section html}}}
meta = {"id", "title", "author", "summary": {lang: text}, "githubLink", "tags": [ids], "updateTime"}

`fullText` is the section rendered as plain HTML (no verification badges) and only has the
languages the card has. Output is pretty-printed with sorted keys and a final newline, so it
diffs well and two builds are byte-identical.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from generator.core.jsonio import pretty as dumps
from generator.core.model import LANGS, Card, Tag


def model_meta(card: Card) -> dict[str, object]:
    m = card.meta
    return {
        "id": m.id,
        "title": m.title,
        "author": m.author,
        "summary": {lang: m.summary[lang] for lang in LANGS if lang in m.summary},
        "githubLink": m.github_link,
        "tags": list(m.tags),
        "updateTime": card.update_time,
    }


def models_index(cards: Sequence[Card], tags: Mapping[str, Tag]) -> bytes:
    return dumps({
        "models": [model_meta(c) for c in sorted(cards, key=lambda c: c.meta.id)],
        "tags": {tid: {lang: tags[tid].names[lang] for lang in LANGS if lang in tags[tid].names}
                 for tid in sorted(tags)},
    })


def model_detail(card: Card, section_html: Callable[[Card, str], str]) -> bytes:
    return dumps({
        "meta": model_meta(card),
        "content": {
            "sampleCode": card.prelude.code if card.prelude is not None else "",
            "fullText": {lang: section_html(card, lang) for lang in LANGS if lang in card.sections},
        },
    })
